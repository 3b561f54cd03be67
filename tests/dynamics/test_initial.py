"""Initial opinions: the paper's one-hot start, heterogeneous starts, weights from a file, and closed starts."""

import numpy as np
import pytest
from typer.testing import CliRunner

from igmm.api import replicate_seeds, simulate
from igmm.cli import app
from igmm.config import ConfigError, make_config
from igmm.dynamics import initial_state


def _state(values, n_reps=3, seed=1):
    params = make_config(values).to_params()
    return params, initial_state(params, [np.random.default_rng(s) for s in replicate_seeds(seed, n_reps)])


def test_one_hot_is_the_default_and_draws_nothing():
    # The paper's start: nothing random in the weights, so every earlier run is unchanged by the new rules.
    params, state = _state({"n_agents": 6, "n_components": 3})
    np.testing.assert_array_equal(state.ids(), np.broadcast_to([0, 1, 2, 0, 1, 2], (3, 6)))
    assert np.all(state.weights == state.weights[:1])


def test_dirichlet_weights_differ_between_agents_and_replicates_and_sum_to_one():
    params, state = _state({"n_agents": 40, "n_components": 10, "initial": {"kind": "dirichlet", "alpha": 0.5}})
    np.testing.assert_allclose(state.weights.sum(axis=-1), 1.0, rtol=1e-12)
    assert state.weights.min() >= params.eps / (1 + 10 * params.eps)
    assert len(np.unique(state.weights.reshape(-1, 10), axis=0)) == 3 * 40
    # With own = 0 the IDs are spread over the components, not tied to the assignment.
    assert np.mean(state.ids() == params.assignment) < 0.5


def test_mixture_keeps_each_agent_on_its_own_component_below_one_half():
    params, state = _state({"n_agents": 30, "initial": {"kind": "mixture", "share": 0.4}})
    np.testing.assert_array_equal(state.ids(), np.broadcast_to(params.assignment, (3, 30)))
    assert np.all(state.weights.max(axis=-1) >= 0.6 - 1e-9)


def test_weights_from_a_file(tmp_path):
    weights = np.random.default_rng(0).dirichlet(np.ones(5), size=8)
    np.save(tmp_path / "w.npy", weights)
    params, state = _state({"n_agents": 8, "n_components": 5, "initial": {"kind": "file", "path": str(tmp_path / "w.npy")}})
    np.testing.assert_allclose(state.weights[0], weights, rtol=1e-9)
    np.save(tmp_path / "bad.npy", np.ones((3, 5)))
    with pytest.raises(ConfigError, match=r"shape \(3, 5\)"):
        make_config({"n_agents": 8, "n_components": 5, "initial": {"kind": "file", "path": str(tmp_path / "bad.npy")}})
    np.save(tmp_path / "nan.npy", np.full((8, 5), np.nan))
    with pytest.raises(ConfigError, match="finite, non-negative"):
        make_config({"n_agents": 8, "n_components": 5, "initial": {"kind": "file", "path": str(tmp_path / "nan.npy")}})


def test_a_large_one_hot_population_is_closed_from_the_start_and_a_heterogeneous_one_moves():
    # n / K >= k + 1: every agent's k nearest are exact copies of it, so no ID can ever change.
    closed = simulate({"n_agents": 300, "n_components": 10, "k": 5, "T": 10}, replicates=1, seed=2)
    assert closed.series["polarized"][0, 0] and (closed.ids[0] == closed.ids[0, 0]).all()
    moving = simulate({"n_agents": 300, "n_components": 10, "k": 5, "T": 10,
                       "initial": {"kind": "dirichlet", "alpha": 0.5}}, replicates=1, seed=2)
    assert not moving.series["polarized"][0, 0] and (moving.ids[0, -1] != moving.ids[0, 0]).any()


def test_igmm_run_warns_when_the_start_is_closed(tmp_path):
    result = CliRunner().invoke(app, ["run", "--n-agents", "300", "--n-components", "10", "--k", "5", "--T", "3",
                                      "--out", str(tmp_path / "a")])
    assert result.exit_code == 0 and "initial state is already closed" in result.output
    quiet = CliRunner().invoke(app, ["run", "--n-agents", "300", "--n-components", "10", "--k", "5", "--T", "3",
                                     "--initial", "dirichlet:alpha=0.5", "--out", str(tmp_path / "b")])
    assert quiet.exit_code == 0 and "closed" not in quiet.output
