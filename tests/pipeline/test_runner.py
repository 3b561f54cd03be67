"""Running sweeps: exact rows, executor independence, resume after kills, retries, growth, spec changes."""

import functools
import importlib.util
import os
import sys
import time

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from igmm.api import simulate_seeds
from igmm.cli import app
from igmm.config import make_config
from igmm.pipeline import runner as runner_module
from igmm.pipeline import store
from igmm.pipeline.executors import DaskExecutor, ProcessPoolExecutor, SerialExecutor
from igmm.pipeline.runner import run_sweep
from igmm.pipeline.spec import make_spec, point_key, point_seeds
from igmm.pipeline.store import SpecMismatchError
from pipeline.sweep_helpers import (
    TINY, TINY_RUNS, TINY_STEPS, TINY_TASKS, die_once, fail_on_point, hang_on_point, key_of, kill_after_tasks,
    tiny_spec,
)

cli = CliRunner()


@pytest.fixture(scope="module")
def serial_reference(tmp_path_factory):
    """The tiny sweep run serially: the tables every other way of running must reproduce."""
    out = tmp_path_factory.mktemp("serial")
    outcome = run_sweep(tiny_spec(), out, executor=SerialExecutor(), progress=False)
    assert outcome.complete and not outcome.failed
    return store.read_runs(out), store.read_steps(out)


def assert_same_tables(out, reference):
    runs, steps = store.read_runs(out), store.read_steps(out)
    pd.testing.assert_frame_equal(runs, reference[0])
    pd.testing.assert_frame_equal(steps, reference[1])


def test_rows_are_exact_unique_and_carry_their_seeds(serial_reference):
    runs, steps = serial_reference
    assert len(runs) == TINY_RUNS and len(steps) == TINY_STEPS
    assert not runs.duplicated(["point", "replicate"]).any()
    assert not steps.duplicated(["point", "replicate", "t"]).any()
    assert (runs["seed"] == "11").all()
    assert set(runs["pattern"]) <= {"consensus", "stable", "unstable", "decaying"}
    assert list(runs[["p", "k"]].drop_duplicates().itertuples(index=False, name=None)) == [
        (0.0, 1), (0.0, 7), (0.5, 1), (0.5, 7)]  # grid order, values joined from the points table


def test_rows_equal_a_direct_simulation_of_the_point(serial_reference):
    runs, _ = serial_reference
    key = key_of(0.5, 7)
    direct = simulate_seeds(make_config({"n_agents": 8, "T": 15, "p": 0.5, "k": 7}), point_seeds(11, key, 0, 5))
    swept = runs[runs["point"] == key]
    for column in ("replicate", "spawn_key", "n_silos_final", "t_star", "converged", "t_polarized"):
        np.testing.assert_array_equal(swept[column].to_numpy(), direct.runs[column].to_numpy(), err_msg=column)


def test_chunk_size_does_not_change_results(tmp_path, serial_reference):
    run_sweep(tiny_spec(chunk_size=5), tmp_path, executor=SerialExecutor(), progress=False)
    assert len(store.read_journal(tmp_path)) == 4
    assert_same_tables(tmp_path, serial_reference)


def test_every_table_folder_reads_in_one_call_with_pandas_pyarrow_and_duckdb(serial_reference, tmp_path):
    import pyarrow.dataset as ds

    duckdb = pytest.importorskip("duckdb")
    run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor(), progress=False)
    for table, rows in (("runs", TINY_RUNS), ("steps", TINY_STEPS)):
        folder = tmp_path / table
        assert len(pd.read_parquet(folder)) == rows
        assert ds.dataset(folder, format="parquet").count_rows() == rows
        assert duckdb.sql(f"select count(*) from read_parquet('{folder}/*.parquet')").fetchall()[0][0] == rows
    assert len(pd.read_parquet(tmp_path / "points.parquet")) == 4


def test_process_pool_and_local_dask_cluster_give_the_serial_tables(tmp_path, serial_reference):
    pool = ProcessPoolExecutor(2)
    try:
        run_sweep(tiny_spec(), tmp_path / "pool", executor=pool, progress=False)
    finally:
        pool.close()
    assert_same_tables(tmp_path / "pool", serial_reference)
    pytest.importorskip("distributed")
    dask = DaskExecutor(n_local_workers=2)
    try:
        outcome = run_sweep(tiny_spec(), tmp_path / "dask", executor=dask, progress=False)
    finally:
        dask.close()
    assert outcome.n_done == TINY_TASKS
    assert_same_tables(tmp_path / "dask", serial_reference)


