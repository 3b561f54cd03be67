"""The paper dynamics in an agents-last memory layout: the engine's hot loop.

:func:`igmm.dynamics.run.run` keeps the state of a batch in this layout while it
steps the paper dynamics, and converts to and from :class:`PopulationState`
(batch axes first) only at the start and the end. Why a second layout: numpy
reduces over a short *last* axis (K = 30 components, r = 5 points) row by row,
with a per-row overhead several times the arithmetic; with the flat agent axis
``b = replicate * n_agents + agent`` last, every reduction over components or
points becomes a handful of vector operations over all agents at once, and
gathering the partners is one ``take`` along the contiguous axis.

Arrays (``n_batch = n_reps * n_agents``):

==========  =================================  =======
weights     (n_components, n_batch)            float64
rag         (rag_size, n_dims, n_batch)        float64
dens        (rag_size, n_components, n_batch)  float64 scaled densities
ages        (rag_size, n_batch)                int64
==========  =================================  =======

Same arithmetic as :func:`igmm.dynamics.step.paper_step` element by element,
except that sums over components (the renormalisation and the E-step's
normaliser) run in plain sequential order instead of numpy's pairwise order:
results agree to rounding (a few ulp), and a replicate's numbers still do not
depend on the batch it runs in. The state is updated in place: only
:func:`run` owns it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from igmm.dynamics.partners import choose_partners
from igmm.dynamics.state import (
    U_ANSWER,
    U_MIRROR,
    U_PARTNER,
    U_QUERY,
    U_SLOT_OWN,
    U_SLOT_PARTNER,
    ModelParams,
    PopulationState,
    StepNoise,
)
from igmm.model.em import EXP_UNDERFLOW
from igmm.model.geometry import Geometry

_LOG_2PI = np.log(2.0 * np.pi)


@dataclass(eq=False)
class LayoutState:
    """Mutable agents-last state of a batch (see the module docstring for shapes)."""

    weights: np.ndarray
    rag: np.ndarray
    dens: np.ndarray
    ages: np.ndarray
    n_reps: int
    time: int
    #: Banded storage (line geometry, many components): ``dens`` holds only a window of
    #: ``window_width(geometry)`` components per stored point, starting at these
    #: components, shape (rag_size, n_batch); every density outside is exactly 0.
    offsets: np.ndarray | None = None

    @property
    def n_agents(self) -> int:
        return self.weights.shape[1] // self.n_reps

    def batch_weights(self) -> np.ndarray:
        """A (n_reps, n_agents, n_components) view of the weights (no copy)."""
        return self.weights.T.reshape(self.n_reps, self.n_agents, -1)

    def ids(self) -> np.ndarray:
        """ID of every agent, shape (n_reps, n_agents), int64 (ties: lowest component)."""
        return np.argmax(self.weights, axis=0).reshape(self.n_reps, self.n_agents)


def to_layout(state: PopulationState, geometry: Geometry | None = None) -> LayoutState:
    """Copy a :class:`PopulationState` into the agents-last layout (banded when ``geometry`` allows)."""
    n_reps, n_agents = state.weights.shape[:2]
    n_batch = n_reps * n_agents

    def last(array: np.ndarray) -> np.ndarray:
        flat = array.reshape((n_batch,) + array.shape[2:])
        return np.ascontiguousarray(np.moveaxis(flat, 0, -1))

    layout = LayoutState(
        weights=last(state.weights), rag=last(state.rag), dens=last(state.rag_dens),
        ages=last(state.rag_ages), n_reps=n_reps, time=state.time,
    )
    width = window_width(geometry) if geometry is not None else None
    if width is not None:
        offsets = window_offsets(geometry, layout.rag[:, 0, :], width)  # (rag_size, n_batch)
        layout.dens = np.take_along_axis(layout.dens, window_components(offsets, width), axis=1)
        layout.offsets = offsets
    return layout


def from_layout(layout: LayoutState) -> PopulationState:
    """Copy back to a :class:`PopulationState` (batch axes first)."""
    n_reps, n_agents = layout.n_reps, layout.n_agents

    def first(array: np.ndarray) -> np.ndarray:
        moved = np.moveaxis(array, -1, 0)
        return np.ascontiguousarray(moved).reshape((n_reps, n_agents) + moved.shape[1:])

    dens = layout.dens
    if layout.offsets is not None:  # back to dense: zeros outside the windows
        dens = np.zeros((dens.shape[0], layout.weights.shape[0], dens.shape[2]))
        np.put_along_axis(dens, window_components(layout.offsets, layout.dens.shape[1]), layout.dens, axis=1)
    return PopulationState(
        weights=first(layout.weights), rag=first(layout.rag), rag_dens=first(dens),
        rag_ages=first(layout.ages), time=layout.time,
    )


def clip_renormalise(weights: np.ndarray, eps: float) -> np.ndarray:
    """Clip to [eps, 1 - eps] and renormalise over the components (axis 0), shape (n_components, n_batch)."""
    clipped = np.clip(weights, eps, 1.0 - eps)
    clipped /= np.add.reduce(clipped, axis=0)
    return clipped


def em_step(weights: np.ndarray, dens: np.ndarray, eps: float, n_iterations: int,
            start: np.ndarray | None = None) -> np.ndarray:
    """EM1 on the weights (MODEL.md section 2) in this layout.

    Parameters
    ----------
    weights : ndarray of float64, shape (n_components, n_batch)
    dens : ndarray of float64, shape (rag_size, n_components, n_batch)
        Scaled densities of the stored points.

    start : ndarray of float64, shape (n_components, n_batch), optional
        ``clip_renormalise(weights, eps)`` when the caller has it already.

    Returns
    -------
    ndarray of float64, shape (n_components, n_batch)
    """
    joint = np.empty_like(dens)
    for iteration in range(n_iterations):
        if iteration or start is None:
            start = clip_renormalise(weights, eps)
        np.multiply(dens, start, out=joint)
        # gamma = joint / sum_k joint: a point that one component explains alone gets exactly 1.
        joint /= np.add.reduce(joint, axis=1)[:, None, :]
        weights = np.add.reduce(joint, axis=0)
        weights /= dens.shape[0]
        weights = clip_renormalise(weights, eps)
    return weights


def sample_components(weights: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Component drawn from each column of ``weights`` by inverting the CDF, shape (n_batch,).

    The same arithmetic as :func:`igmm.dynamics.step.sample_components` (the
    cumulative sum runs down the components in the same order).
    """
    cdf = np.cumsum(weights, axis=0)
    below = cdf < uniforms * cdf[-1]
    index = np.add.reduce(below, axis=0, dtype=np.int64)
    return np.minimum(index, weights.shape[0] - 1)


