"""Matplotlib figures. Each plot takes arrays or a table and returns a Figure, with an optional ``ax``."""

from igmm.plots.trajectories import (
    plot_ids,
    plot_silo_sizes,
    plot_stability,
    save_figure,
    write_run_figures,
)

__all__ = ["plot_ids", "plot_silo_sizes", "plot_stability", "save_figure", "write_run_figures"]
