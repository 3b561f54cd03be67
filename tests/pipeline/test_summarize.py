"""Summaries against hand-computed values; figures; damaged shards detected; the `igmm summarize` command."""

import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from igmm.cli import app
from igmm.pipeline import store
from igmm.pipeline.executors import SerialExecutor
from igmm.pipeline.runner import run_sweep
from igmm.pipeline.summarize import summarize_runs
from igmm.plots.phase import phase_table, plot_phase
from igmm.stats import wilson_interval
from pipeline.sweep_helpers import TINY_RUNS, TINY_TASKS, key_of, tiny_spec


def _runs_table(**columns) -> pd.DataFrame:
    """A runs table with every RUN_SCHEMA column, defaults for those not given."""
    n = len(next(iter(columns.values())))
    defaults = {"seed": ["1"] * n, "spawn_key": [""] * n, "n_steps": [20] * n, "largest_silo_final": [1] * n,
                "second_silo_final": [0] * n, "mean_stability": [0.9] * n, "min_stability": [0.5] * n,
                "last_change": [0] * n}
    return pd.DataFrame(defaults | columns)


def test_summary_of_a_hand_made_table():
    points = pd.DataFrame({"point": ["a", "b"], "index": [0, 1], "p": [0.0, 0.0], "k": [1, 9],
                           "cfg_n_agents": [10, 10], "cfg_k": [1, 9], "cfg_T": [20, 20], "cfg_network": ["", ""]})
    runs = _runs_table(
        point=["a", "a", "a", "a", "b", "b"],
        replicate=[0, 1, 2, 3, 0, 1],
        n_silos_final=[1, 3, 5, 3, 1, 1],
        converged=[True, False, False, False, True, True],
        t_star=[7, 20, 20, 20, 4, 9],
        t_polarized=[-1, 12, 3, -1, -1, -1],
        polarized_final=[False, True, True, False, False, False],
        max_silos_polarized=[0, 3, 5, 0, 0, 0],
        pattern=["consensus", "stable", "stable", "decaying", "consensus", "consensus"],
    )
    summary = summarize_runs(runs, points).set_index("point")
    first = summary.loc["a"]
    assert first["n_runs"] == 4 and first["silos_final_mean"] == 3.0
    assert first["silos_final_mean_se"] == pytest.approx(math.sqrt(8 / 3) / 2)  # sd of (1, 3, 5, 3) = sqrt(8/3)
    # 95% t interval with 3 degrees of freedom: t = 3.182446.
    assert first["silos_final_mean_hi"] - 3.0 == pytest.approx(3.182446 * math.sqrt(8 / 3) / 2, rel=1e-5)
    assert first["p_one_silo"] == 0.25 and first["p_polarized"] == 0.5 and first["p_polarized_final"] == 0.5
    expected_lo, expected_hi = wilson_interval(np.array([2]), np.array([4]))
    assert (first["p_polarized_lo"], first["p_polarized_hi"]) == pytest.approx((expected_lo[0], expected_hi[0]))
    assert math.isnan(first["t_star_median"])
    assert (first["pattern_stable"], first["pattern_decaying"], first["pattern_unstable"]) == (0.5, 0.25, 0.0)
    assert first["polarization_bound"] == 5 and first["polarized_max_silos"] == 5 and first["bound_holds"]
    second = summary.loc["b"]
    assert second["t_star_median"] == 6.5 and second["p_one_silo"] == 1.0  # t* 4 and 9, both observed: their median
    assert second["polarization_bound"] == 1 and second["bound_holds"]


def test_phase_table_arranges_values_on_the_grid():
    summary = pd.DataFrame({"p": [0.0, 0.0, 0.5, 0.5], "k": [1, 3, 1, 3], "p_one_silo": [0.1, 0.2, 0.3, 0.4]})
    table = phase_table(summary, x="k", y="p", value="p_one_silo")
    assert table.shape == (2, 2) and list(table.columns) == [1, 3] and list(table.index) == [0.0, 0.5]
    assert table.loc[0.5, 3] == 0.4
    figure = plot_phase(summary, x="k", y="p", value="p_one_silo")
    assert figure.axes[0].get_xlabel() == "k"


def test_summarize_command_writes_tables_and_heatmaps(tmp_path):
    run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor(), progress=False)
    result = CliRunner().invoke(app, ["summarize", str(tmp_path), "--x", "k", "--y", "p", "--value", "p_polarized",
                                      "--format", "png", "--format", "pdf"])
    assert result.exit_code == 0, result.output
    assert "bound floor(n/(k+1))" in result.output
    folder = tmp_path / "summary"
    assert {path.name for path in folder.iterdir()} == {
        "summary.parquet", "summary.csv", "curves.parquet", "phase-p_polarized.png", "phase-p_polarized.pdf"}
    summary = pd.read_parquet(folder / "summary.parquet")
    assert len(summary) == 4 and summary["n_runs"].sum() == TINY_RUNS
    pd.testing.assert_frame_equal(pd.read_csv(folder / "summary.csv")[["point", "n_runs"]], summary[["point", "n_runs"]])
    # Recomputed from the runs rows: P(one silo) of every point, in grid order.
    runs = store.read_runs(tmp_path)
    np.testing.assert_allclose(summary["p_one_silo"], runs.groupby("point", sort=False)["converged"].mean().to_numpy())
    curves = pd.read_parquet(folder / "curves.parquet")
    assert len(curves) == 4 * 16 and (curves["n_runs"] == 5).all()
    assert (curves[curves["t"] == 0]["silos_mean"] == 8).all()  # every agent starts on its own component
    at_T = curves[curves["t"] == 15].set_index("point")
    np.testing.assert_allclose(at_T.loc[summary["point"], "p_polarized"], summary["p_polarized_final"])


