"""Running sweeps: exact rows, executor independence, resume after kills, retries, spec changes."""

import functools
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from igmm.cli import app
from igmm.config import make_config
from igmm.simulate import replicate_seeds, simulate_seeds
from igmm.sweep import runner as runner_module
from igmm.sweep import store
from igmm.sweep.executors import DaskExecutor, ProcessPoolExecutor, SerialExecutor
from igmm.sweep.runner import run_sweep
from igmm.sweep.spec import make_spec
from igmm.sweep.store import SpecMismatchError
from sweep.sweep_helpers import TINY, TINY_RUNS, TINY_STEPS, TINY_TASKS, die_once, fail_on_point, tiny_spec

cli = CliRunner()


@pytest.fixture(scope="module")
def serial_reference(tmp_path_factory):
    """The tiny sweep run serially: the tables every other way of running must reproduce."""
    out = tmp_path_factory.mktemp("serial")
    outcome = run_sweep(tiny_spec(), out, executor=SerialExecutor())
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
    assert (runs["spawn_key"] == runs["point"].astype(str) + "," + runs["replicate"].astype(str)).all()
    assert (runs["seed"] == "11").all()
    assert set(runs["pattern"]) <= {"consensus", "stable", "unstable", "decaying"}


def test_rows_equal_a_direct_simulation_of_the_point(serial_reference):
    runs, _ = serial_reference
    point = 3  # p = 0.5, k = 7
    direct = simulate_seeds(make_config({"n_agents": 8, "T": 15, "p": 0.5, "k": 7}), replicate_seeds(11, 5, prefix=(point,)))
    swept = runs[runs["point"] == point]
    for column in ("replicate", "spawn_key", "n_silos_final", "t_star", "converged", "t_polarized"):
        np.testing.assert_array_equal(swept[column].to_numpy(), direct.runs[column].to_numpy(), err_msg=column)


def test_chunk_size_does_not_change_results(tmp_path, serial_reference):
    run_sweep(tiny_spec(chunk_size=5), tmp_path, executor=SerialExecutor())
    assert len(store.finished_tasks(tmp_path)) == 4
    assert_same_tables(tmp_path, serial_reference)


def test_process_pool_and_local_dask_cluster_give_the_serial_tables(tmp_path, serial_reference):
    pool = ProcessPoolExecutor(2)
    try:
        run_sweep(tiny_spec(), tmp_path / "pool", executor=pool)
    finally:
        pool.close()
    assert_same_tables(tmp_path / "pool", serial_reference)
    pytest.importorskip("distributed")
    dask = DaskExecutor(n_local_workers=2)
    try:
        outcome = run_sweep(tiny_spec(), tmp_path / "dask", executor=dask)
    finally:
        dask.close()
    assert outcome.n_done == TINY_TASKS
    assert_same_tables(tmp_path / "dask", serial_reference)


def test_worker_dying_mid_task_is_retried_and_the_sweep_completes(tmp_path, serial_reference):
    flag = tmp_path / "died"
    pool = ProcessPoolExecutor(2)
    try:
        outcome = run_sweep(tiny_spec(), tmp_path / "out", executor=pool, task_fn=functools.partial(die_once, str(flag)))
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
    slow = {**TINY, "base": {"n_agents": 8, "T": 15}, "chunk_size": 1}  # 20 tasks, one replicate each
    spec_path.write_text(yaml.safe_dump(slow, sort_keys=False))
    command = [sys.executable, "-m", "igmm.cli", "sweep", str(spec_path), "--out", str(out), executor_flag]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(store.finished_tasks(out)) < 3 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    finished_before = len(store.finished_tasks(out))
    assert 3 <= finished_before < 20, "the kill came too late to test anything"
    outcome = run_sweep(make_spec(slow), out, executor=SerialExecutor())
    assert outcome.resumed and outcome.n_skipped == finished_before and outcome.n_done == 20 - finished_before
    assert_same_tables(out, serial_reference)


def test_a_task_cut_between_its_two_shards_is_rerun_in_full(tmp_path, serial_reference):
    run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor())
    name = "point=00002/reps-00002-00003"
    (tmp_path / "runs" / f"{name}.parquet").unlink()  # the completion mark never got written
    pd.DataFrame({"junk": [1]}).to_parquet(tmp_path / "steps" / f"{name}.parquet")
    (tmp_path / "steps" / "point=00002" / ".reps-00002-00003.parquet.999.tmp").write_text("half")
    outcome = run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor())
    assert (outcome.n_skipped, outcome.n_done) == (TINY_TASKS - 1, 1)
    assert not list(tmp_path.glob("*/point=*/.*.tmp"))
    assert_same_tables(tmp_path, serial_reference)


