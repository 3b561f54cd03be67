"""The one generic experiment runner: a spec in, a sweep folder, figures and ``summary.md`` out.

An experiment is a sweep spec (:meth:`ExperimentSpec.sweep_values`) plus
reads plus a figure. :func:`reproduce` runs the sweep through the one
pipeline (:func:`igmm.pipeline.runner.run_sweep`: resumable after a kill,
any executor, the same tables as ``igmm sweep``), then reads its tables,
compares them with the paper's reads and draws the figure. Nothing here is
specific to one experiment; the differences live in the YAML specs and in
the name -> function tables :data:`RUNNERS` and
:data:`igmm.experiments.figures.FIGURES`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from igmm.experiments.reads import compare_reads, summary_markdown
from igmm.experiments.spec import ExperimentSpec, load_spec
from igmm.pipeline import store
from igmm.pipeline.spec import make_spec, point_key
from igmm.storage import write_parquet, write_text
from igmm.tables import STEP_SCHEMA


@dataclass(eq=False)
class VariantResult:
    """One variant (grid point) of an experiment, read back from its sweep folder.

    Attributes
    ----------
    keys : dict
        The overrides that define the variant (its swept values).
    point : str
        Its point key in the sweep folder.
    ids : ndarray of int16, shape (n_reps, n_steps + 1, n_agents)
    runs : DataFrame
        Its rows of the runs table (with the swept values and derived columns).
    steps : DataFrame
        Its rows of the per-step table.
    example : int
        The replicate drawn in the figure.
    example_note : str
        How it was chosen (``summary.md``).
    example_label : str
        The same, short, for the panel title.
    """

    keys: dict[str, Any]
    point: str
    ids: np.ndarray
    runs: pd.DataFrame
    steps: pd.DataFrame
    example: int = 0
    example_note: str = ""
    example_label: str = ""

    @property
    def traces(self) -> dict[str, np.ndarray]:
        """Extra per-step measures as arrays of shape (n_reps, n_steps + 1)."""
        extra = [c for c in self.steps.columns if c not in STEP_SCHEMA.names]
        n_reps = self.ids.shape[0]
        return {name: self.steps[name].to_numpy().reshape(n_reps, -1) for name in extra}


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


#: "At the floor" means within this factor of it: one decade on the log axis of the paper's figure,
#: where sigma falls from ~5 to the floor in a step or two. After consensus the refitted sigma of the
#: common component keeps a sampling spread above the floor (0.010-0.021 in the drawn run), so a
#: tighter factor such as 2 dates the fall by the last upward flicker instead of by the fall.
FLOOR_FACTOR = 10.0


def sigma_stats(traces: dict[str, np.ndarray], floor: float) -> dict[str, np.ndarray]:
    """Peak, time of the peak and time the series settles near the floor, per run, for each sigma trace.

    ``t_*_floor`` is the first t from which the series stays within
    :data:`FLOOR_FACTOR` of the floor up to T (T + 1 when it never settles).
    """
    columns: dict[str, np.ndarray] = {}
    for name, series in traces.items():
        prefix = name.removeprefix("max_")  # sigma, id_sigma
        at_floor = series <= FLOOR_FACTOR * floor
        settled = np.flip(np.logical_and.accumulate(np.flip(at_floor, -1), axis=-1), -1)
        columns[f"{prefix}_peak"] = series.max(axis=-1)
        columns[f"t_{prefix}_peak"] = np.argmax(series, axis=-1).astype(np.int64)
        columns[f"t_{prefix}_floor"] = np.where(settled.any(-1), np.argmax(settled, -1), series.shape[-1]).astype(np.int64)
    return columns


def choose_example(runs: pd.DataFrame, pattern: str | None) -> tuple[int, str, str]:
    """The replicate an experiment draws, how it was chosen (see :class:`~igmm.experiments.spec.ExampleRule`),
    and the same in two short lines for a panel title."""
    if pattern is None:
        return 0, "", ""
    n_runs = len(runs)
    matches = np.flatnonzero(runs["pattern"].to_numpy() == pattern)
    if matches.size:
        index = int(matches[0])
        return (index, f"replicate {index}: the first of {n_runs} classified {pattern} ({matches.size} are)",
                f"replicate {index}: first {pattern}\n({matches.size} of {n_runs} are)")
    index = int(np.argmax(runs["t_star"].to_numpy()))
    t_star = int(runs["t_star"].iloc[index])
    return (index, f"replicate {index}: none of {n_runs} is {pattern}; the one split longest (t* = {t_star})",
            f"replicate {index}: split longest\n(t* = {t_star}; none {pattern})")


def _variants(spec: ExperimentSpec, out_dir: Path) -> list[VariantResult]:
    """Every variant's tables and trajectories from the experiment's sweep folder."""
    runs = store.read_runs(out_dir)
    steps = store.read_steps(out_dir)
    variants = []
    for overrides in spec.variant_overrides():
        key = point_key(overrides)
        point_runs = runs[runs["point"] == key].reset_index(drop=True)
        point_steps = steps[steps["point"] == key].reset_index(drop=True)
        variant = VariantResult(keys=overrides, point=key, ids=store.read_ids(out_dir, key), runs=point_runs,
                                steps=point_steps)
        if variant.traces:
            from igmm.dynamics.moving_variance import SIGMA_FLOOR

            for name, values in sigma_stats(variant.traces, SIGMA_FLOOR).items():
                variant.runs[name] = values
        variant.example, variant.example_note, variant.example_label = choose_example(point_runs, spec.example.pattern if spec.example else None)
        variants.append(variant)
    return variants


def _perspective(spec: ExperimentSpec, variant: VariantResult, seed: int, out_dir: Path) -> list[Path]:
    """Perspective space of variant 0's example run: that replicate alone again, keeping its weights (same seed, same run)."""
    from igmm.api import simulate_seeds
    from igmm.config import make_config
    from igmm.pipeline.spec import point_seeds
    from igmm.plots.perspective import plot_perspective
    from igmm.plots.trajectories import save_figure

    config = make_config(spec.base | variant.keys)
    result = simulate_seeds(config, point_seeds(seed, variant.point, variant.example, 1), keep_weights=True)
    steps = [t for t in spec.perspective_steps if t <= config.n_steps]
    title = ("perspective space (CMDS of weight distances), " + ", ".join(f"{k} = {v}" for k, v in variant.keys.items())
             + f"; {variant.example_note or f'replicate {variant.example}'}")
    fig = plot_perspective(result.weights[0], result.ids[0], steps, title=title)
    return save_figure(fig, out_dir / "perspective", ("png", "pdf"))


