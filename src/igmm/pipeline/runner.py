"""Run a sweep: plan, skip finished tasks, execute with one retry, write shards, log, progress."""

from __future__ import annotations

import functools
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, TextIO

from igmm.pipeline import store
from igmm.pipeline.executors import Executor, ProcessPoolExecutor, TimedOutput, timed
from igmm.pipeline.spec import SweepSpec
from igmm.pipeline.tasks import SweepTask, TaskOutput, describe_backends, plan_tasks, run_task
from igmm.storage import write_yaml

#: A task is tried this many times before it is recorded as failed.
MAX_ATTEMPTS = 2


@dataclass
class SweepOutcome:
    """What one invocation of :func:`run_sweep` did.

    Attributes
    ----------
    n_tasks : int
        Tasks this invocation had to run.
    n_skipped : int
        Runs already finished before this invocation (resume, growth).
    n_repaired : int
        Tasks whose stored files failed verification and were run again.
    n_done : int
        Tasks finished by this invocation.
    failed : list of dict
        ``{"task", "attempts", "error"}`` of each task that failed every attempt.
    seconds : float
        Wall-clock time of this invocation.
    resumed : bool
        True when DIR already held a sweep of the same spec.
    """

    n_tasks: int
    n_skipped: int = 0
    n_repaired: int = 0
    n_done: int = 0
    failed: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    resumed: bool = False

    @property
    def complete(self) -> bool:
        """True when every task of this invocation finished."""
        return self.n_done == self.n_tasks


class SweepLog:
    """Appends one tab-separated line per event to ``DIR/sweep.log``.

    Fields: UTC time, event (start, done, retry, failed, end), task, attempt,
    wall-clock seconds, worker pid, detail (runs and CPU seconds of a done
    task; the error of a failed attempt).
    """

    def __init__(self, path: Path):
        self._handle: TextIO = open(path, "a", buffering=1)  # line-buffered: a kill loses at most one line

    def write(self, event: str, task: str = "-", attempt: int = 0, seconds: float = 0.0, pid: int = 0, detail: str = "") -> None:
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        detail = detail.replace("\n", " | ")
        self._handle.write(f"{stamp}\t{event}\t{task}\t{attempt}\t{seconds:.3f}\t{pid}\t{detail}\n")

    def close(self) -> None:
        self._handle.close()


def _progress_bar(total: int, initial: int, enabled: bool | None):
    """One overall bar with ETA, counted in runs; silent unless stderr is a terminal."""
    from tqdm import tqdm

    enabled = sys.stderr.isatty() if enabled is None else enabled
    return tqdm(total=total, initial=initial, desc="sweep", unit="run", disable=not enabled, smoothing=0.05)


def run_sweep(
    spec: SweepSpec,
    out_dir: str | Path,
    executor: Executor | None = None,
    force: bool = False,
    task_fn: Callable[[SweepTask], TaskOutput] = run_task,
    progress: bool | None = None,
) -> SweepOutcome:
    """Run every unfinished task of ``spec`` and store its shards in ``out_dir``.

    Parameters
    ----------
    spec : SweepSpec
    out_dir : str or Path
        Sweep directory (layout in :mod:`igmm.pipeline.store`). Re-running on the
        same directory skips finished (verified) runs and re-runs damaged ones.
    executor : Executor, optional
        Default: a local process pool on every core (closed at the end).
    force : bool
        Wipe a previous sweep of another spec from ``out_dir`` instead of refusing.
    task_fn : callable
        The task function, ``SweepTask -> TaskOutput`` (tests inject faults here).
    progress : bool, optional
        Show the progress bar; default: when stderr is a terminal.

    Returns
    -------
    SweepOutcome

    Raises
    ------
    igmm.pipeline.store.SpecMismatchError
        ``out_dir`` holds a sweep of another spec and ``force`` is false.
    igmm.pipeline.store.DirectoryLockedError
        Another sweep process is working in ``out_dir``.
    """
    out_dir = Path(out_dir)
    with store.lock_directory(out_dir):
        return _run_locked(spec, out_dir, executor, force, task_fn, progress)


