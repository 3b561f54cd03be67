"""The calibration's statistics are the project's (run_statistics, the churn of the comparison), vectorised."""

import numpy as np
import pytest

from igmm.calibrate.measures import (
    LOG_TIME_FLOOR,
    km_median,
    measure_list,
    read_at_scale,
    se_floor,
    summarise,
    target_statistics,
    z_scores,
)
from igmm.llm.comparison import switch_rate_while_split
from igmm.metrics import kaplan_meier_median
from igmm.stats import run_statistics
from igmm.tables import runs_table


def random_ids(seed, n_runs=9, n_steps=20, n_agents=8):
    rng = np.random.default_rng(seed)
    ids = np.zeros((n_runs, n_steps + 1, n_agents), dtype=np.int16)
    ids[:, 0] = np.arange(n_agents)
    for t in range(1, n_steps + 1):  # copy a random agent now and then: merging, sometimes consensus
        copy = rng.random((n_runs, n_agents)) < 0.3
        source = rng.integers(0, n_agents, (n_runs, n_agents))
        ids[:, t] = np.where(copy, np.take_along_axis(ids[:, t - 1], source, 1), ids[:, t - 1])
    return ids


@pytest.mark.parametrize("seed", range(5))
def test_values_are_those_of_run_statistics_and_the_comparisons_churn(seed):
    ids = random_ids(seed)
    measures = measure_list(20, times=(5, 10))
    values, _ = summarise(ids, measures)
    got = dict(zip([m.name for m in measures], values))
    stats = run_statistics(runs_table(ids))
    assert got["S(20)"] == pytest.approx(stats["silos_final_mean"])
    assert got["P(one silo)"] == pytest.approx(stats["p_one_silo"])
    median = stats["t_star_median"]
    assert got["median t*"] == pytest.approx(np.log(20 if np.isnan(median) else max(median, 1)))
    assert got["mean stability"] == pytest.approx(stats["mean_stability"])
    for name in ("stable", "unstable", "decaying"):
        assert got[f"pattern {name}"] == pytest.approx(stats[f"pattern_{name}"])
    assert got["churn while split"] == pytest.approx(switch_rate_while_split(ids))
    assert got["S(5)"] == pytest.approx(np.mean([len(set(row)) for row in ids[:, 5]]))


def test_vectorised_median_is_the_kaplan_meier_median_with_censoring_at_t():
    rng = np.random.default_rng(0)
    for n_runs in (1, 2, 5, 8, 9):
        for _ in range(200):
            converged = rng.random(n_runs) < rng.random()
            t_star = np.where(converged, rng.integers(0, 12, n_runs), 12)
            expected = kaplan_meier_median(t_star, converged)
            got = km_median(t_star[None], converged[None])[0]
            assert (np.isnan(got) and np.isnan(expected)) or got == expected, (t_star, converged)


def test_floors_apply_where_every_run_agrees():
    ids = np.zeros((8, 11, 5), dtype=np.int16)  # one silo throughout in 8 runs
    measures = measure_list(10, times=(5,))
    _, ses = summarise(ids, measures)
    by_name = dict(zip([m.name for m in measures], ses))
    assert by_name["S(10)"] == se_floor("count", 8) == 1 / 8
    assert by_name["P(one silo)"] == pytest.approx(se_floor("share", 8)) and by_name["P(one silo)"] > 0.05
    assert by_name["mean stability"] == se_floor("rate", 8)
    values, ses = target_statistics({(0.5, 1): ids}, measures, n_boot=50)
    assert ses[0, [m.name for m in measures].index("median t*")] == LOG_TIME_FLOOR


def test_reading_at_a_time_scale_takes_every_scale_th_step():
    ids = np.arange(41)[None, :, None] * np.ones((2, 1, 3), dtype=np.int64)
    assert read_at_scale(ids, 2.5, 10)[0, :, 0].tolist() == [0, 2, 5, 8, 10, 12, 15, 18, 20, 22, 25]
    with pytest.raises(ValueError, match="needs 50 steps"):
        read_at_scale(ids, 5.0, 10)


def test_z_scores_combine_both_standard_errors():
    z = z_scores((np.array([2.0]), np.array([0.3])), (np.array([3.0]), np.array([0.4])))
    assert z[0] == pytest.approx(2.0)
