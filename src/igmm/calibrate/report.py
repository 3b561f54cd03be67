"""The output folder of ``igmm calibrate``: configurations, fitted values, tables, leaderboard, figures.

::

    OUT/
      leaderboard.csv, leaderboard.md   proxies ranked by held-out loss, with the issue's targets and cost
      report.md                         every proxy's fitted values, targets met, times
      provenance.json
      <proxy>/                          one folder per space (and ``baseline`` for the uncalibrated paper GMM)
        best_config.yaml                the fitted configuration (``igmm run --config ... --p P --k K``)
        configs/p<P>_k<K>.yaml          one complete ``igmm run`` configuration per target cell (p, k mapped)
        best_sweep.yaml                 an ``igmm sweep`` spec of every cell at the fitted values
        fitted_parameters.csv           best value, bootstrap SE and 95% interval of every fitted value
        bootstrap.csv, trials.csv       the bootstrap's choices; every candidate with its loss
        fit_table.csv                   in-sample: target vs proxy per cell and measure, with z
        heldout.csv                     leave-one-cell-out predictions (baseline: its plain predictions)
        silos_over_time.png             S(t) of the target and the fitted proxy per cell
        heldout_z.png                   z per held-out cell and measure
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from igmm.calibrate.space import steps_at_scale
from igmm.calibrate.study import ProxyResult, criteria, leaderboard
from igmm.config import plain_values


def slug(name: str) -> str:
    """A folder name for a proxy name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-").lower() or "proxy"


def cell_config(result: ProxyResult, cell: int, replicates: int | None = None) -> dict[str, Any]:
    """The complete ``igmm run`` configuration of the fitted proxy at one target cell."""
    simulator = result.simulator
    params = {k: v for k, v in result.best.items() if k != "time_scale"}
    values = simulator.config_values(params)
    p, k = simulator.space.mapped(params, *simulator.target.keys[cell], values["n_agents"])
    n_steps = steps_at_scale(simulator.target.n_steps, result.best["time_scale"])
    return values | {"p": p, "k": k, "T": n_steps, "seed": simulator.space.seed,
                     "replicates": replicates or simulator.space.replicates}


def describe_maps(space, params: dict[str, Any]) -> str:
    """The fitted maps in words, e.g. ``p' = p; k' = round(1.15 k + 0), clipped to 1 .. n - 1``."""
    from igmm.calibrate.space import Range

    parts = []
    for axis in ("p", "k"):
        spec = space.maps.get(axis)
        if spec is None or spec.kind == "identity":
            parts.append(f"{axis}' = {axis}")
            continue
        a, b = (params.get(f"map.{axis}.{c}") if isinstance(getattr(spec, c), Range) else getattr(spec, c)
                for c in ("a", "b"))
        parts.append(f"{axis}' = round({a:.4g} {axis} + {b:.4g}), clipped to 1 .. n - 1" if axis == "k"
                     else f"{axis}' = {a:.4g} {axis} + {b:.4g}, clipped to [0, 1]")
    return "; ".join(parts)