def _run_locked(
    spec: SweepSpec,
    out_dir: Path,
    executor: Executor | None,
    force: bool,
    task_fn: Callable[[SweepTask], TaskOutput],
    progress: bool | None,
) -> SweepOutcome:
    """:func:`run_sweep` once this process holds the directory's lock."""
    from igmm import provenance

    began, started = time.perf_counter(), provenance.now()
    resumed = store.prepare_directory(out_dir, spec, force=force)
    backends = store.sweep_backends_of(out_dir, spec)
    store.repair_journal(out_dir)
    good, problems = store.verify_shards(out_dir)
    store.remove_unverified(out_dir, good)
    finished = store.finished_runs(out_dir, good)
    todo = plan_tasks(spec, finished, backends)
    store.refuse_other_revisions(out_dir, backends, {task.point for task in todo}, finished)
    wanted = set(range(spec.replicates))
    n_done_before = sum(len(replicates & wanted) for key, replicates in finished.items() if key in backends)
    damaged = {problem.task for problem in problems}
    outcome = SweepOutcome(n_tasks=len(todo), n_skipped=n_done_before, resumed=resumed, n_repaired=len(damaged))
    owns_executor = executor is None
    executor = executor or ProcessPoolExecutor()
    log = SweepLog(out_dir / store.LOG)
    for problem in problems:
        log.write("damaged", problem.task, detail=f"{problem.table}: {problem.problem}; run again")
    log.write("start", detail=f"{len(todo)} tasks to run on {executor.description}, "
                              f"backend {describe_backends(backends)}; "
                              f"{n_done_before} runs already done")
    steps_schema = _steps_schema(spec)
    with _progress_bar(spec.replicates * spec.n_points(), n_done_before, progress) as bar:
        try:
            _execute(todo, executor, functools.partial(timed, task_fn), out_dir, log, bar, outcome,
                     spec.digest()[:10], steps_schema)
        finally:
            if owns_executor:
                executor.close()
    outcome.seconds = time.perf_counter() - began
    _record_failures(out_dir, outcome.failed)
    provenance.write(provenance.record(spec.to_dict(), spec.digest(), spec.seed, started,
                                       {"executor": executor.description, "backend": describe_backends(backends), "outcome": {
                                           "tasks": outcome.n_tasks, "done": outcome.n_done,
                                           "failed": len(outcome.failed), "runs_reused": outcome.n_skipped,
                                           "repaired": outcome.n_repaired}}), out_dir)
    log.write("end", seconds=outcome.seconds, detail=f"{outcome.n_done} done, {len(outcome.failed)} failed")
    log.close()
    return outcome


def _steps_schema(spec: SweepSpec):
    from igmm.tables import steps_schema

    return steps_schema(spec.base.get("measures", []))


def _execute(
    todo: list[SweepTask],
    executor: Executor,
    job: Callable[[SweepTask], TimedOutput],
    out_dir: Path,
    log: SweepLog,
    bar,
    outcome: SweepOutcome,
    tag: str,
    steps_schema,
) -> None:
    """Keep ``executor.slots`` tasks in flight; write each result as it comes; retry a failure once.

    ``tag`` (a prefix of the spec hash) makes Dask keys unique across sweeps.
    """
    pending = deque(todo)
    attempts: Counter[str] = Counter()
    in_flight: dict = {}
    while pending or in_flight:
        while pending and len(in_flight) < executor.slots:
            task = pending.popleft()
            attempts[task.name] += 1
            key = f"igmm-{tag}-{task.name.replace('/', '-')}-attempt{attempts[task.name]}"
            in_flight[executor.submit(job, task, key=key)] = task
        for future in executor.wait_any(list(in_flight)):
            task = in_flight.pop(future)
            result, error = executor.outcome(future)
            if error is None:
                _store_result(task, result, attempts[task.name], out_dir, log, steps_schema)
                outcome.n_done += 1
                bar.update(task.n_reps)
            elif attempts[task.name] < MAX_ATTEMPTS:
                log.write("retry", task.name, attempts[task.name], detail=_describe(error))
                pending.appendleft(task)  # first in line again, so a retry does not wait for the whole queue
            else:
                log.write("failed", task.name, attempts[task.name], detail=_describe(error))
                outcome.failed.append({"task": task.name, "attempts": attempts[task.name], "error": _describe(error)})


def _store_result(task: SweepTask, result: TimedOutput, attempt: int, out_dir: Path, log: SweepLog,
                  steps_schema) -> None:
    """Write a finished task's shards and journal them; log its timings."""
    output = result.output
    store.write_shards(out_dir, task.name, output.runs, output.steps, steps_schema,
                       output.ids if task.save_ids else None)
    log.write("done", task.name, attempt, result.seconds, result.pid,
              f"{len(output.runs)} runs, cpu {result.cpu_seconds:.3f} s")


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _record_failures(out_dir: Path, failed: list[dict]) -> None:
    """``failures.yaml`` lists this invocation's failed tasks; absent when there were none."""
    path = out_dir / store.FAILURES
    if failed:
        write_yaml(failed, path)
    else:
        path.unlink(missing_ok=True)