def test_worker_dying_mid_task_is_retried_and_the_sweep_completes(tmp_path, serial_reference):
    flag = tmp_path / "died"
    pool = ProcessPoolExecutor(2)
    try:
        outcome = run_sweep(tiny_spec(), tmp_path / "out", executor=pool, task_fn=functools.partial(die_once, str(flag)),
                            progress=False)
    finally:
        pool.close()
    assert flag.exists(), "the injected crash never happened"
    assert outcome.complete and not outcome.failed
    log = (tmp_path / "out" / store.LOG).read_text()
    assert "\tretry\t" in log and "BrokenProcessPool" in log
    assert_same_tables(tmp_path / "out", serial_reference)


@pytest.mark.parametrize("executor_flag", ["--serial", pytest.param("--workers=2", marks=pytest.mark.slow)])
def test_resume_after_sigkill_of_the_sweep_process(tmp_path, serial_reference, executor_flag):
    """Kill `igmm sweep` while it writes, then re-run: every task's rows exactly once."""
    spec_path, out = tmp_path / "spec.yaml", tmp_path / "out"
    slow = {**TINY, "chunk_size": 1}  # 20 tasks, one replicate each
    spec_path.write_text(yaml.safe_dump(slow, sort_keys=False))
    command = [sys.executable, "-m", "igmm", "sweep", str(spec_path), "--out", str(out), executor_flag]
    finished_before = kill_after_tasks(command, out, 3)
    assert 3 <= finished_before < 20, "the kill came too late to test anything"
    outcome = run_sweep(make_spec(slow), out, executor=SerialExecutor(), progress=False)
    assert outcome.resumed and outcome.n_skipped == finished_before and outcome.n_done == 20 - finished_before
    assert_same_tables(out, serial_reference)


def test_a_task_cut_before_its_journal_line_is_rerun_in_full(tmp_path, serial_reference):
    run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor(), progress=False)
    journal = (tmp_path / store.JOURNAL).read_text().splitlines()
    lost = yaml.safe_load(journal[-1])["task"]
    (tmp_path / store.JOURNAL).write_text("\n".join(journal[:-1]) + "\n" + journal[-1][:20])  # torn last line
    (tmp_path / "steps" / f".{lost}.parquet.999.tmp").write_text("half")
    outcome = run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor(), progress=False)
    assert (outcome.n_tasks, outcome.n_done) == (1, 1)
    assert not list(tmp_path.glob("*/.*.tmp"))
    assert_same_tables(tmp_path, serial_reference)


def test_failing_task_is_retried_once_then_recorded_and_the_rest_completes(tmp_path):
    calls = tmp_path / "calls.txt"
    key = key_of(0.0, 7)
    failing = functools.partial(fail_on_point, key, str(calls))
    outcome = run_sweep(tiny_spec(), tmp_path / "out", executor=SerialExecutor(), task_fn=failing, progress=False)
    point_tasks = [f"{key}-r00000-00001", f"{key}-r00002-00003", f"{key}-r00004-00004"]
    assert sorted(calls.read_text().split()) == sorted(point_tasks * 2)  # each tried exactly twice
    assert sorted(item["task"] for item in outcome.failed) == point_tasks
    assert not outcome.complete and outcome.n_done == TINY_TASKS - 3
    runs = store.read_runs(tmp_path / "out")
    assert len(runs) == TINY_RUNS - 5 and key not in set(runs["point"])
    recorded = yaml.safe_load((tmp_path / "out" / store.FAILURES).read_text())
    assert [item["attempts"] for item in recorded] == [2, 2, 2]
    again = run_sweep(tiny_spec(), tmp_path / "out", executor=SerialExecutor(), progress=False)
    assert again.complete and again.n_done == 3 and not (tmp_path / "out" / store.FAILURES).exists()


@pytest.mark.parametrize("executor", ["serial", "pool"])
def test_a_hanging_task_is_stopped_by_the_task_timeout_and_recorded(tmp_path, executor):
    key = key_of(0.5, 1)
    make = SerialExecutor if executor == "serial" else functools.partial(ProcessPoolExecutor, 2)
    pool = make()
    began = time.monotonic()
    try:
        outcome = run_sweep(tiny_spec(task_timeout=0.5), tmp_path, executor=pool,
                            task_fn=functools.partial(hang_on_point, key), progress=False)
    finally:
        pool.close()
    assert time.monotonic() - began < 60
    assert {item["task"].split("-r")[0] for item in outcome.failed} == {key}
    assert all("time limit" in item["error"] for item in outcome.failed)
    assert outcome.n_done == TINY_TASKS - 3


def test_cli_exit_code_says_tasks_failed(tmp_path, monkeypatch):
    failing = functools.partial(fail_on_point, key_of(0.0, 1), str(tmp_path / "calls.txt"))
    monkeypatch.setattr(runner_module, "run_sweep", functools.partial(runner_module.run_sweep, task_fn=failing))
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(TINY, sort_keys=False))
    result = cli.invoke(app, ["sweep", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "out"), "--serial"])
    assert result.exit_code == 1
    assert "3 task(s) failed twice" in result.output


