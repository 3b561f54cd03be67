"""Quick versions of every experiment: outputs (files, shapes, ranges) and one statistical claim each."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from igmm.experiments import reproduce
from igmm.metrics.patterns import PATTERN_NAMES

SEED = 7
GMM_EXPERIMENTS = ("unstable-silo", "stable-vs-unstable", "silos-vs-k", "p-k-grid", "bigger-rag", "moving-variance",
                   "consensus-vs-separation")


@pytest.fixture(scope="session")
def quick_results(tmp_path_factory):
    """Each quick experiment run once per session (they are shared by the tests below)."""
    root = tmp_path_factory.mktemp("reproduce")
    return {name: reproduce(name, root / name, quick=True, seed=SEED) for name in GMM_EXPERIMENTS}


def _mean_se(runs: pd.DataFrame, column: str, **where) -> tuple[float, float]:
    rows = runs
    for key, value in where.items():
        rows = rows[np.isclose(rows[key], value)] if isinstance(value, float) else rows[rows[key] == value]
    values = rows[column].to_numpy(dtype=float)
    return values.mean(), values.std(ddof=1) / np.sqrt(len(values))


@pytest.mark.parametrize("name", [n for n in GMM_EXPERIMENTS if n != "consensus-vs-separation"])
def test_outputs_have_the_declared_shape(quick_results, name):
    result = quick_results[name]
    out = result.out_dir
    for file in ("figure.png", "figure.pdf", "summary.md", "reads.parquet", "spec.yaml", "points.parquet",
                 "provenance.json"):
        assert (out / file).stat().st_size > 0, file
    spec = result.spec
    runs = pd.read_parquet(out / "runs")  # an experiment's folder is a sweep folder: one call reads a table
    assert len(runs) == len(spec.variant_overrides()) * spec.replicates
    assert set(runs["pattern"]) <= set(PATTERN_NAMES)
    assert runs["n_silos_final"].between(1, 30).all()
    assert runs["min_stability"].between(0, 1).all()
    steps = pd.read_parquet(out / "steps")
    assert steps["stability"].dropna().between(0, 1).all()
    for variant in result.variants:
        n_steps = (spec.base | variant.keys)["T"]
        assert variant.ids.shape == (spec.replicates, n_steps + 1, 30)
    summary = (out / "summary.md").read_text()
    assert "paper (read)" in summary and spec.name in summary and f"{spec.replicates} replicate(s)" in summary


def test_silos_decrease_with_k(quick_results):
    # 8 runs per k: the means are about 7.4, 3.5 and 1.0 silos with sds of 1.7, 0.9 and 0; 2 SE of the
    # differences is about 1.0 and 0.6 silos, so a real decrease smaller than that would not be seen here
    # (the paper's values themselves are checked on 120 pooled runs in test_paper_reads.py).
    runs = quick_results["silos-vs-k"].runs
    (m1, s1), (m5, s5), (m29, s29) = (_mean_se(runs, "n_silos_final", k=k) for k in (1, 5, 29))
    assert m1 - m5 > 2 * np.hypot(s1, s5)
    assert m5 - m29 > 2 * np.hypot(s5, s29)


def test_consensus_time_decreases_with_separation(quick_results):
    group = quick_results["consensus-vs-separation"]
    assert (group.out_dir / "figure.png").exists() and len(group.members) == 3
    line = group.members[0].runs
    (slow, s_slow), (fast, s_fast) = (_mean_se(line, "t_star", delta=d) for d in (0.75, 4.0))
    assert slow - fast > 2 * np.hypot(s_slow, s_fast)
    for member in group.members:
        assert member.runs["t_star"].between(0, member.spec.base["T"]).all()


def test_unstable_silo_runs_have_dips_and_a_dominant_silo(quick_results):
    runs = quick_results["unstable-silo"].runs
    assert (runs["min_stability"] < 1).all(), "p = 0.4 runs always have agents switching early on"
    long_runs = runs[runs["T"] == 400]
    assert (long_runs["largest_silo_final"] >= 15).all()
    assert set(runs["dynamics"]) == {"paper", "early-draft"}


def test_unstable_silo_examples_are_found_by_the_classifier_and_labelled(quick_results):
    result = quick_results["unstable-silo"]
    for variant in result.variants:
        patterns = variant.runs["pattern"].to_numpy()
        if (patterns == "unstable").any():
            # the first unstable replicate is drawn, and its title says so
            assert variant.example == int(np.flatnonzero(patterns == "unstable")[0])
            assert "the first of" in variant.example_note and "classified unstable" in variant.example_note
        else:
            assert variant.example == int(np.argmax(variant.runs["t_star"])) and "none of" in variant.example_note
    summary = (result.out_dir / "summary.md").read_text()
    assert "P(>= 2 silos at T) [95% CI]" in summary and "## Example runs drawn" in summary


def test_more_mirroring_keeps_membership_moving_longer(quick_results):
    runs = quick_results["stable-vs-unstable"].runs
    for dynamics in ("paper", "early-draft"):
        stable, _ = _mean_se(runs, "last_change", dynamics=dynamics, p=0.1)
        unstable, _ = _mean_se(runs, "last_change", dynamics=dynamics, p=0.4)
        assert stable < unstable


def test_grid_short_range_freezes_more_silos(quick_results):
    runs = quick_results["p-k-grid"].runs
    for p in (0.2, 0.5):  # at p = 0.7 even k = 25 is still fragmented at the quick horizon (as in the paper)
        (few, s_few), (many, s_many) = (_mean_se(runs, "n_silos_final", p=p, k=k) for k in (25, 1))
        assert many - few > 2 * np.hypot(s_few, s_many)
    assert (runs[runs["k"] == 1]["pattern"] != "consensus").all()


def test_bigger_rag_reaches_consensus_more_slowly(quick_results):
    runs = quick_results["bigger-rag"].runs
    (t10, s10), (t5, s5) = (_mean_se(runs, "t_star", r=r) for r in (10, 5))
    assert t10 > t5, "a larger database changes more slowly"
    assert runs["converged"].mean() > 0.5


def test_moving_variance_sigmas_grow_then_respect_the_floor(quick_results):
    result = quick_results["moving-variance"]
    traces = result.variants[0].traces
    assert traces["max_sigma"].min() >= 0.01 - 1e-12
    assert np.allclose(traces["max_sigma"][:, 0], 0.2)
    assert (result.runs["sigma_peak"] > 1.0).all(), "some component spreads far beyond the initial 0.2"
    assert (traces["max_id_sigma"] <= traces["max_sigma"] + 1e-12).all()


def test_perspective_figure_and_coordinates(quick_results):
    from igmm.api import simulate
    from igmm.plots.perspective import perspective_coordinates

    assert (quick_results["unstable-silo"].out_dir / "perspective.png").stat().st_size > 0
    result = simulate({"T": 30, "p": 0.2, "k": 3}, replicates=1, seed=SEED, keep_weights=True)
    coords = perspective_coordinates(result.weights[0], [0, 15, 30])
    assert coords.shape == (3, 30, 2)
    # Agents sharing an ID and a weight vector sit at one point; different IDs far apart.
    final_ids = result.ids[0, 30]
    same = final_ids[:, None] == final_ids[None, :]
    gaps = np.linalg.norm(coords[-1][:, None] - coords[-1][None], axis=-1)
    if (~same).any():
        assert np.median(gaps[same]) < np.median(gaps[~same])


@pytest.mark.slow
def test_full_silos_vs_k_within_reading_error_and_three_standard_errors_of_the_reads(tmp_path):
    """The issue's target, at full size (50 replicates per k, T = 80), with the criterion of
    test_paper_reads.py: a value read by eye off a figure carries READING_ERROR silos besides our 3 SE.
    (Without it, k = 2 misses: 6.34 against the read 5.8 is +3.5 SE, the deviation docs/experiments.md reports.)"""
    from experiments.test_paper_reads import READING_ERROR

    result = reproduce("silos-vs-k", tmp_path / "silos-vs-k", quick=False, seed=0)
    means = result.reads[result.reads["measure"] == "mean:n_silos_final"]
    assert len(means) == 10
    # Where every run has one silo the SE is 0 and the read is 1: require exact agreement there.
    exact = means["se"] == 0
    assert (means.loc[exact, "difference"] == 0).all()
    inexact = means.loc[~exact]
    assert (inexact["difference"].abs() <= READING_ERROR + 3 * inexact["se"]).all(), \
        inexact[["where", "ours", "read", "se", "z"]]
