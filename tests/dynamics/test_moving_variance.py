"""Moving-variance variant: invariants, fixed versus moving means, the density cache, and reproducibility."""

from dataclasses import replace

import numpy as np
import pytest

from igmm.config import make_config
from igmm.dynamics import run
from igmm.dynamics.moving_variance import (
    SIGMA_FLOOR,
    MovingVarianceState,
    em_moving,
    log_normal,
    run_tracking_sigmas,
)
from igmm.dynamics.run import draw_noise, initial_state
from igmm.dynamics.step import STEP_FUNCTIONS
from igmm.model.em import scaled_densities


def _params(dynamics="moving-variance", **values):
    return replace(make_config({"n_agents": 8, "p": 0.3, "k": 4} | values).to_params(), dynamics=dynamics)


def _rngs(seed, n=3):
    return [np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i,))) for i in range(n)]


@pytest.mark.parametrize("dynamics", ["moving-variance", "moving-variance-means"])
def test_invariants_along_a_run(dynamics):
    params = _params(dynamics)
    rngs = _rngs(1)
    state = initial_state(params, rngs)
    fixed_means = params.geometry.means
    for noise in draw_noise(rngs, 12, params.n_agents, 1):
        state = STEP_FUNCTIONS[dynamics](state, params, noise)
        assert isinstance(state, MovingVarianceState)
        np.testing.assert_allclose(state.weights.sum(axis=-1), 1.0, rtol=1e-12)
        assert state.sigmas.min() >= SIGMA_FLOOR
        assert state.sigmas.shape == (3, 8, 8) and state.means.shape == (3, 8, 8, 1)
        # The density cache follows each agent's current components.
        expected = scaled_densities(log_normal(state.rag, state.means, state.sigmas))
        np.testing.assert_allclose(state.rag_dens, expected, atol=1e-12)
    moved = not np.allclose(state.means, fixed_means)
    assert moved == (dynamics == "moving-variance-means")


def test_em_moving_recovers_the_spread_of_points_held_by_one_component():
    points = np.array([[[-1.0], [1.0], [-1.0], [1.0]]])  # all near component 0 at 0
    means = np.array([[[0.0], [50.0]]])
    weights, new_means, sigmas = em_moving(np.array([[0.5, 0.5]]), points, means, np.array([[0.2, 0.2]]), eps=1e-12)
    assert sigmas[0, 0] == pytest.approx(1.0)  # weighted std about the fixed mean 0
    assert sigmas[0, 1] == SIGMA_FLOOR  # component 1 holds none of the points (responsibility underflows)
    assert weights[0, 0] > 0.999 and np.array_equal(new_means, means)
    _, moved, sigmas = em_moving(np.array([[0.5, 0.5]]), points + 3.0, means, np.array([[5.0, 0.2]]), eps=1e-12,
                                 move_means=True)
    assert moved[0, 0, 0] == pytest.approx(3.0) and sigmas[0, 0] == pytest.approx(1.0)


def test_tracking_run_matches_the_engine_and_is_reproducible():
    params = _params()
    ids, max_sigma, max_id_sigma = run_tracking_sigmas(params, _rngs(4), 20)
    np.testing.assert_array_equal(ids, run(params, _rngs(4), 20).ids)
    again = run_tracking_sigmas(params, _rngs(4), 20)
    np.testing.assert_array_equal(max_sigma, again[1])
    assert max_sigma.shape == (3, 21) and (max_id_sigma <= max_sigma + 1e-12).all()
    assert np.allclose(max_sigma[:, 0], 0.2)


def test_tracking_refuses_other_dynamics():
    with pytest.raises(ValueError, match="dynamics: 'paper' is not allowed here"):
        run_tracking_sigmas(_params("paper"), _rngs(0), 2)
