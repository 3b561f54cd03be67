"""Per-grid-point statistics of a sweep: silos, consensus, polarization, silo patterns.

Statistics (``n`` runs at a point):

- ``silos_final_mean``, ``silos_final_se``: mean of S(T) and its standard
  error ``sd / sqrt(n)`` (``ddof = 1``; NaN when n = 1).
- ``p_one_silo``: share of runs with S(T) = 1, with a 95% Wilson score
  interval ``p_one_silo_lo``, ``p_one_silo_hi``.
- ``p_polarized``: share of runs polarized at some t <= T (first hitting time
  ``t_polarized >= 0``), Wilson interval; ``p_polarized_final``: polarized at T.
- ``t_star_median``: Kaplan-Meier median of the consensus time t*, runs that
  had not reached one silo at T censored at T. NaN when fewer than half the
  runs are known to have converged (the median is then "> T", censored).
- ``pattern_<name>``: share of runs of each silo pattern.
- ``polarized_max_silos``: the most silos seen in any polarized state of the
  point's runs (0 when none), against ``polarization_bound`` = floor(n / (k + 1)).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from igmm.metrics.polarization import max_polarized_silos
from igmm.metrics.survival import kaplan_meier_median
from igmm.sweep import store

#: Two-sided 95% normal quantile.
Z_95 = 1.959963984540054
PATTERN_NAMES = ("consensus", "stable", "unstable", "decaying")


def wilson_interval(successes: np.ndarray, n_trials: np.ndarray, z: float = Z_95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion.

    Parameters
    ----------
    successes, n_trials : array_like of int, same shape
    z : float
        Normal quantile (1.96 for 95%).

    Returns
    -------
    (lower, upper) : ndarrays of float64, the input shape; NaN where ``n_trials == 0``.

    Examples
    --------
    >>> lo, hi = wilson_interval(np.array([0]), np.array([10]))
    >>> float(lo[0]), round(float(hi[0]), 4)
    (0.0, 0.2775)
    """
    successes = np.asarray(successes, dtype=float)
    n_trials = np.asarray(n_trials, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = successes / n_trials
        denominator = 1.0 + z**2 / n_trials
        centre = (share + z**2 / (2 * n_trials)) / denominator
        half_width = z * np.sqrt(share * (1 - share) / n_trials + z**2 / (4 * n_trials**2)) / denominator
    # At 0 or n successes the bound is exactly 0 or 1; the formula leaves a rounding error there.
    lower = np.where((successes == 0) & (n_trials > 0), 0.0, np.clip(centre - half_width, 0.0, 1.0))
    upper = np.where((successes == n_trials) & (n_trials > 0), 1.0, np.clip(centre + half_width, 0.0, 1.0))
    return lower, upper


def _point_statistics(runs: pd.DataFrame) -> pd.Series:
    """Statistics of one grid point's runs (one row of the summary)."""
    n_runs = len(runs)
    silos = runs["n_silos_final"].to_numpy(dtype=float)
    converged = runs["converged"].to_numpy(dtype=bool)
    polarized_by_t = runs["t_polarized"].to_numpy() >= 0
    patterns = runs["pattern"].to_numpy(dtype=str) if "pattern" in runs else np.array([], dtype=str)
    stats = {
        "n_runs": n_runs,
        "silos_final_mean": silos.mean(),
        "silos_final_se": silos.std(ddof=1) / np.sqrt(n_runs) if n_runs > 1 else np.nan,
        "silos_final_max": int(silos.max()),
        "n_one_silo": int(converged.sum()),
        "p_one_silo": converged.mean(),
        "n_polarized": int(polarized_by_t.sum()),
        "p_polarized": polarized_by_t.mean(),
        "p_polarized_final": runs["polarized_final"].to_numpy(dtype=bool).mean(),
        "t_star_median": kaplan_meier_median(runs["t_star"].to_numpy(), converged),
        "polarized_max_silos": int(runs["max_silos_polarized"].max()),
    }
    for name in PATTERN_NAMES:
        stats[f"pattern_{name}"] = np.mean(patterns == name) if patterns.size else np.nan
    return pd.Series(stats)


def summarize_runs(runs: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    """One row per grid point with the statistics of the module docstring.

    Parameters
    ----------
    runs : DataFrame
        Runs rows of a sweep (:func:`igmm.sweep.store.read_runs`).
    points : DataFrame
        Points table (:func:`igmm.sweep.store.read_points`): ``point``, the
        swept values and the resolved ``cfg_*`` configuration.

    Returns
    -------
    DataFrame
        ``point``, swept values, ``n_agents``, ``k``, ``T``, then the
        statistics; only points with at least one finished run.
    """
    stats = runs.groupby("point", sort=True).apply(_point_statistics, include_groups=False).reset_index()
    axes = [column for column in points.columns if column != "point" and not column.startswith("cfg_")]
    resolved = points[["point", *axes]].assign(
        n_agents=points["cfg_n_agents"], k_resolved=points["cfg_k"], T=points["cfg_T"]
    )
    summary = resolved.merge(stats, on="point", how="inner")
    lower, upper = wilson_interval(summary["n_one_silo"], summary["n_runs"])
    summary.insert(summary.columns.get_loc("p_one_silo") + 1, "p_one_silo_lo", lower)
    summary.insert(summary.columns.get_loc("p_one_silo_lo") + 1, "p_one_silo_hi", upper)
    lower, upper = wilson_interval(summary["n_polarized"], summary["n_runs"])
    summary.insert(summary.columns.get_loc("p_polarized") + 1, "p_polarized_lo", lower)
    summary.insert(summary.columns.get_loc("p_polarized_lo") + 1, "p_polarized_hi", upper)
    summary["polarization_bound"] = [
        max_polarized_silos(int(n), int(k)) for n, k in zip(summary["n_agents"], summary["k_resolved"])
    ]
    summary["bound_holds"] = summary["polarized_max_silos"] <= summary["polarization_bound"]
    counts = ("n_runs", "silos_final_max", "n_one_silo", "n_polarized", "polarized_max_silos")
    return summary.astype({column: "int64" for column in counts})


def step_curves(steps: pd.DataFrame) -> pd.DataFrame:
    """Per grid point and step, averages over the point's runs.

    Parameters
    ----------
    steps : DataFrame
        Step rows of a sweep (:func:`igmm.sweep.store.read_steps`).

    Returns
    -------
    DataFrame
        Columns ``point, t, n_runs, silos_mean, stability_mean, p_one_silo,
        p_polarized``: mean S(t), mean Stab(t) (NaN at t = 0), and the shares
        of runs with one silo and polarized at t; sorted by (point, t).
    """
    with_flags = steps.assign(one_silo=steps["n_silos"] == 1)
    curves = with_flags.groupby(["point", "t"], sort=True).agg(
        n_runs=("replicate", "size"),
        silos_mean=("n_silos", "mean"),
        stability_mean=("stability", "mean"),
        p_one_silo=("one_silo", "mean"),
        p_polarized=("polarized", "mean"),
    )
    return curves.reset_index()


def swept_axes(points: pd.DataFrame) -> list[str]:
    """Names of the swept parameters (points-table columns that are neither ``point`` nor ``cfg_*``)."""
    return [column for column in points.columns if column != "point" and not column.startswith("cfg_")]


#: Heatmaps drawn by default, when they exist in the summary.
DEFAULT_VALUES = ("silos_final_mean", "p_one_silo", "p_polarized", "t_star_median", "pattern_unstable")


def write_summary(
    out_dir: str | Path,
    x: str | None = None,
    y: str | None = None,
    values: list[str] | None = None,
    formats: tuple[str, ...] = ("png",),
) -> tuple[pd.DataFrame, list[Path]]:
    """Summarise the sweep in ``out_dir``: tables and phase-diagram heatmaps under ``out_dir/summary``.

    Files: ``summary.parquet`` and ``summary.csv`` (:func:`summarize_runs`),
    ``curves.parquet`` (:func:`step_curves`), ``phase-<value>.<format>``.

    Parameters
    ----------
    out_dir : str or Path
    x, y : str, optional
        Grid axes of the heatmaps (default: the first two swept axes).
    values : list of str, optional
        Summary columns to draw (default: :data:`DEFAULT_VALUES`).
    formats : tuple of str
        Figure file types, e.g. ``("png", "pdf")``.

    Returns
    -------
    (summary, written) : DataFrame and the list of files written.

    Raises
    ------
    ValueError
        No finished runs, or an unknown axis or value name.
    """
    from igmm.plots.phase import plot_phase
    from igmm.plots.trajectories import save_figure
    from igmm.storage import write_parquet, write_text

    out_dir = Path(out_dir)
    runs = store.read_runs(out_dir)
    if runs.empty:
        raise ValueError(f"{out_dir}: no finished runs to summarise (run `igmm sweep` first)")
    points = store.read_points(out_dir)
    summary = summarize_runs(runs, points)
    folder = out_dir / "summary"
    written = [
        write_parquet(summary, folder / "summary.parquet"),
        write_text(summary.to_csv(index=False), folder / "summary.csv"),
        write_parquet(step_curves(store.read_steps(out_dir)), folder / "curves.parquet"),
    ]
    axes = swept_axes(points)
    x, y = _heatmap_axes(axes, x, y)
    if x is None:
        return summary, written
    unknown = [value for value in values or [] if value not in summary.columns]
    if unknown:
        raise ValueError(f"value: {unknown[0]!r} is not a summary column; choose from {', '.join(summary.columns)}")
    for value in values or [value for value in DEFAULT_VALUES if value in summary.columns]:
        written += save_figure(plot_phase(summary, x=x, y=y, value=value), folder / f"phase-{value}", formats)
    return summary, written


def _heatmap_axes(axes: list[str], x: str | None, y: str | None) -> tuple[str | None, str | None]:
    """Validate or default the heatmap axes; (None, None) when fewer than two axes were swept."""
    for name in (x, y):
        if name is not None and name not in axes:
            raise ValueError(f"axis: {name!r} is not a swept axis; choose from {', '.join(axes) or '(none)'}")
    remaining = [axis for axis in axes if axis not in (x, y)]
    x = x or (remaining.pop(0) if remaining else None)
    y = y or (remaining.pop(0) if remaining else None)
    if x is None or y is None or x == y:
        return None, None
    return x, y
