"""The ``igmm sweep`` and ``igmm summarize`` commands (registered by :mod:`igmm.cli`): parse, validate, call one function."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

#: Exit codes: 0 all done, 1 some task failed twice, 2 bad input (spec, flags, directory).
EXIT_FAILED_TASKS = 1
EXIT_BAD_INPUT = 2


def _fail(lines: list[str] | str, code: int = EXIT_BAD_INPUT) -> None:
    for line in [lines] if isinstance(lines, str) else lines:
        typer.echo(f"error: {line}", err=True)
    raise typer.Exit(code)


def sweep(
    spec: Path = typer.Argument(..., help="SPEC.yaml: base configuration, grid, zip, replicates, seed, chunk_size."),
    out: Path = typer.Option(..., "--out", help="sweep directory; re-running on it resumes"),
    force: bool = typer.Option(False, "--force", help="DIR holds another spec's sweep: delete it and start again"),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="local process-pool size (default: all cores)"),
    dask_scheduler: Optional[str] = typer.Option(None, "--dask-scheduler", help="address of a running Dask scheduler"),
    dask_local: Optional[int] = typer.Option(None, "--dask-local", min=1, help="start a local Dask cluster of N workers"),
    serial: bool = typer.Option(False, "--serial", help="run every task in this process (debugging)"),
    chunk_size: Optional[int] = typer.Option(None, "--chunk-size", min=1, help="replicates per task (default: the spec's, else 25)"),
) -> None:
    """Run a parameter sweep: every grid point x replicates, resumable, on all cores or a Dask cluster."""
    from igmm.config import ConfigError
    from igmm.sweep.executors import make_executor
    from igmm.sweep.runner import run_sweep
    from igmm.sweep.spec import load_spec
    from igmm.sweep.store import DirectoryLockedError, SpecMismatchError

    try:
        resolved = load_spec(spec, chunk_size=chunk_size)
    except ConfigError as err:
        _fail(err.lines)
    if workers is not None and (dask_scheduler or dask_local or serial):
        _fail("--workers sizes the local process pool; it cannot be combined with --dask-* or --serial")
    try:
        executor = make_executor(workers=workers, dask_scheduler=dask_scheduler, dask_local=dask_local, serial=serial)
    except (ValueError, ImportError) as err:
        _fail(str(err))
    try:
        outcome = run_sweep(resolved, out, executor=executor, force=force)
    except SpecMismatchError as err:
        _fail(err.lines)
    except DirectoryLockedError as err:
        _fail(str(err))
    finally:
        executor.close()
    typer.echo(
        f"{outcome.n_tasks} tasks: {outcome.n_skipped} already done, {outcome.n_done} run, "
        f"{len(outcome.failed)} failed, in {outcome.seconds:.1f} s. Results in {out}/; "
        f"next: igmm summarize {out}"
    )
    if outcome.failed:
        _fail(
            [f"{len(outcome.failed)} task(s) failed twice (see {out}/failures.yaml and {out}/sweep.log); "
             "re-run the same command to retry them"],
            EXIT_FAILED_TASKS,
        )


def summarize(
    directory: Path = typer.Argument(..., help="a sweep directory written by `igmm sweep`"),
    x: Optional[str] = typer.Option(None, "--x", help="horizontal heatmap axis (default: first swept axis)"),
    y: Optional[str] = typer.Option(None, "--y", help="vertical heatmap axis (default: second swept axis)"),
    value: Optional[List[str]] = typer.Option(None, "--value", help="summary column to draw (repeatable)"),
    fmt: Optional[List[str]] = typer.Option(None, "--format", help="figure format: png, pdf, svg (repeatable; default: png)"),
) -> None:
    """Per-grid-point statistics (Parquet and CSV) and phase-diagram heatmaps, in DIR/summary/."""
    from igmm.sweep.store import MANIFEST
    from igmm.sweep.summarize import write_summary

    if not (directory / MANIFEST).is_file():
        _fail(f"{directory}: not a sweep directory (no {MANIFEST}); run `igmm sweep SPEC --out {directory}` first")
    bad_formats = [name for name in fmt or [] if name not in ("png", "pdf", "svg")]
    if bad_formats:
        _fail(f"format: {bad_formats[0]!r} is not allowed: choose png, pdf or svg")
    try:
        summary, written = write_summary(directory, x=x, y=y, values=value or None, formats=tuple(fmt or ("png",)))
    except ValueError as err:
        _fail(str(err))
    planned = _planned_runs(directory)
    finished = int(summary["n_runs"].sum())
    if finished < planned:
        typer.echo(f"warning: the sweep is incomplete: {finished} of {planned} runs finished; "
                   "re-run `igmm sweep` on this directory to finish it", err=True)
    polarized = summary[summary["n_polarized"] > 0]
    typer.echo(
        f"{len(summary)} grid points, {int(summary['n_runs'].sum())} runs. Polarization bound "
        f"floor(n/(k+1)) {'holds' if polarized['bound_holds'].all() else 'is VIOLATED'} at all "
        f"{len(polarized)} points with polarized runs. Wrote {len(written)} files to {directory / 'summary'}/"
    )


def _planned_runs(directory: Path) -> int:
    """Runs the sweep in ``directory`` was asked for: replicates x grid points."""
    from igmm.sweep.spec import SweepSpec
    from igmm.sweep.store import read_manifest

    spec = SweepSpec.model_validate(read_manifest(directory)["spec"])
    return spec.replicates * len(spec.points())
