"""Silos, their sizes, stability and time to consensus (MODEL.md section 4)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _as_ids(ids: np.ndarray) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim < 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(
            f"ids must be an integer array of shape (..., n_agents); got dtype {ids.dtype} "
            f"and shape {ids.shape}"
        )
    if ids.shape[-1] == 0:
        raise ValueError("ids must hold at least one agent (last axis has length 0)")
    return ids


def n_silos(ids: np.ndarray) -> np.ndarray:
    """Number of distinct IDs (silos) among the agents.

    Parameters
    ----------
    ids : ndarray of int, shape (..., n_agents)
        Opinion label of every agent, e.g. ``(n_reps, n_steps + 1, n_agents)``.

    Returns
    -------
    ndarray of int64, shape (...)
        S(t): the number of distinct labels in each row.

    Examples
    --------
    >>> n_silos(np.array([[0, 0, 3], [1, 1, 1]]))
    array([2, 1])
    """
    ids = np.sort(_as_ids(ids), axis=-1)
    # A new silo starts wherever the sorted label changes.
    return 1 + np.count_nonzero(np.diff(ids, axis=-1), axis=-1).astype(np.int64)


def silo_sizes(ids: np.ndarray, n_labels: int | None = None) -> np.ndarray:
    """Number of agents holding each label.

    Parameters
    ----------
    ids : ndarray of int, shape (..., n_agents)
    n_labels : int, optional
        Number of possible labels (e.g. ``n_components``); default
        ``ids.max() + 1``. Labels must lie in ``[0, n_labels)``.

    Returns
    -------
    ndarray of int64, shape (..., n_labels)
        ``sizes[..., c]`` is n_c(t), the size of silo c (0 when nobody holds c).
    """
    ids = _as_ids(ids)
    if ids.size and ids.min() < 0:
        raise ValueError(f"ids must be non-negative; found {ids.min()}")
    n_labels = int(ids.max()) + 1 if n_labels is None else int(n_labels)
    if ids.size and ids.max() >= n_labels:
        raise ValueError(f"ids must be < n_labels={n_labels}; found {ids.max()}")
    flat = ids.reshape(-1, ids.shape[-1])
    # Offset each row's labels into its own block so one bincount counts every row.
    offsets = np.arange(flat.shape[0])[:, None] * n_labels
    counts = np.bincount((flat + offsets).ravel(), minlength=flat.shape[0] * n_labels)
    return counts.reshape(ids.shape[:-1] + (n_labels,)).astype(np.int64)


def largest_silo(ids: np.ndarray) -> np.ndarray:
    """Size of the largest silo, shape ``ids.shape[:-1]`` (int64)."""
    ids = np.sort(_as_ids(ids), axis=-1)
    # Run lengths of the sorted labels: the longest run is the largest silo.
    n_agents = ids.shape[-1]
    change = np.diff(ids, axis=-1) != 0
    starts = np.concatenate([np.ones(ids.shape[:-1] + (1,), bool), change], axis=-1)
    run_id = np.cumsum(starts, axis=-1) - 1
    flat = run_id.reshape(-1, n_agents)
    offsets = np.arange(flat.shape[0])[:, None] * n_agents
    counts = np.bincount((flat + offsets).ravel(), minlength=flat.shape[0] * n_agents)
    return counts.reshape(-1, n_agents).max(axis=-1).reshape(ids.shape[:-1]).astype(np.int64)


def stability(ids: np.ndarray) -> np.ndarray:
    """Fraction of agents whose ID did not change since the previous step.

    Parameters
    ----------
    ids : ndarray of int, shape (..., n_steps + 1, n_agents)

    Returns
    -------
    ndarray of float64, shape (..., n_steps)
        ``stab[..., t - 1]`` is Stab(t) for t = 1 .. n_steps.
    """
    ids = _as_ids(ids)
    if ids.ndim < 2:
        raise ValueError(f"ids must have a time axis: shape (..., n_steps + 1, n_agents); got {ids.shape}")
    return np.mean(ids[..., 1:, :] == ids[..., :-1, :], axis=-1)


@dataclass(frozen=True)
class ConsensusTime:
    """Time to consensus with explicit censoring.

    Attributes
    ----------
    t_star : ndarray of int64, shape (...)
        The last step t <= T with S(t) != 1 (0 when S(t) = 1 throughout).
        For a run that did not converge this equals T and is *censored*: it
        is a lower bound, not a time.
    converged : ndarray of bool, shape (...)
        True when S(T) = 1.
    n_steps : int
        T, the last observed step.
    """

    t_star: np.ndarray
    converged: np.ndarray
    n_steps: int

    @property
    def censored(self) -> np.ndarray:
        """True where the run had not reached one silo at T."""
        return ~self.converged


def consensus_time(ids: np.ndarray) -> ConsensusTime:
    """Consensus time t* and the ``converged`` flag (MODEL.md section 4).

    Parameters
    ----------
    ids : ndarray of int, shape (..., n_steps + 1, n_agents)

    Returns
    -------
    ConsensusTime
        Arrays of shape ``ids.shape[:-2]``.
    """
    ids = _as_ids(ids)
    if ids.ndim < 2:
        raise ValueError(f"ids must have a time axis: shape (..., n_steps + 1, n_agents); got {ids.shape}")
    silos = n_silos(ids)
    n_steps = silos.shape[-1] - 1
    split = silos != 1
    # Last index along time where S != 1; -1 when there is none.
    reversed_first = np.argmax(split[..., ::-1], axis=-1)
    last = np.where(split.any(axis=-1), n_steps - reversed_first, 0)
    return ConsensusTime(
        t_star=last.astype(np.int64),
        converged=~split[..., -1],
        n_steps=n_steps,
    )
