"""Tidy tables built from ID trajectories: one declared schema per table.

Both systems (GMM runs and language-model transcripts) go through these
builders, so ``metrics.parquet`` and ``runs.parquet`` have the same columns
whatever produced them. Extra key columns (``p``, ``k``, a grid point, ...)
are passed as ``keys`` and prepended to every row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from igmm.metrics import consensus_time, largest_silo, n_silos, stability

#: Columns of ``metrics.parquet`` (one row per replicate and step), after the keys.
METRICS_COLUMNS = ("replicate", "t", "n_silos", "stability", "largest_silo")
#: Columns of ``runs.parquet`` (one row per replicate), after the keys.
RUNS_COLUMNS = (
    "replicate",
    "seed",
    "spawn_key",
    "n_silos_final",
    "largest_silo_final",
    "mean_stability",
    "converged",
    "t_star",
)


def _with_keys(frame: pd.DataFrame, keys: Mapping[str, Any] | None) -> pd.DataFrame:
    if not keys:
        return frame
    for position, (name, value) in enumerate(keys.items()):
        frame.insert(position, name, value)
    return frame


def metrics_table(
    ids: np.ndarray,
    replicates: Sequence[int] | None = None,
    keys: Mapping[str, Any] | None = None,
    extra: Mapping[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """One row per replicate and step.

    Parameters
    ----------
    ids : ndarray of int, shape (n_reps, n_steps + 1, n_agents)
    replicates : sequence of int, optional
        Replicate index of each row of ``ids``; default ``0 .. n_reps - 1``.
    keys : mapping, optional
        Constant columns put first (e.g. ``{"p": 0.4, "k": 29}``).
    extra : mapping of name -> ndarray of shape (n_reps, n_steps + 1), optional
        Further per-step columns (e.g. ``polarized``), appended last.

    Returns
    -------
    DataFrame
        Columns ``keys..., replicate, t, n_silos, stability, largest_silo, extra...``.
        ``stability`` is NaN at t = 0 (undefined there).
    """
    ids = np.asarray(ids)
    n_reps, n_times, _ = ids.shape
    replicates = np.arange(n_reps) if replicates is None else np.asarray(replicates)
    stab = np.concatenate([np.full((n_reps, 1), np.nan), stability(ids)], axis=1)
    frame = pd.DataFrame(
        {
            "replicate": np.repeat(replicates, n_times).astype(np.int64),
            "t": np.tile(np.arange(n_times), n_reps).astype(np.int64),
            "n_silos": n_silos(ids).ravel(),
            "stability": stab.ravel(),
            "largest_silo": largest_silo(ids).ravel(),
        }
    )
    for name, values in (extra or {}).items():
        frame[name] = np.asarray(values).ravel()
    return _with_keys(frame, keys)


def runs_table(
    ids: np.ndarray,
    seeds: Sequence[int] | None = None,
    spawn_keys: Sequence[Sequence[int]] | None = None,
    replicates: Sequence[int] | None = None,
    keys: Mapping[str, Any] | None = None,
    extra: Mapping[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """One row per replicate: final silos, consensus time and provenance.

    Parameters
    ----------
    ids : ndarray of int, shape (n_reps, n_steps + 1, n_agents)
    seeds : sequence of int, optional
        Root entropy of each replicate's SeedSequence (``-1`` when unknown,
        e.g. for transcripts).
    spawn_keys : sequence of tuple of int, optional
        Spawn key of each replicate's SeedSequence, stored as text "0,3".
    replicates, keys
        As in :func:`metrics_table`.
    extra : mapping of name -> ndarray of shape (n_reps,), optional
        Further per-run columns (e.g. ``t_polarized``, ``pattern``), appended last.

    Returns
    -------
    DataFrame
        Columns ``keys..., replicate, seed, spawn_key, n_silos_final,
        largest_silo_final, mean_stability, converged, t_star``. ``t_star`` of a
        run with ``converged == False`` is censored at T.
    """
    ids = np.asarray(ids)
    n_reps = ids.shape[0]
    replicates = np.arange(n_reps) if replicates is None else np.asarray(replicates)
    consensus = consensus_time(ids)
    stab = stability(ids)
    mean_stab = stab.mean(axis=-1) if stab.shape[-1] else np.full(n_reps, np.nan)
    frame = pd.DataFrame(
        {
            "replicate": replicates.astype(np.int64),
            "seed": np.asarray(seeds if seeds is not None else [-1] * n_reps, dtype=object).astype(str),
            "spawn_key": [
                ",".join(str(v) for v in key) for key in (spawn_keys or [()] * n_reps)
            ],
            "n_silos_final": n_silos(ids[:, -1, :]),
            "largest_silo_final": largest_silo(ids[:, -1, :]),
            "mean_stability": mean_stab,
            "converged": consensus.converged,
            "t_star": consensus.t_star,
        }
    )
    for name, values in (extra or {}).items():
        frame[name] = np.asarray(values)
    return _with_keys(frame, keys)
