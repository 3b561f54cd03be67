"""EM1 against values worked out by hand, and against a direct log-space evaluation."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from scipy.stats import norm

from igmm.model import clip_renormalise, em_step, em_step_batch, line, scaled_densities

EPS = 1e-12


def test_em_step_two_points_two_components_by_hand():
    # Components N(0, 1) and N(1, 1); points z = 0 and z = 1; start weights (0.5, 0.5).
    # At z = 0: densities phi(0) and phi(1); gamma_0 = phi(0) / (phi(0) + phi(1)) = 1 / (1 + e^-0.5).
    # At z = 1 the roles swap, so gamma_0(1) = e^-0.5 / (1 + e^-0.5); the mean is exactly 1/2.
    log_dens = np.array([[[norm.logpdf(0, 0, 1), norm.logpdf(0, 1, 1)], [norm.logpdf(1, 0, 1), norm.logpdf(1, 1, 1)]]])
    new = em_step_batch(np.array([[0.5, 0.5]]), scaled_densities(log_dens, axis=-1), EPS)
    np.testing.assert_allclose(new, [[0.5, 0.5]], rtol=1e-12)


def test_em_step_unequal_start_by_hand():
    # One point at z = 0, components N(0, 1), N(1, 1), start (0.8, 0.2):
    # gamma_0 = 0.8 phi(0) / (0.8 phi(0) + 0.2 phi(1)) = 0.8 / (0.8 + 0.2 e^-0.5).
    log_dens = np.array([[[norm.logpdf(0, 0, 1), norm.logpdf(0, 1, 1)]]])
    new = em_step_batch(np.array([[0.8, 0.2]]), scaled_densities(log_dens, axis=-1), EPS)
    expected = 0.8 / (0.8 + 0.2 * np.exp(-0.5))
    np.testing.assert_allclose(new[0], [expected, 1 - expected], rtol=1e-12)


def test_em_step_clips_at_eps_and_renormalises():
    # A point right on component 0, far (100 sigma) from component 1: gamma_1 underflows
    # to 0 and is clipped up to eps, then everything renormalises.
    geometry = line(2, delta=20.0, sigma=0.2)
    dens = scaled_densities(geometry.log_density(np.array([[[0.0]]])), axis=-1)
    new = em_step_batch(np.array([[0.5, 0.5]]), dens, EPS)
    np.testing.assert_allclose(new[0], np.array([1 - EPS, EPS]) / 1.0, rtol=1e-9)
    assert new[0, 1] > 0


def test_clip_renormalise_sums_to_one_and_respects_floor():
    weights = np.array([[1.0, 0.0, 0.0, 0.0]])
    clipped = clip_renormalise(weights, 1e-3, axis=-1)
    np.testing.assert_allclose(clipped.sum(), 1.0)
    assert clipped.min() >= 1e-3 / (1 + 4 * 1e-3)  # renormalisation may nudge below eps by O(K eps)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_components=st.integers(2, 12),
    rag_size=st.integers(1, 8),
    sigma=st.floats(0.05, 3.0),
)
def test_em_step_matches_direct_log_space_evaluation(seed, n_components, rag_size, sigma):
    rng = np.random.default_rng(seed)
    geometry = line(n_components, sigma=sigma)
    points = rng.uniform(-2, n_components + 2, size=(rag_size, 1))
    log_dens = geometry.log_density(points)  # (rag_size, n_components)
    weights = rng.dirichlet(np.ones(n_components))
    start = clip_renormalise(weights, EPS, axis=-1)
    log_joint = np.log(start) + log_dens
    gamma = np.exp(log_joint - logsumexp(log_joint, axis=-1, keepdims=True))
    expected = clip_renormalise(gamma.mean(axis=0), EPS, axis=-1)
    got = em_step_batch(weights, scaled_densities(log_dens, axis=-1), EPS)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-300)
    assert np.isclose(got.sum(), 1.0)
    assert got.min() >= EPS / (1 + n_components * EPS) and got.max() <= 1 - EPS + 1e-15


def test_several_em_iterations_move_further_toward_the_data():
    # Points all on component 1; more iterations put more weight there.
    geometry = line(3, sigma=0.3)
    dens = scaled_densities(geometry.log_density(np.array([[1.0], [1.1], [0.9]])), axis=-1)
    start = np.array([0.6, 0.2, 0.2])
    one, three = em_step_batch(start, dens, EPS, 1), em_step_batch(start, dens, EPS, 3)
    assert one[1] < three[1] < 1


def test_layout_and_batch_first_em_are_one_implementation():
    # em_step_batch transposes into the engine's layout and back: the same bits as em_step there.
    rng = np.random.default_rng(4)
    weights = rng.dirichlet(np.ones(6), size=(3, 4))                  # (n_reps, n_agents, K)
    dens = scaled_densities(line(6).log_density(rng.uniform(0, 5, (3, 4, 5, 1))), axis=-1)
    batch = em_step_batch(weights, dens, EPS, 2)
    layout = em_step(np.ascontiguousarray(weights.reshape(-1, 6).T),
                     np.ascontiguousarray(np.moveaxis(dens.reshape(-1, 5, 6), 0, -1)), EPS, 2)
    np.testing.assert_array_equal(batch, layout.T.reshape(3, 4, 6))
