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


def _axes(ax, figsize=(7, 3.2)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return ax.figure, ax


def plot_ids(ids: np.ndarray, ax=None, title: str | None = None, jitter: float = 0.15, seed: int = 0):
    """ID of every agent over time, one line per agent.

    Parameters
    ----------
    ids : ndarray of int, shape (n_steps + 1, n_agents)
        One run's trajectory.
    jitter : float
        Vertical offset (in label units) spread over agents so overlapping
        lines stay visible; deterministic for a given ``seed``.
    """
    ids = np.asarray(ids)
    fig, ax = _axes(ax)
    n_agents = ids.shape[1]
    offsets = np.random.default_rng(seed).uniform(-jitter, jitter, n_agents)
    colours = plt.cm.viridis(np.linspace(0, 1, n_agents))
    for agent in range(n_agents):
        ax.plot(ids[:, agent] + offsets[agent], lw=0.9, color=colours[agent], alpha=0.85)
    ax.set_xlabel("step t")
    ax.set_ylabel("ID (argmax component)")
    ax.set_xlim(0, ids.shape[0] - 1)
    if title:
        ax.set_title(title)
    return fig


def plot_silo_sizes(ids: np.ndarray, n_labels: int | None = None, ax=None, title: str | None = None):
    """Number of agents in each silo over time, one line per silo that ever exists."""
    ids = np.asarray(ids)
    fig, ax = _axes(ax)
    sizes = silo_sizes(ids, n_labels)
    alive = np.flatnonzero(sizes.max(axis=0) > 0)
    colours = plt.cm.tab20(np.linspace(0, 1, max(len(alive), 1)))
    for colour, label in zip(colours, alive):
        ax.plot(sizes[:, label], lw=1.1, color=colour, label=str(label))
    ax.set_xlabel("step t")
    ax.set_ylabel("agents in silo")
    ax.set_xlim(0, ids.shape[0] - 1)
    ax.set_ylim(0, ids.shape[1] + 0.5)
    if title:
        ax.set_title(title)
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
        ax.legend(frameon=False)
    if title:
        ax.set_title(title)
    return fig


def save_figure(fig, path: str | os.PathLike, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Write ``fig`` as ``path`` with each suffix in ``formats``, atomically, then close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        target = path.with_suffix("." + fmt)
        tmp = target.with_name(f".{target.name}.tmp")
        fig.savefig(tmp, format=fmt, dpi=150)
        os.replace(tmp, target)
        written.append(target)
    plt.close(fig)
    return written


def plot_silos_across_replicates(ids: np.ndarray, ax=None, title: str | None = None, level: float = 0.95):
    """Mean number of silos S(t) over replicates with a t interval band, and every run faintly.

    Parameters
    ----------
    ids : ndarray of int, shape (n_reps, n_steps + 1, n_agents)
    level : float
        Coverage of the band (labelled in the legend).
    """
    from scipy import stats as scipy_stats

    from igmm.metrics import n_silos

    fig, ax = _axes(ax)
    silos = n_silos(np.asarray(ids)).astype(float)
    steps = np.arange(silos.shape[1])
    for run in silos:
        ax.plot(steps, run, color="0.7", lw=0.5, alpha=0.5)
    mean = silos.mean(axis=0)
    ax.plot(steps, mean, color="tab:blue", lw=1.6, label=f"mean of {len(silos)} runs")
    if len(silos) > 1:
        half = scipy_stats.t.ppf(0.5 + level / 2, len(silos) - 1) * silos.std(axis=0, ddof=1) / np.sqrt(len(silos))
        ax.fill_between(steps, mean - half, mean + half, color="tab:blue", alpha=0.25, lw=0,
                        label=f"{level:.0%} interval of the mean")
    ax.set_xlabel("step t")
    ax.set_ylabel("number of silos S(t)")
    ax.set_xlim(0, steps[-1])
    ax.legend(frameon=False, fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def write_run_figures(ids: np.ndarray, out_dir: str | os.PathLike, n_labels: int | None = None,
                      title: str | None = None, formats: Sequence[str] = ("png",),
                      all_ids: np.ndarray | None = None) -> list[Path]:
    """Write ``ids``, ``silo_sizes`` and ``stability`` figures for one run, and ``replicates`` across runs.

    Parameters
    ----------
    ids : ndarray of int, shape (n_steps + 1, n_agents)
        The run drawn (its title says which replicate).
    all_ids : ndarray of int, shape (n_reps, n_steps + 1, n_agents), optional
        Every replicate, for the across-replicate figure.
    """
    out_dir = Path(out_dir)
    written = []
    written += save_figure(plot_ids(ids, title=title), out_dir / "ids", formats)
    written += save_figure(plot_silo_sizes(ids, n_labels, title=title), out_dir / "silo_sizes", formats)
    written += save_figure(plot_stability(ids, title=title), out_dir / "stability", formats)
    if all_ids is not None:
        written += save_figure(plot_silos_across_replicates(all_ids, title="all replicates"), out_dir / "replicates",
                               formats)
    return written
