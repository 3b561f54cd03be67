"""The agents-last engine (igmm.dynamics.fast) against the reference batched step, and its batch invariance."""

import numpy as np
import pytest

from igmm.config import make_config
from igmm.dynamics import fast, run
from igmm.dynamics.partners import k_nearest
from igmm.dynamics.run import draw_noise, initial_state
from igmm.dynamics.step import paper_step
from igmm.simulate import replicate_seeds

CASES = {
    "line-k5": {"p": 0.2, "k": 5},
    "line-complete": {"p": 0.4},
    "more-agents-than-components": {"n_agents": 40, "n_components": 12, "p": 0.1, "k": 6},
    "circle": {"geometry": "circle", "n_agents": 12, "k": 3, "p": 0.1},
    "simplex": {"geometry": "simplex", "n_agents": 10, "sigma": 1.0, "delta": 4.0, "p": 0.0},
    "custom-full": {"geometry": "custom", "n_agents": 6, "means": [[0, 0], [1, 0], [0, 1]],
                    "covariances": [[[0.05, 0.01], [0.01, 0.04]]] * 3, "k": 2, "p": 0.2},
    "oldest": {"rag_policy": "oldest", "n_agents": 15, "k": 4, "p": 0.0},
    "random": {"rag_policy": "random", "n_agents": 15, "k": 4, "p": 0.0},
    "three-em-iterations": {"em_iterations": 3, "n_agents": 15, "p": 0.2},
}


def _rngs(n_reps, seed):
    return [np.random.default_rng(s) for s in replicate_seeds(seed, n_reps)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_layout_step_equals_reference_step_up_to_rounding(name):
    params = make_config(CASES[name]).to_params()
    rngs = _rngs(3, seed=5)
    state = initial_state(params, rngs)
    for noise in draw_noise(rngs, 6, params.n_agents, params.geometry.n_dims):
        expected = paper_step(state, params, noise)
        layout = fast.to_layout(state)
        nearest = k_nearest(state.weights, params.k) if params.k < params.n_agents - 1 else None
        fast.paper_step_inplace(layout, params, noise, nearest)
        got = fast.from_layout(layout)
        # Same draws, same slots, same points: only the order of sums over components differs.
        np.testing.assert_array_equal(got.rag, expected.rag)
        np.testing.assert_array_equal(got.rag_ages, expected.rag_ages)
        np.testing.assert_allclose(got.rag_dens, expected.rag_dens, rtol=1e-12, atol=0)
        np.testing.assert_allclose(got.weights, expected.weights, rtol=1e-12, atol=1e-25)
        assert got.time == expected.time
        state = expected  # continue from the reference so both see the same inputs


def test_layout_round_trip_is_exact():
    params = make_config({"n_agents": 7, "n_components": 5}).to_params()
    state = initial_state(params, _rngs(2, seed=1))
    back = fast.from_layout(fast.to_layout(state))
    for name in ("weights", "rag", "rag_dens", "rag_ages"):
        np.testing.assert_array_equal(getattr(back, name), getattr(state, name))


@pytest.mark.parametrize("values", [{"p": 0.3, "k": 4, "T": 40}, {"p": 0.4, "T": 40}])
def test_batch_equals_single_runs_bit_for_bit(values):
    params = make_config(values).to_params()
    batch = run(params, _rngs(4, seed=9), 40)
    seeds = replicate_seeds(9, 4)
    for i, seed in enumerate(seeds):
        single = run(params, [np.random.default_rng(seed)], 40)
        np.testing.assert_array_equal(single.ids[0], batch.ids[i])
        np.testing.assert_array_equal(single.final.weights[0], batch.final.weights[i])


@pytest.mark.parametrize("values", [
    {"n_agents": 120, "k": 5, "p": 0.1, "T": 30},
    {"n_agents": 90, "n_components": 100, "k": 89, "p": 0.3, "T": 30, "sigma": 0.3},
    {"n_agents": 100, "k": 4, "p": 0.0, "T": 20, "rag_policy": "oldest", "em_iterations": 2},
])
def test_banded_densities_give_the_same_bits_as_dense(values, monkeypatch):
    params = make_config(values).to_params()
    monkeypatch.setattr(fast, "_BAND_MIN_RATIO", 1)
    assert fast.window_width(params.geometry) is not None

    def trajectory(min_ratio):
        monkeypatch.setattr(fast, "_BAND_MIN_RATIO", min_ratio)
        return run(params, _rngs(2, seed=13), values["T"])

    banded, dense = trajectory(1), trajectory(10**9)
    np.testing.assert_array_equal(banded.ids, dense.ids)
    np.testing.assert_array_equal(banded.final.weights, dense.final.weights)
    np.testing.assert_array_equal(banded.final.rag_dens, dense.final.rag_dens)
