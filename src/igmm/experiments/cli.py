"""`igmm reproduce NAME | all | --list`: thin wrapper around :func:`igmm.experiments.reproduce`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer


def _echo_list() -> None:
    from igmm.experiments.spec import experiment_names, load_spec

    for name in experiment_names():
        typer.echo(f"{name:34s} {load_spec(name).title}")
    typer.echo(f"{'all':34s} every experiment above (group members once)")


def reproduce_command(
    name: Optional[str] = typer.Argument(None, help="experiment name, or 'all' (see --list)"),
    list_: bool = typer.Option(False, "--list", help="list the experiments and exit"),
    quick: bool = typer.Option(False, "--quick", help="reduced version: fewer replicates, shorter (for tests)"),
    out: Optional[Path] = typer.Option(None, "--out", help="output folder [results/NAME; for all: results/]"),
    seed: int = typer.Option(0, "--seed", help="root seed (variant v, replicate i: spawn key (v, i))"),
) -> None:
    """Reproduce an experiment of EXPERIMENTS.md: tables, figure (PNG, PDF) and summary.md."""
    from igmm.experiments.runner import reproduce
    from igmm.experiments.spec import UnknownExperiment, top_level_names

    if list_:
        _echo_list()
        return
    if name is None:
        typer.echo("error: give an experiment name, 'all', or --list", err=True)
        raise typer.Exit(2)
    if seed < 0:
        typer.echo(f"error: seed: {seed} is not allowed: must be >= 0", err=True)
        raise typer.Exit(2)
    names = top_level_names() if name == "all" else [name]
    root = out if out is not None else Path("results")
    start = time.perf_counter()
    for each in names:
        target = root / each if name == "all" else (out if out is not None else Path("results") / each)
        try:
            result = reproduce(each, target, quick=quick, seed=seed)
        except UnknownExperiment as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"{each}: {len(result.files)} files in {target}/ ({result.seconds:.1f} s)")
    if name == "all":
        typer.echo(f"all: {len(names)} experiments in {time.perf_counter() - start:.1f} s")
