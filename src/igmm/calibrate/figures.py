"""Figures of a calibration: S(t) of target and fitted proxy per cell; z of the held-out predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _grid(keys):
    import matplotlib.pyplot as plt

    ps = sorted({p for p, _ in keys})
    ks = sorted({k for _, k in keys})
    fig, axes = plt.subplots(len(ps), len(ks), figsize=(3.2 * len(ks) + 1, 2.4 * len(ps) + 1), sharey=True,
                             squeeze=False)
    fig.subplots_adjust(left=0.07, right=0.99, bottom=0.08, top=0.9, wspace=0.08, hspace=0.35)
    return fig, axes, ps, ks


def plot_silos(result):
    """Mean S(t) +- 2 SE per cell: target (red) and the fitted proxy read at its time scale (blue).

    Parameters
    ----------
    result : igmm.calibrate.study.ProxyResult
    """
    from igmm.calibrate.measures import read_at_scale
    from igmm.metrics import n_silos

    simulator = result.simulator
    target = simulator.target
    params = result.best_candidate.params
    scale = float(simulator.scales[result.best_scale])
    fig, axes, ps, ks = _grid(target.keys)
    for cell, (p, k) in enumerate(target.keys):
        ax = axes[ps.index(p), ks.index(k)]
        proxy_p, proxy_k = simulator.space.mapped(params, p, k, simulator.config_values(params)["n_agents"])
        series = [("target", target.cells[(p, k)], "tab:red")]
        try:
            ids = simulator.ids(params, (proxy_p, proxy_k))
            series.append((f"proxy (x{scale:.2g})", read_at_scale(ids, scale, target.n_steps), "tab:blue"))
        except (FileNotFoundError, ValueError):
            pass
        for name, ids, colour in series:
            silos = n_silos(ids).astype(float)
            mean = silos.mean(axis=0)
            band = 2 * silos.std(axis=0, ddof=1) / np.sqrt(len(silos))
            ax.plot(mean, color=colour, lw=1.2, label=name)
            ax.fill_between(np.arange(len(mean)), mean - band, mean + band, color=colour, alpha=0.2, lw=0)
        ax.set_yscale("log")
        ax.set_title(f"p = {p:g}, k = {k}", fontsize=9)
    axes[0, 0].legend(frameon=False, fontsize=7)
    fig.suptitle(f"{result.space.name}: silos S(t), mean ± 2 SE (fitted on every cell)")
    return fig


def plot_heldout_z(heldout: pd.DataFrame, title: str = ""):
    """z of each held-out prediction: one row per cell, one column per measure, clipped to +-6."""
    import matplotlib.pyplot as plt

    table = heldout.assign(cell=[f"p={p:g}, k={k}" for p, k in zip(heldout["p"], heldout["k"])])
    cells = list(dict.fromkeys(table["cell"]))
    measures = list(dict.fromkeys(table["measure"]))
    grid = table.pivot(index="cell", columns="measure", values="z").loc[cells, measures].to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * len(measures), 1.2 + 0.35 * len(cells)), layout="constrained")
    image = ax.imshow(np.clip(grid, -6, 6), cmap="RdBu_r", vmin=-6, vmax=6, aspect="auto")
    for (row, column), value in np.ndenumerate(grid):
        ax.text(column, row, f"{value:+.1f}", ha="center", va="center", fontsize=6)
    ax.set_xticks(range(len(measures)), measures, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(cells)), cells, fontsize=7)
    fig.colorbar(image, ax=ax, label="z (proxy - target) / SE")
    ax.set_title(f"{title}: held-out z", fontsize=9)
    return fig