def test_a_grown_sweep_reuses_every_finished_run(tmp_path, serial_reference):
    run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor(), progress=False)
    stamps = {path: path.stat().st_mtime_ns for path in (tmp_path / "runs").glob("*.parquet")}
    grown = tiny_spec(grid={"p": [0.0, 0.5, 0.9], "k": [1, 7]}, replicates=8)
    outcome = run_sweep(grown, tmp_path, executor=SerialExecutor(), progress=False)
    assert outcome.resumed and outcome.n_skipped == TINY_RUNS
    # Old points: replicates 5-7 in chunks of 2 (5-6, 7); new point p = 0.9: 8 replicates in chunks of 2.
    assert outcome.n_tasks == 4 * 2 + 2 * 4
    assert all(path.stat().st_mtime_ns == stamp for path, stamp in stamps.items())
    runs = store.read_runs(tmp_path)
    assert len(runs) == 6 * 8 and not runs.duplicated(["point", "replicate"]).any()
    old = runs[runs["p"] != 0.9].query("replicate < 5").reset_index(drop=True)
    pd.testing.assert_frame_equal(old, serial_reference[0])
    # The grown folder equals a fresh run of the grown spec.
    fresh = tmp_path / "fresh"
    run_sweep(grown, fresh, executor=SerialExecutor(), progress=False)
    pd.testing.assert_frame_equal(store.read_runs(fresh), runs)


def test_changed_spec_is_refused_unless_forced(tmp_path):
    run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor(), progress=False)
    with pytest.raises(SpecMismatchError, match="changed: seed") as caught:
        run_sweep(tiny_spec(seed=12), tmp_path, executor=SerialExecutor(), progress=False)
    assert "  seed: was 11, now 12" in caught.value.lines
    assert len(store.read_runs(tmp_path)) == TINY_RUNS  # nothing touched
    (tmp_path.parent / "spec12.yaml").write_text(yaml.safe_dump({**TINY, "seed": 12}, sort_keys=False))
    refused = cli.invoke(app, ["sweep", str(tmp_path.parent / "spec12.yaml"), "--out", str(tmp_path), "--serial"])
    assert refused.exit_code == 2 and "--force" in refused.output
    forced = cli.invoke(app, ["sweep", str(tmp_path.parent / "spec12.yaml"), "--out", str(tmp_path), "--serial", "--force"])
    assert forced.exit_code == 0, forced.output
    runs = store.read_runs(tmp_path)
    assert len(runs) == TINY_RUNS and (runs["seed"] == "12").all()
    assert yaml.safe_load((tmp_path / store.SPEC).read_text())["seed"] == 12


def test_same_spec_rerun_skips_everything(tmp_path):
    run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor(), progress=False)
    stamps = {path: path.stat().st_mtime_ns for path in (tmp_path / "runs").glob("*.parquet")}
    outcome = run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor(), progress=False)
    assert (outcome.n_skipped, outcome.n_tasks, outcome.resumed) == (TINY_RUNS, 0, True)
    assert stamps == {path: path.stat().st_mtime_ns for path in (tmp_path / "runs").glob("*.parquet")}


def test_the_folder_reproduces_itself_from_its_own_spec(tmp_path, serial_reference):
    run_sweep(tiny_spec(), tmp_path / "a", executor=SerialExecutor(), progress=False)
    result = cli.invoke(app, ["sweep", str(tmp_path / "a" / store.SPEC), "--out", str(tmp_path / "b"), "--serial"])
    assert result.exit_code == 0, result.output
    assert_same_tables(tmp_path / "b", serial_reference)
    provenance = yaml.safe_load((tmp_path / "b" / "provenance.json").read_text())
    assert provenance["seed"] == 11 and provenance["config_sha256"] == tiny_spec().digest()
    assert {"version", "git", "command", "python", "libraries", "started", "ended"} <= set(provenance)


def test_missing_dask_names_the_extra_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now raises ImportError
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(TINY, sort_keys=False))
    result = cli.invoke(app, ["sweep", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "out"), "--dask-local", "2"])
    assert result.exit_code == 2
    assert "pip install 'interacting-gmm[dask]'" in result.output


def test_an_unreachable_dask_scheduler_is_one_line(tmp_path):
    pytest.importorskip("distributed")
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(TINY, sort_keys=False))
    result = cli.invoke(app, ["sweep", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "out"),
                              "--dask-scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 2 and "cannot reach 'tcp://127.0.0.1:9'" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


def test_two_executors_at_once_are_refused(tmp_path):
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(TINY, sort_keys=False))
    result = cli.invoke(app, ["sweep", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "out"),
                              "--dask-local", "2", "--serial"])
    assert result.exit_code == 2 and "choose one executor" in result.output


