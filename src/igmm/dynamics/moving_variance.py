"""The moving-variance variant (MODEL.md section 6): every agent refits its own sigmas (and optionally means).

Each agent holds its own component means ``(n_components, n_dims)`` and
isotropic standard deviations ``(n_components,)``, starting from the shared
geometry. Every EM iteration updates, besides the weights,

* mu_ik = the gamma_k-weighted mean of the r stored points, only in the
  ``moving-variance-means`` dynamics (otherwise mu_ik stays fixed);
* sigma_ik = the gamma_k-weighted standard deviation of the r stored points
  about mu_ik (the M-step of EM; averaged over the d coordinates), floored at
  :data:`SIGMA_FLOOR` = 0.01. A component whose total responsibility
  sum_z gamma_k(z) is below the smallest normal double (the original code's
  raw densities underflow to 0 there) holds no points and gets the floor.

The responsibilities are computed in log space, so the weighted spread of a
component with a small but representable responsibility is exact. Because sigma changes at every step, the
cached densities of the stored points (``rag_dens``) are recomputed after each
update from the agent's current components, not carried with the point.
Everything else (partners, query, the partner's temporary copy, the answer,
database policies) follows the paper step; the partner's temporary refit
also updates the partner's temporary sigmas, and the answer is drawn from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from igmm.dynamics.partners import choose_partners
from igmm.dynamics.state import (
    U_ANSWER,
    U_MIRROR,
    U_PARTNER,
    U_QUERY,
    U_SLOT_OWN,
    U_SLOT_PARTNER,
    ModelParams,
    PopulationState,
    StepNoise,
)
from igmm.dynamics.step import sample_components
from igmm.model.em import clip_renormalise, scaled_densities
from igmm.model.rag import RAG_POLICIES

#: Floor of every refitted standard deviation (MODEL.md section 6).
SIGMA_FLOOR = 0.01
#: log of the smallest normal float64: below it a raw total responsibility underflows to 0.
LOG_MIN_RESPONSIBILITY = float(np.log(np.finfo(np.float64).tiny))
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


def lift_state(state: PopulationState, params: ModelParams) -> MovingVarianceState:
    """Give every agent its own copy of the shared components (no-op for a MovingVarianceState)."""
    if isinstance(state, MovingVarianceState):
        return state
    geometry = params.geometry
    if geometry.variances is None:
        raise ValueError("dynamics 'moving-variance' needs diagonal covariances; the geometry has full ones")
    batch = (state.n_reps, state.n_agents)
    means = np.broadcast_to(geometry.means, batch + geometry.means.shape).copy()
    # Isotropic per component: the mean variance over the coordinates.
    sigma = np.sqrt(geometry.variances.mean(axis=-1))
    sigmas = np.broadcast_to(sigma, batch + sigma.shape).copy()
    return MovingVarianceState(
        weights=state.weights, rag=state.rag, rag_dens=state.rag_dens, rag_ages=state.rag_ages,
        time=state.time, means=means, sigmas=sigmas,
    )


def log_normal(points: np.ndarray, means: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """log N(z; mu_k, sigma_k^2 I) of every point under every one of the agent's components.

    Parameters
    ----------
    points : ndarray of float64, shape (..., rag_size, n_dims)
    means : ndarray of float64, shape (..., n_components, n_dims)
    sigmas : ndarray of float64, shape (..., n_components)

    Returns
    -------
    ndarray of float64, shape (..., rag_size, n_components)
    """
    n_dims = points.shape[-1]
    diff = points[..., :, None, :] - means[..., None, :, :]
    squared = np.sum(diff * diff, axis=-1)
    variances = sigmas[..., None, :] ** 2
    return -0.5 * (squared / variances + n_dims * (np.log(variances) + _LOG_2PI))


def _log_sum(values: np.ndarray, axis: int) -> np.ndarray:
    top = values.max(axis=axis, keepdims=True)
    return np.squeeze(top, axis) + np.log(np.sum(np.exp(values - top), axis=axis))


def _log_softmax(values: np.ndarray, axis: int) -> np.ndarray:
    top = values.max(axis=axis, keepdims=True)
    return values - top - np.log(np.sum(np.exp(values - top), axis=axis, keepdims=True))


def em_moving(
    weights: np.ndarray,
    points: np.ndarray,
    means: np.ndarray,
    sigmas: np.ndarray,
    eps: float,
    n_iterations: int = 1,
    move_means: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Warm-started EM iterations on the weights, the sigmas and optionally the means.

    Parameters
    ----------
    weights : ndarray of float64, shape (..., n_components)
    points : ndarray of float64, shape (..., rag_size, n_dims)
    means : ndarray of float64, shape (..., n_components, n_dims)
    sigmas : ndarray of float64, shape (..., n_components)
    eps : float
        Weight floor, as in :func:`igmm.model.em.em_step`.
    n_iterations : int
    move_means : bool
        Also move each mean to the weighted mean of the points.

    Returns
    -------
    (weights, means, sigmas)
        New arrays of the input shapes; weights sum to 1, sigmas >= SIGMA_FLOOR.
    """
    for _ in range(n_iterations):
        start = clip_renormalise(weights, eps)
        log_gamma = _log_softmax(np.log(start)[..., None, :] + log_normal(points, means, sigmas), axis=-1)
        weights = clip_renormalise(np.exp(log_gamma).mean(axis=-2), eps)
        # Per component, the points' shares of its responsibility (sum 1 over the r points).
        shares = np.exp(_log_softmax(log_gamma, axis=-2))  # (..., rag_size, n_components)
        if move_means:
            means = np.einsum("...rk,...rd->...kd", shares, points)
        diff = points[..., :, None, :] - means[..., None, :, :]
        variance = np.einsum("...rk,...rkd->...k", shares, diff * diff) / points.shape[-1]
        # A component holding (numerically) none of the points has no spread: floor, as in
        # the original code, whose raw responsibilities underflowed to 0 there.
        holds_points = _log_sum(log_gamma, axis=-2) > LOG_MIN_RESPONSIBILITY
        sigmas = np.maximum(np.where(holds_points, np.sqrt(variance), 0.0), SIGMA_FLOOR)
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
    slot = RAG_POLICIES[policy](rag, ages, point, uniforms)
    rag, ages = rag.copy(), ages.copy()
    np.put_along_axis(rag, slot[..., None, None], point[..., None, :], axis=-2)
    np.put_along_axis(ages, slot[..., None], np.asarray(time, dtype=ages.dtype), axis=-1)
    return rag, ages


