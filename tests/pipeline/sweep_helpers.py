"""Shared pieces of the sweep tests: a tiny spec and task functions that fail on purpose."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from igmm.pipeline.spec import SweepSpec, make_spec, point_key
from igmm.pipeline.tasks import SweepTask, TaskOutput, run_task

#: 4 grid points x 5 replicates in chunks of 2: 12 tasks, 20 runs, 20 x 16 step rows.
TINY = {
    "base": {"n_agents": 8, "T": 15},
    "grid": {"p": [0.0, 0.5], "k": [1, 7]},
    "replicates": 5,
    "seed": 11,
    "chunk_size": 2,
}
TINY_TASKS, TINY_RUNS, TINY_STEPS = 12, 20, 20 * 16


def tiny_spec(**changes) -> SweepSpec:
    """The tiny spec, with top-level keys replaced by ``changes``."""
    return make_spec({**TINY, **changes})


def key_of(p: float, k: int) -> str:
    """The point key of the tiny grid's point (p, k)."""
    return point_key({"p": p, "k": k})


def die_once(flag: str, task: SweepTask) -> TaskOutput:
    """Kill the worker process mid-task the first time any task runs (the flag file records it)."""
    if not Path(flag).exists():
        Path(flag).write_text(task.name)
        os._exit(13)  # no cleanup, no exception: like SIGKILL from outside
    return run_task(task)


def fail_on_point(point: str, calls: str, task: SweepTask) -> TaskOutput:
    """Raise for every task of the point with key ``point``; append each call's task name to the file ``calls``."""
    if task.point == point:
        with open(calls, "a") as handle:
            handle.write(task.name + "\n")
        raise RuntimeError(f"injected failure in {task.name}")
    return run_task(task)


def hang_on_point(point: str, task: SweepTask) -> TaskOutput:
    """Never return for the tasks of one point (a hang the sweep's task timeout must end)."""
    if task.point == point:
        while True:
            time.sleep(0.05)
    return run_task(task)


def kill_after_tasks(command: list[str], out: Path, n_finished: int, timeout: float = 60.0) -> int:
    """Start ``command``, SIGKILL it once ``out``'s journal holds ``n_finished`` tasks; return how many it held then."""
    from igmm.pipeline import store

    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while len(store.read_journal(out)) < n_finished and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    return len(store.read_journal(out))
