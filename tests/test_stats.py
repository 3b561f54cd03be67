"""The one set of statistics, checked against scipy: Wilson intervals, t intervals, Kaplan-Meier."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from igmm.metrics import kaplan_meier_median
from igmm.stats import group_statistics, mean, proportion, run_statistics, wilson_interval
from igmm.tables import runs_table


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 400).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
       st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_interval_equals_scipy_binomtest(counts, level):
    successes, n_trials = counts
    lower, upper = wilson_interval(np.array([successes]), np.array([n_trials]), level)
    expected = scipy_stats.binomtest(successes, n_trials).proportion_ci(confidence_level=level, method="wilson")
    assert lower[0] == pytest.approx(expected.low, abs=1e-12) and upper[0] == pytest.approx(expected.high, abs=1e-12)
    assert 0.0 <= lower[0] <= successes / n_trials <= upper[0] <= 1.0


def test_wilson_interval_without_trials_is_nan():
    lower, upper = wilson_interval(np.array([0]), np.array([0]))
    assert np.isnan(lower[0]) and np.isnan(upper[0])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=40))
def test_mean_interval_equals_scipy_t_interval(values):
    estimate = mean(values)
    if np.std(values) == 0:
        assert estimate.low == estimate.high == estimate.value
        return
    low, high = scipy_stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=scipy_stats.sem(values))
    assert estimate.low == pytest.approx(low, rel=1e-9, abs=1e-9) and estimate.high == pytest.approx(high, rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 60), st.booleans()), min_size=1, max_size=40))
def test_kaplan_meier_median_agrees_with_scipy_ecdf(pairs):
    times = np.array([t for t, _ in pairs], dtype=float)
    observed = np.array([o for _, o in pairs])
    median = kaplan_meier_median(times, observed)
    if not observed.any():
        assert np.isnan(median)
        return
    survival = scipy_stats.ecdf(scipy_stats.CensoredData(uncensored=times[observed], right=times[~observed])).sf
    if np.isnan(median):  # never below 1/2 within follow-up (or flat at exactly 1/2 to the end)
        assert survival.evaluate(times.max()) >= 0.5 - 1e-12
        return
    # The median is the first event time where S falls to 1/2 or below (the midpoint where it equals 1/2).
    below = survival.quantiles[survival.probabilities <= 0.5 + 1e-12]
    first = below.min()
    if abs(survival.evaluate(first) - 0.5) < 1e-12:
        # S is flat at 1/2 until the next event: the midpoint of that stretch (R's survfit convention).
        later = times[observed & (times > first)]
        assert median == pytest.approx((first + later.min()) / 2) if later.size else np.isnan(median)
    else:
        assert median == first


def test_group_statistics_of_a_real_batch_match_direct_computation():
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 3, size=(12, 21, 10))
    ids[:5, 15:] = 0  # five runs reach one silo at t = 15
    runs = runs_table(ids, {"polarized": np.zeros((12, 21), dtype=bool)})
    runs["group"] = ["a"] * 6 + ["b"] * 6
    table = group_statistics(runs, ["group"]).set_index("group")
    row = run_statistics(runs[runs["group"] == "a"])
    assert table.loc["a", "n_runs"] == 6 == row["n_runs"]
    assert table.loc["a", "p_one_silo"] == pytest.approx(np.mean(runs[runs["group"] == "a"]["converged"]))
    assert table.loc["b", "silos_final_mean"] == pytest.approx(runs[runs["group"] == "b"]["n_silos_final"].mean())
    assert proportion(3, 6).value == 0.5
    assert table.loc["a", "pattern_consensus"] + table.loc["a", "pattern_stable"] + table.loc["a", "pattern_unstable"] \
        + table.loc["a", "pattern_decaying"] == pytest.approx(1.0)


def test_unknown_polarization_gives_missing_proportions_not_zero():
    runs = runs_table(np.zeros((3, 4, 5), dtype=int))
    row = run_statistics(runs)
    assert np.isnan(row["p_polarized"]) and row["p_one_silo"] == 1.0
    assert isinstance(pd.DataFrame([row]), pd.DataFrame)
