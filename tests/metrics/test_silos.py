"""Silo measures against hand-computed values and a plain-Python count."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from igmm.metrics import consensus_time, largest_silo, n_silos, silo_sizes, stability

IDS = np.array(
    [
        [[0, 1, 1, 2], [1, 1, 1, 2], [1, 1, 1, 1], [1, 1, 1, 1]],  # consensus from t = 2: t* = 1
        [[0, 1, 2, 3], [0, 0, 2, 3], [0, 0, 2, 2], [0, 0, 2, 2]],  # never: censored at T = 3
    ]
)


def test_n_silos_and_largest_by_hand():
    np.testing.assert_array_equal(n_silos(IDS), [[3, 2, 1, 1], [4, 3, 2, 2]])
    np.testing.assert_array_equal(largest_silo(IDS), [[2, 3, 4, 4], [1, 2, 2, 2]])


def test_silo_sizes_by_hand():
    sizes = silo_sizes(IDS, n_labels=4)
    assert sizes.shape == (2, 4, 4)
    np.testing.assert_array_equal(sizes[0, 0], [1, 2, 1, 0])
    np.testing.assert_array_equal(sizes[1, 3], [2, 0, 2, 0])
    np.testing.assert_array_equal(sizes.sum(-1), 4)


def test_stability_by_hand():
    np.testing.assert_allclose(stability(IDS), [[0.75, 0.75, 1.0], [0.75, 0.75, 1.0]])


def test_consensus_time_and_censoring():
    result = consensus_time(IDS)
    np.testing.assert_array_equal(result.t_star, [1, 3])
    np.testing.assert_array_equal(result.converged, [True, False])
    np.testing.assert_array_equal(result.censored, [False, True])
    assert result.n_steps == 3


def test_consensus_from_start_has_t_star_zero():
    assert consensus_time(np.zeros((1, 5, 3), dtype=int)).t_star[0] == 0


def test_consensus_lost_again_counts_last_split():
    ids = np.array([[[0, 1], [1, 1], [0, 1], [1, 1], [1, 1]]])
    assert consensus_time(ids).t_star[0] == 2


@settings(max_examples=50, deadline=None)
@given(arrays(np.int64, st.tuples(st.integers(1, 4), st.integers(1, 9)), elements=st.integers(0, 6)))
def test_measures_match_plain_python(ids):
    rows = [list(row) for row in ids]
    np.testing.assert_array_equal(n_silos(ids), [len(set(row)) for row in rows])
    np.testing.assert_array_equal(largest_silo(ids), [max(row.count(v) for v in row) for row in rows])
    np.testing.assert_array_equal(silo_sizes(ids, 7), [[row.count(v) for v in range(7)] for row in rows])


@pytest.mark.parametrize("bad", [np.array([[0.5, 1.0]]), np.zeros((2, 0), dtype=int)])
def test_bad_ids_are_rejected(bad):
    with pytest.raises(ValueError, match="ids must"):
        n_silos(bad)
