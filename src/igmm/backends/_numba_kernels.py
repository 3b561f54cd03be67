"""Compiled kernels of :mod:`igmm.backends.numba_backend` (imports numba: load only through that module)."""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from igmm.model.em import EXP_UNDERFLOW

_LOG_2PI = float(np.log(2.0 * np.pi))
#: Floating-point freedom of the step kernels: a * b + c may become one fused multiply-add. Every result
#: stays within a few ulps of numpy's. Left out on purpose: "reassoc" (and "nsz" with it): a cold compile
#: re-optimises each callee's IR inside its caller while a load from numba's cache links bitcode that was
#: optimised already, and with reassociation the rounding depended on that path, so a seeded run gave
#: other bits after a fresh install than from the cache (a 40-agent ring; tested). Reproducing bit for
#: bit costs ~8% (1.08 against 1.00 us per agent-step at paper defaults). "arcp" (x / y as x * (1 / y) turns
#: the exact responsibility 1 of a point explained by one component into 1 - 2^-53 in ~14% of cases,
#: which would break the exact ties between agents that the k-nearest rule and the grouped search rely
#: on) and "nnan"/"ninf" (NaN and infinity keep their meaning).
FASTMATH = frozenset({"contract"})
_jit = numba.njit(cache=True, nogil=True, error_model="numpy", fastmath=set(FASTMATH))


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


@intrinsic
def _float_bits(typingctx, value):
    """The IEEE-754 bits of a float64 as an int64 (a bit cast: vectorises)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _bits_float(typingctx, bits):
    """The float64 whose IEEE-754 bits are ``bits`` (a bit cast: vectorises)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


#: Adding 1.5 * 2^52 rounds a float of magnitude < 2^51 to an integer held in the low mantissa bits.
_SHIFTER = 6755399441055744.0
_INV_LN2 = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 in two parts (Cody-Waite): k * _LN2_HI is exact for |k| < 2^11
_LN2_LO = 1.90821492927058770002e-10


@numba.njit(cache=True, inline="always", error_model="numpy", fastmath={"contract"})
def _exp(x):
    """exp(x) for -746 <= x <= 0, within 1 ulp of numpy's (tested), without tables or branches.

    x = k ln 2 + r with |r| <= ln 2 / 2; e^r by its Taylor polynomial to degree 13
    (truncation ~1e-18 relative); 2^k built in the exponent bits, in two halves so
    that results below 2^-1022 round once into the subnormals, as libm's do. No
    table lookups and no branches, so loops over it vectorise (~2 ns per element
    against ~20 ns for a table-driven scalar exp in these loops). Compiled with
    "contract" only: reassociation would cancel the shifter trick.
    """
    shifted = x * _INV_LN2 + _SHIFTER
    k = shifted - _SHIFTER  # round(x / ln 2)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0
    p = 1.0 / 479001600.0 + r * p
    p = 1.0 / 39916800.0 + r * p
    p = 1.0 / 3628800.0 + r * p
    p = 1.0 / 362880.0 + r * p
    p = 1.0 / 40320.0 + r * p
    p = 1.0 / 5040.0 + r * p
    p = 1.0 / 720.0 + r * p
    p = 1.0 / 120.0 + r * p
    p = 1.0 / 24.0 + r * p
    p = 1.0 / 6.0 + r * p
    p = 0.5 + r * p
    p = r + (r * r) * p  # e^r - 1
    n = (_float_bits(shifted) << 12) >> 12  # k as an integer: the low 52 bits of the mantissa, sign-extended
    half = n >> 1
    return ((1.0 + p) * _bits_float((half + 1023) << 52)) * _bits_float((n - half + 1023) << 52)


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
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
    # A view starting at 0: numba then drops its negative-index handling, and the loop vectorises.
    window = out[lo:hi]
    for c in range(window.shape[0]):
        shifted = window[c] - best
        value = _exp(max(shifted, -746.0))
        window[c] = value if shifted > EXP_UNDERFLOW else 0.0
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

    The sums are numpy's (over components, then over points), in order
    (:data:`FASTMATH` does not reassociate). Each point's sums
    skip the components outside its support ``lo[z]:hi[z]``, where the scaled
    density is exactly 0: the skipped terms are +0.0 and change nothing. Scratch: ``joint`` (K,), ``acc`` (K,).
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
    """gamma_c(z) = dens_c start_c / sum_c' dens_c' start_c' over every component.

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

    The same sums as :func:`em` with one iteration (points z = 0, 1, ...);
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
def step_replicate(weights, rag, dens, lo, hi, ages, uniforms, normals, nearest, neighbours, degree, mode, p, frozen, k,
                   means, means_t, variances_t, std, log_det, eps, n_em, policy, time):
    n_agents, n_components = weights.shape
    rag_size = dens.shape[1]
    start = np.empty((n_agents, n_components))
    # One EM iteration (the paper): every stored point's responsibilities under its owner's clipped
    # weights serve the owner's refit and every answer the owner gives, so compute them once.
    resp = np.empty((n_agents if n_em == 1 else 0, rag_size, n_components))
    answers = np.empty((n_agents, means.shape[1]))
    prepare_agents(0, n_agents, weights, dens, lo, hi, start, resp, eps, n_em)
    answer_agents(0, n_agents, weights, rag, dens, lo, hi, ages, start, resp, answers, uniforms, normals, nearest,
                  neighbours, degree, mode, p, k, means, means_t, variances_t, std, log_det, eps, n_em, policy)
    absorb_agents(0, n_agents, weights, rag, dens, lo, hi, ages, start, resp, answers, uniforms, frozen, means_t,
                  variances_t, log_det, eps, n_em, policy, time)


@_jit
def prepare_agents(first, last, weights, dens, lo, hi, start, resp, eps, n_em):
    """Clipped weights of agents ``first:last`` and (one EM iteration) their stored points' responsibilities."""
    joint = np.empty(weights.shape[1])
    for i in range(first, last):
        clip_renormalise(weights[i], eps, start[i])
    if n_em == 1:
        for i in range(first, last):
            for z in range(dens.shape[1]):
                point_responsibilities(dens[i, z], start[i], lo[i, z], hi[i, z], joint, resp[i, z])


