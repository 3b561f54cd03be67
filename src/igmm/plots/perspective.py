"""Perspective space: agents placed by CMDS of their weight distances, coloured by ID, at several steps."""

from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from igmm.dynamics import weight_distances  # noqa: E402
from igmm.metrics import aligned_cmds  # noqa: E402
from igmm.plots.style import DOUBLE_COLUMN, id_colourbar, id_colours, set_suptitle  # noqa: E402


def perspective_coordinates(weights: np.ndarray, steps: Sequence[int], n_dims: int = 2) -> np.ndarray:
    """CMDS coordinates of every agent at each chosen step, each aligned to the one before.

    CMDS fixes a configuration only up to rotation and reflection, so each
    step is rotated onto the previous one (orthogonal Procrustes) to keep the
    panels comparable.

    Parameters
    ----------
    weights : ndarray of float64, shape (n_steps + 1, n_agents, n_components)
        One run's weights (``simulate(..., keep_weights=True).weights[r]``).
    steps : sequence of int
    n_dims : int

    Returns
    -------
    ndarray of float64, shape (len(steps), n_agents, n_dims)
    """
    return aligned_cmds(weight_distances(weights[list(steps)]), n_dims=n_dims)


def plot_perspective(weights: np.ndarray, ids: np.ndarray, steps: Sequence[int], title: str | None = None):
    """One scatter panel per step: agents in perspective space, coloured by their ID (keyed by a colour bar).

    Parameters
    ----------
    weights : ndarray of float64, shape (n_steps + 1, n_agents, n_components)
    ids : ndarray of int, shape (n_steps + 1, n_agents)
    steps : sequence of int
        Steps to show, e.g. (0, 25, 100, 400).
    """
    coordinates = perspective_coordinates(weights, steps)
    n_labels = weights.shape[-1]
    colours = id_colours(n_labels)
    # Shared axes: a population in consensus collapses to one point instead of being blown up.
    fig, axes = plt.subplots(1, len(steps), figsize=(DOUBLE_COLUMN, DOUBLE_COLUMN / len(steps) + 0.9),
                             layout="constrained", squeeze=False, sharex=True, sharey=True)
    spread = max(float(np.ptp(coordinates)), 1e-9)
    # A small jitter (1% of the overall spread) separates agents sitting at one point.
    jitter = np.random.default_rng(0).normal(0, 0.01 * spread, coordinates.shape[1:])
    for ax, step, xy in zip(axes[0], steps, coordinates):
        ax.scatter(xy[:, 0] + jitter[:, 0], xy[:, 1] + jitter[:, 1], c=colours[ids[step]], s=18, edgecolors="k",
                   linewidths=0.3)
        ax.set_title(f"t = {step}", fontsize=9)
        ax.set_xticks([]), ax.set_yticks([])
    id_colourbar(fig, axes[0].tolist(), n_labels)
    set_suptitle(fig, title)
    return fig
