"""Medians of right-censored times (t* of runs that never reached one silo is censored at T)."""

from __future__ import annotations

import numpy as np


def kaplan_meier_median(times: np.ndarray, observed: np.ndarray) -> float:
    """Median of a right-censored sample by the Kaplan-Meier estimator.

    The one definition used everywhere a median t* is reported (experiment
    summaries, sweep summaries, the language-model comparison).

    Parameters
    ----------
    times : array_like of float, shape (n,)
        Event time, or censoring time where ``observed`` is false.
    observed : array_like of bool, shape (n,)
        True for an observed event (here: the run converged).

    Returns
    -------
    float
        The first event time where the survival estimate falls to 1/2 or
        below; where it equals 1/2 exactly, the midpoint to the next event
        time, so that without censoring this is the ordinary median. NaN when
        the estimate never falls below 1/2 (the median lies beyond the last
        observation: report it as "> T").

    Examples
    --------
    >>> kaplan_meier_median([3, 5, 8, 9], [True, True, True, True])
    6.5
    >>> kaplan_meier_median([2, 4, 4, 6, 8, 10], [True, True, False, True, False, False])
    6.0
    >>> kaplan_meier_median([4, 80, 80], [True, False, False])
    nan
    """
    times = np.asarray(times, dtype=np.float64)
    observed = np.asarray(observed, dtype=bool)
    if times.shape != observed.shape or times.ndim != 1:
        raise ValueError(f"times and observed must be 1-D of one length; got {times.shape} and {observed.shape}")
    survival = 1.0
    event_times = np.unique(times[observed])
    for index, time in enumerate(event_times):
        # Events at `time` come before censorings at the same time (the usual convention).
        at_risk = np.count_nonzero(times >= time)
        events = np.count_nonzero(observed & (times == time))
        survival *= 1.0 - events / at_risk
        if np.isclose(survival, 0.5, rtol=0.0, atol=1e-12):
            if index + 1 < len(event_times):
                return float((time + event_times[index + 1]) / 2)
            return float("nan")  # flat at 1/2 to the end of follow-up: beyond T
        if survival < 0.5:
            return float(time)
    return float("nan")
