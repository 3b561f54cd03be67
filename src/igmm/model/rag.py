"""Database (RAG) policies: which stored point a newcomer overwrites.

The database keeps exactly ``rag_size`` points. Each policy returns the slot
to overwrite; :func:`insert_point` writes the point, its cached log densities
and its insertion time.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def farthest_slot(rag: np.ndarray, ages: np.ndarray, point: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Rep(R, z) of MODEL.md: the stored point farthest from ``point`` (ties: lowest index).

    Parameters
    ----------
    rag : ndarray of float64, shape (..., rag_size, n_dims)
    ages : ndarray of int, shape (..., rag_size)
        Unused; same signature as the other policies.
    point : ndarray of float64, shape (..., n_dims)
    uniforms : ndarray of float64, shape (...)
        Unused.

    Returns
    -------
    ndarray of int64, shape (...)
    """
    squared = np.sum((rag - point[..., None, :]) ** 2, axis=-1)
    return np.argmax(squared, axis=-1)  # argmax returns the first maximum: lowest index


def oldest_slot(rag: np.ndarray, ages: np.ndarray, point: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """The point stored longest ago (smallest insertion time; ties: lowest index)."""
    return np.argmin(ages, axis=-1)


def random_slot(rag: np.ndarray, ages: np.ndarray, point: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """A slot chosen uniformly at random from the per-agent uniform draw."""
    rag_size = rag.shape[-2]
    return np.minimum((uniforms * rag_size).astype(np.int64), rag_size - 1)


SlotPolicy = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]

#: Name -> slot policy. "farthest" is the paper's Rep.
RAG_POLICIES: dict[str, SlotPolicy] = {
    "farthest": farthest_slot,
    "oldest": oldest_slot,
    "random": random_slot,
}


def insert_point(
    rag: np.ndarray,
    dens: np.ndarray,
    ages: np.ndarray,
    slot: np.ndarray,
    point: np.ndarray,
    point_dens: np.ndarray,
    time: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Copies of the database with ``point`` written into ``slot``.

    Parameters
    ----------
    rag : ndarray, shape (..., rag_size, n_dims)
    dens : ndarray, shape (..., rag_size, n_components)
    ages : ndarray of int, shape (..., rag_size)
    slot : ndarray of int, shape (...)
    point : ndarray, shape (..., n_dims)
    point_dens : ndarray, shape (..., n_components)
    time : int
        Insertion time stored in ``ages``.

    Returns
    -------
    (rag, dens, ages) : new arrays; the inputs are not modified.
    """
    rag, dens, ages = rag.copy(), dens.copy(), ages.copy()
    write_point(rag, dens, ages, slot, point, point_dens, time)
    return rag, dens, ages


def write_point(
    rag: np.ndarray,
    dens: np.ndarray,
    ages: np.ndarray,
    slot: np.ndarray,
    point: np.ndarray,
    point_dens: np.ndarray,
    time: int,
) -> None:
    """In-place :func:`insert_point` for arrays the caller owns (fresh copies).

    Flat fancy indexing over the batch axes (one (batch, slot) pair per
    database) instead of ``put_along_axis``, which builds broadcast index grids.
    Shapes as in :func:`insert_point`; all batch axes must be C-contiguous.
    """
    rag_size = rag.shape[-2]
    rows = np.arange(slot.size) * rag_size + slot.reshape(-1)  # flat (database, slot) row
    rag.reshape(-1, rag.shape[-1])[rows] = point.reshape(-1, rag.shape[-1])
    dens.reshape(-1, dens.shape[-1])[rows] = point_dens.reshape(-1, dens.shape[-1])
    ages.reshape(-1)[rows] = time
