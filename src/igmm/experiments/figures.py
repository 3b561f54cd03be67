"""Spec ``plot`` kind -> figure of an experiment, written as PNG and PDF (``figure.png``, ``figure.pdf``)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pandas as pd

from igmm.plots.summaries import (
    plot_replicate_summary,
    plot_sigma_trace,
    plot_trajectory_grid,
    plot_trajectory_panels,
)
from igmm.plots.style import DOUBLE_COLUMN, FORMATS, set_suptitle
from igmm.plots.trajectories import save_figure


def _label(keys: dict) -> str:
    return ", ".join(f"{k} = {v}" for k, v in keys.items())


def _suptitle(fig, spec, note: str = "") -> None:
    """The experiment's title and base parameters, wrapped to the figure's width."""
    shown = {key: value for key, value in spec.base.items() if key != "measures"}  # what is recorded, not a parameter
    set_suptitle(fig, f"{spec.title} ({_label(shown)})" + (f"; {note}" if note else ""))


def _title(variant) -> str:
    """A panel's title: the variant, and which replicate is drawn (and how it was chosen)."""
    return "\n".join([_label(variant.keys), variant.example_label or f"replicate {variant.example} of {len(variant.ids)}"])


def _panels(spec, variants, out_dir: Path) -> list[Path]:
    fig = plot_trajectory_panels([v.ids[v.example] for v in variants], [_title(v) for v in variants])
    _suptitle(fig, spec)
    return save_figure(fig, out_dir / "figure", FORMATS)


def _grid(spec, variants, out_dir: Path) -> list[Path]:
    row_key, col_key = list(spec.grid)[:2]
    rows = list(dict.fromkeys(v.keys[row_key] for v in variants))
    cols = list(dict.fromkeys(v.keys[col_key] for v in variants))
    by_key = {(v.keys[row_key], v.keys[col_key]): v.ids[v.example] for v in variants}
    fig = plot_trajectory_grid([[by_key[(r, c)] for c in cols] for r in rows],
                               [f"{row_key} = {r}" for r in rows], [f"{col_key} = {c}" for c in cols])
    _suptitle(fig, spec, note=f"one run per cell: replicate {variants[0].example} of {len(variants[0].ids)}")
    return save_figure(fig, out_dir / "figure", FORMATS)


def _reads_at(spec, x: str) -> pd.DataFrame:
    """The reads of mean ``spec.y`` that sit at one value of ``x``, as columns x, read."""
    rows = [{x: read.where[x], "read": read.value} for read in spec.reads
            if read.value is not None and read.measure == f"mean:{spec.y}" and set(read.where) == {x}]
    return pd.DataFrame(rows, columns=[x, "read"])


def _summary_on(ax, spec, runs: pd.DataFrame):
    return plot_replicate_summary(runs, spec.x, spec.y, ax=ax, xlabel=spec.xlabel, ylabel=spec.ylabel,
                                  title=spec.title, reads=_reads_at(spec, spec.x))


def _summary(spec, variants, out_dir: Path) -> list[Path]:
    runs = pd.concat([v.runs for v in variants], ignore_index=True)
    return save_figure(_summary_on(None, spec, runs), out_dir / "figure", FORMATS)


def _sigma(spec, variants, out_dir: Path) -> list[Path]:
    from igmm.dynamics.moving_variance import SIGMA_FLOOR

    variant = variants[0]
    example = variant.example
    traces = {"largest sigma (all components)": variant.traces["max_sigma"][example],
              "largest sigma of an agent's ID component": variant.traces["max_id_sigma"][example]}
    fig = plot_sigma_trace(variant.ids[example], traces, SIGMA_FLOOR)
    _suptitle(fig, spec, note=(variant.example_label or f"replicate {example} of {len(variant.ids)}").replace("\n", " "))
    return save_figure(fig, out_dir / "figure", FORMATS)


def _none(spec, variants, out_dir: Path) -> list[Path]:
    return []


#: Plot kind -> writer of the experiment's figure.
FIGURES: dict[str, Callable] = {
    "trajectory-panels": _panels,
    "trajectory-grid": _grid,
    "replicate-summary": _summary,
    "moving-variance": _sigma,
    "none": _none,
}


def group_figure(spec, members, out_dir: Path) -> list[Path]:
    """The members' replicate summaries side by side (one panel per member)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(members), figsize=(DOUBLE_COLUMN, 3.4), layout="constrained", squeeze=False)
    keys = {}
    for ax, member in zip(axes[0], members):
        _summary_on(ax, member.spec, member.runs)
        ax.tick_params(labelsize=7)
        for handle, label in zip(*ax.get_legend_handles_labels()):
            keys.setdefault(label, handle)
        ax.get_legend().remove()
    # One key below the panels (they share their symbols), where it hides no data.
    fig.legend(keys.values(), keys.keys(), loc="outside lower center", ncol=3, frameon=False, fontsize=7)
    return save_figure(fig, out_dir / "figure", FORMATS)
