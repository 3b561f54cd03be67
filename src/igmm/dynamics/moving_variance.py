"""The moving-variance variant: every agent refits its own sigmas (and optionally means).

Each agent holds its own component means ``(n_components, n_dims)`` and
isotropic standard deviations ``(n_components,)``, starting from the shared
geometry. Everything else (partners, query, the partner's temporary copy of
its database holding the query, the answer, database policies) follows the
paper step; the partner's temporary refit also moves the partner's
temporary sigmas, and the answer is drawn from them.

For this variant **the original code's arithmetic is the model** (the
paper's figure depends on it), so its EM differs from the paper dynamics'
log-space EM in two places:

* **Raw densities in the E-step.** gamma_k(z) = pi_k N(z; mu_k, sigma_k^2) /
  sum_l pi_l N(z; mu_l, sigma_l^2) with the densities themselves, not their
  logarithms. A point whose every density underflows to 0 contributes to no
  component: its responsibilities stay 0 (they are not renormalised).
* **An epsilon in the variance update.** sigma_k^2 = sum_z gamma_k(z) |z - mu_k|^2 / d
  / (sum_z gamma_k(z) + 1e-12), floored at sigma = 0.01 (NaN -> 0.01).
  A component holding a negligible share of the points therefore falls to
  the floor instead of keeping the exact spread of its few points.

Without these two rules the largest sigma over agents never returns to the
floor after consensus (it does in the original runs, and here). The weights
follow the paper's M-step: the mean responsibility over the r points,
clipped to [eps, 1 - eps] and renormalised. In the ``moving-variance-means``
dynamics each mean also moves to the gamma-weighted mean of the points
(where the component holds any responsibility; otherwise it stays), and the
variance is taken about the new mean, as in EM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from igmm.dynamics.initial import initial_state
from igmm.dynamics.partners import NearestPartners
from igmm.dynamics.protocol import register_dynamics
from igmm.dynamics.state import (
    U_ANSWER,
    U_QUERY,
    U_SLOT_OWN,
    U_SLOT_PARTNER,
    HostNoise,
    ModelParams,
    PopulationState,
)
from igmm.model.em import clip_renormalise, sample_components, scaled_densities
from igmm.registry import MEASURES, RAG_POLICIES

#: Floor of every refitted standard deviation.
SIGMA_FLOOR = 0.01
#: The original code's epsilon in the denominator of the variance update.
VARIANCE_EPS = 1e-12
_LOG_2PI = np.log(2.0 * np.pi)


@dataclass(frozen=True, eq=False)
class MovingVarianceState(PopulationState):
    """A :class:`PopulationState` plus every agent's own components.

    Attributes
    ----------
    means : ndarray of float64, shape (n_reps, n_agents, n_components, n_dims)
    sigmas : ndarray of float64, shape (n_reps, n_agents, n_components)
        Isotropic standard deviations, >= SIGMA_FLOOR after the first update.
    """

    means: np.ndarray | None = None
    sigmas: np.ndarray | None = None


def raw_densities(points: np.ndarray, means: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """N(z; mu_k, sigma_k^2 I) of every point under every one of the agent's components (not logarithms).

    Parameters
    ----------
    points : ndarray of float64, shape (..., rag_size, n_dims)
    means : ndarray of float64, shape (..., n_components, n_dims)
    sigmas : ndarray of float64, shape (..., n_components)

    Returns
    -------
    ndarray of float64, shape (..., rag_size, n_components)
        Exactly 0 where the density underflows.
    """
    n_dims = points.shape[-1]
    diff = points[..., :, None, :] - means[..., None, :, :]
    squared = np.sum(diff * diff, axis=-1)
    variances = sigmas[..., None, :] ** 2
    return np.exp(-0.5 * squared / variances) / (2.0 * np.pi * variances) ** (n_dims / 2)


def raw_responsibilities(weights: np.ndarray, dens: np.ndarray) -> np.ndarray:
    """gamma_k(z) from raw densities; a point whose every joint density is 0 gets 0 everywhere.

    Parameters
    ----------
    weights : ndarray of float64, shape (..., n_components)
    dens : ndarray of float64, shape (..., rag_size, n_components)

    Returns
    -------
    ndarray of float64, shape (..., rag_size, n_components)
    """
    joint = weights[..., None, :] * dens
    total = np.sum(joint, axis=-1, keepdims=True)
    return np.divide(joint, total, out=np.zeros_like(joint), where=total > 0)


def em_moving(
    weights: np.ndarray,
    points: np.ndarray,
    means: np.ndarray,
    sigmas: np.ndarray,
    eps: float,
    n_iterations: int = 1,
    move_means: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Warm-started EM iterations on the weights, the sigmas and optionally the means (the original arithmetic).

    Parameters
    ----------
    weights : ndarray of float64, shape (..., n_components)
    points : ndarray of float64, shape (..., rag_size, n_dims)
    means : ndarray of float64, shape (..., n_components, n_dims)
    sigmas : ndarray of float64, shape (..., n_components)
    eps : float
        Weight floor.
    n_iterations : int
    move_means : bool
        Also move each mean to the gamma-weighted mean of the points.

    Returns
    -------
    (weights, means, sigmas)
        New arrays of the input shapes; weights sum to 1, sigmas >= SIGMA_FLOOR.

    Examples
    --------
    The point at 1e6 underflows under every component and counts for none;
    component 1 (at 10) holds no share of the point at 0, so it falls to the floor:

    >>> w, m, s = em_moving(np.array([0.5, 0.5]), np.array([[0.0], [1e6]]), np.array([[0.0], [10.0]]),
    ...                     np.array([0.2, 0.2]), eps=1e-12)
    >>> float(s[0]), float(s[1])
    (0.01, 0.01)
    >>> w.round(3).tolist()          # the M-step averages over both points: 1/2 and 0, renormalised
    [1.0, 0.0]
    """
    n_dims = points.shape[-1]
    for _ in range(n_iterations):
        start = clip_renormalise(weights, eps, axis=-1)
        gamma = raw_responsibilities(start, raw_densities(points, means, sigmas))
        weights = clip_renormalise(gamma.mean(axis=-2), eps, axis=-1)
        share = gamma.sum(axis=-2)  # (..., n_components)
        if move_means:
            weighted = np.einsum("...rk,...rd->...kd", gamma, points)
            held = share[..., None] > 0
            means = np.where(held, weighted / np.where(held, share[..., None], 1.0), means)
        diff = points[..., :, None, :] - means[..., None, :, :]
        spread = np.einsum("...rk,...rkd->...k", gamma, diff * diff) / n_dims
        with np.errstate(invalid="ignore"):
            sigma = np.sqrt(spread / (share + VARIANCE_EPS))
        sigmas = np.maximum(np.where(np.isnan(sigma), SIGMA_FLOOR, sigma), SIGMA_FLOOR)
    return weights, means, sigmas


