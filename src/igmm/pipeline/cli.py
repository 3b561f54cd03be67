"""The ``igmm sweep`` and ``igmm summarize`` commands (registered by :mod:`igmm.cli`): parse, validate, call one function."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from igmm.cli_common import EXIT_BAD_INPUT, EXIT_OUTPUT, EXIT_PARTIAL, fail


def sweep(
    spec: Optional[Path] = typer.Argument(None, help="SPEC.yaml: base configuration, grid, zip, replicates, seed, chunk_size"),
    out: Optional[Path] = typer.Option(None, "--out", help="sweep folder; running again on it resumes, repairs damaged shards, or grows it"),
    force: bool = typer.Option(False, "--force", help="the folder holds a sweep of another spec: delete it and start again"),
    verify: Optional[Path] = typer.Option(None, "--verify", help="check a sweep folder's stored shards against their checksums and exit"),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="local process-pool size (default: all cores)"),
    dask_scheduler: Optional[str] = typer.Option(None, "--dask-scheduler", help="address of a running Dask scheduler"),
    dask_local: Optional[int] = typer.Option(None, "--dask-local", min=1, help="start a local Dask cluster of N workers"),
    serial: bool = typer.Option(False, "--serial", help="run every task in this process (debugging)"),
    chunk_size: Optional[int] = typer.Option(None, "--chunk-size", min=1, help="replicates per task (default: the spec's, else 25)"),
    task_timeout: Optional[float] = typer.Option(None, "--task-timeout", min=0.001, help="seconds a task may run before it is recorded as failed (default: the spec's, else none)"),
) -> None:
    """Run a parameter sweep: every grid point x replicates, resumable, on all cores or a Dask cluster."""
    from igmm.config import ConfigError
    from igmm.pipeline.executors import make_executor
    from igmm.pipeline.runner import run_sweep
    from igmm.pipeline.spec import load_spec
    from igmm.pipeline.store import DirectoryLockedError, SpecMismatchError
    from igmm.storage import OutputError, check_output_folder, describe_os_error

    if verify is not None:
        _verify(verify)
        return
    if spec is None or out is None:
        fail("give SPEC and --out DIR (or --verify DIR)")
    try:
        resolved = load_spec(spec, chunk_size=chunk_size, task_timeout=task_timeout)
        if not out.is_dir():  # an existing folder is resumed or refused by the sweep itself
            check_output_folder(out)
    except ConfigError as err:
        fail(err.lines)
    except OutputError as err:
        fail(str(err))
    if workers is not None and (dask_scheduler or dask_local or serial):
        fail("--workers sizes the local process pool; it cannot be combined with --dask-* or --serial")
    try:
        executor = make_executor(workers=workers, dask_scheduler=dask_scheduler, dask_local=dask_local, serial=serial)
    except (ValueError, ImportError) as err:
        fail(str(err))
    try:
        outcome = run_sweep(resolved, out, executor=executor, force=force)
    except SpecMismatchError as err:
        fail(err.lines)
    except DirectoryLockedError as err:
        fail(str(err))
    except OSError as err:
        fail(f"writing {out} failed: {describe_os_error(err)}; finished tasks are kept, run the same command again "
             "to continue", EXIT_OUTPUT)
    finally:
        executor.close()
    repaired = f", {outcome.n_repaired} damaged task(s) run again" if outcome.n_repaired else ""
    typer.echo(
        f"{outcome.n_tasks} task(s) run ({outcome.n_done} done, {len(outcome.failed)} failed), {outcome.n_skipped} "
        f"run(s) already done{repaired}, in {outcome.seconds:.1f} s. Results in {out}/; next: igmm summarize {out}"
    )
    if outcome.failed:
        fail([f"{len(outcome.failed)} task(s) failed twice (see {out}/failures.yaml and {out}/sweep.log); "
              "re-run the same command to retry them"], EXIT_PARTIAL)


def _verify(directory: Path) -> None:
    """``igmm sweep --verify DIR``: one line per damaged shard; exit 1 when any."""
    from igmm.pipeline import store

    if not store.is_sweep_folder(directory):
        fail(f"{directory}: not a sweep folder (no {store.MANIFEST})")
    good, problems = store.verify_shards(directory)
    for problem in problems:
        typer.echo(f"damaged: {problem}", err=True)
    typer.echo(f"{len(good)} task(s) verified, {len(problems)} problem(s)"
               + (f"; run `igmm sweep {directory}/spec.yaml --out {directory}` to repair" if problems else ""))
    if problems:
        raise typer.Exit(EXIT_PARTIAL)


def summarize(
    directory: Path = typer.Argument(..., help="a sweep folder written by `igmm sweep`"),
    x: Optional[str] = typer.Option(None, "--x", help="horizontal axis (default: the first swept axis)"),
    y: Optional[str] = typer.Option(None, "--y", help="vertical heatmap axis (default: the second swept axis; none: line plots)"),
    value: Optional[List[str]] = typer.Option(None, "--value", help="summary column to draw (repeatable)"),
    fmt: Optional[List[str]] = typer.Option(None, "--format", help="figure format: png, pdf, svg (repeatable; default png and pdf)"),
    level: float = typer.Option(0.95, "--level", min=0.5, max=0.999, help="coverage of every interval (default 0.95)"),
) -> None:
    """Per-grid-point statistics (Parquet and CSV) and figures, written as a whole into DIR/summary/."""
    from igmm.pipeline import store
    from igmm.pipeline.summarize import write_summary
    from igmm.storage import OutputError

    if not store.is_sweep_folder(directory):
        fail(f"{directory}: not a sweep folder (no {store.MANIFEST}); run `igmm sweep SPEC --out {directory}` first")
    bad_formats = [name for name in fmt or [] if name not in ("png", "pdf", "svg")]
    if bad_formats:
        fail(f"format: {bad_formats[0]!r} is not allowed: choose png, pdf or svg")
    try:
        summary, written = write_summary(directory, x=x, y=y, values=value or None, formats=tuple(fmt or ("png", "pdf")),
                                         level=level)
    except ValueError as err:
        fail(str(err))
    except OutputError as err:
        fail(str(err), EXIT_OUTPUT)
    planned = _planned_runs(directory)
    finished = int(summary["n_runs"].sum())
    if finished < planned:
        typer.echo(f"warning: the sweep is incomplete: {finished} of {planned} runs finished; "
                   "re-run `igmm sweep` on this folder to finish it", err=True)
    checked = summary[(summary["polarized_max_silos"] > 0) & summary["polarization_bound"].notna()]
    holds = bool(checked["bound_holds"].astype(bool).all()) if len(checked) else True
    bound = (f"Polarization bound floor(n/(k+1)) {'holds' if holds else 'is VIOLATED'} at all {len(checked)} "
             "dynamic-graph points with polarized runs" if len(checked) else
             "No polarized run on the dynamic k-nearest graph (the bound floor(n/(k+1)) applies there only)")
    typer.echo(f"{len(summary)} grid points, {finished} runs. {bound}. Wrote {len(written)} files to "
               f"{directory / 'summary'}/")


def _planned_runs(directory: Path) -> int:
    """Runs the sweep in ``directory`` was asked for: replicates x grid points."""
    from igmm.pipeline.spec import load_spec

    spec = load_spec(directory / "spec.yaml")
    return spec.replicates * spec.n_points()


__all__ = ["EXIT_BAD_INPUT", "summarize", "sweep"]
