"""The transcripts beside the GMM: censored medians, summaries, tables and the whole comparison."""

import numpy as np
import pandas as pd
import pytest

from igmm.llm.comparison import GRID_K, GRID_P, cell_table, run_comparison, summarise, two_large_silos
from igmm.llm.transcripts import load_transcripts


def test_summary_of_a_hand_made_batch():
    # Run 0 reaches one silo at t = 2; run 1 stays split (censored at T = 3).
    ids = np.array([
        [[0, 1, 2], [0, 0, 2], [0, 0, 0], [0, 0, 0]],
        [[0, 1, 2], [0, 1, 1], [0, 1, 1], [0, 1, 1]],
    ])
    summary = summarise(ids)
    assert summary["n_runs"] == 2 and summary["n_steps"] == 3
    assert summary["silos_final_mean"] == 1.5 and summary["silos_final_mean_se"] == pytest.approx(0.5)
    assert summary["p_one_silo"] == 0.5 and summary["n_censored"] == 1
    assert not summary["t_star_median_reached"]  # 1 of 2 censored: S stays at 0.5
    assert summary["mean_stability"] == pytest.approx(np.mean([[2 / 3, 2 / 3, 1], [2 / 3, 1, 1]]))
    # Steps starting split: run 0 at t = 1, 2; run 1 at t = 1, 2, 3. Switches 1/3, 1/3; 1/3, 0, 0.
    assert summary["switch_rate_split"] == pytest.approx((1 / 3 + 1 / 3 + 1 / 3) / 5)


def test_two_large_silos_counts_steps_where_the_second_silo_is_large():
    # 12 agents, "large" = 2 or more. Run: t=1 split 6/6 (all stay), t=2 split 7/5 (one moves), t=3 one silo.
    ids = np.array([[[0] * 6 + [1] * 6, [0] * 6 + [1] * 6, [0] * 7 + [1] * 5, [0] * 12]])
    trace = two_large_silos(ids)
    assert trace["steps_two_large"] == 2.0
    assert trace["stability_two_large"] == pytest.approx((1.0 + 11 / 12) / 2)
    assert np.isnan(two_large_silos(np.zeros((1, 3, 12), dtype=int))["stability_two_large"])


def test_cell_table_marks_censored_medians_and_signs_differences():
    rows = []
    for system, steps, t_median, reached, silos in (("language models", 80, 8.5, True, 1.0),
                                                    ("GMM", 80, np.nan, False, 4.0), ("GMM", 200, 120.0, True, 1.2)):
        rows.append({"p": 0.5, "k": 15, "system": system, "n_runs": 8, "n_steps": steps, "silos_final_mean": silos,
                     "silos_final_mean_se": 0.1, "p_one_silo": 1.0, "p_one_silo_se": 0.0, "n_censored": 0,
                     "t_star_median": t_median, "t_star_median_reached": reached, "mean_stability": 0.9,
                     "switch_rate_split": 0.05, "steps_two_large": 3.0, "stability_two_large": 0.8}
                    | {f"pattern_{n}": np.nan for n in ("consensus", "decaying", "stable", "unstable")})
    table = cell_table(pd.DataFrame(rows), 0.5, 15).set_index("measure")
    assert table.loc["median t* (Kaplan-Meier)", "GMM (T=80)"] == "> 80 (censored)"
    assert table.loc["median t* (Kaplan-Meier)", "GMM - LM (T=200)"] == "+111.5"
    assert table.loc["median t* (Kaplan-Meier)", "GMM - LM (T=80)"] == "> +71.5"
    assert table.loc["final silos S(T), mean ± SE", "GMM - LM (T=80)"] == "+3.00 ± 0.14"


def test_transcripts_reproduce_the_reads_of_the_authors_figures(transcripts_dir):
    """EXPERIMENTS.md, llm-comparison: k = 1 freezes at ~5-10 silos, k = 5 ends at ~2, k >= 15 always
    reaches one silo; median steps to one silo ~8.5 / 15.5 / 20 (k = 15) and ~16 / 25 / 45 (k = 25)."""
    transcripts = load_transcripts(transcripts_dir)
    summaries = {(p, k): summarise(np.stack([r.ids for r in transcripts.select(p, k)])) for p in GRID_P for k in GRID_K}
    for p in GRID_P:
        assert 5 <= summaries[(p, 1)]["silos_final_mean"] <= 10
        assert 1.5 <= summaries[(p, 5)]["silos_final_mean"] <= 2.5
        assert summaries[(p, 15)]["p_one_silo"] == summaries[(p, 25)]["p_one_silo"] == 1.0
    assert [summaries[(p, 15)]["t_star_median"] for p in GRID_P] == [8.5, 15.5, 20.0]
    assert [summaries[(p, 25)]["t_star_median"] for p in GRID_P] == [16.0, 25.0, 45.0]


def test_quick_comparison_writes_tables_and_figures(transcripts_dir, tmp_path):
    result = run_comparison(transcripts_dir, tmp_path, quick=True, seed=3)
    summary = result.summary
    assert len(summary) == 12 * 3 and set(summary["system"]) == {"language models", "GMM"}
    assert set(summary.loc[summary["system"] == "GMM", "n_runs"]) == {4}
    assert set(summary.loc[summary["system"] == "language models", "n_runs"]) == {2}
    assert set(result.tables) == {(p, k) for p in GRID_P for k in GRID_K}
    written = {path.name for path in result.written}
    assert {"comparison.parquet", "runs.parquet", "comparison.md", "ids_grid_llm.png", "ids_grid_gmm_T80.png",
            "ids_grid_gmm_T200.png", "silos_over_time.png", "summary.png"} <= written
    assert "## p = 0.7, k = 25" in (tmp_path / "comparison.md").read_text()
    runs = pd.read_parquet(tmp_path / "runs.parquet")
    gmm = runs[runs["system"] == "GMM"]
    assert set(gmm["T"]) == {80, 200} and set(gmm["seed"]) == {"3"}
    assert (gmm[gmm["T"] == 80]["t_star"] <= 80).all() and (gmm[gmm["T"] == 200]["t_star"] <= 200).all()
    llm = runs[runs["system"] == "language models"]
    assert len(llm) == 24 and set(llm["replicate"]) == {0, 1} and set(llm["seed"]) == {"11", "12"}
    # A run converged by t = 80 is still converged at t = 200 with the same t* (same run, read longer).
    at_80 = gmm[gmm["T"] == 80].set_index(["p", "k", "replicate"])
    at_200 = gmm[gmm["T"] == 200].set_index(["p", "k", "replicate"])
    done = at_80["converged"]
    assert (at_200.loc[done[done].index, "t_star"] == at_80.loc[done[done].index, "t_star"]).all()