def _gather(array: np.ndarray, partners: np.ndarray) -> np.ndarray:
    """``array[r, partners[r, i]]`` for every replicate r and agent i."""
    index = partners.reshape(partners.shape + (1,) * (array.ndim - 2))
    return np.take_along_axis(array, index, axis=1)


def _draw(means: np.ndarray, sigmas: np.ndarray, components: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Points mu_c + sigma_c * z from each agent's own component c; shape (n_reps, n_agents, n_dims)."""
    mean = np.take_along_axis(means, components[..., None, None], axis=-2)[..., 0, :]
    sigma = np.take_along_axis(sigmas, components[..., None], axis=-1)
    return mean + sigma * normals


def _write(rag, ages, point, uniforms, policy: str, time: int):
    """Copies of the database and ages with ``point`` written into the policy's slot."""
    slot = RAG_POLICIES.get(policy)(rag, ages, point, uniforms)
    rag, ages = rag.copy(), ages.copy()
    np.put_along_axis(rag, slot[..., None, None], point[..., None, :], axis=-2)
    np.put_along_axis(ages, slot[..., None], np.asarray(time, dtype=ages.dtype), axis=-1)
    return rag, ages


@register_dynamics("moving-variance", backend="numpy")
class MovingVarianceStepper(NearestPartners):
    """Steps the moving-variance variant (batch-first arrays; the Stepper protocol).

    The k-nearest table of the weights serves the polarization flag of step t
    and the partners of step t + 1 (:class:`~igmm.dynamics.partners.NearestPartners`).
    """

    move_means = False

    def __init__(self, params: ModelParams, rngs: Sequence[np.random.Generator], state: PopulationState | None = None):
        geometry = params.geometry
        if geometry.variances is None:
            raise ValueError("dynamics 'moving-variance' needs diagonal covariances; the geometry has full ones")
        state = state if state is not None else initial_state(params, rngs)
        self.params, self.time = params, state.time
        self._weights, self.rag, self.ages = state.weights, state.rag, state.rag_ages
        if isinstance(state, MovingVarianceState) and state.sigmas is not None:
            self.means, self.sigmas_ = state.means, state.sigmas
        else:
            batch = (state.n_reps, state.n_agents)
            self.means = np.broadcast_to(geometry.means, batch + geometry.means.shape).copy()
            # Isotropic per component: the mean variance over the coordinates.
            sigma = np.sqrt(geometry.variances.mean(axis=-1))
            self.sigmas_ = np.broadcast_to(sigma, batch + sigma.shape).copy()
        self.noise = HostNoise(rngs, state.n_agents, normal_shape=(2, geometry.n_dims))

    def step(self) -> None:
        params, noise = self.params, self.noise.next()
        uniforms, normals, time = noise.uniforms, noise.normals, self.time + 1
        partners = self.partners(noise)
        query = _draw(self.means, self.sigmas_, sample_components(self._weights, uniforms[..., U_QUERY], axis=-1),
                      normals[..., 0, :])
        partner_rag, _ = _write(_gather(self.rag, partners), _gather(self.ages, partners), query,
                                uniforms[..., U_SLOT_PARTNER], params.rag_policy, time)
        answer_weights, answer_means, answer_sigmas = em_moving(
            _gather(self._weights, partners), partner_rag, _gather(self.means, partners),
            _gather(self.sigmas_, partners), params.eps, params.em_iterations, self.move_means,
        )
        answer = _draw(answer_means, answer_sigmas, sample_components(answer_weights, uniforms[..., U_ANSWER], axis=-1),
                       normals[..., 1, :])
        rag, ages = _write(self.rag, self.ages, answer, uniforms[..., U_SLOT_OWN], params.rag_policy, time)
        weights, means, sigmas = em_moving(self._weights, rag, self.means, self.sigmas_, params.eps,
                                           params.em_iterations, self.move_means)
        frozen = params.frozen_mask()
        if frozen is not None:  # stubborn agents keep everything
            for new, old in ((rag, self.rag), (ages, self.ages), (weights, self._weights), (means, self.means),
                             (sigmas, self.sigmas_)):
                new[:, frozen] = old[:, frozen]
        self._weights, self.rag, self.ages, self.means, self.sigmas_, self.time = weights, rag, ages, means, sigmas, time
        self._nearest = None

    @property
    def n_agents(self) -> int:
        return self._weights.shape[1]

    def partner_vectors(self) -> np.ndarray:
        return self._weights

    def ids(self) -> np.ndarray:
        return np.argmax(self._weights, axis=-1)

    def weights(self) -> np.ndarray:
        return self._weights

    def sigmas(self) -> np.ndarray:
        """Every agent's standard deviations, shape (n_reps, n_agents, n_components)."""
        return self.sigmas_

    def state(self) -> MovingVarianceState:
        log_dens = -0.5 * (np.sum((self.rag[..., :, None, :] - self.means[..., None, :, :]) ** 2, axis=-1)
                           / self.sigmas_[..., None, :] ** 2 + self.rag.shape[-1] * (2 * np.log(self.sigmas_[..., None, :]) + _LOG_2PI))
        return MovingVarianceState(weights=self._weights.copy(), rag=self.rag.copy(),
                                   rag_dens=scaled_densities(log_dens, axis=-1), rag_ages=self.ages.copy(),
                                   time=self.time, means=self.means.copy(), sigmas=self.sigmas_.copy())


@register_dynamics("moving-variance-means", backend="numpy")
class MovingVarianceMeansStepper(MovingVarianceStepper):
    """The moving-variance variant in which the means move too."""

    move_means = True


def _sigmas_of(view) -> np.ndarray:
    sigmas = getattr(view.stepper, "sigmas", None)
    if sigmas is None:
        raise ValueError(f"this measure needs per-agent sigmas: dynamics moving-variance or moving-variance-means "
                         f"(got {view.params.dynamics!r})")
    return sigmas()


@MEASURES.register("max_sigma", dtype="float64")
def max_sigma(view) -> np.ndarray:
    """Largest sigma over all agents and components, shape (n_reps,) (moving-variance dynamics)."""
    return _sigmas_of(view).max(axis=(1, 2))


@MEASURES.register("max_id_sigma", dtype="float64")
def max_id_sigma(view) -> np.ndarray:
    """Largest over agents of the sigma of the agent's own ID component, shape (n_reps,) (moving-variance dynamics)."""
    sigmas = _sigmas_of(view)
    return np.take_along_axis(sigmas, view.ids()[..., None], axis=-1)[..., 0].max(axis=1)