@_jit
def answer_agents(first, last, weights, rag, dens, lo, hi, ages, start, resp, answers, uniforms, normals, nearest,
                  neighbours, degree, mode, p, k, means, means_t, variances_t, std, log_det, eps, n_em, policy):
    """Pass 1 for agents ``first:last``: each one's answer, from the state of step t - 1 only (writes ``answers``)."""
    n_agents, n_components = weights.shape
    n_dims = means.shape[1]
    single = n_em == 1
    point = np.empty(n_dims)
    point_dens = np.empty(n_components)
    joint = np.empty(n_components)
    acc = np.empty(n_components)
    answer_weights = np.empty(n_components)
    start_copy = np.empty(n_components)
    point_resp = np.empty(n_components)
    for i in range(first, last):
        u = uniforms[i]
        if mode == 0:
            draw = min(int(u[1] * (n_agents - 1)), n_agents - 2)
            partner = draw + 1 if draw >= i else draw
        elif mode == 1:
            partner = nearest[i, min(int(u[1] * k), k - 1)]
        else:
            deg = degree[i]
            partner = neighbours[i, min(int(u[1] * deg), max(deg - 1, 0))] if deg > 0 else i
        if u[0] < p[i]:
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


@_jit
def absorb_agents(first, last, weights, rag, dens, lo, hi, ages, start, resp, answers, uniforms, frozen, means_t,
                  variances_t, log_det, eps, n_em, policy, time):
    """Pass 2 for agents ``first:last``: each absorbs its answer and refits (touches only its own state)."""
    n_components = weights.shape[1]
    single = n_em == 1
    point_dens = np.empty(n_components)
    joint = np.empty(n_components)
    acc = np.empty(n_components)
    answer_weights = np.empty(n_components)
    point_resp = np.empty(n_components)
    for i in range(first, last):
        if frozen[i]:  # a stubborn agent keeps its database and weights
            continue
        answer = answers[i]
        slot = choose_slot(policy, rag[i], ages[i], answer, uniforms[i, 5])
        for d in range(answer.shape[0]):
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


@numba.njit(cache=True, nogil=True, parallel=True, error_model="numpy", fastmath=set(FASTMATH))
def step_agents_parallel(weights, rag, dens, lo, hi, ages, uniforms, normals, nearest, neighbours, degree, mode, p,
                         frozen, k, means, variances, std, log_det, eps, n_em, policy, time, block):
    """One step of a batch with each replicate's agents spread over the cores, in blocks of ``block`` agents.

    The same three passes as :func:`step_replicate` (prepare, answers, absorb), each over blocks of
    agents in parallel; a pass starts when the one before has finished, so every answer still reads
    the state of step t - 1. Each agent's arithmetic is the serial kernel's: the same bits.
    """
    means_t, variances_t = np.ascontiguousarray(means.T), np.ascontiguousarray(variances.T)
    n_agents, n_components = weights.shape[1:]
    rag_size = dens.shape[2]
    n_blocks = (n_agents + block - 1) // block
    start = np.empty((n_agents, n_components))
    resp = np.empty((n_agents if n_em == 1 else 0, rag_size, n_components))
    answers = np.empty((n_agents, means.shape[1]))
    for rep in range(weights.shape[0]):
        w, r, de, l, h, a = weights[rep], rag[rep], dens[rep], lo[rep], hi[rep], ages[rep]
        for index in numba.prange(n_blocks):
            first = index * block
            prepare_agents(first, min(first + block, n_agents), w, de, l, h, start, resp, eps, n_em)
        for index in numba.prange(n_blocks):
            first = index * block
            answer_agents(first, min(first + block, n_agents), w, r, de, l, h, a, start, resp, answers,
                          uniforms[rep], normals[rep], nearest[rep], neighbours, degree, mode, p, k, means, means_t,
                          variances_t, std, log_det, eps, n_em, policy)
        for index in numba.prange(n_blocks):
            first = index * block
            absorb_agents(first, min(first + block, n_agents), w, r, de, l, h, a, start, resp, answers,
                          uniforms[rep], frozen, means_t, variances_t, log_det, eps, n_em, policy, time)


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath=set(FASTMATH))
def step_batch(weights, rag, dens, lo, hi, ages, uniforms, normals, nearest, neighbours, degree, mode, p, frozen, k,
               means, variances, std, log_det, eps, n_em, policy, time):
    """One step of a batch, replicate after replicate."""
    means_t, variances_t = np.ascontiguousarray(means.T), np.ascontiguousarray(variances.T)
    for rep in range(weights.shape[0]):
        step_replicate(weights[rep], rag[rep], dens[rep], lo[rep], hi[rep], ages[rep], uniforms[rep], normals[rep],
                       nearest[rep], neighbours, degree, mode, p, frozen, k, means, means_t, variances_t, std, log_det,
                       eps, n_em, policy, time)