def test_a_second_sweep_in_the_same_directory_is_refused(tmp_path):
    with store.lock_directory(tmp_path):
        with pytest.raises(store.DirectoryLockedError, match=f"pid {os.getpid()}"):
            run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor(), progress=False)
    assert run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor(), progress=False).complete


def test_a_folder_of_other_files_or_a_file_is_refused(tmp_path):
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(TINY, sort_keys=False))
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    result = cli.invoke(app, ["sweep", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "taken"), "--serial"])
    assert result.exit_code == 2 and "not a sweep's" in result.output
    result = cli.invoke(app, ["sweep", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "spec.yaml"), "--serial"])
    assert result.exit_code == 2 and "is a file" in result.output


def test_each_point_keeps_the_backend_it_was_first_run_on(tmp_path, monkeypatch):
    run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor(), progress=False)
    manifest = yaml.safe_load((tmp_path / store.MANIFEST).read_text())
    assert manifest["backends"] == {key_of(p, k): "numpy" for p in (0.0, 0.5) for k in (1, 7)}
    # Whatever this machine would choose now, recorded points stay on their backend; new ones are resolved.
    monkeypatch.setattr("igmm.dynamics.protocol.resolve_backend", lambda *args, **kwargs: "numba")
    grown = tiny_spec(grid={"p": [0.0, 0.5, 0.9], "k": [1, 7]})
    backends = store.sweep_backends_of(tmp_path, grown)
    assert backends == manifest["backends"] | {key_of(0.9, 1): "numba", key_of(0.9, 7): "numba"}
    assert yaml.safe_load((tmp_path / store.MANIFEST).read_text())["backends"] == backends
    # A point recorded on a backend this machine cannot run is refused, and nothing is touched.
    (tmp_path / store.MANIFEST).write_text(yaml.safe_dump(manifest | {"backends": {key_of(0.0, 1): "no-such"}}))
    with pytest.raises(SpecMismatchError, match="no-such"):
        run_sweep(tiny_spec(replicates=6), tmp_path, executor=SerialExecutor(), progress=False)
    assert len(store.read_runs(tmp_path)) == TINY_RUNS


def test_no_point_gets_runs_from_two_revisions_of_its_backends_arithmetic(tmp_path, monkeypatch):
    from igmm.dynamics.protocol import BITS_REVISIONS

    run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor(), progress=False)
    manifest = yaml.safe_load((tmp_path / store.MANIFEST).read_text())
    assert manifest["revisions"] == {key_of(p, k): 1 for p in (0.0, 0.5) for k in (1, 7)}
    monkeypatch.setitem(BITS_REVISIONS, "numpy", 2)  # as if numpy's arithmetic had changed since
    # More replicates at the recorded points would mix the revisions: refused before anything runs.
    with pytest.raises(SpecMismatchError, match="revision 1 of backend 'numpy', this install has revision 2"):
        run_sweep(tiny_spec(replicates=6), tmp_path, executor=SerialExecutor(), progress=False)
    assert len(store.read_runs(tmp_path)) == TINY_RUNS
    # New points alone are fine: each takes this install's revision; the finished ones keep theirs.
    grown = run_sweep(tiny_spec(grid={"p": [0.0, 0.5, 0.9], "k": [1, 7]}), tmp_path, executor=SerialExecutor(),
                      progress=False)
    assert grown.complete and grown.n_done == 6
    revisions = yaml.safe_load((tmp_path / store.MANIFEST).read_text())["revisions"]
    assert revisions == manifest["revisions"] | {key_of(0.9, 1): 2, key_of(0.9, 7): 2}
    # A manifest written before revisions were recorded counts as revision 1.
    (tmp_path / store.MANIFEST).write_text(yaml.safe_dump({k: v for k, v in manifest.items() if k != "revisions"}))
    with pytest.raises(SpecMismatchError, match="revision 1"):
        run_sweep(tiny_spec(replicates=6), tmp_path, executor=SerialExecutor(), progress=False)


def test_a_grid_over_dynamics_gives_each_point_a_backend_that_implements_it(tmp_path, monkeypatch):
    """early-draft has numpy only; paper has numba too: "auto" must not send early-draft to numba."""
    monkeypatch.setattr("igmm.dynamics.protocol.AUTO_MIN_WORK", 0)  # as if the sweep were large
    spec = tiny_spec(grid={"dynamics": ["paper", "early-draft"]}, replicates=2)
    outcome = run_sweep(spec, tmp_path, executor=SerialExecutor(), progress=False)
    assert outcome.complete and not outcome.failed
    backends = yaml.safe_load((tmp_path / store.MANIFEST).read_text())["backends"]
    assert backends[point_key({"dynamics": "early-draft"})] == "numpy"
    expected = "numba" if importlib.util.find_spec("numba") is not None else "numpy"
    assert backends[point_key({"dynamics": "paper"})] == expected