def test_failing_task_is_retried_once_then_recorded_and_the_rest_completes(tmp_path):
    calls = tmp_path / "calls.txt"
    failing = functools.partial(fail_on_point, 1, str(calls))
    outcome = run_sweep(tiny_spec(), tmp_path / "out", executor=SerialExecutor(), task_fn=failing)
    point_1 = ["point=00001/reps-00000-00001", "point=00001/reps-00002-00003", "point=00001/reps-00004-00004"]
    assert sorted(calls.read_text().split()) == sorted(point_1 * 2)  # each tried exactly twice
    assert sorted(item["task"] for item in outcome.failed) == point_1
    assert not outcome.complete and outcome.n_done == TINY_TASKS - 3
    runs = store.read_runs(tmp_path / "out")
    assert len(runs) == TINY_RUNS - 5 and 1 not in set(runs["point"])
    recorded = yaml.safe_load((tmp_path / "out" / store.FAILURES).read_text())
    assert [item["attempts"] for item in recorded] == [2, 2, 2]
    again = run_sweep(tiny_spec(), tmp_path / "out", executor=SerialExecutor())
    assert again.complete and again.n_done == 3 and not (tmp_path / "out" / store.FAILURES).exists()


def test_cli_exit_code_says_tasks_failed(tmp_path, monkeypatch):
    failing = functools.partial(fail_on_point, 0, str(tmp_path / "calls.txt"))
    monkeypatch.setattr(runner_module, "run_sweep", functools.partial(runner_module.run_sweep, task_fn=failing))
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(TINY, sort_keys=False))
    result = cli.invoke(app, ["sweep", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "out"), "--serial"])
    assert result.exit_code == 1
    assert "3 task(s) failed twice" in result.output


def test_changed_spec_is_refused_unless_forced(tmp_path):
    run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor())
    with pytest.raises(SpecMismatchError, match="changed: seed") as caught:
        run_sweep(tiny_spec(seed=12), tmp_path, executor=SerialExecutor())
    assert "  seed: was 11, now 12" in caught.value.lines
    assert len(store.read_runs(tmp_path)) == TINY_RUNS  # nothing touched
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump({**TINY, "seed": 12}, sort_keys=False))
    refused = cli.invoke(app, ["sweep", str(tmp_path / "spec.yaml"), "--out", str(tmp_path), "--serial"])
    assert refused.exit_code == 2 and "--force" in refused.output
    forced = cli.invoke(app, ["sweep", str(tmp_path / "spec.yaml"), "--out", str(tmp_path), "--serial", "--force"])
    assert forced.exit_code == 0, forced.output
    runs = store.read_runs(tmp_path)
    assert len(runs) == TINY_RUNS and (runs["seed"] == "12").all()
    assert store.read_manifest(tmp_path)["spec"]["seed"] == 12


def test_same_spec_rerun_skips_everything(tmp_path):
    run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor())
    stamps = {path: path.stat().st_mtime_ns for path in (tmp_path / "runs").rglob("*.parquet")}
    outcome = run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor())
    assert (outcome.n_skipped, outcome.n_done, outcome.resumed) == (TINY_TASKS, 0, True)
    assert stamps == {path: path.stat().st_mtime_ns for path in (tmp_path / "runs").rglob("*.parquet")}


def test_missing_dask_names_the_extra_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now raises ImportError
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(TINY, sort_keys=False))
    result = cli.invoke(app, ["sweep", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "out"), "--dask-local", "2"])
    assert result.exit_code == 2
    assert "pip install 'interacting-gmm[dask]'" in result.output


def test_two_executors_at_once_are_refused(tmp_path):
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(TINY, sort_keys=False))
    result = cli.invoke(app, ["sweep", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "out"),
                              "--dask-local", "2", "--serial"])
    assert result.exit_code == 2 and "choose one executor" in result.output


def test_a_second_sweep_in_the_same_directory_is_refused(tmp_path):
    with store.lock_directory(tmp_path):
        with pytest.raises(store.DirectoryLockedError, match=f"pid {os.getpid()}"):
            run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor())
    assert run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor()).complete  # released afterwards
