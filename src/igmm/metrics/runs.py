"""Per-run measures of ID trajectories, computed once per batch: the ``runs`` table's measure columns."""

from __future__ import annotations

import numpy as np

from igmm.metrics.patterns import classify_patterns
from igmm.metrics.polarization import first_hitting_time
from igmm.metrics.silos import consensus_time, largest_silo, n_silos, silo_sizes, stability


def run_measures(ids: np.ndarray, polarized: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every per-run measure of a batch of trajectories.

    Parameters
    ----------
    ids : ndarray of int, shape (n_runs, n_steps + 1, n_agents)
    polarized : ndarray of bool, shape (n_runs, n_steps + 1), optional
        Polarization flag of every state; None when unknown (the polarization
        columns are then missing values, not False).

    Returns
    -------
    dict of name -> ndarray of shape (n_runs,)
        ``n_silos_final``, ``largest_silo_final``, ``second_silo_final`` (0 with
        one silo), ``mean_stability`` and ``min_stability`` over t >= 1 (NaN for
        T = 0), ``last_change`` (last t with Stab(t) < 1; 0 when none),
        ``converged`` and ``t_star`` (censored at T where not converged),
        ``polarized_final``, ``t_polarized`` (first t polarized; -1 never),
        ``max_silos_polarized`` (most silos in a polarized state; 0 never) and
        ``pattern`` (:func:`igmm.metrics.patterns.classify_patterns`).

    Examples
    --------
    >>> ids = np.array([[[0, 1, 1], [1, 1, 1]]])     # one run, T = 1: two silos, then one
    >>> m = run_measures(ids)
    >>> int(m["t_star"][0]), bool(m["converged"][0]), str(m["pattern"][0])
    (0, True, 'consensus')
    """
    ids = np.asarray(ids)
    n_runs = ids.shape[0]
    stab = stability(ids)
    changed = stab < 1.0
    final = ids[:, -1, :]
    sizes = np.sort(silo_sizes(final, n_labels=int(ids.max(initial=0)) + 1), axis=-1)
    consensus = consensus_time(ids)
    measures = {
        "n_silos_final": n_silos(final),
        "largest_silo_final": largest_silo(final),
        "second_silo_final": sizes[:, -2] if sizes.shape[-1] > 1 else np.zeros(n_runs, np.int64),
        "mean_stability": stab.mean(axis=-1) if stab.shape[-1] else np.full(n_runs, np.nan),
        "min_stability": stab.min(axis=-1) if stab.shape[-1] else np.full(n_runs, np.nan),
        "last_change": np.where(changed.any(axis=-1), stab.shape[-1] - np.argmax(changed[..., ::-1], axis=-1), 0),
        "converged": consensus.converged,
        "t_star": consensus.t_star,
        "pattern": classify_patterns(ids),
    }
    if polarized is None:  # unknown, not False: object arrays of None (missing values in the tables)
        missing = np.full(n_runs, None, dtype=object)
        measures |= {"polarized_final": missing, "t_polarized": missing, "max_silos_polarized": missing}
    else:
        polarized = np.asarray(polarized, dtype=bool)
        measures |= {
            "polarized_final": polarized[:, -1],
            "t_polarized": first_hitting_time(polarized),
            "max_silos_polarized": np.where(polarized, n_silos(ids), 0).max(axis=-1),
        }
    return measures
