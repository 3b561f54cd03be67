"""Silo patterns of a run: consensus, stable, unstable or decaying (MODEL.md section 4).

One classifier for both systems (GMM runs and language-model transcripts),
a pure function of the ID trajectory. It looks at the *end window*, the last
``window_share`` of the steps, and decides in this order:

1. **consensus**: one silo at T, S(T) = 1.
2. **stable**: several silos at T and frozen membership: Stab(t) >= ``frozen_stability``
   at every step of the end window.
3. **unstable**: several silos at T, membership not frozen, and at least two
   *large* silos (each holding >= ``large_share`` of the agents) side by side
   during at least ``coexist_share`` of the end window: large groups
   exchanging members.
4. **decaying**: everything else with several silos at T: membership still
   moving but without two large silos, i.e. small silos dying out on the way to
   one.

Defaults: ``window_share = 0.25``, ``frozen_stability = 1.0`` (no agent changes
its ID in the window), ``large_share = 1/6`` (5 of 30 agents),
``coexist_share = 0.5``. A run of zero steps has an empty window and counts as
frozen. The thresholds are keyword arguments so a study can vary them; the
project's tables always use the defaults.
"""

from __future__ import annotations

import numpy as np

from igmm.metrics.silos import n_silos, silo_sizes, stability

#: Pattern names, in the order of the rules above.
PATTERN_NAMES: tuple[str, ...] = ("consensus", "stable", "unstable", "decaying")
WINDOW_SHARE = 0.25
FROZEN_STABILITY = 1.0
LARGE_SHARE = 1.0 / 6.0
COEXIST_SHARE = 0.5


def end_window(n_steps: int, window_share: float = WINDOW_SHARE) -> int:
    """Number of steps in the end window: ceil(window_share * n_steps), at least 1 when n_steps >= 1."""
    if not 0.0 < window_share <= 1.0:
        raise ValueError(f"window_share: {window_share!r} is not allowed: must lie in (0, 1]")
    return min(n_steps, max(1, int(np.ceil(window_share * n_steps)))) if n_steps else 0


def classify_patterns(
    ids: np.ndarray,
    *,
    window_share: float = WINDOW_SHARE,
    frozen_stability: float = FROZEN_STABILITY,
    large_share: float = LARGE_SHARE,
    coexist_share: float = COEXIST_SHARE,
) -> np.ndarray:
    """The silo pattern of every run.

    Parameters
    ----------
    ids : ndarray of int, shape (..., n_steps + 1, n_agents)
        ID trajectories, e.g. (n_reps, n_steps + 1, n_agents); non-negative labels.
    window_share : float
        Share of the steps, counted back from T, that form the end window.
    frozen_stability : float
        A run is frozen when Stab(t) >= this at every step of the window.
    large_share : float
        A silo is large when it holds at least this share of the agents.
    coexist_share : float
        Share of the window's steps in which two large silos must coexist for "unstable".

    Returns
    -------
    ndarray of str, shape ``ids.shape[:-2]``
        One of :data:`PATTERN_NAMES` per run.

    Examples
    --------
    >>> frozen = np.array([[0, 0, 1, 1]] * 5)          # 4 steps, two silos, nobody moves
    >>> merged = np.array([[0, 0, 1, 1]] * 3 + [[0, 0, 0, 0]] * 2)
    >>> classify_patterns(np.stack([frozen, merged])).tolist()
    ['stable', 'consensus']
    """
    ids = np.asarray(ids)
    if ids.ndim < 2:
        raise ValueError(f"ids must have shape (..., n_steps + 1, n_agents); got {ids.shape}")
    n_steps, n_agents = ids.shape[-2] - 1, ids.shape[-1]
    window = end_window(n_steps, window_share)
    one_silo = n_silos(ids[..., -1, :]) == 1
    frozen = _frozen(ids, window, frozen_stability)
    two_large = _two_large_silos_share(ids, window, large_share * n_agents) >= coexist_share
    # Later rules only apply where the earlier ones did not: np.select keeps the first match.
    return np.select(
        [one_silo, frozen, two_large],
        ["consensus", "stable", "unstable"],
        default="decaying",
    ).astype("<U9")


def _frozen(ids: np.ndarray, window: int, frozen_stability: float) -> np.ndarray:
    """True where Stab(t) >= frozen_stability throughout the last ``window`` steps; shape ids.shape[:-2]."""
    if window == 0:
        return np.ones(ids.shape[:-2], dtype=bool)
    # Compare with a tolerance of one rounding error so 1.0 means "nobody moved".
    return np.all(stability(ids[..., -window - 1:, :]) >= frozen_stability - 1e-12, axis=-1)


def _two_large_silos_share(ids: np.ndarray, window: int, min_size: float) -> np.ndarray:
    """Share of the window's states holding >= 2 silos of at least ``min_size`` agents."""
    if window == 0:
        return np.zeros(ids.shape[:-2])
    sizes = silo_sizes(ids[..., -window:, :], n_labels=int(ids.max()) + 1)
    n_large = np.sum(sizes >= min_size, axis=-1)
    return np.mean(n_large >= 2, axis=-1)


def pattern_shares(patterns: np.ndarray) -> dict[str, float]:
    """Share of runs in each pattern, for every name in :data:`PATTERN_NAMES`."""
    patterns = np.asarray(patterns).ravel()
    total = max(patterns.size, 1)
    return {name: float(np.sum(patterns == name)) / total for name in PATTERN_NAMES}
