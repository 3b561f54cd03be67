"""Initial opinions and the initial state (t = 0) of a batch of GMM populations.

An initial-opinion rule gives every agent's weights at t = 0; the agent's
database then holds ``rag_size`` independent draws from that mixture. Rules
are registered in :data:`igmm.registry.INITIAL_OPINIONS` and chosen with
``initial: {kind: NAME, ...options}`` in a configuration. Each replicate's
draws come from its own generator, before its database draws; the paper's
one-hot rule draws nothing, so adding rules changed no earlier run.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from igmm.dynamics.state import ModelParams, PopulationState
from igmm.model.em import clip_renormalise, sample_components, scaled_densities
from igmm.registry import INITIAL_OPINIONS


@INITIAL_OPINIONS.register("one-hot")
def one_hot(params: ModelParams, rng: np.random.Generator, *, exact: bool = False) -> np.ndarray:
    """The paper's start: agent i centred on component c(i), pi_i,c(i) = 1 - eps, eps / K elsewhere.

    With ``exact`` (the early-draft variant) the weights are exactly 1 and 0.
    Every agent holds one of K opinions: with n / K >= k + 1 agents per
    opinion every k-nearest neighbourhood is closed from the start and no
    agent ever changes its ID (use a heterogeneous rule for large populations).

    Returns
    -------
    ndarray of float64, shape (n_agents, n_components)
    """
    n_components = params.geometry.n_components
    weights = np.full((params.n_agents, n_components), 0.0 if exact else params.eps / n_components)
    weights[np.arange(params.n_agents), params.assignment] = 1.0 if exact else 1.0 - params.eps
    return weights


@INITIAL_OPINIONS.register("dirichlet")
def dirichlet(params: ModelParams, rng: np.random.Generator, *, alpha: float = 1.0, own: float = 0.0) -> np.ndarray:
    """Heterogeneous start: pi_i ~ Dirichlet(alpha + own * e_c(i)), clipped to [eps, 1 - eps] and renormalised.

    ``alpha`` spreads every agent's mass over all components (small alpha:
    few components each; alpha = 1: uniform on the simplex); ``own`` adds
    concentration on the agent's own component c(i).

    Returns
    -------
    ndarray of float64, shape (n_agents, n_components)
    """
    if not (alpha > 0 and own >= 0):
        raise ValueError(f"initial.alpha: {alpha!r} and own: {own!r}: need alpha > 0 and own >= 0")
    n_components = params.geometry.n_components
    concentration = np.full((params.n_agents, n_components), float(alpha))
    concentration[np.arange(params.n_agents), params.assignment] += own
    # Gamma draws normalised: Dirichlet rows with a per-agent concentration vector.
    gammas = rng.standard_gamma(concentration)
    weights = gammas / gammas.sum(axis=1, keepdims=True)
    return clip_renormalise(weights, params.eps, axis=1)


@INITIAL_OPINIONS.register("mixture")
def mixture(params: ModelParams, rng: np.random.Generator, *, share: float = 0.5, alpha: float = 1.0) -> np.ndarray:
    """(1 - share) * the one-hot start + share * a Dirichlet(alpha) draw, per agent.

    Every agent keeps its own component as the largest weight while
    ``share < 1/2``, with a random remainder that differs between agents.

    Returns
    -------
    ndarray of float64, shape (n_agents, n_components)
    """
    if not (0.0 <= share <= 1.0 and alpha > 0):
        raise ValueError(f"initial.share: {share!r} and alpha: {alpha!r}: need 0 <= share <= 1 and alpha > 0")
    noise = rng.dirichlet(np.full(params.geometry.n_components, float(alpha)), size=params.n_agents)
    weights = (1.0 - share) * one_hot(params, rng, exact=True) + share * noise
    return clip_renormalise(weights, params.eps, axis=1)


@INITIAL_OPINIONS.register("given")
def given(params: ModelParams, rng: np.random.Generator, *, weights: np.ndarray) -> np.ndarray:
    """Weights given as an array (the configuration's ``initial: {kind: file, path: ...}`` loads it).

    Parameters
    ----------
    weights : ndarray of float64, shape (n_agents, n_components)
        Non-negative rows with a positive sum; clipped to [eps, 1 - eps] and renormalised.
    """
    rows = np.asarray(weights, dtype=np.float64)
    if rows.shape != (params.n_agents, params.geometry.n_components):
        raise ValueError(f"initial: weights of shape {rows.shape} do not fit n_agents = {params.n_agents} and "
                         f"n_components = {params.geometry.n_components}")
    return clip_renormalise(rows / rows.sum(axis=1, keepdims=True), params.eps, axis=1)


def initial_weights(params: ModelParams, rng: np.random.Generator, exact_one_hot: bool = False) -> np.ndarray:
    """One replicate's weights at t = 0 from ``params.initial``, shape (n_agents, n_components)."""
    name, options = params.initial
    if name == "one-hot" and exact_one_hot:
        options = options | {"exact": True}
    return INITIAL_OPINIONS.get(name)(params, rng, **options)


def initial_state(params: ModelParams, rngs: Sequence[np.random.Generator], exact_one_hot: bool = False) -> PopulationState:
    """The state at t = 0 of a batch of replicates.

    Every agent's weights come from the initial-opinion rule; its database
    holds ``rag_size`` independent draws from its initial mixture.

    Parameters
    ----------
    params : ModelParams
    rngs : sequence of numpy.random.Generator, one per replicate
        Each replicate's initial draws come from its own generator.
    exact_one_hot : bool
        The default rule gives exactly one-hot weights (the early-draft variant).

    Returns
    -------
    PopulationState
    """
    geometry, n_agents = params.geometry, params.n_agents
    weights = np.stack([initial_weights(params, rng, exact_one_hot) for rng in rngs])
    uniforms = np.stack([rng.random((n_agents, params.rag_size)) for rng in rngs])
    normals = np.stack([rng.standard_normal((n_agents, params.rag_size, geometry.n_dims)) for rng in rngs])
    components = sample_components(weights[:, :, None, :], uniforms, axis=-1)
    rag = geometry.sample(components, normals)
    return PopulationState(
        weights=weights,
        rag=rag,
        rag_dens=scaled_densities(geometry.log_density(rag), axis=-1),
        rag_ages=np.zeros(rag.shape[:-1], dtype=np.int64),
        time=0,
    )
