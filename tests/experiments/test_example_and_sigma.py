"""The derived per-run columns of experiments: sigma peaks and floors, and how example runs are chosen."""

import numpy as np
import pandas as pd

from igmm.experiments.runner import FLOOR_FACTOR, choose_example, sigma_stats


def test_sigma_floor_is_the_first_step_from_which_the_series_stays_near_the_floor():
    floor = 0.01
    settles = [0.2, 30.0, 5.0, 0.015, 2.0, 0.012, 0.021, 0.011]  # falls at 3, flickers up at 4, settles at 5
    never = [0.2, 8.0, 40.0, 3.0, 0.5, 0.3, 0.2, 0.15]
    columns = sigma_stats({"max_sigma": np.array([settles, never])}, floor)
    np.testing.assert_allclose(columns["sigma_peak"], [30.0, 40.0])
    np.testing.assert_array_equal(columns["t_sigma_peak"], [1, 2])
    np.testing.assert_array_equal(columns["t_sigma_floor"], [5, 8])  # 8 = T + 1: never settles
    assert 0.021 <= FLOOR_FACTOR * floor  # the post-consensus spread counts as "at the floor"


def test_the_example_is_the_first_run_of_the_pattern_else_the_longest_split():
    runs = pd.DataFrame({"pattern": ["consensus", "unstable", "stable", "unstable"], "t_star": [40, 100, 100, 100]})
    assert choose_example(runs, None) == (0, "", "")
    index, note, label = choose_example(runs, "unstable")
    assert index == 1 and "the first of 4 classified unstable (2 are)" in note and "\n" in label
    index, note, _ = choose_example(runs.assign(t_star=[40, 70, 90, 60]), "decaying")
    assert index == 2 and "none of 4 is decaying" in note and "t* = 90" in note
