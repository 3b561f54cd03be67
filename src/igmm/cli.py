"""The ``igmm`` command: thin wrappers that parse flags, build a config and call one shell function.

Exit codes, the same for every command: 0 done; 1 done, but part of the work
failed or was skipped (it is listed); 2 bad input, refused before any work
with nothing written; 3 the arithmetic broke down (NaN or infinity in the
state), nothing reported; 4 the output could not be written (no space, no
permission), what was finished is kept.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from igmm.cli_common import (  # noqa: F401  (EXIT_* are part of the command's contract)
    EXIT_BAD_INPUT,
    EXIT_NUMERICAL,
    EXIT_OUTPUT,
    EXIT_PARTIAL,
    RUN_KEYS,
    fail,
    parse_named,
    progress_bar,
    typed_values,
)

app = typer.Typer(
    help="Interacting Gaussian mixture models: a fast proxy for interacting language models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        from igmm import __version__

        typer.echo(f"igmm {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="print the version and exit"),
) -> None:
    """Interacting Gaussian mixture models: a fast proxy for interacting language models."""


@app.command()
def run(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML file of parameters (plus seed and replicates); flags override it"),
    n_agents: Optional[int] = typer.Option(None, "--n-agents", help="n, number of agents (default 30)"),
    n_components: Optional[int] = typer.Option(None, "--n-components", help="K, components (default n_agents)"),
    p: Optional[float] = typer.Option(None, "--p", help="mirroring probability (default 0.4)"),
    k: Optional[int] = typer.Option(None, "--k", help="communication range (default n_agents - 1)"),
    r: Optional[int] = typer.Option(None, "--r", help="database size (default 5)"),
    T: Optional[int] = typer.Option(None, "--T", help="number of steps (default 400)"),
    sigma: Optional[float] = typer.Option(None, "--sigma", help="component standard deviation (default 0.2)"),
    delta: Optional[float] = typer.Option(None, "--delta", help="spacing of the means (default 1.0)"),
    geometry: Optional[str] = typer.Option(None, "--geometry", help="line | circle | simplex | custom (default line)"),
    dynamics: Optional[str] = typer.Option(None, "--dynamics", help="paper | early-draft | moving-variance | moving-variance-means | voter | deffuant | hegselmann-krause | ... (default paper)"),
    rag_policy: Optional[str] = typer.Option(None, "--rag-policy", help="farthest | oldest | random (default farthest)"),
    em_iterations: Optional[int] = typer.Option(None, "--em-iterations", help="EM iterations per refit (default 1)"),
    network: Optional[str] = typer.Option(None, "--network", help="static network, e.g. 'ring:degree=4', 'watts-strogatz:degree=4,rewire=0.1', 'erdos-renyi:edge_prob=0.2', 'sbm:blocks=15+15,p_in=0.5,p_out=0.02', 'edge-list:path=g.txt' (default: the dynamic k-nearest graph)"),
    initial: Optional[str] = typer.Option(None, "--initial", help="initial opinions: one-hot (default) | 'dirichlet:alpha=0.5' | 'mixture:share=0.3' | 'file:path=w.npy'"),
    modifier: Optional[List[str]] = typer.Option(None, "--modifier", help="population modifier, repeatable: 'stubborn:share=0.1', 'per-agent-p:beta=[2,5]'"),
    dynamics_option: Optional[List[str]] = typer.Option(None, "--dynamics-option", help="an option of the dynamics as key=value, repeatable (e.g. epsilon=0.2 for deffuant)"),
    measure: Optional[List[str]] = typer.Option(None, "--measure", help="extra per-step measure to record, repeatable (e.g. max_sigma)"),
    plugin: Optional[List[str]] = typer.Option(None, "--plugin", help="module of your own dynamics, measures, networks... to import first, repeatable"),
    backend: Optional[str] = typer.Option(None, "--backend", help="numpy (default) | numba | numba-parallel | torch | torch-batched | auto (fastest installed, tested equal in distribution)"),
    neighbour_search: Optional[str] = typer.Option(None, "--neighbour-search", help="dynamic k-nearest graph: exact (default) | hnsw (approximate, needs faiss-cpu)"),
    replicates: Optional[int] = typer.Option(None, "--replicates", help="number of replicates (default 1)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="root seed; replicate i: SeedSequence(seed).spawn(n)[i] (default 0)"),
    out: Path = typer.Option(Path("results/run"), "--out", help="output folder (default results/run)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an output folder that holds another run's files"),
    keep_weights: bool = typer.Option(False, "--keep-weights", help="also write weights.npz (large)"),
    example: Optional[str] = typer.Option(None, "--example", help="draw the first replicate of this silo pattern (consensus | stable | unstable | decaying) instead of replicate 0"),
) -> None:
    """Simulate the interacting-GMM model and write tables, IDs, figures and provenance to --out."""
    from igmm.config import ConfigError, load_yaml, make_config, resolve_relative_paths
    from igmm.networks import parse_network_option
    from igmm.storage import OutputError, check_output_folder

    try:
        values = resolve_relative_paths(load_yaml(config), config.resolve().parent) if config else {}
        run_settings = {key: values.pop(key) for key in RUN_KEYS if key in values}
        seed_value, n_reps = _run_settings(run_settings, seed, replicates, str(config) if config else None)
        resolved = make_config(
            values, source=str(config) if config else None, n_agents=n_agents, n_components=n_components, p=p, k=k,
            r=r, T=T, sigma=sigma, delta=delta, geometry=geometry, dynamics=dynamics, rag_policy=rag_policy,
            em_iterations=em_iterations, network=typed_values(parse_network_option(network)) if network is not None else None,
            initial=parse_named([initial], "--initial")[0] if initial is not None else None,
            modifiers=parse_named(modifier, "--modifier") or None,
            dynamics_options=_dynamics_options(dynamics_option, values),
            measures=list(measure) if measure else None, plugins=list(plugin) if plugin else None, backend=backend,
            neighbour_search=neighbour_search,
        )
        if example is not None:
            _check_pattern(example)
        check_output_folder(out, overwrite)
    except ConfigError as err:
        fail(err.lines)
    except (ValueError, OutputError) as err:
        fail(str(err))
    _simulate_and_write(resolved, seed_value, n_reps, out, overwrite, keep_weights, example)


def _dynamics_options(texts: list[str] | None, values: dict) -> dict | None:
    """``--dynamics-option key=value`` flags over the config file's ``dynamics_options``."""
    if not texts:
        return None
    from igmm.networks import parse_key_values

    for text in texts:  # an empty flag is a mistake, not "no options"
        if "=" not in text:
            raise ValueError(f"--dynamics-option: {text!r} is not allowed: write key=value, e.g. epsilon=0.3")
    parsed = typed_values(parse_key_values("options:" + ",".join(texts), "--dynamics-option"))
    parsed.pop("kind")
    return dict(values.get("dynamics_options") or {}) | parsed


