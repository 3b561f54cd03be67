"""One synchronous step of every agent in every replicate (MODEL.md section 3).

Every agent reads the state of step t - 1; the new state is built from
copies. No loop over agents or replicates: each line below acts on arrays of
shape (n_reps, n_agents, ...).
"""

from __future__ import annotations

from typing import Callable

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
from igmm.model.em import em_step, scaled_densities
from igmm.model.rag import RAG_POLICIES, insert_point, write_point


def sample_components(weights: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Component index drawn from ``weights`` by inverting the CDF at ``uniforms``.

    Parameters
    ----------
    weights : ndarray of float64, shape (..., n_components)
    uniforms : ndarray of float64, shape (...)

    Returns
    -------
    ndarray of int64, shape (...)
    """
    cdf = np.cumsum(weights, axis=-1)
    # Scale by the total so rounding in the cumulative sum can never leave u above it.
    index = np.sum(cdf < uniforms[..., None] * cdf[..., -1:], axis=-1)
    return np.minimum(index, weights.shape[-1] - 1)


def _gather_agents(array: np.ndarray, partners: np.ndarray) -> np.ndarray:
    """``array[r, partners[r, i]]`` for every replicate r and agent i, as a fresh array.

    One flat ``take`` over (replicate, agent) rows: several times faster than
    ``take_along_axis``, which builds broadcast index grids.
    """
    n_reps, n_agents = partners.shape
    rows = (partners + n_agents * np.arange(n_reps)[:, None]).reshape(-1)
    flat = array.reshape((n_reps * n_agents,) + array.shape[2:])
    return np.take(flat, rows, axis=0).reshape(array.shape)


def _slot_and_densities(rag, ages, point, uniforms, params: ModelParams):
    """The slot the database policy overwrites, and the new point's scaled densities."""
    slot = RAG_POLICIES[params.rag_policy](rag, ages, point, uniforms)
    return slot, scaled_densities(params.geometry.log_density(point))


def _absorb_inplace(rag, dens, ages, point, uniforms, params: ModelParams, time: int) -> None:
    """Insert ``point`` with the database policy into arrays the caller owns."""
    slot, point_dens = _slot_and_densities(rag, ages, point, uniforms, params)
    write_point(rag, dens, ages, slot, point, point_dens, time)


def _absorb(rag, dens, ages, point, uniforms, params: ModelParams, time: int):
    """Insert ``point`` with the database policy; return new database arrays (inputs untouched)."""
    slot, point_dens = _slot_and_densities(rag, ages, point, uniforms, params)
    return insert_point(rag, dens, ages, slot, point, point_dens, time)


def exchange(
    state: PopulationState,
    params: ModelParams,
    noise: StepNoise,
    query_weights: np.ndarray,
    partners: np.ndarray,
) -> PopulationState:
    """Query the partners, let them answer with the query in context, absorb the answers.

    Steps 3-6 of MODEL.md section 3, shared by the paper and early-draft dynamics.

    Parameters
    ----------
    query_weights : ndarray of float64, shape (n_reps, n_agents, n_components)
        Mixture each agent draws its query from.
    partners : ndarray of int, shape (n_reps, n_agents)
    """
    geometry, uniforms, time = params.geometry, noise.uniforms, state.time + 1
    # 3. Query x_i ~ f_i.
    query = geometry.sample(sample_components(query_weights, uniforms[..., U_QUERY]), noise.normals[..., 0, :])
    # 4. Partner j answers from a temporary copy of its database holding the query:
    # the gathers are fresh arrays, so the query is written into them in place.
    partner_rag = _gather_agents(state.rag, partners)
    partner_dens = _gather_agents(state.rag_dens, partners)
    partner_ages = _gather_agents(state.rag_ages, partners)
    _absorb_inplace(partner_rag, partner_dens, partner_ages, query, uniforms[..., U_SLOT_PARTNER], params, time)
    answer_weights = em_step(
        _gather_agents(state.weights, partners), partner_dens, params.eps, params.em_iterations
    )
    # 5. Answer y_i ~ pi~.
    answer = geometry.sample(sample_components(answer_weights, uniforms[..., U_ANSWER]), noise.normals[..., 1, :])
    # 6. The agent absorbs the answer and refits.
    rag, dens, ages = _absorb(
        state.rag, state.rag_dens, state.rag_ages, answer, uniforms[..., U_SLOT_OWN], params, time
    )
    weights = em_step(state.weights, dens, params.eps, params.em_iterations)
    return PopulationState(weights=weights, rag=rag, rag_dens=dens, rag_ages=ages, time=time)


def paper_step(state: PopulationState, params: ModelParams, noise: StepNoise) -> PopulationState:
    """One step of the paper dynamics (MODEL.md section 3).

    Parameters
    ----------
    state : PopulationState
        State after step t - 1.
    params : ModelParams
    noise : StepNoise
        This step's random draws.

    Returns
    -------
    PopulationState
        State after step t; ``state`` is not modified.
    """
    partners = choose_partners(
        state.weights, params.k, params.p, noise.uniforms[..., U_MIRROR], noise.uniforms[..., U_PARTNER],
        neighbours=params.neighbours,
    )
    return exchange(state, params, noise, state.weights, partners)


def early_draft_step(state: PopulationState, params: ModelParams, noise: StepNoise) -> PopulationState:
    """One step of the early-draft dynamics (MODEL.md section 6).

    The agent first refits on its own database, pi^ = EM1(R_i; pi_i), and
    draws its query from pi^. Partners are chosen from the distances between
    the weights of step t - 1 (as in the paper dynamics); at t = 1 a
    symmetric jitter of about 1e-3, taken from the partner draw, breaks the
    ties among identical initial distances. The update of the agent itself is
    EM1(R_i(t); pi_i(t - 1)), as in the paper.
    """
    jitter = None
    if state.time == 0 and params.neighbours is None:
        jitter = _symmetric_jitter(noise.uniforms[..., U_SLOT_PARTNER], scale=1e-3)
    partners = choose_partners(
        state.weights, params.k, params.p, noise.uniforms[..., U_MIRROR], noise.uniforms[..., U_PARTNER],
        neighbours=params.neighbours, distance_jitter=jitter,
    )
    refit = em_step(state.weights, state.rag_dens, params.eps, params.em_iterations)
    return exchange(state, params, noise, refit, partners)


def _symmetric_jitter(uniforms: np.ndarray, scale: float) -> np.ndarray:
    """A symmetric (n_reps, n_agents, n_agents) jitter built from one uniform per agent.

    jitter_ij = scale * |u_i - u_j|... would vanish on the diagonal only; we use
    scale * frac(u_i + u_j), symmetric in i and j, so every pair gets its own offset.
    """
    pair_sum = uniforms[:, :, None] + uniforms[:, None, :]
    return scale * (pair_sum - np.floor(pair_sum))


StepFunction = Callable[[PopulationState, ModelParams, StepNoise], PopulationState]

#: Name -> step function; ``ModelParams.dynamics`` picks one.
STEP_FUNCTIONS: dict[str, StepFunction] = {
    "paper": paper_step,
    "early-draft": early_draft_step,
}
