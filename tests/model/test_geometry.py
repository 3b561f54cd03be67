"""Geometries: means as MODEL.md section 5 says, log densities against scipy.stats."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal, norm

from igmm.model import circle, custom, line, simplex


def test_line_means_and_log_density_match_scipy():
    geometry = line(5, delta=2.0, sigma=0.3)
    np.testing.assert_allclose(geometry.means[:, 0], [0, 2, 4, 6, 8])
    points = np.array([[0.1], [3.3], [-1.0]])
    expected = norm.logpdf(points, loc=geometry.means[:, 0], scale=0.3)
    np.testing.assert_allclose(geometry.log_density(points), expected, rtol=1e-12)


def test_circle_neighbours_are_delta_apart():
    geometry = circle(7, delta=1.5)
    gaps = np.linalg.norm(geometry.means - np.roll(geometry.means, 1, axis=0), axis=1)
    np.testing.assert_allclose(gaps, 1.5)


def test_simplex_every_pair_is_delta_apart():
    geometry = simplex(6, delta=4.0)
    diff = geometry.means[:, None] - geometry.means[None]
    distances = np.linalg.norm(diff, axis=-1)
    off_diagonal = distances[~np.eye(6, dtype=bool)]
    np.testing.assert_allclose(off_diagonal, 4.0)
    assert geometry.n_dims == 6


@pytest.mark.parametrize("kind", ["scalar", "per_component", "diagonal", "full"])
def test_custom_covariances_log_density_match_scipy(kind):
    means = np.array([[0.0, 0.0], [1.0, 2.0], [-1.0, 0.5]])
    full = np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.4, 0.0], [0.0, 0.4]], [[2.0, -0.5], [-0.5, 1.0]]])
    covariances = {
        "scalar": 0.7,
        "per_component": [0.5, 1.0, 2.0],
        "diagonal": [[0.5, 1.0], [0.2, 0.3], [1.0, 1.0]],
        "full": full,
    }[kind]
    cov_matrices = {
        "scalar": [np.eye(2) * 0.7] * 3,
        "per_component": [np.eye(2) * v for v in (0.5, 1.0, 2.0)],
        "diagonal": [np.diag(v) for v in ([0.5, 1.0], [0.2, 0.3], [1.0, 1.0])],
        "full": list(full),
    }[kind]
    geometry = custom(means, covariances)
    points = np.random.default_rng(0).normal(size=(4, 2))
    expected = np.stack([multivariate_normal(means[c], cov_matrices[c]).logpdf(points) for c in range(3)], axis=-1)
    np.testing.assert_allclose(geometry.log_density(points), expected, rtol=1e-10)


def test_sampling_full_covariance_has_that_covariance():
    cov = np.array([[[1.0, 0.6], [0.6, 0.5]]])
    geometry = custom([[1.0, -1.0]], cov)
    normals = np.random.default_rng(1).standard_normal((40_000, 2))
    samples = geometry.sample(np.zeros(40_000, dtype=int), normals)
    # Standard error of a covariance entry ~ sqrt(2/n) * scale: 5 SE ~ 0.04.
    np.testing.assert_allclose(np.cov(samples.T), cov[0], atol=0.04)
    np.testing.assert_allclose(samples.mean(axis=0), [1.0, -1.0], atol=0.03)


@pytest.mark.parametrize(
    "covariances, message",
    [([[1.0, 1.0, 1.0]], "do not fit"), (-1.0, "must be > 0"), ([[[1.0, 2.0], [2.0, 1.0]]], "positive definite"),
     ([[[1.0, 0.5], [0.0, 1.0]]], "symmetric")],
)
def test_custom_bad_covariances_are_named(covariances, message):
    with pytest.raises(ValueError, match=message):
        custom([[0.0, 0.0]], covariances)