def test_a_one_axis_sweep_gets_line_plots_with_labelled_intervals(tmp_path):
    run_sweep(tiny_spec(grid={"k": [1, 3, 7]}), tmp_path, executor=SerialExecutor(), progress=False)
    result = CliRunner().invoke(app, ["summarize", str(tmp_path)])
    assert result.exit_code == 0, result.output
    names = {path.name for path in (tmp_path / "summary").iterdir()}
    assert {"line-silos_final_mean.png", "line-p_one_silo.png"} <= names
    from igmm.plots.phase import plot_line

    summary = pd.read_parquet(tmp_path / "summary" / "summary.parquet")
    labels = [text.get_text() for text in plot_line(summary, "k", "p_one_silo").axes[0].get_legend().get_texts()]
    assert "95% interval" in labels


def test_summarize_rejects_unknown_axes_and_non_sweep_folders(tmp_path):
    bad = CliRunner().invoke(app, ["summarize", str(tmp_path)])
    assert bad.exit_code == 2 and "not a sweep folder" in bad.output
    run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor(), progress=False)
    wrong_axis = CliRunner().invoke(app, ["summarize", str(tmp_path), "--x", "sigma"])
    assert wrong_axis.exit_code == 2 and "'sigma' is not a swept axis" in wrong_axis.output


def test_summarize_warns_when_the_sweep_is_incomplete(tmp_path):
    run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor(), progress=False)
    import json

    journal = (tmp_path / store.JOURNAL).read_text().splitlines()
    (tmp_path / store.JOURNAL).write_text("\n".join(journal[1:]) + "\n")  # the first task never finished
    name = json.loads(journal[0])["task"]
    for table in ("runs", "steps"):
        store.shard_path(tmp_path, table, name).unlink()
    result = CliRunner().invoke(app, ["summarize", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"{TINY_RUNS - 2} of {TINY_RUNS} runs finished" in result.output


# -- Damaged shards: every injected corruption is detected, reported and repaired ------------------------


def _flip_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _swap(first, second):
    a, b = first.read_bytes(), second.read_bytes()
    first.write_bytes(b), second.write_bytes(a)


CORRUPTIONS = {
    "truncated": lambda paths: paths[0].write_bytes(paths[0].read_bytes()[:100]),
    "emptied": lambda paths: paths[0].write_bytes(b""),
    "deleted": lambda paths: paths[0].unlink(),
    "byte flipped": lambda paths: _flip_byte(paths[0]),
    "swapped": lambda paths: _swap(paths[0], paths[1]),
}


@pytest.fixture(scope="module")
def clean_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean")
    run_sweep(tiny_spec(), out, executor=SerialExecutor(), progress=False)
    return out


@pytest.mark.parametrize("table", ["runs", "steps"])
@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_every_corruption_is_detected_reported_and_repaired_on_resume(tmp_path, clean_sweep, table, corruption):
    import shutil

    out = tmp_path / "sweep"
    shutil.copytree(clean_sweep, out)
    names = sorted(store.read_journal(out))
    paths = [store.shard_path(out, table, name) for name in names[:2]]
    CORRUPTIONS[corruption](paths)
    verify = CliRunner().invoke(app, ["sweep", "--verify", str(out)])
    assert verify.exit_code == 1 and "damaged:" in verify.output
    damaged = {line.split()[1] for line in verify.output.splitlines() if line.startswith("damaged:")}
    assert names[0] in damaged and (corruption != "swapped" or names[1] in damaged)
    summarize = CliRunner().invoke(app, ["summarize", str(out)])
    assert summarize.exit_code == 2 and "damaged" in summarize.output  # never summarised from damaged files
    outcome = run_sweep(tiny_spec(), out, executor=SerialExecutor(), progress=False)
    assert outcome.n_repaired == len(damaged) and outcome.n_tasks == len(damaged) and outcome.complete
    assert CliRunner().invoke(app, ["sweep", "--verify", str(out)]).exit_code == 0
    pd.testing.assert_frame_equal(store.read_runs(out), store.read_runs(clean_sweep))
    pd.testing.assert_frame_equal(store.read_steps(out), store.read_steps(clean_sweep))


def test_summary_folder_is_replaced_as_a_whole(tmp_path, monkeypatch):
    # A failure while the summary is written leaves the previous summary untouched, not a mixture.
    from igmm.pipeline import summarize as summarize_module

    run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor(), progress=False)
    assert CliRunner().invoke(app, ["summarize", str(tmp_path)]).exit_code == 0
    before = {path.name: path.read_bytes() for path in (tmp_path / "summary").iterdir()}

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(summarize_module, "step_curves", broken)
    result = CliRunner().invoke(app, ["summarize", str(tmp_path), "--value", "p_one_silo"])
    assert result.exit_code == 4 and "No space left on device" in result.output
    assert {path.name: path.read_bytes() for path in (tmp_path / "summary").iterdir()} == before
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".summary")]
    assert len(store.read_journal(tmp_path)) == TINY_TASKS
    assert key_of(0.0, 1) in set(store.read_runs(tmp_path)["point"])
