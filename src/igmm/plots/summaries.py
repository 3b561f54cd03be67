"""Figures across runs: replicate summaries (mean, a labelled band, jittered runs), trajectory panels and grids."""

from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

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
    from scipy import stats as scipy_stats

    se = table["se"].fillna(0.0).to_numpy()
    if band_se is not None:
        return band_se * se, f"mean ± {band_se:g} SE"
    quantile = scipy_stats.t.ppf(0.5 + level / 2, np.maximum(table["n"].to_numpy() - 1, 1))
    return quantile * se, f"{level:.0%} interval of the mean"


def plot_replicate_summary(runs: pd.DataFrame, x: str, y: str, ax=None, level: float = 0.95,
                           band_se: float | None = None, xlabel: str | None = None, ylabel: str | None = None,
                           title: str | None = None, reads: pd.DataFrame | None = None, seed: int = 0):
    """Mean of ``y`` against ``x`` with a labelled band and every run as a jittered point.

    The band is a ``level`` t interval of the mean by default; ``band_se=5``
    draws the authors' plus/minus 5 standard errors instead.

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
        fig, ax = plt.subplots(figsize=(5.2, 3.6), layout="constrained")
    fig = ax.figure
    table = summarise_by(runs, x, y)
    xs = runs[x].to_numpy(dtype=float)
    spacing = np.min(np.diff(np.unique(xs))) if len(np.unique(xs)) > 1 else 1.0
    jitter = np.random.default_rng(seed).uniform(-0.25, 0.25, len(xs)) * spacing
    ax.scatter(xs + jitter, runs[y], s=6, alpha=0.35, color="tab:blue", lw=0, label="runs")
    half, label = _band(table, level, band_se)
    ax.fill_between(table[x], table["mean"] - half, table["mean"] + half, color="tab:blue", alpha=0.2, lw=0, label=label)
    ax.plot(table[x], table["mean"], color="tab:blue", lw=1.6, marker="o", ms=3, label="mean")
    if reads is not None and len(reads):
        ax.plot(reads[x], reads["read"], "x", color="tab:red", ms=6, mew=1.5, label="paper (read)")
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    return fig


def plot_trajectory_panels(runs_ids: Sequence[np.ndarray], titles: Sequence[str], n_labels: int | None = None):
    """Columns of single-run panels: IDs (top), silo sizes (middle), stability (bottom), as in the draft.

    Parameters
    ----------
    runs_ids : sequence of ndarray of int, shape (n_steps + 1, n_agents)
        One run per column.
    titles : sequence of str
    """
    n_cols = len(runs_ids)
    fig, axes = plt.subplots(3, n_cols, figsize=(3.3 * n_cols, 7.2), layout="constrained", squeeze=False)
    for col, (ids, title) in enumerate(zip(runs_ids, titles)):
        plot_ids(ids, ax=axes[0, col], title=title)
        plot_silo_sizes(ids, n_labels, ax=axes[1, col])
        plot_stability(ids, ax=axes[2, col])
    return fig


def plot_trajectory_grid(ids_grid: Sequence[Sequence[np.ndarray]], row_labels: Sequence[str],
                         col_labels: Sequence[str]):
    """ID trajectories on a grid of parameter values (one run per cell), sharing axes.

    Parameters
    ----------
    ids_grid : nested sequence [row][col] of ndarray of int, shape (n_steps + 1, n_agents)
    """
    n_rows, n_cols = len(ids_grid), len(ids_grid[0])
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.6 * n_cols, 2.1 * n_rows), layout="constrained",
                             sharex=True, sharey=True, squeeze=False)
    for row in range(n_rows):
        for col in range(n_cols):
            ax = axes[row, col]
            plot_ids(ids_grid[row][col], ax=ax)
            ax.set_xlabel("step t" if row == n_rows - 1 else "")
            ax.set_ylabel(row_labels[row] if col == 0 else "")
            if row == 0:
                ax.set_title(col_labels[col], fontsize=10)
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
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.5, 5.6), layout="constrained", sharex=True)
    plot_ids(ids, ax=top)
    top.set_xlabel("")
    for label, series in traces.items():
        bottom.plot(series, lw=1.2, label=label)
    bottom.axhline(floor, color="grey", ls="--", lw=0.8, label=f"floor {floor:g}")
    bottom.set_yscale("log")
    bottom.set_xlabel("step t")
    bottom.set_ylabel("sigma")
    bottom.legend(frameon=False, fontsize=8)
    return fig
