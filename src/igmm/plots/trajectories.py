"""Single-run trajectory figures: IDs over time, silo sizes, stability."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # headless by default; figures are written to files
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from igmm.metrics import silo_sizes, stability  # noqa: E402
from igmm.plots.style import (  # noqa: E402
    DOUBLE_COLUMN,
    FORMATS,
    LEVEL,
    PNG_DPI,
    SINGLE_COLUMN,
    band_label,
    id_colourbar,
    id_colours,
    set_title,
)


def _axes(ax, figsize=(DOUBLE_COLUMN, 2.8)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return ax.figure, ax


def _n_labels(ids: np.ndarray, n_labels: int | None) -> int:
    return int(n_labels) if n_labels is not None else int(np.max(ids, initial=0)) + 1


def plot_ids(ids: np.ndarray, ax=None, title: str | None = None, jitter: float = 0.15, seed: int = 0,
             n_labels: int | None = None, colour_key: bool | None = None):
    """ID of every agent over time, one line per agent, coloured by the silo (ID) it is in.

    Parameters
    ----------
    ids : ndarray of int, shape (n_steps + 1, n_agents)
        One run's trajectory.
    jitter : float
        Vertical offset (in label units) spread over agents so overlapping
        lines stay visible; deterministic for a given ``seed``.
    n_labels : int, optional
        Number of possible IDs (default ``ids.max() + 1``); give the same
        value to :func:`plot_silo_sizes` and a silo has the same colour in both.
    colour_key : bool, optional
        Draw the colour bar that keys the silo colours (default: when the
        figure is made here; a caller that passes ``ax`` draws one key for all
        its panels, e.g. with :func:`igmm.plots.style.id_colourbar`).
    """
    from matplotlib.collections import LineCollection

    ids = np.asarray(ids)
    colour_key = ax is None if colour_key is None else colour_key
    fig, ax = _axes(ax)
    n_steps, n_agents = ids.shape[0] - 1, ids.shape[1]
    n_labels = _n_labels(ids, n_labels)
    offsets = np.random.default_rng(seed).uniform(-jitter, jitter, n_agents)
    if n_steps >= 1:
        y = ids + offsets  # (n_steps + 1, n_agents)
        t = np.broadcast_to(np.arange(n_steps + 1)[:, None], y.shape)
        starts = np.stack([t[:-1], y[:-1]], axis=-1).reshape(-1, 2)
        ends = np.stack([t[1:], y[1:]], axis=-1).reshape(-1, 2)
        # A segment takes the colour of the silo the agent is in at its end.
        colours = id_colours(n_labels)[ids[1:].ravel()]
        ax.add_collection(LineCollection(np.stack([starts, ends], axis=1), colors=colours, linewidths=0.9, alpha=0.85))
    else:
        ax.scatter(np.zeros(n_agents), ids[0] + offsets, c=id_colours(n_labels)[ids[0]], s=6)
    ax.set_xlim(0, max(n_steps, 1))
    ax.set_ylim(-0.5, n_labels - 0.5)
    ax.set_xlabel("step t")
    ax.set_ylabel("ID (argmax component)")
    if colour_key:
        id_colourbar(fig, ax, n_labels)
    set_title(ax, title)
    return fig


def plot_silo_sizes(ids: np.ndarray, n_labels: int | None = None, ax=None, title: str | None = None,
                    colour_key: bool | None = None):
    """Number of agents in each silo over time, one line per silo that ever exists, coloured as in :func:`plot_ids`.

    ``colour_key`` as in :func:`plot_ids`.
    """
    ids = np.asarray(ids)
    colour_key = ax is None if colour_key is None else colour_key
    fig, ax = _axes(ax)
    n_labels = _n_labels(ids, n_labels)
    sizes = silo_sizes(ids, n_labels)
    alive = np.flatnonzero(sizes.max(axis=0) > 0)
    colours = id_colours(n_labels)
    for label in alive:
        ax.plot(sizes[:, label], lw=1.1, color=colours[label], label=str(label))
    ax.set_xlabel("step t")
    ax.set_ylabel("agents in silo")
    ax.set_xlim(0, max(ids.shape[0] - 1, 1))
    ax.set_ylim(0, ids.shape[1] + 0.5)
    if colour_key:
        id_colourbar(fig, ax, n_labels)
    set_title(ax, title)
    return fig


def plot_stability(ids_or_runs, labels: Sequence[str] | None = None, ax=None, title: str | None = None):
    """Stability Stab(t) over time; several runs may be overlaid.

    Parameters
    ----------
    ids_or_runs : ndarray of int, shape (n_steps + 1, n_agents), or a list of such
    labels : sequence of str, optional
        Legend entry of each run.
    """
    runs = [ids_or_runs] if np.ndim(ids_or_runs) == 2 else list(ids_or_runs)
    fig, ax = _axes(ax)
    for index, run in enumerate(runs):
        stab = stability(np.asarray(run))
        label = labels[index] if labels else None
        ax.plot(np.arange(1, len(stab) + 1), stab, lw=1.1, label=label)
    ax.set_xlabel("step t")
    ax.set_ylabel("stability")
    ax.set_ylim(-0.02, 1.02)
    if labels:
        ax.legend(frameon=False, fontsize=8)
    set_title(ax, title)
    return fig


def save_figure(fig, path: str | os.PathLike, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Write ``fig`` as ``path`` with each suffix in ``formats``, atomically, then close it.

    PNG at :data:`~igmm.plots.style.PNG_DPI` dots per inch; PDF (and SVG) as vector graphics.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        target = path.with_suffix("." + fmt)
        tmp = target.with_name(f".{target.name}.tmp")
        fig.savefig(tmp, format=fmt, dpi=PNG_DPI)
        os.replace(tmp, target)
        written.append(target)
    plt.close(fig)
    return written


def plot_silos_across_replicates(ids: np.ndarray, ax=None, title: str | None = None, level: float = LEVEL,
                                 band_se: float | None = None):
    """Mean number of silos S(t) over replicates with a labelled band, and every run faintly.

    Parameters
    ----------
    ids : ndarray of int, shape (n_reps, n_steps + 1, n_agents)
    level : float
        Coverage of the t interval of the mean (the default band).
    band_se : float, optional
        Draw mean plus/minus ``band_se`` standard errors instead (the paper's figures use 5).
    """
    from igmm.metrics import n_silos
    from igmm.stats import t_quantile

    fig, ax = _axes(ax, figsize=(SINGLE_COLUMN, 2.6))
    silos = n_silos(np.asarray(ids)).astype(float)
    steps = np.arange(silos.shape[1])
    for run in silos:
        ax.plot(steps, run, color="0.7", lw=0.5, alpha=0.5)
    mean = silos.mean(axis=0)
    ax.plot(steps, mean, color="tab:blue", lw=1.6, label=f"mean of {len(silos)} runs")
    if len(silos) > 1:
        se = silos.std(axis=0, ddof=1) / np.sqrt(len(silos))
        factor = band_se if band_se is not None else t_quantile(level, len(silos) - 1)
        ax.fill_between(steps, mean - factor * se, mean + factor * se, color="tab:blue", alpha=0.25, lw=0,
                        label=band_label(level, band_se))
    ax.set_xlabel("step t")
    ax.set_ylabel("number of silos S(t)")
    ax.set_xlim(0, max(steps[-1], 1))
    ax.legend(frameon=False, fontsize=7)
    set_title(ax, title)
    return fig


def write_run_figures(ids: np.ndarray, out_dir: str | os.PathLike, n_labels: int | None = None,
                      title: str | None = None, formats: Sequence[str] = FORMATS,
                      all_ids: np.ndarray | None = None) -> list[Path]:
    """Write ``ids``, ``silo_sizes`` and ``stability`` figures for one run, and ``replicates`` across runs.

    Each as PNG and vector PDF by default; the ID and silo-size figures share
    one colour per silo.

    Parameters
    ----------
    ids : ndarray of int, shape (n_steps + 1, n_agents)
        The run drawn (its title says which replicate).
    all_ids : ndarray of int, shape (n_reps, n_steps + 1, n_agents), optional
        Every replicate, for the across-replicate figure.
    """
    out_dir = Path(out_dir)
    written = []
    written += save_figure(plot_ids(ids, title=title, n_labels=n_labels), out_dir / "ids", formats)
    written += save_figure(plot_silo_sizes(ids, n_labels, title=title), out_dir / "silo_sizes", formats)
    written += save_figure(plot_stability(ids, title=title), out_dir / "stability", formats)
    if all_ids is not None:
        written += save_figure(plot_silos_across_replicates(all_ids, title=f"all {len(all_ids)} replicates"),
                               out_dir / "replicates", formats)
    return written
