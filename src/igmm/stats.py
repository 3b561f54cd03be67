"""One set of statistics over groups of runs, used by every summary (sweeps, experiments, comparison, calibration).

Per group of runs (e.g. a grid point, a (p, k) cell of transcripts):

- means with their standard error and a t interval (``*_mean``, ``*_se``, ``*_lo``, ``*_hi``);
- proportions with a Wilson score interval (``p_one_silo``, ``p_polarized``, ``pattern_<name>``);
- the Kaplan-Meier median of the consensus time t*, runs that had not
  reached one silo at T censored at T (NaN when it is not reached: "> T").

Intervals are 95% by default (``level``). The Wilson interval equals
``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")`` and the
Kaplan-Meier estimate ``scipy.stats.ecdf`` on censored data (both tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from igmm.metrics import PATTERN_NAMES, kaplan_meier_median

#: Default coverage of every interval (and of the bands of every figure).
LEVEL = 0.95


def t_quantile(level: float, dof):
    """Half-width of a two-sided ``level`` t interval in standard errors, with ``dof`` degrees of freedom."""
    return scipy_stats.t.ppf(0.5 + level / 2, dof)


@dataclass(frozen=True)
class Estimate:
    """A value with its standard error and interval."""

    value: float
    se: float
    low: float
    high: float
    n: int


def wilson_interval(successes, n_trials, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of binomial proportions (vectorised).

    Parameters
    ----------
    successes, n_trials : array_like of int, same shape
    level : float

    Returns
    -------
    (lower, upper) : ndarrays of float64, the input shape; NaN where ``n_trials == 0``.

    Examples
    --------
    >>> lo, hi = wilson_interval(np.array([0]), np.array([10]))
    >>> float(lo[0]), round(float(hi[0]), 4)
    (0.0, 0.2775)
    """
    z = scipy_stats.norm.ppf(0.5 + level / 2)
    successes = np.asarray(successes, dtype=float)
    n_trials = np.asarray(n_trials, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = successes / n_trials
        denominator = 1.0 + z**2 / n_trials
        centre = (share + z**2 / (2 * n_trials)) / denominator
        half_width = z * np.sqrt(share * (1 - share) / n_trials + z**2 / (4 * n_trials**2)) / denominator
    # At 0 or n successes the bound is exactly 0 or 1; the formula leaves a rounding error there.
    lower = np.where((successes == 0) & (n_trials > 0), 0.0, np.clip(centre - half_width, 0.0, 1.0))
    upper = np.where((successes == n_trials) & (n_trials > 0), 1.0, np.clip(centre + half_width, 0.0, 1.0))
    return lower, upper


def proportion(successes: int, n_trials: int, level: float = LEVEL) -> Estimate:
    """A proportion with its binomial standard error and Wilson interval."""
    share = successes / n_trials if n_trials else float("nan")
    lower, upper = wilson_interval(np.array([successes]), np.array([n_trials]), level)
    se = np.sqrt(share * (1 - share) / n_trials) if n_trials else float("nan")
    return Estimate(float(share), float(se), float(lower[0]), float(upper[0]), int(n_trials))


def mean(values, level: float = LEVEL) -> Estimate:
    """A mean with its standard error (ddof = 1) and t interval; NaN spread for one value."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    n = len(values)
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), float("nan"), 0)
    centre = float(values.mean())
    if n == 1:
        return Estimate(centre, float("nan"), float("nan"), float("nan"), 1)
    se = float(values.std(ddof=1) / np.sqrt(n))
    half = float(t_quantile(level, n - 1)) * se
    return Estimate(centre, se, centre - half, centre + half, n)


def _columns(prefix: str, estimate: Estimate) -> dict[str, float]:
    return {prefix: estimate.value, f"{prefix}_se": estimate.se, f"{prefix}_lo": estimate.low, f"{prefix}_hi": estimate.high}


def run_statistics(runs: pd.DataFrame, level: float = LEVEL) -> dict[str, float]:
    """The statistics of one group of runs (rows of a ``runs`` table, :data:`igmm.tables.RUN_SCHEMA`).

    Returns
    -------
    dict
        ``n_runs``, ``silos_final_mean`` (+ ``_se``, ``_lo``, ``_hi``),
        ``silos_final_max``, ``p_one_silo`` (+ Wilson ``_lo``, ``_hi``, binomial ``_se``),
        ``n_censored``, ``t_star_median`` (Kaplan-Meier; NaN: "> T"), ``n_steps``,
        ``mean_stability`` (+ ``_se``, ...), ``p_polarized`` (by T, NaN when unknown)
        and ``p_polarized_final``, ``polarized_max_silos``, ``pattern_<name>`` for every
        pattern (+ ``_lo``, ``_hi``).
    """
    n_runs = len(runs)
    converged = runs["converged"].to_numpy(dtype=bool)
    row: dict[str, float] = {"n_runs": n_runs}
    row |= _columns("silos_final_mean", mean(runs["n_silos_final"], level))
    row["silos_final_max"] = int(runs["n_silos_final"].max())
    row |= _columns("p_one_silo", proportion(int(converged.sum()), n_runs, level))
    row["n_censored"] = int((~converged).sum())
    row["t_star_median"] = kaplan_meier_median(runs["t_star"].to_numpy(dtype=float), converged)
    row["n_steps"] = int(runs["n_steps"].max())
    row |= _columns("mean_stability", mean(runs["mean_stability"], level))
    known = runs["t_polarized"].notna().to_numpy()
    if known.all():
        polarized = runs["t_polarized"].to_numpy(dtype=float) >= 0
        row |= _columns("p_polarized", proportion(int(polarized.sum()), n_runs, level))
        row["p_polarized_final"] = float(runs["polarized_final"].to_numpy(dtype=bool).mean())
        row["polarized_max_silos"] = int(runs["max_silos_polarized"].max())
    else:
        row |= {"p_polarized": np.nan, "p_polarized_se": np.nan, "p_polarized_lo": np.nan, "p_polarized_hi": np.nan,
                "p_polarized_final": np.nan, "polarized_max_silos": np.nan}
    patterns = runs["pattern"].to_numpy(dtype=str)
    for name in PATTERN_NAMES:
        row |= _columns(f"pattern_{name}", proportion(int(np.sum(patterns == name)), n_runs, level))
    return row


def group_statistics(runs: pd.DataFrame, by: list[str], level: float = LEVEL) -> pd.DataFrame:
    """:func:`run_statistics` of every group of ``runs``, one row per group, sorted by ``by``.

    Parameters
    ----------
    runs : DataFrame
        A ``runs`` table, with the grouping columns (e.g. ``point`` or ``p, k``).
    by : list of str
    level : float
        Coverage of every interval.
    """
    rows = []
    for key, group in runs.groupby(by, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        rows.append(dict(zip(by, key)) | run_statistics(group, level))
    return pd.DataFrame(rows)
