"""Tasks: one grid point x a chunk of replicates, a pure function of (configuration, seeds).

A task is a small picklable record. :func:`run_task` turns it into tables,
a pure function (same task, same rows, wherever it runs), which is what the
executors run. The sweep's main process writes the shards it sends back
(one writer; workers need no shared file system).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from igmm.api import simulate_seeds
from igmm.config import make_config
from igmm.pipeline.spec import point_seeds

if TYPE_CHECKING:
    from igmm.pipeline.spec import SweepSpec


@dataclass(frozen=True)
class SweepTask:
    """One unit of work: replicates ``start .. start + n_reps - 1`` of the grid point ``point``.

    Attributes
    ----------
    point : str
        The point's key (:func:`igmm.pipeline.spec.point_key`).
    config : dict
        Configuration values (YAML names) of the point: base merged with its swept values.
    seed : int
        Root seed of the sweep.
    start, n_reps : int
        First replicate and number of replicates.
    save_ids : bool
        Also return the ID trajectories for storage.
    timeout : float or None
        Seconds the task may run.
    backend : str or None
        The point's backend (:func:`point_backends`), used when the configuration names none or says auto.
    """

    point: str
    config: dict[str, Any]
    seed: int
    start: int
    n_reps: int
    save_ids: bool = False
    timeout: float | None = None
    backend: str | None = None

    @property
    def name(self) -> str:
        """Stable, unique name of the task's shards, e.g. ``3f2ed1cf35e1a77b-r00025-00049``."""
        return shard_name(self.point, self.start, self.n_reps)


def shard_name(point: str, start: int, n_reps: int) -> str:
    """Name of a task's shards (no suffix): point key and replicate range."""
    return f"{point}-r{start:05d}-{start + n_reps - 1:05d}"


def parse_shard_name(name: str) -> tuple[str, int, int]:
    """``(point, start, n_reps)`` of a shard name."""
    point, _, span = name.rpartition("-r")
    first, last = span.split("-")
    return point, int(first), int(last) - int(first) + 1


@dataclass(frozen=True)
class TaskOutput:
    """The tables one task produced.

    Attributes
    ----------
    runs : DataFrame
        One row per replicate (:data:`igmm.tables.RUN_SCHEMA`).
    steps : DataFrame
        One row per replicate and step (:func:`igmm.tables.steps_schema`).
    ids : ndarray of int16, shape (n_reps, n_steps + 1, n_agents), or None
    """

    runs: pd.DataFrame
    steps: pd.DataFrame
    ids: np.ndarray | None


def plan_tasks(spec: SweepSpec, finished: dict[str, set[int]] | None = None,
               backends: dict[str, str] | None = None) -> list[SweepTask]:
    """Cut the runs a sweep still lacks into tasks of at most ``chunk_size`` consecutive replicates.

    Parameters
    ----------
    spec : SweepSpec
    finished : dict of point key -> set of replicate numbers, optional
        Runs already stored (a resumed or grown sweep); they are not planned again.
    backends : dict of point key -> backend, optional
        Each point's backend (default: :func:`point_backends` on this machine).

    Returns
    -------
    list of SweepTask, ordered by point (grid order), then first replicate.
    """
    finished = finished or {}
    backends = backends or point_backends(spec)
    tasks = []
    for key, values in spec.keyed_points():
        done = finished.get(key, set())
        missing = [replicate for replicate in range(spec.replicates) if replicate not in done]
        for start, count in _runs_of_consecutive(missing, spec.chunk_size):
            tasks.append(SweepTask(point=key, config={**spec.base, **values}, seed=spec.seed, start=start,
                                   n_reps=count, save_ids=spec.save_ids, timeout=spec.task_timeout,
                                   backend=backends[key]))
    return tasks


def _runs_of_consecutive(numbers: list[int], chunk: int) -> list[tuple[int, int]]:
    """Sorted integers cut into (start, count) pieces of consecutive values, each at most ``chunk`` long."""
    pieces: list[tuple[int, int]] = []
    for number in numbers:
        if pieces and pieces[-1][0] + pieces[-1][1] == number and pieces[-1][1] < chunk:
            pieces[-1] = (pieces[-1][0], pieces[-1][1] + 1)
        else:
            pieces.append((number, 1))
    return pieces


#: Backend of a sweep point whose configuration names none (or says ``auto``): the fastest installed
#: backend that implements the point's dynamics and whose runs are tested equal in distribution to numpy's
#: (:func:`igmm.dynamics.protocol.resolve_backend`), chosen once per point (:func:`point_backends`) and
#: recorded in the folder's manifest, so that every task of a point runs on the same one.
SWEEP_BACKEND = "auto"


def point_backends(spec: SweepSpec, keys: Iterable[str] | None = None) -> dict[str, str]:
    """The backend each point of ``spec`` runs on, on this machine.

    A backend the point's configuration names is kept; otherwise "auto" is
    resolved for that point's configuration (a grid over ``dynamics`` may get
    numba for one dynamics and numpy for another that has no numba
    implementation), with the whole sweep's work (replicates x n_agents x T
    summed over the points): a small sweep stays on numpy, whose workers
    start at once.

    Parameters
    ----------
    spec : SweepSpec
    keys : iterable of str, optional
        Point keys to resolve (default: every point).

    Returns
    -------
    dict of point key -> backend name
    """
    from igmm.dynamics.protocol import resolve_backend

    points = list(spec.keyed_points())
    wanted = set(keys) if keys is not None else {key for key, _ in points}
    if not wanted:  # a resumed sweep with every point recorded
        return {}
    configs = {key: make_config({"backend": SWEEP_BACKEND, **spec.base, **values}) for key, values in points}
    work = sum(spec.replicates * config.n_agents * config.n_steps for config in configs.values())
    return {key: config.backend if config.backend != "auto" else
            resolve_backend(config.dynamics, config, "auto", work=work)
            for key, config in configs.items() if key in wanted}


def describe_backends(backends: dict[str, str]) -> str:
    """``numba`` when every point has it, else e.g. ``numba (2 points), numpy (1 point)``."""
    counts = Counter(backends.values())
    if len(counts) <= 1:
        return next(iter(counts), "none")
    return ", ".join(f"{name} ({n} point{'s' if n > 1 else ''})" for name, n in counts.most_common())


def run_task(task: SweepTask) -> TaskOutput:
    """Simulate one task's replicates as one vectorised batch; no I/O.

    Returns
    -------
    TaskOutput
        Rows carry the point key, replicate, seed and spawn key.
    """
    values = dict(task.config)
    if values.get("backend", "auto") == "auto":
        values["backend"] = task.backend or SWEEP_BACKEND
    config = make_config(values)
    seeds = point_seeds(task.seed, task.point, task.start, task.n_reps)
    deadline = time.monotonic() + task.timeout if task.timeout else None
    result = simulate_seeds(config, seeds, point=task.point, deadline=deadline)
    return TaskOutput(runs=result.runs, steps=result.steps, ids=result.ids.astype(np.int16) if task.save_ids else None)
