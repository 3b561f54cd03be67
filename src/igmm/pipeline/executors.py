"""Executors: where tasks run. Serial, a local process pool, or a Dask cluster.

All three expose the same four operations to the runner (submit, wait for
any, outcome, close), so the runner's retry and bookkeeping logic is written
once. Results never depend on the executor: a task's rows are a function of
the task alone, and readers sort by key.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Protocol

from igmm.pipeline.tasks import SweepTask, TaskOutput

DASK_INSTALL = "pip install 'interacting-gmm[dask]'"
#: Seconds to wait for a Dask scheduler before giving up.
CONNECT_TIMEOUT_S = 10


@dataclass(frozen=True)
class TimedOutput:
    """A task's tables, the wall-clock and CPU seconds it took, and the worker's pid.

    CPU seconds (of the worker process) tell the task's cost apart from time
    lost to other programs sharing the cores.
    """

    output: TaskOutput
    seconds: float
    cpu_seconds: float
    pid: int


class TaskTimeout(TimeoutError):
    """A task ran past the sweep's ``task_timeout``."""


def timed(task_fn: Callable[[SweepTask], TaskOutput], task: SweepTask) -> TimedOutput:
    """Run ``task_fn(task)`` and time it (module level, so every executor can pickle it).

    A task with a timeout stops itself at its deadline (the run loop checks it
    after every step); where this runs in a process's main thread (the pool's
    workers, the serial executor), an alarm also stops what the loop cannot
    see (a long set-up), a few seconds later.
    """
    began, began_cpu = time.perf_counter(), time.process_time()
    with _alarm(task.timeout):
        output = task_fn(task)
    return TimedOutput(
        output=output, seconds=time.perf_counter() - began, cpu_seconds=time.process_time() - began_cpu, pid=os.getpid()
    )