def moving_variance_step(
    state: PopulationState, params: ModelParams, noise: StepNoise, move_means: bool = False
) -> MovingVarianceState:
    """One synchronous step with per-agent sigmas (and means when ``move_means``).

    Parameters
    ----------
    state : PopulationState
        State after step t - 1; a plain PopulationState is lifted first
        (every agent gets the shared components).
    params : ModelParams
    noise : StepNoise
    move_means : bool

    Returns
    -------
    MovingVarianceState
        State after step t; ``state`` is not modified.
    """
    state = lift_state(state, params)
    uniforms, normals, time = noise.uniforms, noise.normals, state.time + 1
    refit = partial(em_moving, eps=params.eps, n_iterations=params.em_iterations, move_means=move_means)
    partners = choose_partners(
        state.weights, params.k, params.p, uniforms[..., U_MIRROR], uniforms[..., U_PARTNER],
        neighbours=params.neighbours,
    )
    query = _draw(state.means, state.sigmas, sample_components(state.weights, uniforms[..., U_QUERY]),
                  normals[..., 0, :])
    partner_rag, _ = _write(_gather(state.rag, partners), _gather(state.rag_ages, partners), query,
                            uniforms[..., U_SLOT_PARTNER], params.rag_policy, time)
    answer_weights, answer_means, answer_sigmas = refit(
        _gather(state.weights, partners), partner_rag, _gather(state.means, partners), _gather(state.sigmas, partners)
    )
    answer = _draw(answer_means, answer_sigmas, sample_components(answer_weights, uniforms[..., U_ANSWER]),
                   normals[..., 1, :])
    rag, ages = _write(state.rag, state.rag_ages, answer, uniforms[..., U_SLOT_OWN], params.rag_policy, time)
    weights, means, sigmas = refit(state.weights, rag, state.means, state.sigmas)
    return MovingVarianceState(
        weights=weights, rag=rag, rag_dens=scaled_densities(log_normal(rag, means, sigmas)), rag_ages=ages,
        time=time, means=means, sigmas=sigmas,
    )


#: Registered into :data:`igmm.dynamics.step.STEP_FUNCTIONS` by :mod:`igmm.dynamics`.
MOVING_VARIANCE_STEPS = {
    "moving-variance": moving_variance_step,
    "moving-variance-means": partial(moving_variance_step, move_means=True),
}


def run_tracking_sigmas(
    params: ModelParams, rngs, n_steps: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run ``params.dynamics`` (a moving-variance name) and record the largest sigma at every step.

    Same initial state and random draws as :func:`igmm.dynamics.run.run`, so
    the IDs equal those of ``run`` with the same generators.

    Parameters
    ----------
    params : ModelParams
        ``params.dynamics`` must be a key of :data:`MOVING_VARIANCE_STEPS`.
    rngs : sequence of numpy.random.Generator, one per replicate
    n_steps : int

    Returns
    -------
    ids : ndarray of int16, shape (n_reps, n_steps + 1, n_agents)
    max_sigma : ndarray of float64, shape (n_reps, n_steps + 1)
        Largest sigma over all agents and components at every step.
    max_id_sigma : ndarray of float64, shape (n_reps, n_steps + 1)
        Largest over agents of the sigma of the agent's own ID component.
    """
    from igmm.dynamics.run import NOISE_CHUNK, draw_noise, initial_state

    if params.dynamics not in MOVING_VARIANCE_STEPS:
        raise ValueError(
            f"dynamics: {params.dynamics!r} is not allowed here: choose one of {sorted(MOVING_VARIANCE_STEPS)}"
        )
    step = MOVING_VARIANCE_STEPS[params.dynamics]
    state = lift_state(initial_state(params, rngs), params)
    ids = np.empty((state.n_reps, n_steps + 1, state.n_agents), dtype=np.int16)
    max_sigma = np.empty((state.n_reps, n_steps + 1))
    max_id_sigma = np.empty((state.n_reps, n_steps + 1))
    ids[:, 0], max_sigma[:, 0], max_id_sigma[:, 0] = _record(state)
    noise: list[StepNoise] = []
    for t in range(1, n_steps + 1):
        if not noise:
            noise = draw_noise(rngs, NOISE_CHUNK, state.n_agents, params.geometry.n_dims)
        state = step(state, params, noise.pop(0))
        ids[:, t], max_sigma[:, t], max_id_sigma[:, t] = _record(state)
    return ids, max_sigma, max_id_sigma


def _record(state: MovingVarianceState) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IDs (n_reps, n_agents), largest sigma and largest own-ID sigma (n_reps,) of a state."""
    ids = state.ids()
    id_sigmas = np.take_along_axis(state.sigmas, ids[..., None], axis=-1)[..., 0]
    return ids, state.sigmas.max(axis=(1, 2)), id_sigmas.max(axis=1)
