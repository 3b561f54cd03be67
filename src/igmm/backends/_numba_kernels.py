"""Compiled kernels of :mod:`igmm.backends.numba_backend` (imports numba: load only through that module)."""

from __future__ import annotations

import math

import numba
import numpy as np

from igmm.model.em import EXP_UNDERFLOW

_LOG_2PI = float(np.log(2.0 * np.pi))
_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


@_jit
def clip_renormalise(weights, eps, out):
    n_components = weights.shape[0]
    total = 0.0
    for c in range(n_components):
        value = min(max(weights[c], eps), 1.0 - eps)
        out[c] = value
        total += value
    for c in range(n_components):
        out[c] = out[c] / total


@_jit
def sample_component(weights, uniform, cdf):
    """Component drawn by inverting the CDF (numpy's cumsum order; u scaled by the total); scratch ``cdf``."""
    n_components = weights.shape[0]
    running = 0.0
    for c in range(n_components):
        running += weights[c]
        cdf[c] = running
    threshold = uniform * running
    index = 0  # the number of c with cdf[c] < threshold: the cdf does not decrease (weights >= 0)
    while index < n_components and cdf[index] < threshold:
        index += 1
    return min(index, n_components - 1)


#: exp by range reduction x = (32 m + j) ln 2 / 32 + r, |r| <= ln 2 / 64, a degree-6 Taylor
#: polynomial and tables of 2^(j / 32) and 2^m: within 1 ulp or so of the correctly rounded exp
#: (checked against numpy in the tests), without branches; libm's exp costs several times more here.
_STEPS = 32
_LN2_HI = 6.93147180369123816490e-01 / _STEPS
_LN2_LO = 1.90821492927058770002e-10 / _STEPS
_INV_LN2 = 1.44269504088896338700e+00 * _STEPS
_POW2_MIN = -1100
_POW2 = np.ldexp(1.0, np.arange(_POW2_MIN, 2))
_POW2_FRACTION = 2.0 ** (np.arange(_STEPS) / _STEPS)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _exp(x):
    """exp(x) for -746 <= x <= 0."""
    k = math.floor(x * _INV_LN2 + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 720.0
    p = 1.0 / 120.0 + r * p
    p = 1.0 / 24.0 + r * p
    p = 1.0 / 6.0 + r * p
    p = 0.5 + r * p
    p = 1.0 + r * p
    p = r * p
    index = int(k)
    whole = index >> 5  # floor(index / 32)
    fraction = _POW2_FRACTION[index - (whole << 5)]
    return (fraction + fraction * p) * _POW2[whole - _POW2_MIN]


@_jit
def scaled_densities(point, means_t, variances_t, log_det, out):
    """log N(point; mu_c, diag var_c) for every component, minus the largest, exponentiated.

    ``means_t``, ``variances_t``: (n_dims, K), C-contiguous (the loops over
    components are contiguous and vectorise). Same arithmetic as
    Geometry.log_density (each component's sum over dimensions sequential,
    from 0.0); shifted values below EXP_UNDERFLOW give exactly 0, as in
    numpy. Returns the support ``lo, hi``: every component outside ``lo:hi`` is 0.
    """
    n_dims, n_components = means_t.shape
    for c in range(n_components):
        out[c] = 0.0
    for d in range(n_dims):
        x = point[d]
        mean_row, var_row = means_t[d], variances_t[d]
        for c in range(n_components):
            diff = x - mean_row[c]
            out[c] += (diff * diff) / var_row[c]
    constant = n_dims * _LOG_2PI
    best = -np.inf
    for c in range(n_components):
        value = -0.5 * ((out[c] + log_det[c]) + constant)
        out[c] = value
        best = max(best, value)
    lo, hi = 0, n_components
    while out[lo] - best <= EXP_UNDERFLOW:
        out[lo] = 0.0
        lo += 1
    while out[hi - 1] - best <= EXP_UNDERFLOW:
        out[hi - 1] = 0.0
        hi -= 1
    for c in range(lo, hi):
        shifted = out[c] - best
        value = _exp(max(shifted, -746.0))
        out[c] = value if shifted > EXP_UNDERFLOW else 0.0
    return lo, hi


@_jit
def choose_slot(policy, rag, ages, point, uniform):
    rag_size, n_dims = rag.shape
    if policy == 0:  # farthest, first maximum
        slot, best = 0, -1.0
        for z in range(rag_size):
            squared = 0.0
            for d in range(n_dims):
                diff = rag[z, d] - point[d]
                squared += diff * diff
            if squared > best:
                slot, best = z, squared
        return slot
    if policy == 1:  # oldest, first minimum
        slot = 0
        for z in range(1, rag_size):
            if ages[z] < ages[slot]:
                slot = z
        return slot
    return min(int(uniform * rag_size), rag_size - 1)


@_jit
def em(weights, start, dens, lo, hi, swap_slot, swap_dens, swap_lo, swap_hi, eps, n_iterations, joint, acc, out):
    """EM1 from ``start`` (clipped ``weights``); point ``swap_slot`` (if >= 0) has densities ``swap_dens``.

    Every sum runs in numpy's order (sequential over components, then over
    points). Each point's sums skip the components outside its support
    ``lo[z]:hi[z]``, where the scaled density is exactly 0: the skipped terms
    are +0.0, so the bits are those of the full sums. Scratch: ``joint`` (K,), ``acc`` (K,).
    """
    rag_size, n_components = dens.shape
    for c in range(n_components):
        out[c] = weights[c]
    for iteration in range(n_iterations):
        if iteration:
            clip_renormalise(out, eps, start)
        for c in range(n_components):
            acc[c] = 0.0
        for z in range(rag_size):
            if z == swap_slot:
                row, first, last = swap_dens, swap_lo, swap_hi
            else:
                row, first, last = dens[z], lo[z], hi[z]
            total = 0.0
            for c in range(first, last):
                value = row[c] * start[c]
                joint[c] = value
                total += value
            for c in range(first, last):
                acc[c] += joint[c] / total
        for c in range(n_components):
            acc[c] = acc[c] / rag_size
        clip_renormalise(acc, eps, out)


@_jit
def point_responsibilities(row, start, lo, hi, joint, out):
    """gamma_c(z) = dens_c start_c / sum_c' dens_c' start_c' over every component (numpy's order).

    Over all K components, not only the support ``lo:hi`` (kept in the
    signature): outside it dens is +0.0, so the products are +0.0 and add
    nothing to the total, and gamma is exactly 0 there (the total is > 0: the
    row's largest density is 1 and start >= eps > 0). The fixed trip count
    vectorises and saves the mispredicted loop exits of variable supports.
    """
    total = 0.0
    for c in range(row.shape[0]):
        value = row[c] * start[c]
        joint[c] = value
        total += value
    for c in range(row.shape[0]):
        out[c] = joint[c] / total


@_jit
def em1_from_responsibilities(resp, lo, hi, swap_slot, swap_resp, swap_lo, swap_hi, eps, acc, out):
    """One EM iteration from precomputed responsibilities, point ``swap_slot`` replaced by ``swap_resp``.

    The same sums in the same order as :func:`em` with one iteration (points z = 0, 1, ...), so the same bits;
    every row covers all K components (:func:`point_responsibilities`: exact +0.0 outside a point's support,
    which leave the sums unchanged), so the loop over components has a fixed length and vectorises.
    """
    rag_size, n_components = resp.shape
    for c in range(n_components):
        acc[c] = 0.0
    for z in range(rag_size):
        row = swap_resp if z == swap_slot else resp[z]
        for c in range(n_components):
            acc[c] += row[c]
    for c in range(n_components):
        acc[c] = acc[c] / rag_size
    clip_renormalise(acc, eps, out)


@_jit
def step_replicate(weights, rag, dens, lo, hi, ages, uniforms, normals, nearest, neighbours, degree, mode, p, k,
                   means, means_t, variances_t, std, log_det, eps, n_em, policy, time):
    n_agents, n_components = weights.shape
    n_dims = means.shape[1]
    start = np.empty((n_agents, n_components))
    answers = np.empty((n_agents, n_dims))
    point = np.empty(n_dims)
    point_dens = np.empty(n_components)
    joint = np.empty(n_components)
    acc = np.empty(n_components)
    answer_weights = np.empty(n_components)
    start_copy = np.empty(n_components)
    rag_size = dens.shape[1]
    for i in range(n_agents):
        clip_renormalise(weights[i], eps, start[i])
    # One EM iteration (the paper): every stored point's responsibilities under its owner's clipped
    # weights serve the owner's refit and every answer the owner gives, so compute them once.
    single = n_em == 1
    resp = np.empty((n_agents if single else 0, rag_size, n_components))
    point_resp = np.empty(n_components)
    if single:
        for i in range(n_agents):
            for z in range(rag_size):
                point_responsibilities(dens[i, z], start[i], lo[i, z], hi[i, z], joint, resp[i, z])
    # Pass 1: every agent's answer, from the state of step t - 1 only.
    for i in range(n_agents):
        u = uniforms[i]
        if mode == 0:
            draw = min(int(u[1] * (n_agents - 1)), n_agents - 2)
            partner = draw + 1 if draw >= i else draw
        elif mode == 1:
            partner = nearest[i, min(int(u[1] * k), k - 1)]
        else:
            deg = degree[i]
            partner = neighbours[i, min(int(u[1] * deg), max(deg - 1, 0))] if deg > 0 else i
        if u[0] < p:
            partner = i
        # 3. Query from f_i.
        c = sample_component(weights[i], u[2], acc)
        for d in range(n_dims):
            point[d] = means[c, d] + std[c, d] * normals[i, 0, d]
        # 4. The partner's database with the query in the slot the policy picks.
        slot = choose_slot(policy, rag[partner], ages[partner], point, u[4])
        point_lo, point_hi = scaled_densities(point, means_t, variances_t, log_det, point_dens)
        partner_start = start[partner]
        if single:
            point_responsibilities(point_dens, partner_start, point_lo, point_hi, joint, point_resp)
            em1_from_responsibilities(resp[partner], lo[partner], hi[partner], slot, point_resp, point_lo, point_hi,
                                      eps, acc, answer_weights)
        elif n_em > 1:  # further iterations overwrite their start: keep the partner's own
            for c2 in range(n_components):
                start_copy[c2] = partner_start[c2]
            partner_start = start_copy
        if not single:
            em(weights[partner], partner_start, dens[partner], lo[partner], hi[partner], slot, point_dens, point_lo,
               point_hi, eps, n_em, joint, acc, answer_weights)
        # 5. The answer.
        c = sample_component(answer_weights, u[3], acc)
        for d in range(n_dims):
            answers[i, d] = means[c, d] + std[c, d] * normals[i, 1, d]
    # Pass 2: each agent absorbs its answer and refits (no one reads its old state any more).
    for i in range(n_agents):
        answer = answers[i]
        slot = choose_slot(policy, rag[i], ages[i], answer, uniforms[i, 5])
        for d in range(n_dims):
            rag[i, slot, d] = answer[d]
        lo[i, slot], hi[i, slot] = scaled_densities(answer, means_t, variances_t, log_det, dens[i, slot])
        ages[i, slot] = time
        if single:
            point_responsibilities(dens[i, slot], start[i], lo[i, slot], hi[i, slot], joint, point_resp)
            em1_from_responsibilities(resp[i], lo[i], hi[i], slot, point_resp, lo[i, slot], hi[i, slot], eps, acc,
                                      weights[i])
            continue
        for c in range(n_components):
            answer_weights[c] = weights[i, c]
        em(answer_weights, start[i], dens[i], lo[i], hi[i], -1, point_dens, 0, 0, eps, n_em, joint, acc, weights[i])


@numba.njit(cache=True, nogil=True, error_model="numpy")
def step_batch(weights, rag, dens, lo, hi, ages, uniforms, normals, nearest, neighbours, degree, mode, p, k,
               means, variances, std, log_det, eps, n_em, policy, time):
    """One step of a batch, replicate after replicate."""
    means_t, variances_t = np.ascontiguousarray(means.T), np.ascontiguousarray(variances.T)
    for rep in range(weights.shape[0]):
        step_replicate(weights[rep], rag[rep], dens[rep], lo[rep], hi[rep], ages[rep], uniforms[rep], normals[rep],
                       nearest[rep], neighbours, degree, mode, p, k, means, means_t, variances_t, std, log_det, eps,
                       n_em, policy, time)


@numba.njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def step_batch_parallel(weights, rag, dens, lo, hi, ages, uniforms, normals, nearest, neighbours, degree, mode, p,
                        k, means, variances, std, log_det, eps, n_em, policy, time):
    """:func:`step_batch` over the cores (replicates are independent: same bits)."""
    means_t, variances_t = np.ascontiguousarray(means.T), np.ascontiguousarray(variances.T)
    for rep in numba.prange(weights.shape[0]):
        step_replicate(weights[rep], rag[rep], dens[rep], lo[rep], hi[rep], ages[rep], uniforms[rep], normals[rep],
                       nearest[rep], neighbours, degree, mode, p, k, means, means_t, variances_t, std, log_det, eps,
                       n_em, policy, time)
