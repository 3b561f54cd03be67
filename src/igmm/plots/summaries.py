"""Figures across runs: replicate summaries (mean, a labelled band, jittered runs), trajectory panels and grids."""

from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from igmm.plots.style import (  # noqa: E402
    DOUBLE_COLUMN,
    LEVEL,
    SINGLE_COLUMN,
    band_label,
    id_colourbar,
    set_suptitle,
    set_title,
)
from igmm.plots.trajectories import plot_ids, plot_silo_sizes, plot_stability  # noqa: E402

#: The authors' band: plus/minus 5 standard errors (``band_se=AUTHORS_BAND_SE``); the default is a 95% interval.
AUTHORS_BAND_SE = 5.0


def summarise_by(runs: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Mean, standard error and count of ``y`` at every value of ``x``, sorted by x.

    Returns
    -------
    DataFrame with columns x, mean, se, n.
    """
    grouped = runs.groupby(x)[y]
    table = pd.DataFrame({"mean": grouped.mean(), "se": grouped.std(ddof=1) / np.sqrt(grouped.count()),
                          "n": grouped.count()})
    return table.reset_index().sort_values(x)


def _band(table: pd.DataFrame, level: float, band_se: float | None) -> tuple[np.ndarray, str]:
    """Half-width of the band around each mean and its legend label."""
    from igmm.stats import t_quantile

    se = table["se"].fillna(0.0).to_numpy()
    if band_se is not None:
        return band_se * se, band_label(level, band_se)
    quantile = t_quantile(level, np.maximum(table["n"].to_numpy() - 1, 1))
    return quantile * se, band_label(level)


def median_interval(times: np.ndarray, observed: np.ndarray, level: float = LEVEL) -> tuple[float, float, float]:
    """Kaplan-Meier median of censored times and a distribution-free ``level`` interval for it.

    The interval is the order-statistic interval of the median (ranks from
    Binomial(n, 1/2)), with censored times counted as later than every
    observed one. That is exact here because every run is followed to the same
    T, so censoring happens only after the last possible event; the
    Kaplan-Meier curve is then the empirical one and its median the sample
    median. Bounds beyond T are ``inf``; the median is NaN when more than half
    the runs are censored (:func:`igmm.metrics.kaplan_meier_median`).

    Returns
    -------
    (median, low, high) : tuple of float
    """
    from scipy import stats as scipy_stats

    from igmm.metrics import kaplan_meier_median

    times = np.asarray(times, dtype=float)
    observed = np.asarray(observed, dtype=bool)
    ordered = np.sort(np.where(observed, times, np.inf))
    n = len(ordered)
    low_rank = max(int(scipy_stats.binom.ppf((1 - level) / 2, n, 0.5)), 1)
    high_rank = min(n - low_rank + 1, n)
    return kaplan_meier_median(times, observed), float(ordered[low_rank - 1]), float(ordered[high_rank - 1])


def _censored_summary(ax, runs: pd.DataFrame, x: str, y: str, level: float, xs: np.ndarray, jitter: np.ndarray):
    """Consensus times: converged runs as points, censored runs marked, the Kaplan-Meier median with its interval."""
    converged = runs["converged"].to_numpy(dtype=bool)
    values = runs[y].to_numpy(dtype=float)
    ax.scatter(xs[converged] + jitter[converged], values[converged], s=6, alpha=0.35, color="tab:blue", lw=0,
               label="runs that converged")
    if (~converged).any():
        ax.scatter(xs[~converged] + jitter[~converged], values[~converged], s=14, marker="^", facecolors="none",
                   edgecolors="tab:red", lw=0.6, alpha=0.6, label="did not converge by T (censored)")
    rows = []
    for value, group in runs.groupby(x, sort=True):
        median, low, high = median_interval(group[y], group["converged"], level)
        rows.append((value, median, low, high, float(group[y].max())))
    table = pd.DataFrame(rows, columns=[x, "median", "low", "high", "horizon"])
    top = table["horizon"].to_numpy()
    ax.fill_between(table[x], table["low"], np.minimum(table["high"], top), color="tab:blue", alpha=0.2, lw=0,
                    label=f"{level:.0%} interval of the median")
    ax.plot(table[x], table["median"], color="tab:blue", lw=1.6, marker="o", ms=3, label="median t* (Kaplan-Meier)")
    beyond = table["median"].isna()
    if beyond.any():
        ax.plot(table[x][beyond], top[beyond], ls="", marker="^", ms=7, color="tab:blue", mfc="none",
                label="median > T (most runs censored)")


def plot_replicate_summary(runs: pd.DataFrame, x: str, y: str, ax=None, level: float = LEVEL,
                           band_se: float | None = None, xlabel: str | None = None, ylabel: str | None = None,
                           title: str | None = None, reads: pd.DataFrame | None = None, seed: int = 0):
    """Mean of ``y`` against ``x`` with a labelled band and every run as a jittered point.

    The band is a ``level`` t interval of the mean by default; ``band_se=5``
    draws the authors' plus/minus 5 standard errors instead. Consensus times
    (``y == "t_star"`` with a ``converged`` column) are never averaged: runs
    that did not converge by T are marked as censored, and the line is the
    Kaplan-Meier median with its ``level`` interval (:func:`median_interval`).

    Parameters
    ----------
    runs : DataFrame
        One row per run, with columns ``x`` and ``y``.
    reads : DataFrame, optional
        Columns ``x`` and ``read``: the paper's values, drawn as crosses.
    seed : int
        Seed of the horizontal jitter (deterministic figure).
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(SINGLE_COLUMN, 2.8), layout="constrained")
    fig = ax.figure
    xs = runs[x].to_numpy(dtype=float)
    spacing = np.min(np.diff(np.unique(xs))) if len(np.unique(xs)) > 1 else 1.0
    jitter = np.random.default_rng(seed).uniform(-0.25, 0.25, len(xs)) * spacing
    if y == "t_star" and "converged" in runs:
        _censored_summary(ax, runs, x, y, level, xs, jitter)
    else:
        table = summarise_by(runs, x, y)
        ax.scatter(xs + jitter, runs[y], s=6, alpha=0.35, color="tab:blue", lw=0, label="runs")
        half, label = _band(table, level, band_se)
        ax.fill_between(table[x], table["mean"] - half, table["mean"] + half, color="tab:blue", alpha=0.2, lw=0,
                        label=label)
        ax.plot(table[x], table["mean"], color="tab:blue", lw=1.6, marker="o", ms=3, label="mean")
    if reads is not None and len(reads):
        what = "paper (read; its mean t*)" if y == "t_star" else "paper (read)"
        ax.plot(reads[x], reads["read"], "x", color="tab:red", ms=6, mew=1.5, label=what)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    set_title(ax, title)
    ax.legend(frameon=False, fontsize=6.5)
    return fig


