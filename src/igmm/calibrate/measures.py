"""The summary statistics a calibration matches, per (p, k) cell, with standard errors and their floors.

Per cell (one group of runs, ids of shape (n_runs, T + 1, n_agents)):

==========================  =======  =================================================================
measure                     kind     value (standard error)
==========================  =======  =================================================================
``S(t)`` at several t       count    mean number of silos at round t (SE of the mean)
``P(one silo)``             share    share of runs with one silo at T (binomial SE)
``median t*``               time     log of the Kaplan-Meier median consensus time, T where it is
                                     not reached by T (target: bootstrap SE over its runs)
``mean stability``          rate     mean over runs of the mean Stab(t), t = 1 .. T (SE of the mean)
``churn while split``       rate     share of agents changing ID per step over the steps that start
                                     with two or more silos, pooled as in
                                     :func:`igmm.llm.comparison.switch_rate_while_split`
                                     (SE from the spread of the per-run rates)
``pattern <name>``          share    share of runs of each silo pattern but consensus
                                     (:func:`igmm.metrics.classify_patterns`)
==========================  =======  =================================================================

The values are those of :func:`igmm.stats.run_statistics` (``silos_final_mean``,
``p_one_silo``, ``t_star_median``, ``mean_stability``, ``pattern_*``; a
test checks it) computed for many groups at once: a calibration summarises
every candidate proxy at every time scale and cell, thousands of groups.

**Floors.** Where every run of a group agrees the standard error is 0 and a
difference would be infinitely significant; each SE is therefore at least
the one a single dissenting run would give: 1/n for a count (one run one
silo off), sqrt(q (1 - q) / n) with q = 1/2 / (n + 1) for a share (the
add-a-half estimate of a share seen 0 times in n), log(1.5) / 2 for the
log median (a factor 1.5 is then two standard errors) and 0.005 for a rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from igmm.metrics import n_silos, run_measures, stability
from igmm.metrics.patterns import PATTERN_NAMES

#: Rounds at which S(t) is matched by default (those beyond the target's T are dropped).
DEFAULT_TIMES: tuple[int, ...] = (1, 2, 5, 10, 20, 40, 80)
#: Silo patterns matched (consensus is P(one silo)).
PATTERNS: tuple[str, ...] = tuple(name for name in PATTERN_NAMES if name != "consensus")
#: Floor of the SE of a log median consensus time: a factor 1.5 is two floors.
LOG_TIME_FLOOR = float(np.log(1.5) / 2)
#: Floor of the SE of a rate (mean stability, churn).
RATE_FLOOR = 0.005
#: Default weight of each measure in the loss, by measure family.
DEFAULT_WEIGHTS: dict[str, float] = {"S": 0.5, "P(one silo)": 1.0, "median t*": 1.0, "mean stability": 0.5,
                                     "churn while split": 1.0, "pattern": 0.5}


@dataclass(frozen=True)
class Measure:
    """One matched statistic.

    Attributes
    ----------
    name : str
        E.g. ``"S(10)"``, ``"P(one silo)"``, ``"pattern stable"``.
    kind : str
        ``count``, ``share``, ``time`` or ``rate`` (its SE floor).
    weight : float
        Weight in the loss.
    """

    name: str
    kind: str
    weight: float


def measure_list(n_steps: int, times: Sequence[int] = DEFAULT_TIMES,
                 weights: dict[str, float] | None = None) -> list[Measure]:
    """The measures of a calibration against a target of ``n_steps`` rounds.

    Parameters
    ----------
    n_steps : int
        The target's T; S(t) at times beyond it are dropped and S(T) is always included.
    times : sequence of int
    weights : dict, optional
        Weight per family (keys of :data:`DEFAULT_WEIGHTS`), overriding the defaults.
    """
    chosen = DEFAULT_WEIGHTS | dict(weights or {})
    rounds = sorted({int(t) for t in times if 1 <= t <= n_steps} | {int(n_steps)})
    measures = [Measure(f"S({t})", "count", chosen["S"]) for t in rounds]
    measures += [Measure("P(one silo)", "share", chosen["P(one silo)"]),
                 Measure("median t*", "time", chosen["median t*"]),
                 Measure("mean stability", "rate", chosen["mean stability"]),
                 Measure("churn while split", "rate", chosen["churn while split"])]
    measures += [Measure(f"pattern {name}", "share", chosen["pattern"]) for name in PATTERNS]
    return measures


def read_at_scale(ids: np.ndarray, scale: float, n_rounds: int) -> np.ndarray:
    """A proxy's trajectories read once per target round: step round(s * scale) for s = 0 .. n_rounds.

    Parameters
    ----------
    ids : ndarray of int, shape (..., n_steps + 1, n_agents)
        Needs n_steps >= round(n_rounds * scale).
    scale : float
        Proxy steps per target round.

    Returns
    -------
    ndarray of the input dtype, shape (..., n_rounds + 1, n_agents)
    """
    steps = np.rint(np.arange(n_rounds + 1) * scale).astype(np.int64)
    if steps[-1] >= ids.shape[-2]:
        raise ValueError(f"time scale {scale:g}: needs {steps[-1]} steps, the trajectories have {ids.shape[-2] - 1}")
    return ids[..., steps, :]


def km_median(t_star: np.ndarray, converged: np.ndarray) -> np.ndarray:
    """Kaplan-Meier median t* of groups censored only at their common T, vectorised over groups.

    With every censoring at the end the Kaplan-Meier estimate is the
    empirical distribution, so :func:`igmm.metrics.kaplan_meier_median`
    reduces to the median of the times with censored runs at infinity: NaN
    when it is not reached (a test checks the two agree).

    Parameters
    ----------
    t_star, converged : ndarray, shape (..., n_runs)

    Returns
    -------
    ndarray of float64, shape (...)
    """
    times = np.sort(np.where(converged, t_star, np.inf).astype(np.float64), axis=-1)
    n_runs = times.shape[-1]
    if n_runs % 2:
        median = times[..., n_runs // 2]
    else:
        low, high = times[..., n_runs // 2 - 1], times[..., n_runs // 2]
        with np.errstate(invalid="ignore"):
            median = np.where(low == high, low, (low + high) / 2)
    return np.where(np.isfinite(median), median, np.nan)


def _share_floor(n_runs: int) -> float:
    q = 0.5 / (n_runs + 1)
    return float(np.sqrt(q * (1 - q) / n_runs))


def se_floor(kind: str, n_runs: int) -> float:
    """The smallest standard error of a measure of ``kind`` over ``n_runs`` runs (module docstring)."""
    return {"count": 1.0 / n_runs, "share": _share_floor(n_runs), "time": LOG_TIME_FLOOR, "rate": RATE_FLOOR}[kind]


def _mean_se(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SE (ddof = 1) over the last axis, ignoring NaN."""
    import warnings

    count = np.sum(np.isfinite(values), axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # groups with no value: NaN, on purpose
        mean = np.nanmean(values, axis=-1) if values.size else np.full(values.shape[:-1], np.nan)
        se = np.nanstd(values, axis=-1, ddof=1) / np.sqrt(count)
    return mean, np.where(count > 1, se, np.nan)


def per_run_values(ids: np.ndarray, rounds: Sequence[int]) -> dict[str, np.ndarray]:
    """Per-run ingredients of every measure, shape (..., n_runs) each.

    Parameters
    ----------
    ids : ndarray of int, shape (..., n_runs, T + 1, n_agents)
    rounds : sequence of int
        The t of S(t).
    """
    ids = np.asarray(ids)
    lead = ids.shape[:-2]
    flat = ids.reshape((-1,) + ids.shape[-2:])
    measures = run_measures(flat)
    silos = n_silos(flat)
    changed = 1.0 - stability(flat)
    split_before = silos[:, :-1] >= 2
    values = {f"S({t})": silos[:, t].astype(np.float64) for t in rounds}
    values |= {"converged": measures["converged"], "t_star": measures["t_star"],
               "mean_stability": measures["mean_stability"], "pattern": measures["pattern"],
               "churn_sum": np.where(split_before, changed, 0.0).sum(axis=1),
               "split_steps": split_before.sum(axis=1).astype(np.float64)}
    return {name: value.reshape(lead) for name, value in values.items()}


def summarise(ids: np.ndarray, measures: Sequence[Measure]) -> tuple[np.ndarray, np.ndarray]:
    """Value and floored standard error of every measure, for every group of runs.

    Parameters
    ----------
    ids : ndarray of int, shape (..., n_runs, T + 1, n_agents)
        Groups of runs (e.g. cells, or time scales x cells).
    measures : sequence of Measure

    Returns
    -------
    values, ses : ndarray of float64, shape (..., n_measures)
        The SE of ``median t*`` is 0 here: a target's is set by
        :func:`target_statistics` from a bootstrap (and floored); a proxy's,
        from two or more times as many runs, is neglected.
    """
    ids = np.asarray(ids)
    n_runs, n_steps = ids.shape[-3], ids.shape[-2] - 1
    rounds = [int(m.name[2:-1]) for m in measures if m.kind == "count"]
    runs = per_run_values(ids, rounds)
    values, ses = [], []
    for measure in measures:
        name = measure.name
        if measure.kind == "count":
            value, se = _mean_se(runs[name])
        elif name == "P(one silo)":
            value = runs["converged"].mean(axis=-1)
            se = np.sqrt(value * (1 - value) / n_runs)
        elif name == "median t*":
            median = km_median(runs["t_star"], runs["converged"])
            value, se = np.log(np.where(np.isnan(median), n_steps, np.maximum(median, 1.0))), np.zeros(median.shape)
        elif name == "mean stability":
            value, se = _mean_se(runs["mean_stability"])
        elif name == "churn while split":
            with np.errstate(invalid="ignore", divide="ignore"):
                value = runs["churn_sum"].sum(axis=-1) / runs["split_steps"].sum(axis=-1)
                _, se = _mean_se(np.where(runs["split_steps"] > 0, runs["churn_sum"] / runs["split_steps"], np.nan))
        elif name.startswith("pattern "):
            value = (runs["pattern"] == name.removeprefix("pattern ")).mean(axis=-1)
            se = np.sqrt(value * (1 - value) / n_runs)
        else:
            raise ValueError(f"unknown measure {name!r}")
        values.append(np.asarray(value, dtype=np.float64))
        floor = 0.0 if measure.kind == "time" else se_floor(measure.kind, n_runs)
        ses.append(np.fmax(np.nan_to_num(np.asarray(se, dtype=np.float64), nan=0.0), floor))
    return np.stack(values, axis=-1), np.stack(ses, axis=-1)


def bootstrap_indices(rng: np.random.Generator, n_boot: int, n_runs: int) -> np.ndarray:
    """Resampled run indices, shape (n_boot, n_runs), int64."""
    return rng.integers(0, n_runs, size=(n_boot, n_runs))


def target_statistics(cells: dict, measures: Sequence[Measure], n_boot: int = 400,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The target's values and SEs per cell; the SE of the log median t* from a bootstrap over its runs.

    Parameters
    ----------
    cells : dict of (p, k) -> ndarray of int, shape (n_runs, T + 1, n_agents)
    measures : sequence of Measure
    n_boot : int
        Bootstrap resamples for the median's SE.
    seed : int

    Returns
    -------
    values, ses : ndarray of float64, shape (n_cells, n_measures), cells in the dict's order
    """
    rng = np.random.default_rng(seed)
    values, ses = [], []
    where = [m.name for m in measures].index("median t*") if any(m.name == "median t*" for m in measures) else None
    for ids in cells.values():
        value, se = summarise(ids, measures)
        if where is not None:  # resample the runs' consensus times (a run's t* does not depend on the others)
            runs, picks = per_run_values(ids, []), bootstrap_indices(rng, n_boot, len(ids))  # picks: (n_boot, n_runs)
            median = km_median(runs["t_star"][picks], runs["converged"][picks])
            logs = np.log(np.where(np.isnan(median), ids.shape[1] - 1, np.maximum(median, 1.0)))
            se[where] = max(float(np.std(logs, ddof=1)), LOG_TIME_FLOOR)
        values.append(value)
        ses.append(se)
    return np.array(values), np.array(ses)


def z_scores(target: tuple[np.ndarray, np.ndarray], proxy: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(proxy - target) / sqrt(se_target^2 + se_proxy^2), broadcast; 0 where either value is NaN."""
    (t_value, t_se), (p_value, p_se) = target, proxy
    z = (p_value - t_value) / np.sqrt(t_se**2 + p_se**2)
    return np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)


def pseudo_huber(z: np.ndarray) -> np.ndarray:
    """sqrt(1 + z^2) - 1: z^2 / 2 near 0, |z| far out, so one badly missed measure does not drown the rest."""
    return np.sqrt(1.0 + z * z) - 1.0


#: Losses of standardised differences, by name.
LOSSES = {"huber": pseudo_huber, "squared": lambda z: z * z}
