"""The one generic runner: a spec in, tidy tables, figures and ``summary.md`` out.

Pipeline: list the variants (plain dicts of config overrides) -> simulate each
as one batch of replicates (variant v, replicate i: spawn key ``(v, i)``) ->
concatenate tidy tables -> compare with the reads -> plot. Nothing here is
specific to one experiment; the differences live in the YAML specs and in the
name -> function tables :data:`RUNNERS` and :data:`igmm.experiments.figures.FIGURES`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from igmm.config import SimulationConfig, make_config
from igmm.experiments.reads import compare_reads, summary_markdown
from igmm.experiments.spec import ExperimentSpec, load_spec
from igmm.metrics import classify_patterns, silo_sizes, stability
from igmm.simulate import replicate_seeds, simulate_seeds
from igmm.storage import write_npz, write_parquet, write_text, write_yaml
from igmm.tables import metrics_table, runs_table


@dataclass(eq=False)
class VariantResult:
    """One variant's batch of replicates.

    Attributes
    ----------
    keys : dict
        The overrides that define the variant (key columns of its rows).
    ids : ndarray of int16, shape (n_reps, n_steps + 1, n_agents)
    metrics, runs : DataFrame
        Tidy tables with the key columns first.
    traces : dict of name -> ndarray of shape (n_reps, n_steps + 1)
        Extra per-step series (e.g. the largest sigma).
    """

    keys: dict[str, Any]
    ids: np.ndarray
    metrics: pd.DataFrame
    runs: pd.DataFrame
    traces: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(eq=False)
class ExperimentResult:
    """Everything one experiment produced (members of a group in ``members``)."""

    spec: ExperimentSpec
    out_dir: Path
    variants: list[VariantResult]
    reads: pd.DataFrame
    files: list[Path]
    seconds: float
    members: list["ExperimentResult"] = field(default_factory=list)

    @property
    def runs(self) -> pd.DataFrame:
        return pd.concat([v.runs for v in self.variants], ignore_index=True) if self.variants else pd.DataFrame()


def run_stats(ids: np.ndarray) -> dict[str, np.ndarray]:
    """Per-run columns beyond ``igmm.tables.RUNS_COLUMNS``, each of shape (n_reps,).

    pattern (:func:`igmm.metrics.classify_patterns`), min_stability (lowest
    Stab(t), t >= 1), last_change (last t with Stab(t) < 1; 0 when none) and
    second_silo_final (size of the second-largest silo at T; 0 with one silo).
    """
    stab = stability(ids)
    changed = stab < 1.0
    last_change = np.where(changed.any(axis=-1), stab.shape[-1] - np.argmax(changed[..., ::-1], axis=-1), 0)
    final_sizes = np.sort(silo_sizes(ids[:, -1, :], n_labels=int(ids.max()) + 1), axis=-1)
    return {
        "pattern": classify_patterns(ids),
        "min_stability": stab.min(axis=-1) if stab.shape[-1] else np.ones(len(ids)),
        "last_change": last_change.astype(np.int64),
        "second_silo_final": final_sizes[:, -2] if final_sizes.shape[-1] > 1 else np.zeros(len(ids), np.int64),
    }


def sigma_stats(traces: dict[str, np.ndarray], floor: float) -> dict[str, np.ndarray]:
    """Peak, time of the peak and time the series settles at the floor, per run, for each sigma trace.

    ``t_*_floor`` is the first t from which the series stays within 1e-9 of the
    floor up to T (T + 1 when it never settles).
    """
    columns: dict[str, np.ndarray] = {}
    for name, series in traces.items():
        prefix = name.removeprefix("max_")  # sigma, id_sigma
        at_floor = series <= floor + 1e-9
        settled = np.flip(np.logical_and.accumulate(np.flip(at_floor, -1), axis=-1), -1)
        columns[f"{prefix}_peak"] = series.max(axis=-1)
        columns[f"t_{prefix}_peak"] = np.argmax(series, axis=-1).astype(np.int64)
        columns[f"t_{prefix}_floor"] = np.where(settled.any(-1), np.argmax(settled, -1), series.shape[-1]).astype(np.int64)
    return columns


#: What a simulator returns: ids, per-step traces, metrics table, runs table.
Simulated = tuple[np.ndarray, dict[str, np.ndarray], pd.DataFrame, pd.DataFrame]


def _simulate_plain(config: SimulationConfig, seeds: Sequence[np.random.SeedSequence]) -> Simulated:
    """The engine's batch run (:func:`igmm.simulate.simulate_seeds`), no extra traces."""
    result = simulate_seeds(config, seeds)
    return result.ids, {}, result.metrics, result.runs


