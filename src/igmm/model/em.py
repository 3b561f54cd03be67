"""The warm-started one-step EM on the mixture weights (MODEL.md section 2), in log space."""

from __future__ import annotations

import numpy as np

#: exp(x) rounds to exactly 0.0 in float64 for x < log(2**-1075) = -745.1332...; a
#: little below that bound every exp is 0, so it may be skipped without changing a bit.
EXP_UNDERFLOW = -745.2


def clip_renormalise(weights: np.ndarray, eps: float) -> np.ndarray:
    """Clip to [eps, 1 - eps] and renormalise to sum 1 along the last axis.

    After renormalisation an entry may sit a relative O(n_components * eps)
    below eps (the clipped entries sum to slightly more than 1); that is the
    original code's behaviour and is kept.
    """
    clipped = np.clip(weights, eps, 1.0 - eps)
    clipped /= clipped.sum(axis=-1, keepdims=True)
    return clipped


def scaled_densities(log_dens: np.ndarray) -> np.ndarray:
    """Densities of each point scaled by its largest one: exp(log_dens - max_k log_dens).

    The per-point offset cancels in the responsibilities, so EM needs only
    these scaled values (in [0, 1], largest exactly 1): this is log-sum-exp
    with the shift computed once, when the point enters a database, instead of
    at every EM step. A component whose scaled density underflows to 0 is more
    than e^-745 below the best one; with weights >= eps its responsibility is
    below e^-700, so nothing measurable is lost against a full log-space
    evaluation. (The original code used raw densities and left a point's
    column at zero when every density underflowed; here no column is ever
    zero.)

    Parameters
    ----------
    log_dens : ndarray of float64, shape (..., n_components)

    Returns
    -------
    ndarray of float64, shape (..., n_components)
    """
    shifted = log_dens - log_dens.max(axis=-1, keepdims=True)
    # exp underflows to exactly 0 below EXP_UNDERFLOW anyway, but numpy's exp is
    # 4-5x slower on such arguments than in the normal range (a scalar fallback):
    # skipping them gives the same bits, faster.
    out = np.zeros_like(shifted)
    return np.exp(shifted, out=out, where=shifted > EXP_UNDERFLOW)


def responsibilities(weights: np.ndarray, dens: np.ndarray) -> np.ndarray:
    """gamma_k(z) for every stored point.

    Parameters
    ----------
    weights : ndarray of float64, shape (..., n_components)
        Mixture weights, all > 0.
    dens : ndarray of float64, shape (..., rag_size, n_components)
        Scaled densities of the stored points (:func:`scaled_densities`).

    Returns
    -------
    ndarray of float64, shape (..., rag_size, n_components)
    """
    joint = weights[..., None, :] * dens
    return joint / joint.sum(axis=-1, keepdims=True)


def em_step(weights: np.ndarray, dens: np.ndarray, eps: float, n_iterations: int = 1) -> np.ndarray:
    """EM1(R; pi): warm-started EM iterations on the weights only.

    Parameters
    ----------
    weights : ndarray of float64, shape (..., n_components)
        Current weights (the warm start).
    dens : ndarray of float64, shape (..., rag_size, n_components)
        Scaled densities of the database points (:func:`scaled_densities`).
    eps : float
        Floor: weights are clipped to [eps, 1 - eps] before the E-step and after the M-step.
    n_iterations : int
        1 in the paper; more is a variant.

    Returns
    -------
    ndarray of float64, shape (..., n_components)
        New weights, summing to 1.

    Examples
    --------
    >>> dens = scaled_densities(np.log([[[0.5, 0.1]]]))   # one point, two components
    >>> em_step(np.array([[0.5, 0.5]]), dens, eps=1e-12).round(4)
    array([[0.8333, 0.1667]])
    """
    for _ in range(n_iterations):
        start = clip_renormalise(weights, eps)
        weights = clip_renormalise(mean_responsibilities(start, dens), eps)
    return weights


def mean_responsibilities(start: np.ndarray, dens: np.ndarray) -> np.ndarray:
    """mean_z gamma_k(z), the M-step's weights before clipping.

    Same arithmetic as ``responsibilities(start, dens).mean(axis=-2)`` (so the
    same bits: a point that only one component explains gets a responsibility
    of exactly 1, and exact ties between weights such as 1/r stay exact ties
    for the argmax), with one (..., rag_size, n_components) temporary reused
    in place.

    Parameters
    ----------
    start : ndarray of float64, shape (..., n_components)
        Clipped, renormalised weights (all > 0).
    dens : ndarray of float64, shape (..., rag_size, n_components)

    Returns
    -------
    ndarray of float64, shape (..., n_components)
    """
    joint = dens * start[..., None, :]
    joint /= joint.sum(axis=-1, keepdims=True)
    mean = np.add.reduce(joint, axis=-2)
    mean /= dens.shape[-2]
    return mean
