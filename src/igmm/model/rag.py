"""Database (RAG) policies: which stored point a newcomer overwrites.

The database keeps exactly ``rag_size`` points. A policy is a function
``(rag, ages, point, uniforms) -> slot`` registered in
:data:`igmm.registry.RAG_POLICIES`; every dynamics looks it up there, so a
policy registered by a researcher works wherever the built-in ones do (the
numba backend compiles only the three built-in policies and says so for
any other). :func:`write_point` writes a point, its cached densities and its
insertion time into the engine's layout.
"""

from __future__ import annotations

import numpy as np

from igmm.registry import RAG_POLICIES


@RAG_POLICIES.register("farthest")
def farthest_slot(rag: np.ndarray, ages: np.ndarray, point: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Rep(R, z): the stored point farthest from ``point`` (Euclidean; ties: lowest index). The paper's rule.

    Parameters
    ----------
    rag : ndarray of float64, shape (..., rag_size, n_dims)
    ages : ndarray of int, shape (..., rag_size)
        Insertion step of each stored point (unused here; every policy has this signature).
    point : ndarray of float64, shape (..., n_dims)
    uniforms : ndarray of float64, shape (...)
        One U(0, 1) draw per database (unused here).

    Returns
    -------
    ndarray of int64, shape (...)
    """
    diff = rag - point[..., None, :]
    diff *= diff
    # Summed over the dimensions in order (a fixed order, whatever the memory layout of the views).
    squared = diff[..., 0].copy()
    for dim in range(1, diff.shape[-1]):
        squared += diff[..., dim]
    return np.argmax(squared, axis=-1)  # argmax returns the first maximum: lowest index


@RAG_POLICIES.register("oldest")
def oldest_slot(rag: np.ndarray, ages: np.ndarray, point: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """The point stored longest ago (smallest insertion time; ties: lowest index)."""
    return np.argmin(ages, axis=-1)


@RAG_POLICIES.register("random")
def random_slot(rag: np.ndarray, ages: np.ndarray, point: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """A slot chosen uniformly at random from the per-database uniform draw."""
    rag_size = rag.shape[-2]
    return np.minimum((uniforms * rag_size).astype(np.int64), rag_size - 1)


def choose_slot(policy: str, rag: np.ndarray, ages: np.ndarray, point: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Slot each newcomer overwrites, for arrays in the engine's layout (batch last).

    Parameters
    ----------
    policy : str
        A name of :data:`igmm.registry.RAG_POLICIES`.
    rag : ndarray, shape (rag_size, n_dims, n_batch)
    ages : ndarray of int, shape (rag_size, n_batch)
    point : ndarray, shape (n_dims, n_batch)
    uniforms : ndarray, shape (n_batch,)

    Returns
    -------
    ndarray of int64, shape (n_batch,)
    """
    slot_of = RAG_POLICIES.get(policy)
    return slot_of(np.moveaxis(rag, -1, 0), ages.T, point.T, uniforms)


def write_point(rag: np.ndarray, dens: np.ndarray, ages: np.ndarray, slot: np.ndarray, point: np.ndarray,
                point_dens: np.ndarray, time: int, absorb: np.ndarray | None = None) -> None:
    """Write each newcomer into its ``slot``, in place, in the engine's layout.

    Parameters
    ----------
    rag : ndarray, shape (rag_size, n_dims, n_batch)
    dens : ndarray, shape (rag_size, width, n_batch)
        Cached (scaled) densities of the stored points.
    ages : ndarray of int, shape (rag_size, n_batch)
    slot : ndarray of int, shape (n_batch,)
    point : ndarray, shape (n_dims, n_batch)
    point_dens : ndarray, shape (width, n_batch)
    time : int
        Insertion step stored in ``ages``.
    absorb : ndarray of bool, shape (n_batch,), optional
        Only these databases take their newcomer (the others, e.g. stubborn
        agents', stay as they are).
    """
    batch = np.arange(slot.size)
    if absorb is not None:
        batch, slot, point, point_dens = batch[absorb], slot[absorb], point[:, absorb], point_dens[:, absorb]
    rag[slot, :, batch] = point.T
    dens[slot, :, batch] = point_dens.T
    ages[slot, batch] = time