def write_proxy(result: ProxyResult, folder: Path, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Write one proxy's folder (module docstring)."""
    from igmm import storage

    folder.mkdir(parents=True, exist_ok=True)
    simulator = result.simulator
    target = simulator.target
    params = {k: v for k, v in result.best.items() if k != "time_scale"}
    best = simulator.config_values(params) | {"T": steps_at_scale(target.n_steps, result.best["time_scale"])}
    header = (f"# {result.space.name}: fitted to {target.source or 'the target'}; time scale "
              f"{result.best['time_scale']:.4g} proxy steps per target round (T = 80 rounds x scale).\n"
              f"# p and k are the target cell's through the maps: {describe_maps(simulator.space, params)}.\n"
              "# Give them with --p and --k; configs/ holds one complete configuration per cell.\n")
    import yaml

    written = [storage.write_text(header + yaml.safe_dump(plain_values({k: v for k, v in best.items()}), sort_keys=False),
                                  folder / "best_config.yaml")]
    points = []
    for cell, (p, k) in enumerate(target.keys):
        config = cell_config(result, cell)
        points.append((config["p"], config["k"]))
        written.append(storage.write_yaml(plain_values(config), folder / "configs" / f"p{p:g}_k{k}.yaml"))
    base = {key: value for key, value in best.items()}
    unique = sorted(set(points))
    written.append(storage.write_yaml(plain_values({"base": base, "zip": {"p": [p for p, _ in unique], "k": [k for _, k in unique]},
                                              "replicates": simulator.space.replicates, "seed": simulator.space.seed,
                                              "save_ids": True}), folder / "best_sweep.yaml"))
    written.append(_csv(result.uncertainty, folder / "fitted_parameters.csv"))
    written.append(_csv(result.draws, folder / "bootstrap.csv"))
    written.append(_csv(result.trials, folder / "trials.csv"))
    written.append(_csv(result.fit_table, folder / "fit_table.csv"))
    if result.heldout is not None:
        written.append(_csv(result.heldout, folder / "heldout.csv"))
    written += write_figures(result, folder, formats)
    return written


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    from igmm import storage

    return storage.write_text(frame.to_csv(index=False, float_format="%.6g"), path)


def write_figures(result: ProxyResult, folder: Path, formats: Sequence[str]) -> list[Path]:
    from igmm.calibrate.figures import plot_heldout_z, plot_silos
    from igmm.plots import save_figure

    written = save_figure(plot_silos(result), folder / "silos_over_time", formats)
    if result.heldout is not None:
        written += save_figure(plot_heldout_z(result.heldout, result.space.name), folder / "heldout_z", formats)
    return written


def _format(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if np.isnan(value) else f"{value:.3g}"
    return str(value)


def markdown(frame: pd.DataFrame) -> str:
    """A DataFrame as a GitHub Markdown table."""
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_format(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def report_markdown(results: Sequence[ProxyResult], board: pd.DataFrame, baseline: ProxyResult | None,
                    seconds: float) -> str:
    """``report.md``: leaderboard, then per proxy its fitted values, targets met and times."""
    target = results[0].simulator.target
    parts = [f"# Calibration against {target.source or 'the target'}\n",
             f"{len(target.keys)} cells, {sum(len(v) for v in target.cells.values())} target runs, T = {target.n_steps}. "
             f"Whole calibration: {seconds:.0f} s wall-clock.\n", "## Leaderboard (held-out cells)\n", markdown(board), ""]
    for result in [*results, *([baseline] if baseline else [])]:
        table = result.heldout if result.heldout is not None else result.fit_table
        found = criteria(table, target.n_steps)
        parts += [f"## {result.space.name}\n",
                  f"Held-out: S({target.n_steps}) within 2 SE in {found['S_T_within_2se']} of {found['n_cells']} cells; "
                  f"P(one silo) within 0.2 in {found['p_one_within_0.2']} of {found['n_cells']}; median t* within a "
                  f"factor 1.5 in {found['median_within_1.5']} of the {found['median_both_reached']} cells where both "
                  f"reach it. Times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in result.seconds.items())
                  + f"; simulation tasks run {result.tasks_run}; cost per run {result.cost_per_run:.3g} s.\n",
                  markdown(result.uncertainty), ""]
    return "\n".join(parts)


def write_calibration(results: Sequence[ProxyResult], out: str | Path, baseline: ProxyResult | None = None,
                      overwrite: bool = False, seconds: float = float("nan"), command: dict | None = None,
                      formats: Sequence[str] = ("png",)) -> list[Path]:
    """Write the whole output folder atomically (staging folder, then swapped in) with provenance.json."""
    from igmm import provenance, storage
    from igmm.config import canonical_json

    board = leaderboard([*results, *([baseline] if baseline else [])])
    started = (command or {}).get("started") or provenance.now()
    written: list[Path] = []
    with storage.output_folder(out, overwrite) as staging:
        folder = staging
        for result in results:
            written += write_proxy(result, folder / slug(result.space.name), formats)
        if baseline is not None:
            written += write_proxy(baseline, folder / "baseline", formats)
        written.append(_csv(board, folder / "leaderboard.csv"))
        written.append(storage.write_text(markdown(board) + "\n", folder / "leaderboard.md"))
        written.append(storage.write_text(report_markdown(results, board, baseline, seconds), folder / "report.md"))
        spaces = [result.space.model_dump() for result in results]
        import hashlib

        digest = hashlib.sha256(canonical_json(spaces).encode()).hexdigest()
        written.append(provenance.write(provenance.record(
            {"spaces": spaces, **({k: v for k, v in (command or {}).items() if k != "started"})}, digest,
            results[0].space.seed, started,
            {"seconds": seconds, "tasks_run": {r.space.name: r.tasks_run for r in results},
             "study_seconds": {r.space.name: r.seconds for r in results}}), folder))
        written = [Path(out) / path.relative_to(staging) for path in written]
    return written
