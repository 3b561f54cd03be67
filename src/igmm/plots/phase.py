"""Phase diagrams: a heatmap of one summary column over two swept axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless by default; figures are written to files
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from igmm.plots.style import DOUBLE_COLUMN, SINGLE_COLUMN, set_title  # noqa: E402

#: Colour-bar labels of the usual summary columns.
VALUE_LABELS = {
    "silos_final_mean": "mean number of silos S(T)",
    "p_one_silo": "P(one silo at T)",
    "p_polarized": "P(polarized by T)",
    "p_polarized_final": "P(polarized at T)",
    "t_star_median": "median t* (Kaplan-Meier; blank: > T)",
    "pattern_unstable": "share of unstable-silo runs",
    "pattern_stable": "share of stable-silo runs",
    "pattern_decaying": "share of decaying-silo runs",
    "pattern_consensus": "share of consensus runs",
}


def phase_table(summary: pd.DataFrame, x: str, y: str, value: str) -> pd.DataFrame:
    """``value`` arranged as a (y, x) grid, averaged over any other swept axis.

    Parameters
    ----------
    summary : DataFrame
        One row per grid point with columns ``x``, ``y`` and ``value``.

    Returns
    -------
    DataFrame of shape (n_y, n_x), index the sorted ``y`` values, columns the sorted ``x`` values.
    """
    return summary.pivot_table(index=y, columns=x, values=value, aggfunc="mean", dropna=False).sort_index().sort_index(axis=1)


def plot_phase(summary: pd.DataFrame, x: str, y: str, value: str, ax=None, title: str | None = None, cmap: str = "viridis"):
    """Heatmap of ``value`` over the (x, y) grid; missing cells (NaN) are left blank.

    Parameters
    ----------
    summary : DataFrame
        Output of :func:`igmm.sweep.summarize.summarize_runs`.
    x, y : str
        Swept axes for the horizontal and vertical directions.
    value : str
        Column to colour by (e.g. ``p_one_silo``).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Figure
    """
    table = phase_table(summary, x, y, value)
    if ax is None:
        width = SINGLE_COLUMN if table.shape[1] <= 8 else DOUBLE_COLUMN
        fig, ax = plt.subplots(figsize=(width, 3.0), layout="constrained")
    else:
        fig = ax.figure
    limits = {"vmin": 0.0, "vmax": 1.0} if value.startswith(("p_", "pattern_")) else {}
    image = ax.imshow(np.ma.masked_invalid(table.to_numpy(dtype=float)), origin="lower", aspect="auto", cmap=cmap, **limits)
    ax.set_xticks(range(table.shape[1]), _tick_labels(table.columns), rotation=90 if table.shape[1] > 12 else 0, fontsize=7)
    ax.set_yticks(range(table.shape[0]), _tick_labels(table.index), fontsize=7)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    fig.colorbar(image, ax=ax, label=VALUE_LABELS.get(value, value))
    set_title(ax, title or VALUE_LABELS.get(value, value))
    return fig


def _tick_labels(values) -> list[str]:
    return [f"{value:g}" if isinstance(value, (float, np.floating)) else str(value) for value in values]


def plot_line(summary: pd.DataFrame, x: str, value: str, level: float = 0.95, ax=None, title: str | None = None):
    """``value`` against one swept axis, with its interval as a band where the summary has one.

    Parameters
    ----------
    summary : DataFrame
        Output of :func:`igmm.pipeline.summarize.summarize_runs`; a value ``v`` with
        columns ``v_lo`` and ``v_hi`` gets a band (labelled with ``level``).
    x : str
        The swept axis.
    value : str
    level : float
        Coverage of the intervals, for the label.

    Returns
    -------
    matplotlib Figure
    """
    table = summary.groupby(x, sort=True).mean(numeric_only=True).reset_index() if summary[x].duplicated().any() \
        else summary.sort_values(x)
    if ax is None:
        fig, ax = plt.subplots(figsize=(SINGLE_COLUMN, 2.8), layout="constrained")
    else:
        fig = ax.figure
    xs = table[x].to_numpy()
    ax.plot(xs, table[value], marker="o", ms=3, lw=1.4, color="tab:blue", label=VALUE_LABELS.get(value, value))
    if f"{value}_lo" in table and f"{value}_hi" in table:
        ax.fill_between(xs, table[f"{value}_lo"], table[f"{value}_hi"], color="tab:blue", alpha=0.25, lw=0,
                        label=f"{level:.0%} interval")
    if value == "t_star_median":
        censored = table[value].isna()
        if censored.any():
            top = float(table["T"].max()) if "T" in table else np.nan
            ax.plot(xs[censored], np.full(censored.sum(), top), "^", mfc="none", color="tab:red",
                    label="median > T (censored)")
    ax.set_xlabel(x)
    ax.set_ylabel(VALUE_LABELS.get(value, value))
    ax.legend(frameon=False, fontsize=7)
    set_title(ax, title or VALUE_LABELS.get(value, value))
    return fig