def _run_gmm(spec: ExperimentSpec, out_dir: Path, quick: bool, seed: int, executor=None) -> ExperimentResult:
    from igmm.experiments.figures import FIGURES
    from igmm.pipeline.runner import run_sweep

    start = time.perf_counter()
    sweep = make_spec(spec.sweep_values(seed))
    outcome = run_sweep(sweep, out_dir, executor=executor, progress=False)
    if outcome.failed:
        raise RuntimeError(f"{spec.name}: {len(outcome.failed)} task(s) failed (see {out_dir}/failures.yaml)")
    variants = _variants(spec, out_dir)
    runs = pd.concat([v.runs for v in variants], ignore_index=True)
    reads = compare_reads(spec.reads, runs, {v.point: v.example for v in variants})
    files = [write_parquet(reads, out_dir / "reads.parquet")]
    files += FIGURES[spec.plot](spec, variants, out_dir)
    if spec.perspective_steps:
        files += _perspective(spec, variants[0], seed, out_dir)
    seconds = time.perf_counter() - start
    files.append(write_text(summary_markdown(spec, runs, reads, quick, seed, seconds, variants), out_dir / "summary.md"))
    return ExperimentResult(spec, out_dir, variants, reads, files, seconds)


def _run_group(spec: ExperimentSpec, out_dir: Path, quick: bool, seed: int, executor=None) -> ExperimentResult:
    from igmm.experiments.figures import group_figure

    start = time.perf_counter()
    members = [reproduce(name, out_dir / name, quick=quick, seed=seed, executor=executor) for name in spec.members]
    files = group_figure(spec, members, out_dir)
    reads = pd.concat([m.reads.assign(experiment=m.spec.name) for m in members], ignore_index=True)
    seconds = time.perf_counter() - start
    text = "\n\n".join([f"# {spec.title}", spec.description] + [f"See [{m.spec.name}]({m.spec.name}/summary.md)." for m in members])
    files.append(write_text(text + "\n", out_dir / "summary.md"))
    return ExperimentResult(spec, out_dir, [], reads, files, seconds, members)


def _run_llm_comparison(spec: ExperimentSpec, out_dir: Path, quick: bool, seed: int, executor=None) -> ExperimentResult:
    from igmm.llm.comparison import run_comparison

    start = time.perf_counter()
    run_comparison(None, out_dir, quick=quick, seed=seed, formats=("png", "pdf"), executor=executor)
    comparison = out_dir / "comparison.md"
    header = f"# {spec.name}: {spec.title}\n\n{spec.description.strip()}\n\n"
    write_text(header + (comparison.read_text() if comparison.exists() else ""), out_dir / "summary.md")
    files = sorted(p for p in out_dir.rglob("*") if p.is_file())
    return ExperimentResult(spec, out_dir, [], pd.DataFrame(), files, time.perf_counter() - start)


#: Spec ``runner`` -> function running it.
RUNNERS: dict[str, Callable[..., ExperimentResult]] = {
    "gmm": _run_gmm,
    "group": _run_group,
    "llm-comparison": _run_llm_comparison,
}


def default_folder(name: str, quick: bool) -> Path:
    """``results/NAME``, or ``results/NAME-quick`` for the reduced version (never the full results' folder)."""
    return Path("results") / (f"{name}-quick" if quick else name)


def reproduce(name: str, out_dir: str | Path | None = None, quick: bool = False, seed: int = 0,
              executor=None) -> ExperimentResult:
    """Run experiment ``name`` (or resume it) and write its outputs.

    Parameters
    ----------
    name : str
        A name from :func:`igmm.experiments.spec.experiment_names`.
    out_dir : path-like, optional
        Default :func:`default_folder`. A sweep folder: running again resumes.
    quick : bool
        The reduced version (fewer replicates, shorter, fewer grid points).
    seed : int
        Root seed; replicate i of a variant uses ``SeedSequence(seed, spawn_key=(*key, i))``
        with ``key`` the variant's value key.
    executor : igmm.pipeline.executors.Executor, optional
        Default: a process pool on every core.

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
    out_dir = Path(out_dir) if out_dir is not None else default_folder(name, quick)
    out_dir.mkdir(parents=True, exist_ok=True)
    return RUNNERS[runner](spec.resolved(quick), out_dir, quick, seed, executor)