@contextlib.contextmanager
def _alarm(timeout: float | None):
    """SIGALRM after ``timeout`` (+ a grace of 5 s) seconds, raising TaskTimeout; a no-op off the main thread."""
    usable = (timeout and hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def expire(signum, frame):
        raise TaskTimeout(f"task ran past its time limit of {timeout:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout + 5.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _watch_parent(parent_pid: int, interval: float = 0.5) -> None:
    """Worker initializer: a daemon thread that ends this worker as soon as the sweep process is gone.

    A killed sweep process cannot shut its pool down; without this its
    workers (children of the forkserver, not of the sweep) would live on.
    """
    def watch() -> None:
        while True:
            time.sleep(interval)
            if not _alive(parent_pid):
                os._exit(1)

    threading.Thread(target=watch, name="igmm-parent-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else (pid reused): treat as gone only if re-parented
        return False
    return True


class Executor(Protocol):
    """What the runner needs from an executor."""

    #: Tasks kept in flight at once (a few per worker keeps workers busy without hoarding).
    slots: int
    description: str

    def submit(self, fn: Callable[..., Any], *args: Any, key: str) -> Any: ...

    def wait_any(self, futures: Iterable[Any]) -> set[Any]: ...

    def outcome(self, future: Any) -> tuple[Any, BaseException | None]: ...

    def close(self) -> None: ...


class SerialExecutor:
    """Runs each task at submission, in this process (debugging, tests)."""

    slots = 1
    description = "serial (this process)"

    def submit(self, fn: Callable[..., Any], *args: Any, key: str) -> cf.Future:
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args))
        except Exception as err:  # recorded as the task's failure, like a worker's exception
            future.set_exception(err)
        return future

    def wait_any(self, futures: Iterable[cf.Future]) -> set[cf.Future]:
        return set(futures)

    def outcome(self, future: cf.Future) -> tuple[Any, BaseException | None]:
        error = future.exception()
        return (None, error) if error is not None else (future.result(), None)

    def close(self) -> None:
        pass


class ProcessPoolExecutor:
    """A local pool of worker processes (``concurrent.futures``), rebuilt if a worker dies.

    Workers start with the ``forkserver`` method where available: forking a
    process that runs threads (the progress bar's) is unsafe.

    Parameters
    ----------
    n_workers : int, optional
        Default: every core (``os.cpu_count()``).
    """

    def __init__(self, n_workers: int | None = None):
        self.n_workers = n_workers or os.cpu_count() or 1
        # Only as many tasks in flight as workers: if a worker dies, the pool
        # breaks and fails every pending future, so fewer pending = fewer blamed.
        self.slots = self.n_workers
        self.description = f"local process pool, {self.n_workers} worker(s)"
        methods = multiprocessing.get_all_start_methods()
        self._context = multiprocessing.get_context("forkserver" if "forkserver" in methods else None)
        self._pool = self._new_pool()

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(max_workers=self.n_workers, mp_context=self._context,
                                      initializer=_watch_parent, initargs=(os.getpid(),))

    def submit(self, fn: Callable[..., Any], *args: Any, key: str) -> cf.Future:
        try:
            return self._pool.submit(fn, *args)
        except cf.process.BrokenProcessPool:
            # A worker died: its pool refuses new work. Start a fresh one.
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            return self._pool.submit(fn, *args)

    def wait_any(self, futures: Iterable[cf.Future]) -> set[cf.Future]:
        done, _ = cf.wait(list(futures), return_when=cf.FIRST_COMPLETED)
        return done

    def outcome(self, future: cf.Future) -> tuple[Any, BaseException | None]:
        error = future.exception()
        return (None, error) if error is not None else (future.result(), None)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """A Dask distributed cluster: an existing scheduler, or a local cluster of N workers.

    Parameters
    ----------
    address : str, optional
        Scheduler address (``tcp://host:8786``) of a running cluster.
    n_local_workers : int, optional
        Start a ``LocalCluster`` of this many single-threaded worker processes.

    Raises
    ------
    ImportError
        When dask.distributed is not installed; the message names the extra.
    """

    def __init__(self, address: str | None = None, n_local_workers: int | None = None):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ImportError(f"Dask executors need dask.distributed: {DASK_INSTALL}") from None
        self._cluster = None
        if address is None:
            # death_timeout: workers whose scheduler (this process) is gone shut themselves down.
            self._cluster = LocalCluster(
                n_workers=n_local_workers or 1, threads_per_worker=1, processes=True, dashboard_address=None,
                death_timeout=10,
            )
            self._client = Client(self._cluster)
        else:
            try:
                self._client = Client(address, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError) as error:
                raise ValueError(f"--dask-scheduler: cannot reach {address!r} within {CONNECT_TIMEOUT_S} s "
                                 f"({type(error).__name__}); is the scheduler running?") from None
        n_threads = max(sum(self._client.nthreads().values()), 1)
        self.slots = 2 * n_threads  # one running and one queued per worker thread
        where = address or f"local cluster of {n_local_workers} worker(s)"
        self.description = f"dask ({where}, {n_threads} thread(s))"

    def submit(self, fn: Callable[..., Any], *args: Any, key: str) -> Any:
        # Unique key per attempt: Dask would otherwise hand back the cached failure.
        return self._client.submit(fn, *args, key=key, pure=False, retries=0)

    def wait_any(self, futures: Iterable[Any]) -> set[Any]:
        from distributed import wait

        done, _ = wait(list(futures), return_when="FIRST_COMPLETED")
        return set(done)

    def outcome(self, future: Any) -> tuple[Any, BaseException | None]:
        if future.status == "finished":
            return future.result(), None
        try:
            error = future.exception()
        except Exception as err:  # a cancelled or lost future raises instead of returning
            error = err
        return None, error

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(
    workers: int | None = None, dask_scheduler: str | None = None, dask_local: int | None = None, serial: bool = False
) -> Executor:
    """The executor the command-line flags ask for (at most one of the options).

    Parameters
    ----------
    workers : int, optional
        Local process-pool size (default: all cores).
    dask_scheduler : str, optional
        Address of an existing Dask scheduler.
    dask_local : int, optional
        Number of workers of a local Dask cluster.
    serial : bool
        Run in this process.
    """
    chosen = [name for name, value in (("--dask-scheduler", dask_scheduler), ("--dask-local", dask_local),
                                       ("--serial", serial or None)) if value is not None]
    if len(chosen) > 1:
        raise ValueError(f"choose one executor; got {' and '.join(chosen)}")
    if serial:
        return SerialExecutor()
    if dask_scheduler is not None or dask_local is not None:
        return DaskExecutor(address=dask_scheduler, n_local_workers=dask_local)
    return ProcessPoolExecutor(workers)
