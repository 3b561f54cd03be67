"""Fixed Gaussian components shared by all agents: means, covariances, log densities, sampling.

The four geometries of MODEL.md section 5. Covariances are stored either as
per-component diagonal variances (isotropic is the special case of equal
entries) or as full matrices through their Cholesky factors.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

_LOG_2PI = np.log(2.0 * np.pi)


@dataclass(frozen=True, eq=False)
class Geometry:
    """Means and covariances of the ``n_components`` Gaussian components.

    Attributes
    ----------
    means : ndarray of float64, shape (n_components, n_dims)
    variances : ndarray of float64, shape (n_components, n_dims) or None
        Diagonal covariances (isotropic: all entries sigma**2). None when full.
    cholesky : ndarray of float64, shape (n_components, n_dims, n_dims) or None
        Lower Cholesky factors of full covariances. None when diagonal.
    name : str
        "line", "circle", "simplex" or "custom".
    """

    means: np.ndarray
    variances: np.ndarray | None = None
    cholesky: np.ndarray | None = None
    name: str = "custom"

    def __post_init__(self) -> None:
        if (self.variances is None) == (self.cholesky is None):
            raise ValueError("give exactly one of variances (diagonal) or cholesky (full)")

    @cached_property
    def _log_det(self) -> np.ndarray:
        """log det Sigma_k of diagonal covariances, shape (n_components,), computed once."""
        return np.sum(np.log(self.variances), axis=-1)

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    @property
    def n_dims(self) -> int:
        return self.means.shape[1]

    def log_density(self, points: np.ndarray) -> np.ndarray:
        """log N(z; mu_k, Sigma_k) of every point under every component.

        Parameters
        ----------
        points : ndarray of float64, shape (..., n_dims)

        Returns
        -------
        ndarray of float64, shape (..., n_components)
        """
        if self.variances is not None and self.n_dims == 1:
            # The engine's one-dimensional arithmetic (log_density_columns), transposed: same bits.
            flat = points.reshape(1, -1)
            return self.log_density_columns(flat).T.reshape(points.shape[:-1] + (self.n_components,))
        diff = points[..., None, :] - self.means  # (..., n_components, n_dims)
        if self.variances is not None:
            squared = diff * diff
            squared /= self.variances
            mahalanobis = np.sum(squared, axis=-1)
            log_det = self._log_det
        else:
            # Solve L y = diff for every component: y = L^{-1} diff.
            inverse = np.linalg.inv(self.cholesky)
            whitened = np.einsum("kij,...kj->...ki", inverse, diff)
            mahalanobis = np.sum(whitened * whitened, axis=-1)
            log_det = 2.0 * np.sum(np.log(np.diagonal(self.cholesky, axis1=-2, axis2=-1)), axis=-1)
        return -0.5 * (mahalanobis + log_det + self.n_dims * _LOG_2PI)

    def log_density_columns(self, points: np.ndarray) -> np.ndarray:
        """:meth:`log_density` in the engine's layout: points (n_dims, n_batch) -> (n_components, n_batch).

        One dimension with diagonal covariances (the paper's line) is computed
        directly in this layout, without a trailing length-1 axis on which
        every numpy operation would run an inner loop of one element.
        """
        if self.variances is not None and self.n_dims == 1:
            diff = points[0] - self.means[:, :1]
            squared = diff * diff
            squared /= self.variances[:, :1]
            squared += self._log_det[:, None]
            squared += _LOG_2PI
            squared *= -0.5
            return squared
        return np.ascontiguousarray(self.log_density(points.T).T)

    def scaled_densities(self, points: np.ndarray) -> np.ndarray:
        """Densities of points (n_dims, n_batch) under every component, scaled so each point's largest is 1.

        Returns
        -------
        ndarray of float64, shape (n_components, n_batch)
            :func:`igmm.model.em.scaled_densities` of :meth:`log_density_columns`.
        """
        from igmm.model.em import scaled_densities

        return scaled_densities(self.log_density_columns(points), axis=0)

    def sample(self, components: np.ndarray, normals: np.ndarray) -> np.ndarray:
        """Points drawn from the given components, from standard normal draws.

        Parameters
        ----------
        components : ndarray of int, shape (...)
        normals : ndarray of float64, shape (..., n_dims)
            Independent standard normal draws.

        Returns
        -------
        ndarray of float64, shape (..., n_dims)
        """
        if self.variances is not None:
            return self.means[components] + np.sqrt(self.variances[components]) * normals
        return self.means[components] + np.einsum("...ij,...j->...i", self.cholesky[components], normals)


def _isotropic(means: np.ndarray, sigma: float, name: str) -> Geometry:
    return Geometry(means=means, variances=np.full(means.shape, float(sigma) ** 2), name=name)


def line(n_components: int, delta: float = 1.0, sigma: float = 0.2) -> Geometry:
    """1-D means mu_k = delta * k, k = 0 .. n_components - 1 (the paper's layout up to a shift)."""
    return _isotropic(delta * np.arange(n_components, dtype=float)[:, None], sigma, "line")


def circle(n_components: int, delta: float = 1.0, sigma: float = 0.2) -> Geometry:
    """2-D means equally spaced on a circle with neighbours ``delta`` apart."""
    if n_components < 2:
        raise ValueError(f"circle geometry needs n_components >= 2; got {n_components}")
    radius = delta / (2.0 * np.sin(np.pi / n_components))
    angle = 2.0 * np.pi * np.arange(n_components) / n_components
    return _isotropic(radius * np.stack([np.cos(angle), np.sin(angle)], axis=-1), sigma, "circle")


def simplex(n_components: int, delta: float = 1.0, sigma: float = 0.2) -> Geometry:
    """Means (delta / sqrt 2) e_k in n_components dimensions: every pair ``delta`` apart."""
    return _isotropic(delta / np.sqrt(2.0) * np.eye(n_components), sigma, "simplex")


def custom(means, covariances) -> Geometry:
    """User-given means and covariances.

    Parameters
    ----------
    means : array_like, shape (n_components, n_dims)
    covariances : float or array_like
        A scalar sigma**2 (isotropic, shared); shape (n_components,) per-component
        variances sigma_k**2 (isotropic); shape (n_components, n_dims) diagonal
        variances; or shape (n_components, n_dims, n_dims) full, symmetric
        positive-definite covariance matrices.
    """
    means = np.atleast_2d(np.asarray(means, dtype=float))
    n_components, n_dims = means.shape
    cov = np.asarray(covariances, dtype=float)
    if cov.ndim == 0 or cov.shape == (n_components,):
        variances = np.broadcast_to(cov.reshape(-1, 1) if cov.ndim else cov, (n_components, n_dims))
        return Geometry(means=means, variances=_positive(np.array(variances)), name="custom")
    if cov.shape == (n_components, n_dims):
        return Geometry(means=means, variances=_positive(cov), name="custom")
    if cov.shape == (n_components, n_dims, n_dims):
        if not np.allclose(cov, np.swapaxes(cov, -1, -2)):
            raise ValueError("full covariances must be symmetric")
        try:
            cholesky = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError as err:
            raise ValueError("full covariances must be positive definite") from err
        return Geometry(means=means, cholesky=cholesky, name="custom")
    raise ValueError(
        f"covariances of shape {cov.shape} do not fit means of shape {means.shape}: allowed are a "
        f"scalar, ({n_components},), ({n_components}, {n_dims}) or ({n_components}, {n_dims}, {n_dims})"
    )


def _positive(variances: np.ndarray) -> np.ndarray:
    if np.any(variances <= 0):
        raise ValueError(f"variances must be > 0; got minimum {variances.min()}")
    return variances
