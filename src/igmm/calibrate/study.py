"""One calibration: fit on every cell, bootstrap, leave-one-cell-out, the uncalibrated paper GMM beside.

:func:`calibrate_proxy` is the shell function of ``igmm calibrate`` for one
space; :func:`calibrate` runs several spaces against one target and ranks
them (:mod:`igmm.calibrate.report` writes the folders).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from igmm.calibrate.engine import Candidate, Simulator, Target, make_target
from igmm.calibrate.measures import z_scores
from igmm.calibrate.search import Fit, bootstrap, design_params, fit, parameter_uncertainty
from igmm.calibrate.space import CalibrationSpace, make_space, steps_at_scale

#: The uncalibrated baseline: the paper GMM as the language-model comparison runs it (identity maps, one step per round).
BASELINE_SPACE = {"name": "paper GMM, uncalibrated", "base": {"dynamics": "paper", "sigma": 0.2, "delta": 1.0,
                                                              "r": 5, "geometry": "line"},
                  "time_scale": 1.0, "search": {"design": 1, "refine": 0, "bootstrap": 0}}
#: |z| within which a held-out S(T) counts as predicted; P(one silo) tolerance; median t* factor.
Z_TOLERANCE, SHARE_TOLERANCE, TIME_FACTOR = 2.0, 0.2, 1.5


@dataclass
class ProxyResult:
    """Everything one space's calibration produced.

    Attributes
    ----------
    space : CalibrationSpace
    best : dict
        Fitted values on every cell (with ``time_scale``).
    uncertainty : DataFrame
        :func:`igmm.calibrate.search.parameter_uncertainty`.
    fit_table : DataFrame
        In-sample: one row per cell and measure (target, proxy, z).
    heldout : DataFrame or None
        Leave-one-cell-out: the same columns for each held-out cell under its fold's fit, plus the fold's values.
    trials : DataFrame
    draws : DataFrame
    seconds : dict
        Wall-clock seconds of the fit, the bootstrap, the leave-one-cell-out study and the whole.
    cost_per_run : float
        CPU seconds of one proxy run of the target's length at the fitted scale (one process).
    tasks_run, runs_simulated : int
    """

    space: CalibrationSpace
    best: dict
    uncertainty: pd.DataFrame
    fit_table: pd.DataFrame
    heldout: pd.DataFrame | None
    trials: pd.DataFrame
    draws: pd.DataFrame
    seconds: dict = field(default_factory=dict)
    cost_per_run: float = float("nan")
    tasks_run: int = 0
    runs_simulated: int = 0
    best_candidate: Candidate | None = None
    best_scale: int = 0
    simulator: Simulator | None = None


def cell_table(target: Target, candidate: Candidate, scale: int, cells: Sequence[int]) -> pd.DataFrame:
    """Target vs proxy on ``cells``: one row per cell and measure with the z of the difference."""
    values, ses = candidate.values[scale], candidate.ses[scale]
    z = z_scores((target.values, target.ses), (values, ses))
    rows = []
    for cell in cells:
        p, k = target.keys[cell]
        for index, measure in enumerate(target.measures):
            rows.append({"p": p, "k": k, "measure": measure.name, "target": target.values[cell, index],
                         "target_se": target.ses[cell, index], "proxy": values[cell, index],
                         "proxy_se": ses[cell, index], "z": z[cell, index]})
    return pd.DataFrame(rows)


def criteria(table: pd.DataFrame, n_steps: int) -> dict[str, Any]:
    """The issue's targets on a table of :func:`cell_table` rows.

    Returns
    -------
    dict
        ``S_T_within_2se`` (cells with |z| <= 2 for S(T)), ``p_one_within_0.2``,
        ``median_within_1.5`` and ``median_both_reached`` (cells where both medians are reached),
        ``n_cells``, ``mean_abs_z`` over every measure and cell.
    """
    s_final = table[table["measure"] == f"S({n_steps})"]
    share = table[table["measure"] == "P(one silo)"]
    median = table[table["measure"] == "median t*"]
    reached = (median["target"] < np.log(n_steps) - 1e-9) & (median["proxy"] < np.log(n_steps) - 1e-9)
    ratio = np.exp(np.abs(median["proxy"] - median["target"]))
    return {"n_cells": int(len(s_final)),
            "S_T_within_2se": int((s_final["z"].abs() <= Z_TOLERANCE).sum()),
            "p_one_within_0.2": int(((share["proxy"] - share["target"]).abs() <= SHARE_TOLERANCE + 1e-12).sum()),
            "median_both_reached": int(reached.sum()),
            "median_within_1.5": int(((ratio <= TIME_FACTOR + 1e-12) & reached).sum()),
            "mean_abs_z": float(table["z"].abs().mean())}


def resolution(space: CalibrationSpace, scales: np.ndarray, best: dict[str, Any]) -> dict[str, float]:
    """Half the grid spacing at the best value of every value searched on a grid (steps, integers, the scales)."""
    found = {}
    for name, spec in space.params.items():
        if spec.choices is None and (spec.step or spec.is_int):
            found[name] = (spec.step or 1) / 2
    if len(scales) > 1:
        at = int(np.argmin(np.abs(scales - best["time_scale"])))
        neighbours = [abs(scales[i] - scales[at]) for i in (at - 1, at + 1) if 0 <= i < len(scales)]
        found["time_scale"] = max(neighbours) / 2
    return found


def cost_per_run(simulator: Simulator, params: dict[str, Any], scale: float, n_reps: int = 8) -> float:
    """CPU seconds of one proxy run of the target's length at ``scale``, timed in this process on the middle cell."""
    from igmm.api import replicate_seeds, simulate_seeds
    from igmm.config import make_config

    target = simulator.target
    p, k = simulator.space.mapped(params, *target.keys[len(target.keys) // 2],
                                  simulator.config_values(params)["n_agents"])
    n_steps = steps_at_scale(target.n_steps, scale)
    config = make_config(simulator.space.config_values(params) | {"n_agents": target.n_agents, "p": p, "k": k,
                                                                  "T": n_steps})
    began = time.process_time()
    simulate_seeds(config, replicate_seeds(12345, n_reps))
    return (time.process_time() - began) / n_reps


def calibrate_proxy(target_cells: dict, space: CalibrationSpace, cache: str | Path, executor=None,
                    loco: bool = True, source: str = "", log: Callable[[str], None] | None = None) -> ProxyResult:
    """Calibrate one proxy space against a target (module docstring of :mod:`igmm.calibrate`).

    Parameters
    ----------
    target_cells : dict of (p, k) -> ndarray of int, shape (n_runs, T + 1, n_agents)
    space : CalibrationSpace
    cache : path-like
        Folder of the candidates' sweeps and summaries (kept: a rerun repeats no simulation).
    executor : Executor, optional
        Where the sweeps run (default: a process pool on every core).
    loco : bool
        Also run the leave-one-cell-out study.
    log : callable, optional
        Receives one line per stage.
    """
    log = log or (lambda line: None)
    began = time.perf_counter()
    target = make_target(target_cells, space, source=source)
    simulator = Simulator(space, target, Path(cache), executor=executor)
    seconds: dict[str, float] = {}
    try:
        design = design_params(space.distributions(), space.search.design, space.seed)
        all_cells = list(range(len(target.keys)))
        log(f"{space.name}: fitting {len(design)} design + {space.search.refine} refinement candidates "
            f"on {len(all_cells)} cells")
        full = fit(simulator, all_cells, design, space.search.refine, seed=space.seed)
        seconds["fit"] = time.perf_counter() - began
        index, scale = full.best
        best = full.best_params(simulator.scales)
        clock = time.perf_counter()
        draws = bootstrap(full, simulator, space.search.bootstrap, space.seed)
        uncertainty = parameter_uncertainty(best, draws, resolution(space, simulator.scales, best))
        seconds["bootstrap"] = time.perf_counter() - clock
        fit_rows = cell_table(target, full.candidates[index], scale, all_cells)
        heldout = None
        if loco and len(all_cells) > 1:
            clock = time.perf_counter()
            heldout = leave_one_cell_out(simulator, design, log)
            seconds["loco"] = time.perf_counter() - clock
            uncertainty = uncertainty.merge(fold_spread(heldout, best), on="parameter", how="left")
        seconds["total"] = time.perf_counter() - began
        cost = cost_per_run(simulator, full.candidates[index].params, float(simulator.scales[scale]))
        return ProxyResult(space=space, best=best, uncertainty=uncertainty, fit_table=fit_rows, heldout=heldout,
                           trials=full.trials_table(simulator.scales), draws=draws, seconds=seconds,
                           cost_per_run=cost, tasks_run=simulator.tasks_run, runs_simulated=simulator.runs_simulated,
                           best_candidate=full.candidates[index], best_scale=scale, simulator=simulator)
    finally:
        if executor is None:
            simulator.close()


def fold_spread(heldout: pd.DataFrame, best: dict[str, Any]) -> pd.DataFrame:
    """Jackknife SE and range of every numeric fitted value over the leave-one-cell-out folds.

    A second, coarser uncertainty beside the bootstrap: how far the fitted
    values move when one cell is left out (sensitive to what the search
    tried as well as to the data).
    """
    import json

    folds = heldout.drop_duplicates(["p", "k"])
    values = pd.DataFrame([json.loads(text) | {"time_scale": scale}
                           for text, scale in zip(folds["fitted"], folds["time_scale"])])
    rows = []
    for name, value in best.items():
        column = values.get(name)
        if column is None or isinstance(value, (bool, str)) or not np.issubdtype(column.dtype, np.number):
            share = float(np.mean(column.astype(str) == str(value))) if column is not None else float("nan")
            rows.append({"parameter": name, "folds_low": float("nan"), "folds_high": float("nan"),
                         "jackknife_se": float("nan"), "folds_share_best": share})
            continue
        numbers = column.to_numpy(dtype=float)
        n = len(numbers)
        rows.append({"parameter": name, "folds_low": float(numbers.min()), "folds_high": float(numbers.max()),
                     "jackknife_se": float(np.sqrt((n - 1) / n * np.sum((numbers - numbers.mean()) ** 2))),
                     "folds_share_best": float(np.mean(np.isclose(numbers, float(value))))})
    return pd.DataFrame(rows)


def leave_one_cell_out(simulator: Simulator, design: list[dict[str, Any]],
                       log: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Fit on all cells but one, predict that one; one row per held-out cell and measure.

    Columns of :func:`cell_table` plus ``time_scale`` and the fold's fitted values (``fitted`` as JSON).
    """
    from igmm.calibrate.engine import json_params

    target, space = simulator.target, simulator.space
    n_cells = len(target.keys)
    frames = []
    for held in range(n_cells):
        train = [cell for cell in range(n_cells) if cell != held]
        fold = fit(simulator, train, design, space.search.refine, seed=space.seed + 1 + held)
        index, scale = fold.best
        params = fold.candidates[index].params
        predicted = simulator.candidate(params, [held])
        frame = cell_table(target, predicted, scale, [held])
        frame["time_scale"] = float(simulator.scales[scale])
        frame["fitted"] = json_params(params)
        frames.append(frame)
        if log:
            p, k = target.keys[held]
            s_row = frame[frame["measure"] == f"S({target.n_steps})"].iloc[0]
            log(f"  held out p = {p:g}, k = {k}: S(T) target {s_row['target']:.2f}, predicted "
                f"{s_row['proxy']:.2f} (z = {s_row['z']:+.1f})")
    return pd.concat(frames, ignore_index=True)


def baseline(target_cells: dict, cache: str | Path, executor=None, replicates: int = 16, seed: int = 0,
             measures: dict | None = None, source: str = "") -> ProxyResult:
    """The uncalibrated paper GMM (sigma 0.2, r = 5, one step per round, p and k as the target's) on every cell.

    Nothing is fitted, so its table is a prediction of every cell: the same
    columns as a leave-one-cell-out table.
    """
    space = make_space(BASELINE_SPACE | {"replicates": replicates, "seed": seed} | ({"measures": measures} if measures else {}))
    result = calibrate_proxy(target_cells, space, cache, executor=executor, loco=False, source=source)
    result.heldout = result.fit_table.assign(time_scale=1.0, fitted="{}")
    return result


def summary_row(result: ProxyResult) -> dict[str, Any]:
    """One leaderboard row: held-out accuracy and cost."""
    n_steps = result.simulator.target.n_steps if result.simulator else 80
    table = result.heldout if result.heldout is not None else result.fit_table
    found = criteria(table, n_steps)
    heldout_loss = _table_loss(table, result)
    return {"proxy": result.space.name, "dynamics": result.space.base.get("dynamics", "paper"),
            **{f"heldout_{k}" if k != "n_cells" else k: v for k, v in found.items()},
            "heldout_loss": heldout_loss, "fit_mean_abs_z": float(result.fit_table["z"].abs().mean()),
            "cost_per_run_s": result.cost_per_run, "time_scale": result.best.get("time_scale", float("nan")),
            "study_seconds": result.seconds.get("total", float("nan"))}


def _table_loss(table: pd.DataFrame, result: ProxyResult) -> float:
    from igmm.calibrate.measures import LOSSES

    weights = {m.name: m.weight for m in result.simulator.target.measures}
    terms = LOSSES[result.space.measures.loss](table["z"].to_numpy()) * table["measure"].map(weights).to_numpy()
    return float(terms.sum() / table[["p", "k"]].drop_duplicates().shape[0])


def leaderboard(results: Sequence[ProxyResult]) -> pd.DataFrame:
    """Proxies ranked by held-out loss (then cost per run)."""
    frame = pd.DataFrame([summary_row(result) for result in results])
    return frame.sort_values(["heldout_loss", "cost_per_run_s"], ignore_index=True)
