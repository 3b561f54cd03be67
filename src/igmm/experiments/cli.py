"""`igmm reproduce NAME | all | --list`: thin wrapper around :func:`igmm.experiments.reproduce`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from igmm.cli_common import EXIT_OUTPUT, EXIT_PARTIAL, fail


def _echo_list() -> None:
    from igmm.experiments.spec import experiment_names, load_spec

    for name in experiment_names():
        typer.echo(f"{name:34s} {load_spec(name).title}")
    typer.echo(f"{'all':34s} every experiment above (group members once)")


def reproduce_command(
    name: Optional[str] = typer.Argument(None, help="experiment name, or 'all' (see --list)"),
    list_: bool = typer.Option(False, "--list", help="list the experiments and exit"),
    quick: bool = typer.Option(False, "--quick", help="reduced version (fewer replicates, shorter), in its own folder NAME-quick"),
    out: Optional[Path] = typer.Option(None, "--out", help="output folder (default results/NAME, or results/NAME-quick; for all: results/)"),
    seed: int = typer.Option(0, "--seed", min=0, help="root seed (default 0)"),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="local process-pool size (default: all cores)"),
    dask_scheduler: Optional[str] = typer.Option(None, "--dask-scheduler", help="address of a running Dask scheduler"),
    dask_local: Optional[int] = typer.Option(None, "--dask-local", min=1, help="start a local Dask cluster of N workers"),
    serial: bool = typer.Option(False, "--serial", help="run every task in this process"),
) -> None:
    """Reproduce an experiment: its sweep (resumable: running again continues it), figure (PNG, PDF) and summary.md."""
    from igmm.config import ConfigError
    from igmm.experiments.runner import default_folder, reproduce
    from igmm.experiments.spec import UnknownExperiment, experiment_names, top_level_names
    from igmm.pipeline.executors import make_executor
    from igmm.pipeline.store import DirectoryLockedError, SpecMismatchError
    from igmm.storage import OutputError

    if list_:
        _echo_list()
        return
    if name is None:
        fail("give an experiment name, 'all', or --list")
    if name != "all" and name not in experiment_names():
        fail(f"experiment: {name!r} is not known; valid names are: {', '.join(experiment_names())}, all")
    names = top_level_names() if name == "all" else [name]
    try:
        executor = make_executor(workers=workers, dask_scheduler=dask_scheduler, dask_local=dask_local, serial=serial)
    except (ValueError, ImportError) as err:
        fail(str(err))
    start = time.perf_counter()
    try:
        for each in names:
            target = (out / (f"{each}-quick" if quick else each) if name == "all" and out is not None
                      else out if out is not None else default_folder(each, quick))
            try:
                result = reproduce(each, target, quick=quick, seed=seed, executor=executor)
            except (UnknownExperiment, ConfigError, SpecMismatchError, DirectoryLockedError) as err:
                fail(getattr(err, "lines", None) or str(err))
            except RuntimeError as err:
                fail(str(err), EXIT_PARTIAL)
            except (OutputError, OSError) as err:
                fail(f"writing {target} failed: {err}", EXIT_OUTPUT)
            typer.echo(f"{each}: {len(result.files)} files in {target}/ ({result.seconds:.1f} s)")
    finally:
        executor.close()
    if name == "all":
        typer.echo(f"all: {len(names)} experiments in {time.perf_counter() - start:.1f} s")
