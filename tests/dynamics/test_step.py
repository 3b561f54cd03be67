"""The vectorised engine: invariants, limiting cases, determinism, batch equals singles."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from igmm.config import make_config

from igmm.dynamics.run import draw_noise, initial_state
from igmm.dynamics.step import STEP_FUNCTIONS, sample_components
from igmm.simulate import replicate_seeds, simulate, simulate_seeds


def _rngs(seed, n):
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_agents=st.integers(2, 9),
    n_components=st.integers(2, 9),
    rag_size=st.integers(1, 6),
    p=st.floats(0.0, 1.0),
    geometry=st.sampled_from(["line", "circle", "simplex"]),
    dynamics=st.sampled_from(sorted(set(STEP_FUNCTIONS) - {"moving-variance", "moving-variance-means"})),  # fixed components only
    rag_policy=st.sampled_from(["farthest", "oldest", "random"]),
    data=st.data(),
)
def test_invariants_hold_along_a_run(seed, n_agents, n_components, rag_size, p, geometry, dynamics, rag_policy, data):
    k = data.draw(st.integers(1, n_agents - 1))
    config = make_config(n_agents=n_agents, n_components=n_components, r=rag_size, p=p, k=k, T=6,
                         geometry=geometry, dynamics=dynamics, rag_policy=rag_policy)
    params = config.to_params()
    rngs = _rngs(seed, 2)
    state = initial_state(params, rngs)
    step = STEP_FUNCTIONS[dynamics]
    for noise in draw_noise(rngs, 6, n_agents, params.geometry.n_dims):
        state = step(state, params, noise)
        eps = params.eps
        np.testing.assert_allclose(state.weights.sum(axis=-1), 1.0, rtol=1e-12)
        assert state.weights.min() >= eps / (1 + n_components * eps)
        assert state.weights.max() <= 1 - eps + 1e-15
        assert state.rag.shape == (2, n_agents, rag_size, params.geometry.n_dims)
        assert state.rag_dens.shape == (2, n_agents, rag_size, n_components)
        # The cache holds the scaled densities of exactly the stored points.
        log_dens = params.geometry.log_density(state.rag)
        np.testing.assert_allclose(state.rag_dens, np.exp(log_dens - log_dens.max(-1, keepdims=True)), atol=1e-12)


def test_p_one_every_agent_keeps_its_opinion():
    result = simulate({"p": 1.0, "T": 100}, replicates=5, seed=11)
    np.testing.assert_array_equal(result.ids, np.broadcast_to(np.arange(30), result.ids.shape))


def test_p_zero_complete_graph_mostly_reaches_one_silo():
    result = simulate({"p": 0.0, "k": 29, "T": 200}, replicates=20, seed=12)
    assert result.runs["converged"].mean() >= 0.8


def test_same_seed_same_output_and_different_seed_differs():
    first = simulate({"T": 60}, replicates=3, seed=5)
    second = simulate({"T": 60}, replicates=3, seed=5)
    other = simulate({"T": 60}, replicates=3, seed=6)
    np.testing.assert_array_equal(first.ids, second.ids)
    assert not np.array_equal(first.ids, other.ids)


def test_batch_of_eight_equals_eight_single_runs():
    config = make_config(p=0.4, k=5, T=50)
    seeds = replicate_seeds(99, 8)
    batch = simulate_seeds(config, seeds, keep_weights=True)
    for index, seq in enumerate(seeds):
        single = simulate_seeds(config, [np.random.SeedSequence(99, spawn_key=seq.spawn_key)], keep_weights=True)
        np.testing.assert_array_equal(single.ids[0], batch.ids[index])
        np.testing.assert_array_equal(single.weights[0], batch.weights[index])
    assert list(batch.runs["spawn_key"]) == [str(i) for i in range(8)]


def test_shorter_run_is_a_prefix_of_a_longer_one():
    short = simulate({"T": 20}, replicates=2, seed=3)
    long = simulate({"T": 45}, replicates=2, seed=3)
    np.testing.assert_array_equal(long.ids[:, :21], short.ids)


def test_initial_state_is_centred_on_assigned_components():
    config = make_config(n_agents=6, n_components=3, T=0, sigma=0.05)
    params = config.to_params()
    state = initial_state(params, _rngs(0, 4))
    np.testing.assert_array_equal(state.ids(), np.broadcast_to([0, 1, 2, 0, 1, 2], (4, 6)))
    # The database draws come from the agent's own component (sigma = 0.05, 1 apart).
    assert np.all(np.abs(state.rag[..., 0] - params.assignment[None, :, None]) < 0.5)
    np.testing.assert_allclose(state.weights[0, 0, 0], 1 - params.eps)
    np.testing.assert_allclose(state.weights[0, 0, 1], params.eps / 3)


def test_sample_components_inverts_the_cdf():
    weights = np.array([0.2, 0.5, 0.3])
    uniforms = np.array([0.0, 0.19, 0.21, 0.69, 0.71, 0.999999])
    np.testing.assert_array_equal(sample_components(np.broadcast_to(weights, (6, 3)), uniforms), [0, 0, 1, 1, 2, 2])


def test_ids_stored_compactly():
    result = simulate({"T": 5}, replicates=1, seed=0)
    assert result.ids.dtype == np.int16
    assert result.weights is None
