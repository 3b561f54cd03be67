"""Summaries against hand-computed values; heatmaps and the `igmm summarize` command."""

import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from igmm.cli import app
from igmm.plots.phase import phase_table, plot_phase
from igmm.sweep import store
from igmm.sweep.executors import SerialExecutor
from igmm.sweep.runner import run_sweep
from igmm.sweep.summarize import summarize_runs, wilson_interval
from sweep.sweep_helpers import TINY_RUNS, tiny_spec


def test_wilson_interval_matches_hand_computed_values():
    lower, upper = wilson_interval(np.array([3, 0, 10, 0]), np.array([10, 10, 10, 0]))
    # 3/10: centre (0.3 + 1.96^2/20) / (1 + 1.96^2/10) = 0.35550, half-width 0.24772.
    np.testing.assert_allclose(lower[:3], [0.10779, 0.0, 0.72246], atol=1e-5)
    np.testing.assert_allclose(upper[:3], [0.60322, 0.27754, 1.0], atol=1e-5)
    assert lower[1] == 0.0 and upper[2] == 1.0  # exact at the edges, no rounding residue
    assert math.isnan(lower[3]) and math.isnan(upper[3])


def test_summary_of_a_hand_made_table():
    points = pd.DataFrame({"point": [0, 1], "p": [0.0, 0.0], "k": [1, 9],
                           "cfg_n_agents": [10, 10], "cfg_k": [1, 9], "cfg_T": [20, 20]})
    runs = pd.DataFrame({
        "point": [0, 0, 0, 0, 1, 1],
        "replicate": [0, 1, 2, 3, 0, 1],
        "n_silos_final": [1, 3, 5, 3, 1, 1],
        "converged": [True, False, False, False, True, True],
        "t_star": [7, 20, 20, 20, 4, 9],
        "t_polarized": [-1, 12, 3, -1, -1, -1],
        "polarized_final": [False, True, True, False, False, False],
        "max_silos_polarized": [0, 3, 5, 0, 0, 0],
        "pattern": ["consensus", "stable", "stable", "decaying", "consensus", "consensus"],
    })
    summary = summarize_runs(runs, points).set_index("point")
    first = summary.loc[0]
    assert first["n_runs"] == 4 and first["silos_final_mean"] == 3.0
    assert first["silos_final_se"] == pytest.approx(math.sqrt(8 / 3) / 2)  # sd of (1, 3, 5, 3) = sqrt(8/3)
    assert first["p_one_silo"] == 0.25 and first["p_polarized"] == 0.5 and first["p_polarized_final"] == 0.5
    expected_lo, expected_hi = wilson_interval(np.array([2]), np.array([4]))
    assert (first["p_polarized_lo"], first["p_polarized_hi"]) == pytest.approx((expected_lo[0], expected_hi[0]))
    assert math.isnan(first["t_star_median"])
    assert (first["pattern_stable"], first["pattern_decaying"], first["pattern_unstable"]) == (0.5, 0.25, 0.0)
    assert first["polarization_bound"] == 5 and first["polarized_max_silos"] == 5 and first["bound_holds"]
    second = summary.loc[1]
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
    run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor())
    result = CliRunner().invoke(app, ["summarize", str(tmp_path), "--x", "k", "--y", "p", "--value", "p_polarized",
                                      "--format", "png", "--format", "pdf"])
    assert result.exit_code == 0, result.output
    assert "bound floor(n/(k+1)) holds" in result.output
    folder = tmp_path / "summary"
    assert {path.name for path in folder.iterdir()} == {
        "summary.parquet", "summary.csv", "curves.parquet", "phase-p_polarized.png", "phase-p_polarized.pdf"}
    summary = pd.read_parquet(folder / "summary.parquet")
    assert len(summary) == 4 and summary["n_runs"].sum() == TINY_RUNS
    pd.testing.assert_frame_equal(pd.read_csv(folder / "summary.csv")[["point", "n_runs"]], summary[["point", "n_runs"]])
    # Recomputed from the runs rows: P(one silo) of every point.
    runs = store.read_runs(tmp_path)
    np.testing.assert_allclose(summary["p_one_silo"], runs.groupby("point")["converged"].mean().to_numpy())
    assert summary["bound_holds"].all()
    curves = pd.read_parquet(folder / "curves.parquet")
    assert len(curves) == 4 * 16 and (curves["n_runs"] == 5).all()
    assert (curves[curves["t"] == 0]["silos_mean"] == 8).all()  # every agent starts on its own component
    at_T = curves[curves["t"] == 15].set_index("point")
    np.testing.assert_allclose(at_T["p_polarized"], summary.set_index("point")["p_polarized_final"])
    np.testing.assert_allclose(at_T["p_one_silo"], summary.set_index("point")["p_one_silo"])


def test_summarize_rejects_unknown_axes_and_non_sweep_folders(tmp_path):
    bad = CliRunner().invoke(app, ["summarize", str(tmp_path)])
    assert bad.exit_code == 2 and "not a sweep directory" in bad.output
    run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor())
    wrong_axis = CliRunner().invoke(app, ["summarize", str(tmp_path), "--x", "sigma"])
    assert wrong_axis.exit_code == 2 and "'sigma' is not a swept axis" in wrong_axis.output


def test_summarize_warns_when_the_sweep_is_incomplete(tmp_path):
    run_sweep(tiny_spec(), tmp_path, executor=SerialExecutor())
    (tmp_path / "runs" / "point=00000" / "reps-00000-00001.parquet").unlink()
    result = CliRunner().invoke(app, ["summarize", str(tmp_path)])
    assert result.exit_code == 0
    assert f"{TINY_RUNS - 2} of {TINY_RUNS} runs finished" in result.output


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_holds_the_estimate_inside_zero_one(counts):
    successes, n_trials = counts
    lower, upper = wilson_interval(np.array([successes]), np.array([n_trials]))
    assert 0.0 <= lower[0] <= successes / n_trials <= upper[0] <= 1.0