def _simulate_tracking_sigmas(config: SimulationConfig, seeds: Sequence[np.random.SeedSequence]) -> Simulated:
    """Moving-variance runs that also record the largest sigmas (same draws as the engine's run)."""
    from igmm.dynamics.moving_variance import SIGMA_FLOOR, run_tracking_sigmas

    rngs = [np.random.default_rng(seq) for seq in seeds]
    ids, max_sigma, max_id_sigma = run_tracking_sigmas(config.to_params(), rngs, config.n_steps)
    traces = {"max_sigma": max_sigma, "max_id_sigma": max_id_sigma}
    replicates = [seq.spawn_key[-1] for seq in seeds]
    metrics = metrics_table(ids, replicates, extra=traces)
    runs = runs_table(ids, [seq.entropy for seq in seeds], [seq.spawn_key for seq in seeds], replicates,
                      extra=sigma_stats(traces, SIGMA_FLOOR))
    return ids, traces, metrics, runs


#: Plot kind -> how a variant is simulated (the moving-variance figure needs the sigma traces).
SIMULATORS: dict[str, Callable[[SimulationConfig, Sequence[np.random.SeedSequence]], Simulated]] = {"moving-variance": _simulate_tracking_sigmas}


def run_variant(spec: ExperimentSpec, index: int, overrides: dict[str, Any], seed: int) -> VariantResult:
    """Simulate variant ``index`` of ``spec``: replicate i uses spawn key ``(index, i)`` under ``seed``."""
    config = make_config(spec.base | overrides)
    seeds = replicate_seeds(seed, spec.replicates, prefix=(index,))
    simulate = SIMULATORS.get(spec.plot, _simulate_plain)
    ids, traces, metrics, runs = simulate(config, seeds)
    for name, value in run_stats(ids).items():
        runs[name] = value
    keys = {"variant": index} | overrides
    return VariantResult(keys=overrides, ids=ids, metrics=_keyed(metrics, keys), runs=_keyed(runs, keys), traces=traces)


def _keyed(frame: pd.DataFrame, keys: dict[str, Any]) -> pd.DataFrame:
    for position, (name, value) in enumerate(keys.items()):
        frame.insert(position, name, value)
    return frame


def _perspective(spec: ExperimentSpec, overrides: dict[str, Any], seed: int, out_dir: Path) -> list[Path]:
    """Perspective space of variant 0, replicate 0: re-run that replicate alone keeping its weights (same seed, same run)."""
    from igmm.plots.perspective import plot_perspective
    from igmm.plots.trajectories import save_figure

    config = make_config(spec.base | overrides)
    result = simulate_seeds(config, replicate_seeds(seed, 1, prefix=(0,)), keep_weights=True)
    steps = [t for t in spec.perspective_steps if t <= config.n_steps]
    title = "perspective space (CMDS of weight distances), " + ", ".join(f"{k} = {v}" for k, v in overrides.items())
    fig = plot_perspective(result.weights[0], result.ids[0], steps, title=title)
    return save_figure(fig, out_dir / "perspective", ("png", "pdf"))


def _write_tables(variants: list[VariantResult], out_dir: Path) -> list[Path]:
    metrics = pd.concat([v.metrics for v in variants], ignore_index=True)
    runs = pd.concat([v.runs for v in variants], ignore_index=True)
    arrays = {f"ids_{i}": v.ids for i, v in enumerate(variants)}
    arrays |= {f"{name}_{i}": trace for i, v in enumerate(variants) for name, trace in v.traces.items()}
    return [
        write_parquet(metrics, out_dir / "metrics.parquet"),
        write_parquet(runs, out_dir / "runs.parquet"),
        write_npz(out_dir / "ids.npz", **arrays),
        write_yaml([{"variant": i} | v.keys for i, v in enumerate(variants)], out_dir / "variants.yaml"),
    ]


