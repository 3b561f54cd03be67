"""The grouped (distinct-vector) k-nearest search equals the dense one, ties included."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from igmm.config import make_config
from igmm.dynamics import partners, run
from igmm.dynamics.partners import grouped_nearest_neighbours, nearest_neighbours, weight_distances
from igmm.api import replicate_seeds


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_agents=st.integers(2, 40), n_components=st.integers(1, 8),
       quantised=st.booleans(), data=st.data())
def test_grouped_equals_dense_with_duplicates_and_ties(seed, n_agents, n_components, quantised, data):
    rng = np.random.default_rng(seed)
    k = data.draw(st.integers(1, n_agents - 1))
    distinct = rng.dirichlet(np.ones(n_components), rng.integers(1, n_agents + 1))
    if quantised:  # multiples of 1/5: many exact ties between distinct vectors too
        distinct = np.round(distinct * 5) / 5 + 1e-12
    weights = distinct[rng.integers(0, len(distinct), n_agents)]
    expected = nearest_neighbours(weight_distances(weights[None]), k)[0]
    np.testing.assert_array_equal(grouped_nearest_neighbours(weights, k), expected)


def test_grouped_handles_nearly_equal_vectors():
    # Distinct vectors 1e-10 apart: far below the Gram form's rounding, resolved exactly.
    base = np.array([0.6, 0.4 - 1e-12, 1e-12])
    weights = np.stack([base + np.array([i * 1e-10, -i * 1e-10, 0.0]) for i in (3, 0, 2, 1, 0, 4)])
    expected = nearest_neighbours(weight_distances(weights[None]), 2)[0]
    np.testing.assert_array_equal(grouped_nearest_neighbours(weights, 2), expected)


@pytest.mark.parametrize("values", [{"n_agents": 60, "n_components": 10, "k": 4, "p": 0.1, "T": 25},
                                    {"n_agents": 40, "k": 3, "p": 0.0, "T": 25}])
def test_run_with_grouped_search_equals_dense(values, monkeypatch):
    params = make_config(values).to_params()

    def ids(threshold):
        monkeypatch.setattr(partners, "DENSE_MAX_AGENTS", threshold)
        rngs = [np.random.default_rng(s) for s in replicate_seeds(3, 2)]
        trajectory = run(params, rngs, values["T"])
        return trajectory.ids, trajectory.polarized

    dense_ids, dense_polarized = ids(10**9)
    grouped_ids, grouped_polarized = ids(0)
    np.testing.assert_array_equal(grouped_ids, dense_ids)
    np.testing.assert_array_equal(grouped_polarized, dense_polarized)


def test_support_form_distances_equal_dense_ones():
    from igmm.dynamics.partners import _support_distances
    from igmm.model.em import clip_renormalise

    rng = np.random.default_rng(4)
    weights = np.zeros((30, 90))
    for row in weights:
        support = rng.choice(90, rng.integers(1, 6), replace=False)
        row[support] = rng.dirichlet(np.ones(len(support)))
    weights = clip_renormalise(weights, 1e-12)
    first, second = np.triu_indices(30, 1)
    dense = weight_distances(weights[None])[0][first, second]
    np.testing.assert_allclose(_support_distances(weights, first, second), dense, rtol=1e-13, atol=1e-15)


def test_support_form_keeps_exact_ties_between_one_hot_agents():
    from igmm.dynamics.partners import _support_distances
    from igmm.model.em import clip_renormalise

    weights = np.full((40, 100), 1e-12)
    weights[np.arange(40), np.arange(40)] = 1 - 99e-12  # exact permutations of each other
    first, second = np.triu_indices(40, 1)
    assert len(np.unique(_support_distances(weights, first, second))) == 1
    partners.SUPPORT_MIN_COMPONENTS, old = 0, partners.SUPPORT_MIN_COMPONENTS
    try:
        nearest = grouped_nearest_neighbours(weights, 3)
    finally:
        partners.SUPPORT_MIN_COMPONENTS = old
    np.testing.assert_array_equal(nearest[0], [1, 2, 3])  # ties: lowest indices
    np.testing.assert_array_equal(nearest[5], [0, 1, 2])


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_agents=st.integers(12, 90), n_components=st.integers(1, 12),
       kind=st.sampled_from(["random", "quantised", "duplicates", "nearly-equal"]), data=st.data())
def test_blocked_sampled_float32_prefilter_equals_dense(seed, n_agents, n_components, kind, data):
    """The large-n path (blocks of rows, sampled threshold bound, float32 Gram form) on small populations.

    Thresholds are lowered so that every branch runs at these sizes: blocks of a few
    rows, the sample bound and the float32 product from 8 groups on.
    """
    block, columns = data.draw(st.sampled_from([1, 50, 400])), data.draw(st.integers(1, 12))
    rng = np.random.default_rng(seed)
    k = data.draw(st.integers(1, min(n_agents - 1, 12)))
    weights = rng.dirichlet(np.full(n_components, 0.5), n_agents)
    if kind == "quantised":  # multiples of 1/5: exact ties between distinct vectors
        weights = np.round(weights * 5) / 5 + 1e-12
    elif kind == "duplicates":  # few distinct vectors, each shared by many agents
        weights = weights[rng.integers(0, 5, n_agents)]
    elif kind == "nearly-equal":  # distinct vectors closer than the float32 rounding
        weights = weights[0] + rng.integers(-3, 4, (n_agents, 1)) * 1e-11 * np.eye(n_components)[0]
    weights = np.abs(weights)
    expected = nearest_neighbours(weight_distances(weights[None]), k)[0]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(partners, "_BLOCK_ELEMENTS", block)
        patch.setattr(partners, "_SAMPLE_MIN_GROUPS", 8)
        patch.setattr(partners, "_SAMPLE_COLUMNS", columns)
        found = grouped_nearest_neighbours(weights, k)
    np.testing.assert_array_equal(found, expected)


def test_blocked_search_equals_dense_on_a_heterogeneous_population():
    # 1,500 Dirichlet agents, all distinct, K = 30, k = 10 (the scale target's shape): the float32 sampled
    # path starts at 4,096 groups, so the threshold is lowered to run it against the dense search.
    rng = np.random.default_rng(11)
    weights = rng.dirichlet(np.full(30, 0.5), 1500)
    expected = nearest_neighbours(weight_distances(weights[None]), 10)[0]
    old = partners._SAMPLE_MIN_GROUPS
    partners._SAMPLE_MIN_GROUPS = 1000
    try:
        np.testing.assert_array_equal(grouped_nearest_neighbours(weights, 10), expected)
    finally:
        partners._SAMPLE_MIN_GROUPS = old
