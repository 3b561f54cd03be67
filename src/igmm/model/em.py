"""The warm-started one-step EM on the mixture weights (the building block EM1 of docs/model.md).

One implementation, in the engine's layout: **components first, batch last**.
Weights have shape ``(n_components, n_batch)`` and the cached densities of
the stored points ``(rag_size, n_components, n_batch)``, where ``n_batch``
runs over (replicate, agent) pairs. Reductions over components then become a
handful of vector operations over all agents at once (numpy reduces a short
*last* axis row by row, with a per-row overhead several times the
arithmetic). :func:`em_step_batch` is the same step for arrays with the batch
axes first, for readers and callers outside the hot loop.
"""

from __future__ import annotations

import numpy as np

#: exp(x) rounds to exactly 0.0 in float64 for x < log(2**-1075) = -745.1332...; a
#: little below that bound every exp is 0, so it may be skipped without changing a bit.
EXP_UNDERFLOW = -745.2


def clip_renormalise(weights: np.ndarray, eps: float, axis: int = 0) -> np.ndarray:
    """Clip to [eps, 1 - eps] and renormalise to sum 1 along ``axis`` (the components).

    The sum runs sequentially down the component axis (``np.add.reduce``
    over a leading axis), a fixed order that every backend reproduces.
    After renormalisation an entry may sit a relative O(n_components * eps)
    below eps (the clipped entries sum to slightly more than 1); that is the
    original code's behaviour and is kept.

    Parameters
    ----------
    weights : ndarray of float64
        Components along ``axis``.
    eps : float
    axis : int
        The component axis (0 in the engine's layout, -1 for batch-first arrays).

    Returns
    -------
    ndarray of float64, the shape of ``weights``
    """
    clipped = np.clip(weights, eps, 1.0 - eps)
    moved = np.moveaxis(clipped, axis, 0)
    moved /= np.add.reduce(moved, axis=0)
    return clipped


def scaled_densities(log_dens: np.ndarray, axis: int = 0) -> np.ndarray:
    """Densities of each point scaled by its largest one: exp(log_dens - max over components).

    The per-point offset cancels in the responsibilities, so EM needs only
    these scaled values (in [0, 1], largest exactly 1): this is log-sum-exp
    with the shift computed once, when the point enters a database, instead of
    at every EM step. A component whose scaled density underflows to 0 is more
    than e^-745 below the best one; with weights >= eps its responsibility is
    below e^-700, so nothing measurable is lost against a full log-space
    evaluation. (The original code used raw densities and left a point's
    column at zero when every density underflowed; here no column is ever
    zero. The moving-variance variant keeps the original arithmetic: see
    :mod:`igmm.dynamics.moving_variance`.)

    Parameters
    ----------
    log_dens : ndarray of float64
        Log densities with the components along ``axis``.
    axis : int
        Component axis (0: the engine's layout; -1: batch-first).

    Returns
    -------
    ndarray of float64, the shape of ``log_dens``
    """
    shifted = log_dens - np.maximum.reduce(log_dens, axis=axis, keepdims=True)
    # exp underflows to exactly 0 below EXP_UNDERFLOW anyway, but numpy's exp is
    # 4-5x slower on such arguments than in the normal range (a scalar fallback):
    # skipping them gives the same bits, faster.
    out = np.zeros_like(shifted)
    return np.exp(shifted, out=out, where=shifted > EXP_UNDERFLOW)


def em_step(weights: np.ndarray, dens: np.ndarray, eps: float, n_iterations: int = 1,
            start: np.ndarray | None = None) -> np.ndarray:
    """EM1(R; pi): warm-started EM iterations on the weights only, in the engine's layout.

    Parameters
    ----------
    weights : ndarray of float64, shape (n_components, n_batch)
        Current weights (the warm start).
    dens : ndarray of float64, shape (rag_size, n_components, n_batch)
        Scaled densities of the database points (:func:`scaled_densities`).
    eps : float
        Floor: weights are clipped to [eps, 1 - eps] before the E-step and after the M-step.
    n_iterations : int
        1 in the paper; more is a variant.
    start : ndarray of float64, shape (n_components, n_batch), optional
        ``clip_renormalise(weights, eps)`` when the caller has it already.

    Returns
    -------
    ndarray of float64, shape (n_components, n_batch)
        New weights, summing to 1 over the components.

    Examples
    --------
    >>> dens = scaled_densities(np.log([[[0.5], [0.1]]]), axis=1)   # one point, two components, one agent
    >>> em_step(np.array([[0.5], [0.5]]), dens, eps=1e-12).round(4).ravel()
    array([0.8333, 0.1667])
    """
    joint = np.empty_like(dens)
    for iteration in range(n_iterations):
        if iteration or start is None:
            start = clip_renormalise(weights, eps)
        np.multiply(dens, start, out=joint)
        # gamma = joint / sum_k joint: a point that one component explains alone gets exactly 1,
        # so exact ties between agents' weights (multiples of 1/r) stay exact ties.
        joint /= np.add.reduce(joint, axis=1)[:, None, :]
        weights = np.add.reduce(joint, axis=0)
        weights /= dens.shape[0]
        weights = clip_renormalise(weights, eps)
    return weights


def em_step_batch(weights: np.ndarray, dens: np.ndarray, eps: float, n_iterations: int = 1) -> np.ndarray:
    """:func:`em_step` for batch-first arrays (the same arithmetic, transposed in and out).

    Parameters
    ----------
    weights : ndarray of float64, shape (..., n_components)
    dens : ndarray of float64, shape (..., rag_size, n_components)

    Returns
    -------
    ndarray of float64, shape (..., n_components)

    Examples
    --------
    >>> dens = scaled_densities(np.log([[[0.5, 0.1]]]), axis=-1)   # one agent, one point, two components
    >>> em_step_batch(np.array([[0.5, 0.5]]), dens, eps=1e-12).round(4)
    array([[0.8333, 0.1667]])
    """
    batch_shape = weights.shape[:-1]
    n_components = weights.shape[-1]
    columns = weights.reshape(-1, n_components).T
    dens_columns = np.moveaxis(dens.reshape((-1,) + dens.shape[-2:]), 0, -1)
    new = em_step(np.ascontiguousarray(columns), np.ascontiguousarray(dens_columns), eps, n_iterations)
    return new.T.reshape(batch_shape + (n_components,))


def sample_components(weights: np.ndarray, uniforms: np.ndarray, axis: int = 0) -> np.ndarray:
    """Component drawn from ``weights`` by inverting the CDF at ``uniforms``.

    The cumulative sum runs down the component axis in order; ``u`` is scaled
    by the total so rounding in the sum can never leave it above the last entry.

    Parameters
    ----------
    weights : ndarray of float64
        Components along ``axis``, e.g. (n_components, n_batch) or (..., n_components).
    uniforms : ndarray of float64
        U(0, 1) draws, the shape of ``weights`` without ``axis``.
    axis : int

    Returns
    -------
    ndarray of int64, the shape of ``uniforms``
    """
    cdf = np.moveaxis(np.cumsum(weights, axis=axis), axis, 0)
    below = cdf < uniforms * cdf[-1]
    index = np.add.reduce(below, axis=0, dtype=np.int64)
    return np.minimum(index, cdf.shape[0] - 1)