def scaled_densities(geometry: Geometry, points: np.ndarray) -> np.ndarray:
    """Densities of points under every component, scaled so each point's largest is 1.

    Parameters
    ----------
    points : ndarray of float64, shape (n_dims, n_batch)

    Returns
    -------
    ndarray of float64, shape (n_components, n_batch)
    """
    if geometry.variances is not None and geometry.n_dims == 1:
        # Same elementwise arithmetic as Geometry.log_density, laid out (K, n_batch).
        diff = points[0] - geometry.means[:, :1]
        squared = diff * diff
        squared /= geometry.variances[:, :1]
        squared += geometry._log_det[:, None]
        squared += _LOG_2PI
        squared *= -0.5
        log_dens = squared
    else:
        log_dens = np.ascontiguousarray(geometry.log_density(points.T).T)
    log_dens -= np.maximum.reduce(log_dens, axis=0)
    # Arguments below EXP_UNDERFLOW give exactly 0: skip them (numpy's exp is slow there).
    out = np.zeros_like(log_dens)
    return np.exp(log_dens, out=out, where=log_dens > EXP_UNDERFLOW)


def sample_points(geometry: Geometry, components: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Points drawn from the given components, shape (n_dims, n_batch).

    Parameters
    ----------
    components : ndarray of int, shape (n_batch,)
    normals : ndarray of float64, shape (n_batch, n_dims)
    """
    return np.ascontiguousarray(geometry.sample(components, normals).T)


def choose_slot(policy: str, rag: np.ndarray, ages: np.ndarray, point: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Slot each newcomer overwrites (the policies of :mod:`igmm.model.rag`), shape (n_batch,).

    Parameters
    ----------
    rag : ndarray, shape (rag_size, n_dims, n_batch)
    ages : ndarray of int, shape (rag_size, n_batch)
    point : ndarray, shape (n_dims, n_batch)
    uniforms : ndarray, shape (n_batch,)
    """
    if policy == "farthest":
        diff = rag - point
        diff *= diff
        squared = diff[:, 0] if diff.shape[1] == 1 else np.add.reduce(diff, axis=1)
        return np.argmax(squared, axis=0)  # first maximum: lowest index
    if policy == "oldest":
        return np.argmin(ages, axis=0)
    if policy == "random":
        rag_size = rag.shape[0]
        return np.minimum((uniforms * rag_size).astype(np.int64), rag_size - 1)
    raise ValueError(f"rag_policy: {policy!r} is not allowed: choose farthest, oldest or random")


def write_point(rag, dens, ages, slot, point, point_dens, time: int) -> None:
    """Write a newcomer into ``slot`` of every database, in place."""
    batch = np.arange(slot.size)
    rag[slot, :, batch] = point.T
    dens[slot, :, batch] = point_dens.T
    ages[slot, batch] = time


#: Banded densities are used when the components are at least this many times the window.
_BAND_MIN_RATIO = 4


def window_width(geometry: Geometry) -> int | None:
    """Components around a point's nearest one outside which its scaled density is exactly 0.

    Line geometry (means delta * k, one sigma): for a point whose nearest mean
    is k*, the component k* + j has scaled log density at most
    -(j^2 - |j|) (delta / sigma)^2 / 2, so beyond the first |j| = W where that
    is below EXP_UNDERFLOW every density underflows to exactly 0. The window
    is 2 W + 3 wide (one spare on each side absorbs rounding in locating k*).
    None when banding does not apply or would not pay (few components).
    """
    if geometry.name != "line" or geometry.variances is None or geometry.n_components < 2:
        return None
    sigma2 = geometry.variances[0, 0]
    delta = geometry.means[1, 0] - geometry.means[0, 0]
    if not np.all(geometry.variances == sigma2) or delta <= 0:
        return None
    ratio = delta * delta / sigma2
    half = 1
    while (half * half - half) * ratio / 2.0 <= -EXP_UNDERFLOW:
        half += 1
    width = 2 * half + 3
    return width if geometry.n_components >= _BAND_MIN_RATIO * width else None


def window_offsets(geometry: Geometry, points: np.ndarray, width: int) -> np.ndarray:
    """First component of each point's window (its nearest mean centred, kept inside 0 .. K - width)."""
    origin, delta = geometry.means[0, 0], geometry.means[1, 0] - geometry.means[0, 0]
    nearest = np.rint((points - origin) / delta)
    start = np.clip(nearest - (width // 2), 0, geometry.n_components - width)
    return start.astype(np.int64)


def window_components(offsets: np.ndarray, width: int) -> np.ndarray:
    """Component index of every window entry: offsets (..., n_batch) -> (..., width, n_batch)."""
    return offsets[..., None, :] + np.arange(width)[:, None]


def banded_scaled_densities(geometry: Geometry, points: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`scaled_densities` on each point's window only (the same bits there, exact zeros elsewhere).

    Returns
    -------
    dens : ndarray of float64, shape (width, n_batch)
    offsets : ndarray of int64, shape (n_batch,)
    """
    offsets = window_offsets(geometry, points[0], width)
    components = window_components(offsets, width)
    diff = points[0] - geometry.means[components, 0]
    squared = diff * diff
    squared /= geometry.variances[components, 0]
    squared += geometry._log_det[components]
    squared += _LOG_2PI
    squared *= -0.5
    squared -= np.maximum.reduce(squared, axis=0)  # the nearest mean is inside the window
    out = np.zeros_like(squared)
    return np.exp(squared, out=out, where=squared > EXP_UNDERFLOW), offsets


def banded_em_step(weights: np.ndarray, dens: np.ndarray, offsets: np.ndarray, eps: float,
                   n_iterations: int) -> np.ndarray:
    """:func:`em_step` with banded densities: the same bits, O(r * width) per agent instead of O(r * K).

    Outside a point's window its joint and responsibility are exactly 0, so
    the sums over components and over points meet the same non-zero terms in
    the same order as in the dense step; ``bincount`` adds the
    responsibilities point by point (z = 0, 1, ...), like the dense reduction.

    Parameters
    ----------
    weights : ndarray of float64, shape (n_components, n_batch)
    dens : ndarray of float64, shape (rag_size, width, n_batch)
    offsets : ndarray of int64, shape (rag_size, n_batch)
    """
    n_components, n_batch = weights.shape
    rag_size, width, _ = dens.shape
    flat = (window_components(offsets, width) * n_batch + np.arange(n_batch)).reshape(-1)
    for _ in range(n_iterations):
        start = clip_renormalise(weights, eps)
        joint = dens * start.reshape(-1)[flat].reshape(dens.shape)
        joint /= np.add.reduce(joint, axis=1)[:, None, :]
        weights = np.bincount(flat, weights=joint.reshape(-1), minlength=n_components * n_batch)
        weights = weights.reshape(n_components, n_batch)
        weights /= rag_size
        weights = clip_renormalise(weights, eps)
    return weights


def gather(array: np.ndarray, partners: np.ndarray) -> np.ndarray:
    """Partner columns ``array[..., partners]``, a fresh contiguous array."""
    return np.take(array, partners, axis=-1)


def flat_partners(layout: LayoutState, params: ModelParams, noise: StepNoise, nearest: np.ndarray | None) -> np.ndarray:
    """Partners of every agent as flat batch indices, shape (n_batch,).

    ``nearest`` (n_reps, n_agents, k), when given, is the k-nearest table of the
    current weights, computed once per step by the caller (it also serves the
    polarization flag).
    """
    uniforms = noise.uniforms
    n_reps, n_agents = uniforms.shape[:2]
    if nearest is not None and params.neighbours is None:
        pick = np.minimum((uniforms[..., U_PARTNER] * params.k).astype(np.int64), params.k - 1)
        chosen = np.take_along_axis(nearest, pick[..., None], axis=-1)[..., 0]
        partners = np.where(uniforms[..., U_MIRROR] < params.p, np.arange(n_agents), chosen)
    else:
        partners = choose_partners(
            layout.batch_weights(), params.k, params.p, uniforms[..., U_MIRROR], uniforms[..., U_PARTNER],
            neighbours=params.neighbours,
        )
    return (partners + n_agents * np.arange(n_reps)[:, None]).reshape(-1)


def paper_step_inplace(
    layout: LayoutState, params: ModelParams, noise: StepNoise, nearest: np.ndarray | None = None
) -> None:
    """One step of the paper dynamics (MODEL.md section 3), updating ``layout`` in place.

    Every agent reads the state of step t - 1: the partners' databases and
    weights are gathered (copied) before any agent's own database changes.
    """
    geometry, eps, n_em = params.geometry, params.eps, params.em_iterations
    n_batch = layout.weights.shape[1]
    uniforms = noise.uniforms.reshape(n_batch, -1)
    normals = noise.normals.reshape(n_batch, 2, -1)
    time = layout.time + 1
    partners = flat_partners(layout, params, noise, nearest)
    # 3. Query x_i ~ f_i(t - 1).
    query = sample_points(geometry, sample_components(layout.weights, uniforms[:, U_QUERY]), normals[:, 0])
    # 4. The partner answers from a temporary copy of its database holding the query.
    # Clipped weights of every agent, once: the partners' EM gathers them, the own EM reuses them.
    start = clip_renormalise(layout.weights, eps)
    partner_rag = gather(layout.rag, partners)
    partner_dens = gather(layout.dens, partners)
    partner_ages = gather(layout.ages, partners) if params.rag_policy == "oldest" else layout.ages
    slot = choose_slot(params.rag_policy, partner_rag, partner_ages, query, uniforms[:, U_SLOT_PARTNER])
    batch = np.arange(n_batch)
    if layout.offsets is None:
        partner_dens[slot, :, batch] = scaled_densities(geometry, query).T
        answer_weights = em_step(gather(layout.weights, partners), partner_dens, eps, n_em,
                                 start=gather(start, partners))
    else:
        width = partner_dens.shape[1]
        partner_offsets = gather(layout.offsets, partners)
        query_dens, partner_offsets[slot, batch] = banded_scaled_densities(geometry, query, width)
        partner_dens[slot, :, batch] = query_dens.T
        answer_weights = banded_em_step(gather(layout.weights, partners), partner_dens, partner_offsets, eps, n_em)
    # 5. Answer y_i ~ pi~.
    answer = sample_points(geometry, sample_components(answer_weights, uniforms[:, U_ANSWER]), normals[:, 1])
    # 6. The agent absorbs the answer (in place: the partners' copies are already taken) and refits.
    slot = choose_slot(params.rag_policy, layout.rag, layout.ages, answer, uniforms[:, U_SLOT_OWN])
    if layout.offsets is None:
        write_point(layout.rag, layout.dens, layout.ages, slot, answer, scaled_densities(geometry, answer), time)
        layout.weights = em_step(layout.weights, layout.dens, eps, n_em, start=start)
    else:
        answer_dens, layout.offsets[slot, batch] = banded_scaled_densities(geometry, answer, layout.dens.shape[1])
        write_point(layout.rag, layout.dens, layout.ages, slot, answer, answer_dens, time)
        layout.weights = banded_em_step(layout.weights, layout.dens, layout.offsets, eps, n_em)
    layout.time = time