@numba.njit(cache=True, nogil=True, parallel=True, error_model="numpy", fastmath=set(FASTMATH))
def step_batch_parallel(weights, rag, dens, lo, hi, ages, uniforms, normals, nearest, neighbours, degree, mode, p,
                        frozen, k, means, variances, std, log_det, eps, n_em, policy, time):
    """:func:`step_batch` over the cores (replicates are independent: same bits)."""
    means_t, variances_t = np.ascontiguousarray(means.T), np.ascontiguousarray(variances.T)
    for rep in numba.prange(weights.shape[0]):
        step_replicate(weights[rep], rag[rep], dens[rep], lo[rep], hi[rep], ages[rep], uniforms[rep], normals[rep],
                       nearest[rep], neighbours, degree, mode, p, frozen, k, means, means_t, variances_t, std, log_det,
                       eps, n_em, policy, time)


# -- k-nearest search ---------------------------------------------------------------------------------
# Compiled without fastmath: every distance must round exactly as igmm.dynamics.partners.pair_distances
# (squares summed in component order, then sqrt), so that both searches keep the same ties.


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _weight_distances(weights, columns, distances):
    """Dense distances of one population (n_agents, n_agents), inf on the diagonal; scratch ``columns`` (K, n)."""
    n_agents, n_components = weights.shape
    for i in range(n_agents):
        for c in range(n_components):
            columns[c, i] = weights[i, c]
    for i in range(n_agents):
        distances[i, i] = np.inf  # never one's own neighbour
        # Pairs (i, j > i), vectorised over j; each pair's sum still runs over the components in order.
        squared = distances[i, i + 1:]
        for j in range(squared.shape[0]):
            squared[j] = 0.0
        for c in range(n_components):
            own, others = columns[c, i], columns[c, i + 1:]
            for j in range(squared.shape[0]):
                diff = own - others[j]
                squared[j] += diff * diff
        for j in range(squared.shape[0]):
            squared[j] = np.sqrt(squared[j])
            distances[i + 1 + j, i] = squared[j]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _select_nearest(distances, k, values, out):
    """Each row's k smallest entries, ordered by (distance, index); scratch ``values`` (k,).

    Insertion into the k best so far while scanning j upwards: an equal distance
    goes after the lower indices already kept, as in a stable sort (numpy's rule).
    """
    n_agents = distances.shape[0]
    for i in range(n_agents):
        row, best = distances[i], out[i]
        count = 0
        for j in range(n_agents):
            distance = row[j]
            if count == k:
                if not distance < values[k - 1]:
                    continue
                position = k - 1
            else:
                position = count
                count += 1
            while position > 0 and distance < values[position - 1]:
                values[position] = values[position - 1]
                best[position] = best[position - 1]
                position -= 1
            values[position] = distance
            best[position] = j


@numba.njit(cache=True, nogil=True, error_model="numpy")
def k_nearest(weights, k, out):
    """The dense search of :func:`igmm.dynamics.partners.k_nearest`, compiled: the same indices.

    weights (n_reps, n_agents, K) float64; out (n_reps, n_agents, k) int64, filled.
    """
    n_reps, n_agents, n_components = weights.shape
    columns, distances, values = np.empty((n_components, n_agents)), np.empty((n_agents, n_agents)), np.empty(k)
    for rep in range(n_reps):
        _weight_distances(weights[rep], columns, distances)
        _select_nearest(distances, k, values, out[rep])


@numba.njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def k_nearest_parallel(weights, k, out):
    """:func:`k_nearest` with the replicates spread over the cores."""
    n_reps, n_agents, n_components = weights.shape
    for rep in numba.prange(n_reps):
        distances = np.empty((n_agents, n_agents))
        _weight_distances(weights[rep], np.empty((n_components, n_agents)), distances)
        _select_nearest(distances, k, np.empty(k), out[rep])
