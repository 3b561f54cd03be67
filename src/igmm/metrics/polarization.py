"""Polarization: a closed configuration of two or more silos (MODEL.md section 4).

Definition used by this project. A population is *polarized at t* when
(a) it holds at least two silos, S(t) >= 2, and (b) every agent's
communication neighbourhood lies inside its own silo: for the dynamic
k-nearest graph, all k agents nearest to i in weight space share ID_i(t);
for a static network, all of i's network neighbours do. Then no agent is ever
sent a partner of another opinion: the configuration is closed and, while it
lasts, practically absorbing (answers are still random draws, so it is not
strictly absorbing). Each silo must then hold at least k + 1 agents, so with
p = 0 there are at most floor(n / (k + 1)) silos; for k = n - 1 polarization is
impossible. P(polarized by T) is estimated over replicates as the fraction of
runs whose first hitting time is <= T.
"""

from __future__ import annotations

import numpy as np

from igmm.metrics.silos import n_silos


def is_polarized(ids: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """Per-state polarization flag.

    Parameters
    ----------
    ids : ndarray of int, shape (..., n_agents)
        ID of every agent.
    neighbours : ndarray of int, shape (..., n_agents, n_neighbours)
        Each agent's communication neighbours (k nearest, or a static
        network's padded lists with -1 for "none"); leading axes broadcast
        against those of ``ids``.

    Returns
    -------
    ndarray of bool, shape ``ids.shape[:-1]``
    """
    ids = np.asarray(ids)
    neighbours = np.asarray(neighbours)
    valid = neighbours >= 0
    safe = np.where(valid, neighbours, 0)
    batch_shape = np.broadcast_shapes(ids.shape[:-1], neighbours.shape[:-2])
    ids_b = np.broadcast_to(ids, batch_shape + ids.shape[-1:])
    safe_b = np.broadcast_to(safe, batch_shape + safe.shape[-2:])
    flat = safe_b.reshape(batch_shape + (-1,))
    neighbour_ids = np.take_along_axis(ids_b, flat, axis=-1).reshape(safe_b.shape)
    same = (neighbour_ids == ids_b[..., :, None]) | ~np.broadcast_to(valid, safe_b.shape)
    return (n_silos(ids_b) >= 2) & same.all(axis=(-2, -1))


def first_hitting_time(flags: np.ndarray) -> np.ndarray:
    """First t with ``flags[..., t]`` true; -1 when never (censored at T).

    Parameters
    ----------
    flags : ndarray of bool, shape (..., n_steps + 1)

    Returns
    -------
    ndarray of int64, shape (...)
    """
    flags = np.asarray(flags, dtype=bool)
    return np.where(flags.any(axis=-1), np.argmax(flags, axis=-1), -1).astype(np.int64)


def max_polarized_silos(n_agents: int, k: int) -> int:
    """floor(n / (k + 1)): the most silos a polarized state can hold (each needs k + 1 agents)."""
    return n_agents // (k + 1)