def _run_settings(values: dict, seed: int | None, replicates: int | None, source: str | None) -> tuple[int, int]:
    """Root seed and replicates: flags over the config file over the defaults (0, 1), each checked."""
    from igmm.config import ConfigError

    prefix = f"{source}: " if source else ""
    chosen = {"seed": seed if seed is not None else values.get("seed", 0),
              "replicates": replicates if replicates is not None else values.get("replicates", 1)}
    lines = []
    for name, lowest in (("seed", 0), ("replicates", 1)):
        value = chosen[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
            lines.append(f"{prefix}{name}: {value!r} is not allowed: must be an integer >= {lowest}")
    if lines:
        raise ConfigError(lines)
    return chosen["seed"], chosen["replicates"]


def _check_pattern(pattern: str) -> None:
    from igmm.metrics import PATTERN_NAMES

    if pattern not in PATTERN_NAMES:
        raise ValueError(f"--example: {pattern!r} is not allowed: choose one of {', '.join(PATTERN_NAMES)}")


def _simulate_and_write(resolved, seed: int, n_reps: int, out: Path, overwrite: bool, keep_weights: bool,
                        example: str | None) -> None:
    from igmm import provenance
    from igmm.api import replicate_seeds, run_config_dict, simulate_seeds, write_result
    from igmm.dynamics import NumericalError
    from igmm.storage import OutputError, output_folder

    started = provenance.now()
    try:
        with progress_bar(resolved.n_steps, "simulating") as bar:
            result = simulate_seeds(resolved, replicate_seeds(seed, n_reps), keep_weights=keep_weights,
                                    on_step=lambda _t: bar.update(1))
    except NumericalError as err:
        fail(str(err), EXIT_NUMERICAL)
    shown, note = _example(result, example)
    try:
        with output_folder(out, overwrite) as folder:
            written = write_result(result, folder, example=shown, example_note=note)
            config = run_config_dict(result.config, seed, n_reps)
            written.append(provenance.write(provenance.record(
                config, result.config.digest(), seed, started,
                {"replicates": n_reps, "backend": resolved.resolved_backend, "example_replicate": shown}), folder))
    except OutputError as err:
        fail(str(err), EXIT_OUTPUT)
    _warn_if_closed_at_start(result)
    converged = result.runs["converged"]
    typer.echo(
        f"{n_reps} replicate(s), T = {resolved.n_steps}: {int(converged.sum())} reached one silo; "
        f"mean final silos {result.runs['n_silos_final'].mean():.2f}. Wrote {len(written)} files to {out}/"
    )


def _example(result, pattern: str | None) -> tuple[int, str]:
    """Replicate drawn in the figures, and what the title should add about how it was chosen."""
    if pattern is None:
        return 0, ""
    from igmm.stats import proportion

    found = result.example(pattern)
    count = int((result.runs["pattern"] == pattern).sum())
    share = proportion(count, len(result.runs))
    typer.echo(f"{pattern}: {count} of {len(result.runs)} replicates (95% interval {share.low:.2f}-{share.high:.2f})",
               err=True)
    if found is None:
        typer.echo(f"warning: no {pattern} run among {len(result.runs)} replicates; the figures show replicate 0",
                   err=True)
        return 0, ""
    return found, f", the first {pattern} one"


def _warn_if_closed_at_start(result) -> None:
    closed = result.series["polarized"][:, 0]
    if closed.any():
        typer.echo(
            f"warning: the initial state is already closed (polarized at t = 0) in {int(closed.sum())} of "
            f"{len(closed)} replicate(s): every agent's neighbourhood lies inside its own silo, so no ID can change "
            "(one-hot agents with n / K >= k + 1 per opinion). Use a heterogeneous start, e.g. "
            "--initial dirichlet:alpha=0.5", err=True)


def _register_subcommands() -> None:
    """Attach the command groups that live beside their subpackages."""
    from igmm.llm.cli import app as llm_app

    app.add_typer(llm_app, name="llm", help="Language-model transcripts and live runs, with the same measures.")
    from igmm.experiments.cli import reproduce_command

    app.command("reproduce")(reproduce_command)

    from igmm.pipeline.cli import summarize, sweep

    app.command("sweep")(sweep)
    app.command("summarize")(summarize)

    from igmm.explore.cli import explore_command

    app.command("explore")(explore_command)

    from igmm.calibrate.cli import calibrate_command

    app.command("calibrate")(calibrate_command)


_register_subcommands()


def main() -> None:
    """Entry point of the ``igmm`` console script."""
    app()


if __name__ == "__main__":
    main()