def _run_gmm(spec: ExperimentSpec, out_dir: Path, quick: bool, seed: int) -> ExperimentResult:
    from igmm.experiments.figures import FIGURES

    start = time.perf_counter()
    variants = [run_variant(spec, i, overrides, seed) for i, overrides in enumerate(spec.variant_overrides())]
    runs = pd.concat([v.runs for v in variants], ignore_index=True)
    reads = compare_reads(spec.reads, runs)
    files = _write_tables(variants, out_dir)
    files.append(write_parquet(reads, out_dir / "reads.parquet"))
    files += FIGURES[spec.plot](spec, variants, out_dir)
    if spec.perspective_steps:
        files += _perspective(spec, spec.variant_overrides()[0], seed, out_dir)
    seconds = time.perf_counter() - start
    files.append(write_text(summary_markdown(spec, runs, reads, quick, seed, seconds), out_dir / "summary.md"))
    return ExperimentResult(spec, out_dir, variants, reads, files, seconds)


def _run_group(spec: ExperimentSpec, out_dir: Path, quick: bool, seed: int) -> ExperimentResult:
    from igmm.experiments.figures import group_figure

    start = time.perf_counter()
    members = [reproduce(name, out_dir / name, quick=quick, seed=seed) for name in spec.members]
    files = group_figure(spec, members, out_dir)
    reads = pd.concat([m.reads.assign(experiment=m.spec.name) for m in members], ignore_index=True)
    seconds = time.perf_counter() - start
    text = "\n\n".join([f"# {spec.title}", spec.description] + [f"See [{m.spec.name}]({m.spec.name}/summary.md)." for m in members])
    files.append(write_text(text + "\n", out_dir / "summary.md"))
    return ExperimentResult(spec, out_dir, [], reads, files, seconds, members)


def _run_llm_comparison(spec: ExperimentSpec, out_dir: Path, quick: bool, seed: int) -> ExperimentResult:
    # The LLM engineer's module; imported lazily so the registry loads without the llm extras.
    from igmm.llm.comparison import run_comparison

    start = time.perf_counter()
    run_comparison(None, out_dir, quick=quick, seed=seed, formats=("png", "pdf"))
    comparison = out_dir / "comparison.md"
    header = f"# {spec.name}: {spec.title}\n\n{spec.description.strip()}\n\n"
    write_text(header + (comparison.read_text() if comparison.exists() else ""), out_dir / "summary.md")
    files = sorted(p for p in out_dir.rglob("*") if p.is_file())
    return ExperimentResult(spec, out_dir, [], pd.DataFrame(), files, time.perf_counter() - start)


#: Spec ``runner`` -> function running it.
RUNNERS: dict[str, Callable[[ExperimentSpec, Path, bool, int], ExperimentResult]] = {
    "gmm": _run_gmm,
    "group": _run_group,
    "llm-comparison": _run_llm_comparison,
}


def reproduce(name: str, out_dir: str | Path | None = None, quick: bool = False, seed: int = 0) -> ExperimentResult:
    """Run experiment ``name`` and write its outputs.

    Parameters
    ----------
    name : str
        A name from :func:`igmm.experiments.spec.experiment_names`.
    out_dir : path-like, optional
        Default ``results/NAME``.
    quick : bool
        The reduced version (fewer replicates, shorter, fewer grid points).
    seed : int
        Root seed; variant v, replicate i uses ``SeedSequence(seed, spawn_key=(v, i))``.

    Returns
    -------
    ExperimentResult

    Raises
    ------
    igmm.experiments.spec.UnknownExperiment
        For an unknown name (the message lists the valid ones).
    """
    spec = load_spec(name)
    runner = "group" if spec.members else spec.runner
    out_dir = Path(out_dir) if out_dir is not None else Path("results") / name
    return RUNNERS[runner](spec.resolved(quick), out_dir, quick, seed)
