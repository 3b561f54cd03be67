"""The ``igmm`` command: thin wrappers that parse flags, build a config and call one shell function."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from igmm.config import ConfigError, load_yaml, make_config
from igmm.networks import parse_network_option

app = typer.Typer(
    help="Interacting Gaussian mixture models: a fast proxy for interacting language models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Interacting Gaussian mixture models: a fast proxy for interacting language models."""


def fail(lines: list[str] | str, code: int = 2) -> None:
    """Print each line to stderr as ``error: ...`` and exit with ``code`` (no traceback)."""
    for line in [lines] if isinstance(lines, str) else lines:
        typer.echo(f"error: {line}", err=True)
    raise typer.Exit(code)


def progress_bar(total: int, description: str):
    """A tqdm bar on a terminal; a silent one when stderr is not a terminal."""
    from tqdm import tqdm

    return tqdm(total=total, desc=description, disable=not sys.stderr.isatty(), unit="step")


@app.command()
def run(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML file of parameters; flags override it."),
    n_agents: Optional[int] = typer.Option(None, "--n-agents", help="n, number of agents [30]"),
    n_components: Optional[int] = typer.Option(None, "--n-components", help="K, components [n_agents]"),
    p: Optional[float] = typer.Option(None, "--p", help="mirroring probability [0.4]"),
    k: Optional[int] = typer.Option(None, "--k", help="communication range [n_agents - 1]"),
    r: Optional[int] = typer.Option(None, "--r", help="database size [5]"),
    T: Optional[int] = typer.Option(None, "--T", help="number of steps [400]"),
    sigma: Optional[float] = typer.Option(None, "--sigma", help="component standard deviation [0.2]"),
    delta: Optional[float] = typer.Option(None, "--delta", help="spacing of the means [1.0]"),
    geometry: Optional[str] = typer.Option(None, "--geometry", help="line | circle | simplex | custom [line]"),
    dynamics: Optional[str] = typer.Option(
        None, "--dynamics", help="paper | early-draft | moving-variance | moving-variance-means [paper]"
    ),
    rag_policy: Optional[str] = typer.Option(None, "--rag-policy", help="farthest | oldest | random [farthest]"),
    em_iterations: Optional[int] = typer.Option(None, "--em-iterations", help="EM iterations per refit [1]"),
    network: Optional[str] = typer.Option(
        None, "--network", help="static network, e.g. 'ring:degree=4', 'watts-strogatz:degree=4,rewire=0.1', "
        "'erdos-renyi:edge_prob=0.2', 'sbm:blocks=15+15,p_in=0.5,p_out=0.02', 'edge-list:path=g.txt' [k-nearest]"
    ),
    backend: Optional[str] = typer.Option(None, "--backend", help="numpy | torch (CUDA when available) | numba (compiled CPU) | numba-parallel (replicates over all cores) [numpy]"),
    replicates: int = typer.Option(1, "--replicates", help="number of replicates"),
    seed: int = typer.Option(0, "--seed", help="root seed (replicate i: SeedSequence(seed).spawn(n)[i])"),
    out: Path = typer.Option(Path("results/run"), "--out", help="output folder"),
    keep_weights: bool = typer.Option(False, "--keep-weights", help="also write weights.npz (large)"),
) -> None:
    """Simulate the interacting-GMM model and write tables, IDs and figures to --out."""
    from igmm.simulate import replicate_seeds, simulate_seeds, write_result

    if replicates < 1:
        fail(f"replicates: {replicates} is not allowed: must be >= 1")
    if seed < 0:
        fail(f"seed: {seed} is not allowed: must be >= 0")
    try:
        values = load_yaml(config) if config else {}
        values.pop("seed", None), values.pop("replicates", None)  # written by config.yaml of an earlier run
        resolved = make_config(
            values, n_agents=n_agents, n_components=n_components, p=p, k=k, r=r, T=T, sigma=sigma,
            delta=delta, geometry=geometry, dynamics=dynamics, rag_policy=rag_policy, em_iterations=em_iterations,
            network=parse_network_option(network) if network else None, backend=backend,
        )
    except ConfigError as err:
        fail(err.lines)
    except ValueError as err:  # a malformed --network flag
        fail(str(err))
    with progress_bar(resolved.n_steps, "simulating") as bar:
        result = simulate_seeds(
            resolved, replicate_seeds(seed, replicates), keep_weights=keep_weights,
            on_step=lambda _t: bar.update(1),
        )
    written = write_result(result, out)
    converged = result.runs["converged"]
    typer.echo(
        f"{replicates} replicate(s), T = {resolved.n_steps}: {int(converged.sum())} reached one silo; "
        f"mean final silos {result.runs['n_silos_final'].mean():.2f}. Wrote {len(written)} files to {out}/"
    )


def _register_subcommands() -> None:
    """Attach the command groups that live beside their subpackages."""
    from igmm.llm.cli import app as llm_app

    app.add_typer(llm_app, name="llm", help="Language-model transcripts and live runs, with the same measures.")
    from igmm.experiments.cli import reproduce_command

    app.command("reproduce")(reproduce_command)

    from igmm.sweep.cli import summarize, sweep

    app.command("sweep")(sweep)
    app.command("summarize")(summarize)


_register_subcommands()


def main() -> None:
    """Entry point of the ``igmm`` console script."""
    app()


if __name__ == "__main__":
    main()
