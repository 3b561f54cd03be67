"""Measures that need the answers' texts: polarization with the language models' own neighbourhoods.

:func:`igmm.metrics.polarization.is_polarized` calls a population polarized
when it holds two or more silos and every agent's k nearest agents share its
ID. The GMM takes "nearest" in weight space; the language-model system picks
partners by the Euclidean distance between the embeddings of *this round's
answers*, so here the neighbourhood of agent i at t = s + 1 is its k nearest
agents by the distance between the answers of round s (ties broken by agent
index, as the partner choice does). At t = 0 nobody has answered yet, so there
is no neighbourhood and the flag is False.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from igmm.dynamics.partners import nearest_neighbours
from igmm.metrics.polarization import is_polarized


def answer_neighbours(distances: np.ndarray, k: int) -> np.ndarray:
    """Each agent's k nearest other agents, per answer round.

    Parameters
    ----------
    distances : ndarray of float, shape (n_steps, n_agents, n_agents)
        Distances between the answers of each round.
    k : int
        >= 1; values above n_agents - 1 mean every other agent.

    Returns
    -------
    ndarray of int64, shape (n_steps, n_agents, min(k, n_agents - 1))
        Ordered by distance, then by agent index.
    """
    n_agents = distances.shape[-1]
    if k < 1:
        raise ValueError(f"k: {k} is not allowed: must be >= 1")
    return nearest_neighbours(np.asarray(distances, dtype=np.float64), min(k, n_agents - 1))


def polarization_flags(ids: np.ndarray, distances: np.ndarray, k: int) -> np.ndarray:
    """Per-step polarization of one run from its answers' distances.

    Parameters
    ----------
    ids : ndarray of int, shape (n_steps + 1, n_agents)
        Row 0 the initial state, row s + 1 the labels of answer round s.
    distances : ndarray of float, shape (n_steps, n_agents, n_agents)
        Distances between the answer embeddings of each round.
    k : int
        Neighbourhood size (the run's k).

    Returns
    -------
    ndarray of bool, shape (n_steps + 1,)
        False at t = 0 (no answers, no neighbourhood); at t = s + 1
        :func:`~igmm.metrics.polarization.is_polarized` of ``ids[s + 1]`` with
        the k nearest agents of round s.

    Examples
    --------
    >>> ids = np.array([[0, 1, 2, 3], [0, 0, 1, 1]])
    >>> positions = np.array([0.0, 0.1, 5.0, 5.1])
    >>> distances = np.abs(positions[:, None] - positions[None, :])[None]
    >>> polarization_flags(ids, distances, k=1).tolist()
    [False, True]
    """
    ids = np.asarray(ids)
    if distances.shape != (ids.shape[0] - 1, ids.shape[1], ids.shape[1]):
        raise ValueError(f"distances of shape {distances.shape} do not fit ids of shape {ids.shape}")
    flags = np.zeros(ids.shape[0], dtype=bool)
    if ids.shape[1] < 2:
        return flags  # a lone agent has no neighbours and is one silo
    flags[1:] = is_polarized(ids[1:], answer_neighbours(distances, k))
    return flags


def run_polarization(ids: np.ndarray, texts: np.ndarray, k: int,
                     embed: Callable[[Sequence[str]], np.ndarray]) -> np.ndarray:
    """:func:`polarization_flags` of one run, embedding its answers.

    Parameters
    ----------
    ids : ndarray of int, shape (n_steps + 1, n_agents)
    texts : ndarray of str, shape (n_steps, n_agents)
    k : int
    embed : callable
        An :class:`~igmm.llm.embed.Embedder` (each distinct answer is embedded once).

    Returns
    -------
    ndarray of bool, shape (n_steps + 1,)
    """
    from igmm.llm.embed import answer_distances

    return polarization_flags(ids, answer_distances(texts, embed), k)
