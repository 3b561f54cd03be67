"""Partner selection: mirroring with probability p, else a uniform draw among the k nearest agents."""

from __future__ import annotations

import numpy as np


def weight_distances(weights: np.ndarray) -> np.ndarray:
    """Euclidean distances between the weight vectors of all pairs of agents.

    Parameters
    ----------
    weights : ndarray of float64, shape (n_reps, n_agents, n_components)

    Returns
    -------
    ndarray of float64, shape (n_reps, n_agents, n_agents)
        Exactly symmetric, zero on the diagonal.
    """
    # Explicit differences (not the Gram-matrix trick) keep D exactly symmetric,
    # so the tie rule of the k-nearest selection is the same from both ends.
    diff = weights[:, :, None, :] - weights[:, None, :, :]
    return np.sqrt(np.einsum("...k,...k->...", diff, diff))


def nearest_neighbours(distances: np.ndarray, k: int) -> np.ndarray:
    """The k agents nearest to each agent, excluding itself.

    Ties are broken by the lowest agent index (a stable sort on distance).

    Parameters
    ----------
    distances : ndarray of float64, shape (n_reps, n_agents, n_agents)
    k : int
        1 <= k <= n_agents - 1.

    Returns
    -------
    ndarray of int64, shape (n_reps, n_agents, k)
        Neighbour indices ordered by distance, then by index.
    """
    n_agents = distances.shape[-1]
    masked = distances.copy()
    diagonal = np.arange(n_agents)
    masked[..., diagonal, diagonal] = np.inf  # never one's own neighbour
    return np.argsort(masked, axis=-1, kind="stable")[..., :k]


def choose_partners(
    weights: np.ndarray,
    k: int,
    p: float,
    mirror_uniforms: np.ndarray,
    partner_uniforms: np.ndarray,
    neighbours: np.ndarray | None = None,
    distance_jitter: np.ndarray | None = None,
) -> np.ndarray:
    """Each agent's partner for this step.

    Parameters
    ----------
    weights : ndarray of float64, shape (n_reps, n_agents, n_components)
    k : int
        Communication range (n_agents - 1: complete graph, no distances needed).
    p : float
        Mirroring probability: the partner is the agent itself.
    mirror_uniforms, partner_uniforms : ndarray of float64, shape (n_reps, n_agents)
        U(0, 1) draws deciding mirroring and which neighbour.
    neighbours : ndarray of int, shape (n_agents, max_degree), optional
        A static network's padded neighbour lists (-1 pads). Overrides k.
    distance_jitter : ndarray of float64, shape (n_reps, n_agents, n_agents), optional
        Added to the distances before ranking (the early-draft tie breaker).

    Returns
    -------
    ndarray of int64, shape (n_reps, n_agents)
    """
    n_reps, n_agents, _ = weights.shape
    agents = np.arange(n_agents)
    if neighbours is not None:
        partners = _draw_from_lists(neighbours, partner_uniforms, agents)
    elif k >= n_agents - 1 and distance_jitter is None:
        # Complete graph: uniform over the other agents, skipping oneself.
        draw = np.minimum((partner_uniforms * (n_agents - 1)).astype(np.int64), n_agents - 2)
        partners = draw + (draw >= agents)
    else:
        distances = weight_distances(weights)
        if distance_jitter is not None:
            distances = distances + distance_jitter
        nearest = nearest_neighbours(distances, k)
        pick = np.minimum((partner_uniforms * k).astype(np.int64), k - 1)
        partners = np.take_along_axis(nearest, pick[..., None], axis=-1)[..., 0]
    return np.where(mirror_uniforms < p, agents, partners)


def _draw_from_lists(neighbours: np.ndarray, uniforms: np.ndarray, agents: np.ndarray) -> np.ndarray:
    degree = np.sum(neighbours >= 0, axis=-1)  # (n_agents,)
    pick = np.minimum((uniforms * degree).astype(np.int64), np.maximum(degree - 1, 0))
    chosen = neighbours[agents, pick]
    # An isolated agent (degree 0) can only talk to itself.
    return np.where(degree > 0, chosen, agents)
