"""``igmm calibrate``: fit proxies to a target's runs, predict held-out cells, rank the proxies (thin wrapper)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from igmm.cli_common import EXIT_BAD_INPUT, EXIT_OUTPUT, EXIT_PARTIAL, fail


def calibrate_command(
    target: Optional[Path] = typer.Argument(None, help="the target: a transcripts folder or a tidy CSV/Parquet table (igmm.llm.targets); default the released transcripts ($IGMM_TRANSCRIPTS or ../shared/llm-transcripts)"),
    space: List[Path] = typer.Option(..., "--space", help="YAML search space of one proxy (examples/calibration/*.yaml); repeat to rank several"),
    out: Path = typer.Option(Path("results/calibration"), "--out", help="output folder (written as a whole at the end)"),
    cache: Optional[Path] = typer.Option(None, "--cache", help="folder of the proxies' simulations, kept for reruns (default: OUT-cache)"),
    loco: bool = typer.Option(True, "--loco/--no-loco", help="leave-one-cell-out study (default on)"),
    baseline: bool = typer.Option(True, "--baseline/--no-baseline", help="also the uncalibrated paper GMM (default on)"),
    target_format: str = typer.Option("auto", "--format", help="auto | transcripts | table"),
    labels: Optional[str] = typer.Option(None, "--labels", help="label list of transcript answers (default flowers)"),
    design: Optional[int] = typer.Option(None, "--design", help="override every space's search.design"),
    refine: Optional[int] = typer.Option(None, "--refine", help="override every space's search.refine"),
    bootstrap: Optional[int] = typer.Option(None, "--bootstrap", help="override every space's search.bootstrap"),
    workers: Optional[int] = typer.Option(None, "--workers", help="local worker processes (default: every core)"),
    serial: bool = typer.Option(False, "--serial", help="simulate in this process"),
    dask_scheduler: Optional[str] = typer.Option(None, "--dask-scheduler", help="address of a Dask scheduler"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an output folder that holds other files"),
) -> None:
    """Calibrate proxies to a target's summary statistics per (p, k) cell; leave-one-cell-out; leaderboard."""
    from igmm import provenance
    from igmm.calibrate.report import write_calibration
    from igmm.calibrate.space import load_space
    from igmm.calibrate.study import baseline as run_baseline, calibrate_proxy
    from igmm.config import ConfigError
    from igmm.llm.targets import load_target
    from igmm.pipeline.executors import make_executor
    from igmm.storage import OutputError, check_output_folder

    started = provenance.now()
    try:
        from igmm.calibrate.search import require_optuna

        require_optuna()
    except ImportError as err:
        fail(str(err))
    try:
        spaces = [load_space(path) for path in space]
        overrides = {key: value for key, value in (("design", design), ("refine", refine), ("bootstrap", bootstrap))
                     if value is not None}
        bad = [f"--{key}: {value} is not allowed: must be >= {0 if key != 'design' else 1}"
               for key, value in overrides.items() if value < (1 if key == "design" else 0)]
        if bad:
            raise ConfigError(bad)
        if overrides:
            spaces = [s.model_copy(update={"search": s.search.model_copy(update=overrides)}) for s in spaces]
        names = [s.name for s in spaces]
        if len(set(names)) != len(names):
            raise ConfigError([f"--space: two spaces are named {next(n for n in names if names.count(n) > 1)!r}; "
                               "give each a distinct name"])
        targets = load_target(target, format=target_format, labels=labels)
        target = Path(targets.source)
        cells = targets.cells()
        if not cells:
            raise ValueError(f"{target}: no runs to calibrate to")
        check_output_folder(out, overwrite)
        executor = make_executor(workers=workers, dask_scheduler=dask_scheduler, serial=serial)
    except ConfigError as err:
        fail(err.lines)
    except FileNotFoundError as err:
        fail(str(err) if target is None or str(target) in str(err) else f"{target}: {err}")
    except (ValueError, OutputError) as err:
        fail(str(err), EXIT_BAD_INPUT)
    cache = cache or out.with_name(out.name + "-cache")
    import time

    clock = time.perf_counter()
    try:
        results = []
        for chosen in spaces:
            results.append(calibrate_proxy(cells, chosen, cache, executor=executor, loco=loco, source=str(target),
                                           log=lambda line: typer.echo(line, err=True)))
            typer.echo(_summary(results[-1]), err=True)
        base = (run_baseline(cells, cache, executor=executor, replicates=spaces[0].replicates, seed=spaces[0].seed,
                             measures=spaces[0].measures.model_dump(), source=str(target)) if baseline else None)
        seconds = time.perf_counter() - clock
        written = write_calibration(results, out, base, overwrite=overwrite, seconds=seconds,
                                    command={"target": str(target), "started": started})
    except OutputError as err:
        fail(str(err), EXIT_OUTPUT)
    except RuntimeError as err:  # a simulation task failed every attempt
        fail(str(err), EXIT_PARTIAL)
    finally:
        executor.close()
    typer.echo(f"calibrated {len(results)} proxy(ies) in {seconds:.0f} s; wrote {len(written)} files to {out}/ "
               f"(simulations cached in {cache}/)")


def _summary(result) -> str:
    values = ", ".join(f"{name} = {value:.4g}" if isinstance(value, float) else f"{name} = {value}"
                       for name, value in result.best.items())
    return (f"{result.space.name}: {values}; {result.tasks_run} simulation tasks run, "
            f"{result.seconds.get('total', 0):.0f} s")
