"""Sweep tasks: one grid point x a chunk of replicates, a pure function of (configuration, seeds).

A task is a small picklable record. :func:`run_task` turns it into tables:
a pure function (same task, same rows, wherever it runs), which is what the
executors run. The sweep's main process writes the shards it sends back
(one writer; workers need no shared file system).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from igmm.config import make_config
from igmm.metrics.patterns import classify_patterns
from igmm.simulate import replicate_seeds, simulate_seeds
from igmm.sweep import store

if TYPE_CHECKING:
    from igmm.sweep.spec import SweepSpec

#: Compact dtypes of the per-step table: 14,500 runs x 201 steps stay a few MB.
STEP_DTYPES = {
    "point": "int32",
    "replicate": "int32",
    "t": "int16",
    "n_silos": "int16",
    "stability": "float32",
    "largest_silo": "int16",
    "polarized": "bool",
}


@dataclass(frozen=True)
class SweepTask:
    """One unit of work: replicates ``start .. start + n_reps - 1`` of grid point ``point``.

    Attributes
    ----------
    point : int
        Grid point index g; replicate i's seed is ``SeedSequence(seed, spawn_key=(g, i))``.
    keys : dict
        The point's swept values ``{axis: value}``, put on every row.
    config : dict
        Configuration values (YAML names) of the point: base merged with keys.
    seed : int
        Root seed of the sweep.
    start, n_reps : int
        First replicate and number of replicates.
    save_ids : bool
        Also write the ID trajectories.
    """

    point: int
    keys: dict[str, Any]
    config: dict[str, Any]
    seed: int
    start: int
    n_reps: int
    save_ids: bool = False

    @property
    def name(self) -> str:
        """Stable, unique relative name of the task's shards, e.g. ``point=00012/reps-00025-00049``."""
        return store.shard_name(self.point, self.start, self.n_reps)


@dataclass(frozen=True)
class TaskOutput:
    """The tables one task produced.

    Attributes
    ----------
    runs : DataFrame
        One row per replicate: ``point, keys..., replicate, seed, spawn_key,
        ... , polarized_final, t_polarized, max_silos_polarized, pattern``.
    steps : DataFrame
        One row per replicate and step, columns of :data:`STEP_DTYPES` plus the keys.
    ids : ndarray of int16, shape (n_reps, n_steps + 1, n_agents)
    """

    runs: pd.DataFrame
    steps: pd.DataFrame
    ids: np.ndarray


def plan_tasks(spec: SweepSpec, chunk_size: int | None = None) -> list[SweepTask]:
    """Cut a sweep into tasks: every grid point x consecutive chunks of replicates.

    Parameters
    ----------
    spec : SweepSpec
    chunk_size : int, optional
        Replicates per task (default ``spec.chunk_size``); the last chunk of a
        point may be shorter.

    Returns
    -------
    list of SweepTask, ordered by (point, start).
    """
    chunk_size = chunk_size or spec.chunk_size
    tasks = []
    for point, keys in enumerate(spec.points()):
        for start in range(0, spec.replicates, chunk_size):
            tasks.append(
                SweepTask(
                    point=point, keys=dict(keys), config={**spec.base, **keys}, seed=spec.seed,
                    start=start, n_reps=min(chunk_size, spec.replicates - start), save_ids=spec.save_ids,
                )
            )
    return tasks


def max_silos_while_polarized(n_silos: np.ndarray, polarized: np.ndarray) -> np.ndarray:
    """Largest S(t) over the steps flagged polarized; 0 for a run never polarized.

    Parameters
    ----------
    n_silos : ndarray of int, shape (n_reps, n_steps + 1)
    polarized : ndarray of bool, shape (n_reps, n_steps + 1)

    Returns
    -------
    ndarray of int64, shape (n_reps,)
    """
    return np.where(polarized, n_silos, 0).max(axis=-1).astype(np.int64)


def run_task(task: SweepTask) -> TaskOutput:
    """Simulate one task's replicates as one vectorised batch; no I/O.

    Returns
    -------
    TaskOutput
        Rows carry ``point``, the swept values, replicate, seed and spawn key.
    """
    config = make_config(task.config)
    seeds = replicate_seeds(task.seed, task.n_reps, start=task.start, prefix=(task.point,))
    keys = {"point": task.point, **task.keys}
    result = simulate_seeds(config, seeds, keys=keys)
    steps = result.metrics.astype(STEP_DTYPES)
    n_times = config.n_steps + 1
    silos = steps["n_silos"].to_numpy().reshape(task.n_reps, n_times)
    polarized = steps["polarized"].to_numpy().reshape(task.n_reps, n_times)
    runs = result.runs.assign(
        max_silos_polarized=max_silos_while_polarized(silos, polarized),
        pattern=classify_patterns(result.ids),
    )
    return TaskOutput(runs=runs, steps=steps, ids=result.ids.astype(np.int16))