def plot_trajectory_panels(runs_ids: Sequence[np.ndarray], titles: Sequence[str], n_labels: int | None = None):
    """Columns of single-run panels: IDs (top), silo sizes (middle), stability (bottom), as in the draft.

    One colour key for the ID and silo-size rows (a silo has one colour in both).

    Parameters
    ----------
    runs_ids : sequence of ndarray of int, shape (n_steps + 1, n_agents)
        One run per column.
    titles : sequence of str
        One per column; say which replicate is drawn.
    n_labels : int, optional
        Number of IDs (default: the largest ID + 1 over all runs).
    """
    n_cols = len(runs_ids)
    n_labels = n_labels or max(int(np.max(ids)) + 1 for ids in runs_ids)
    fig, axes = plt.subplots(3, n_cols, figsize=(DOUBLE_COLUMN, 6.4), layout="constrained", squeeze=False)
    for col, (ids, title) in enumerate(zip(runs_ids, titles)):
        plot_ids(ids, ax=axes[0, col], n_labels=n_labels)
        set_title(axes[0, col], title, fontsize=7.5 if n_cols > 3 else 8 if n_cols > 2 else 9)
        plot_silo_sizes(ids, n_labels, ax=axes[1, col])
        plot_stability(ids, ax=axes[2, col])
        for ax in axes[:, col]:
            ax.tick_params(labelsize=7)
            ax.xaxis.label.set_size(8)
            ax.yaxis.label.set_size(8)
            if col:
                ax.set_ylabel("")
    id_colourbar(fig, axes[:2, -1].tolist(), n_labels)
    return fig


def plot_trajectory_grid(ids_grid: Sequence[Sequence[np.ndarray]], row_labels: Sequence[str],
                         col_labels: Sequence[str], n_labels: int | None = None):
    """ID trajectories on a grid of parameter values (one run per cell), sharing axes and one colour key.

    Parameters
    ----------
    ids_grid : nested sequence [row][col] of ndarray of int, shape (n_steps + 1, n_agents)
    """
    n_rows, n_cols = len(ids_grid), len(ids_grid[0])
    n_labels = n_labels or max(int(np.max(ids)) + 1 for row in ids_grid for ids in row)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(DOUBLE_COLUMN, 1.5 * n_rows + 0.8), layout="constrained",
                             sharex=True, sharey=True, squeeze=False)
    for row in range(n_rows):
        for col in range(n_cols):
            ax = axes[row, col]
            plot_ids(ids_grid[row][col], ax=ax, n_labels=n_labels)
            ax.tick_params(labelsize=7)
            ax.set_xlabel("step t" if row == n_rows - 1 else "", fontsize=8)
            ax.set_ylabel(row_labels[row] if col == 0 else "", fontsize=8)
            if row == 0:
                ax.set_title(col_labels[col], fontsize=9)
    id_colourbar(fig, axes.ravel().tolist(), n_labels)
    return fig


def plot_sigma_trace(ids: np.ndarray, traces: dict[str, np.ndarray], floor: float):
    """IDs of one run (top) and its largest sigmas against time (bottom, log scale).

    Parameters
    ----------
    ids : ndarray of int, shape (n_steps + 1, n_agents)
    traces : dict of label -> ndarray of float, shape (n_steps + 1,)
    floor : float
        The sigma floor, drawn as a dashed line.
    """
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(DOUBLE_COLUMN, 5.2), layout="constrained", sharex=True)
    plot_ids(ids, ax=top, colour_key=True)
    top.set_xlabel("")
    for label, series in traces.items():
        bottom.plot(series, lw=1.2, label=label)
    bottom.axhline(floor, color="grey", ls="--", lw=0.8, label=f"floor {floor:g}")
    bottom.set_yscale("log")
    bottom.set_xlabel("step t")
    bottom.set_ylabel("sigma")
    bottom.legend(frameon=False, fontsize=8)
    return fig
