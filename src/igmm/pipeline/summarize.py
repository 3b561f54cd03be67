"""Per-grid-point statistics of a sweep and its figures (``igmm summarize``).

The statistics are :func:`igmm.stats.group_statistics` of each point's runs
(means with 95% t intervals, proportions with Wilson intervals, the
Kaplan-Meier median of t*, pattern shares), plus the polarization check:
``polarized_max_silos`` (the most silos seen in a polarized state) against
``polarization_bound`` = floor(n / (k + 1)), which holds for the dynamic
k-nearest graph only; under a static network the bound is not defined and
the column is empty.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from igmm.metrics.polarization import max_polarized_silos
from igmm.pipeline import store
from igmm.stats import LEVEL, group_statistics


def summarize_runs(runs: pd.DataFrame, points: pd.DataFrame, level: float = LEVEL) -> pd.DataFrame:
    """One row per grid point with finished runs: its swept values, resolved n, k, T, and the statistics.

    Parameters
    ----------
    runs : DataFrame
        A sweep's runs (:func:`igmm.pipeline.store.read_runs`).
    points : DataFrame
        Its points table (:func:`igmm.pipeline.store.read_points`).
    level : float
        Coverage of the intervals.
    """
    stats = group_statistics(runs.drop(columns=[c for c in store.swept_axes(points) if c in runs]), ["point"], level)
    axes = store.swept_axes(points)
    resolved = points[["point", "index", *axes]].assign(
        n_agents=points["cfg_n_agents"], k_resolved=points["cfg_k"], T=points["cfg_T"],
        network=points.get("cfg_network", pd.Series([""] * len(points))),
    )
    summary = resolved.merge(stats, on="point", how="inner").sort_values("index", ignore_index=True)
    dynamic = summary["network"].fillna("") == ""
    bound = [max_polarized_silos(int(n), int(k)) for n, k in zip(summary["n_agents"], summary["k_resolved"])]
    summary["polarization_bound"] = np.where(dynamic, bound, np.nan)
    summary["bound_holds"] = np.where(dynamic, summary["polarized_max_silos"] <= summary["polarization_bound"], np.nan)
    return summary.drop(columns=["index"])


def step_curves(steps: pd.DataFrame) -> pd.DataFrame:
    """Per grid point and step, averages over the point's runs.

    Returns
    -------
    DataFrame
        Columns ``point, t, n_runs, silos_mean, stability_mean, p_one_silo,
        p_polarized``, sorted by (point, t).
    """
    with_flags = steps.assign(one_silo=steps["n_silos"] == 1,
                              polarized=steps["polarized"].astype("float64"))
    curves = with_flags.groupby(["point", "t"], sort=True).agg(
        n_runs=("replicate", "size"),
        silos_mean=("n_silos", "mean"),
        stability_mean=("stability", "mean"),
        p_one_silo=("one_silo", "mean"),
        p_polarized=("polarized", "mean"),
    )
    return curves.reset_index()


#: Figures drawn by default, when they exist in the summary.
DEFAULT_VALUES = ("silos_final_mean", "p_one_silo", "p_polarized", "t_star_median", "pattern_unstable")


def write_summary(
    out_dir: str | Path,
    x: str | None = None,
    y: str | None = None,
    values: list[str] | None = None,
    formats: tuple[str, ...] = ("png", "pdf"),
    level: float = LEVEL,
) -> tuple[pd.DataFrame, list[Path]]:
    """Summarise the sweep in ``out_dir`` into ``out_dir/summary`` (replaced as a whole, atomically).

    Files: ``summary.parquet`` and ``summary.csv`` (:func:`summarize_runs`),
    ``curves.parquet`` (:func:`step_curves`), and per value a phase diagram
    ``phase-<value>`` over two swept axes, or a line plot with intervals
    ``line-<value>`` over one.

    Raises
    ------
    ValueError
        No finished runs, damaged shards, or an unknown axis or value name.
    """
    from igmm.plots.phase import plot_phase, plot_line
    from igmm.plots.trajectories import save_figure
    from igmm.storage import output_folder, write_parquet, write_text

    out_dir = Path(out_dir)
    _, problems = store.verify_shards(out_dir)
    if problems:
        listed = "; ".join(map(str, problems[:3])) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise ValueError(f"{out_dir}: {len(problems)} stored shard(s) are damaged ({listed}); re-run `igmm sweep` on "
                         "this folder to run exactly those tasks again")
    runs = store.read_runs(out_dir, with_values=False)
    if runs.empty:
        raise ValueError(f"{out_dir}: no finished runs to summarise (run `igmm sweep` first)")
    points = store.read_points(out_dir)
    summary = summarize_runs(runs, points, level)
    axes = store.swept_axes(points)
    x, y = _plot_axes(axes, x, y)
    unknown = [value for value in values or [] if value not in summary.columns]
    if unknown:
        raise ValueError(f"value: {unknown[0]!r} is not a summary column; choose from {', '.join(summary.columns)}")
    chosen = values or [value for value in DEFAULT_VALUES if value in summary.columns and summary[value].notna().any()]
    with output_folder(out_dir / "summary", overwrite=True) as folder:
        written = [
            write_parquet(summary, folder / "summary.parquet"),
            write_text(summary.to_csv(index=False), folder / "summary.csv"),
            write_parquet(step_curves(store.read_steps(out_dir)), folder / "curves.parquet"),
        ]
        for value in chosen if x is not None else []:
            if y is not None:
                figure, name = plot_phase(summary, x=x, y=y, value=value), f"phase-{value}"
            else:
                figure, name = plot_line(summary, x=x, value=value, level=level), f"line-{value}"
            written += save_figure(figure, folder / name, formats)
    final = out_dir / "summary"
    return summary, [final / path.name for path in written]


def _plot_axes(axes: list[str], x: str | None, y: str | None) -> tuple[str | None, str | None]:
    """Validate or default the plot axes: two for phase diagrams, one for line plots, none without swept axes."""
    for name in (x, y):
        if name is not None and name not in axes:
            raise ValueError(f"axis: {name!r} is not a swept axis; choose from {', '.join(axes) or '(none)'}")
    remaining = [axis for axis in axes if axis not in (x, y)]
    x = x or (remaining.pop(0) if remaining else None)
    y = y or (remaining.pop(0) if remaining else None)
    if x is not None and x == y:
        raise ValueError(f"axis: {x!r} given for both --x and --y")
    return x, y
