"""The paper dynamics and the early-draft variant on NumPy: the engine's one NumPy step.

The state of a batch lives in an agents-last memory layout while it steps,
and is converted to and from :class:`PopulationState` (batch axes first) only
at the start and when a snapshot is asked for. Why this layout: numpy
reduces over a short *last* axis (K = 30 components, r = 5 points) row by
row, with a per-row overhead several times the arithmetic; with the flat
agent axis ``b = replicate * n_agents + agent`` last, every reduction over
components or points becomes a handful of vector operations over all agents
at once, and gathering the partners is one ``take`` along the contiguous axis.

Arrays (``n_batch = n_reps * n_agents``):

==========  =================================  =======
weights     (n_components, n_batch)            float64
rag         (rag_size, n_dims, n_batch)        float64
dens        (rag_size, n_components, n_batch)  float64 scaled densities
ages        (rag_size, n_batch)                int64
==========  =================================  =======

Sums over components run in plain sequential order (:mod:`igmm.model.em`).
A replicate's numbers do not depend on the batch it runs in. The state is
updated in place: only its stepper owns it.

The early-draft variant is "refit, then the paper step": the agent first
refits on its own database, pi^ = EM1(R_i; pi_i), and draws its query from
pi^; partners are chosen from the distances between the weights of step
t - 1, and at t = 1 a symmetric jitter of about 1e-3 breaks the ties among
the identical initial distances; the agent's own update is EM1(R_i(t); pi_i(t - 1)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from igmm.dynamics.initial import initial_state
from igmm.dynamics.partners import NearestPartners, choose_partners
from igmm.dynamics.protocol import register_dynamics
from igmm.dynamics.state import (
    U_ANSWER,
    U_MIRROR,
    U_PARTNER,
    U_QUERY,
    U_SLOT_OWN,
    U_SLOT_PARTNER,
    HostNoise,
    ModelParams,
    PopulationState,
    StepNoise,
)
from igmm.model.em import EXP_UNDERFLOW, clip_renormalise, em_step, sample_components
from igmm.model.geometry import Geometry
from igmm.model.rag import choose_slot, write_point

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


def sample_points(geometry: Geometry, components: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Points drawn from the given components, shape (n_dims, n_batch).

    Parameters
    ----------
    components : ndarray of int, shape (n_batch,)
    normals : ndarray of float64, shape (n_batch, n_dims)
    """
    return np.ascontiguousarray(geometry.sample(components, normals).T)


#: Banded densities are used when the components are at least this many times the window.
_BAND_MIN_RATIO = 4


def window_width(geometry: Geometry) -> int | None:
    """Components around a point's nearest one outside which its scaled density is exactly 0.

    Line geometry (means delta * k, one sigma): for a point whose nearest mean
    is k*, the component k* + j has scaled log density at most
    -(j^2 - |j|) (delta / sigma)^2 / 2, so beyond the first |j| = W where that
    is below EXP_UNDERFLOW every density underflows to exactly 0. W is the
    smallest integer with (W^2 - W) (delta / sigma)^2 / 2 > -EXP_UNDERFLOW,
    found from the quadratic's root (a bounded computation for any ratio).
    The window is 2 W + 3 wide (one spare on each side absorbs rounding in
    locating k*). None when banding does not apply or would not pay (few
    components, or a window as wide as the components).
    """
    if geometry.name != "line" or geometry.variances is None or geometry.n_components < 2:
        return None
    sigma2 = geometry.variances[0, 0]
    delta = geometry.means[1, 0] - geometry.means[0, 0]
    if not np.all(geometry.variances == sigma2) or not delta > 0:
        return None
    ratio = delta * delta / sigma2
    if not (np.isfinite(ratio) and ratio > 0):
        return None
    bound = -2.0 * EXP_UNDERFLOW / ratio  # need W^2 - W > bound
    root = (1.0 + np.sqrt(1.0 + 4.0 * bound)) / 2.0
    if not root < geometry.n_components:  # the window would cover every component (or more)
        return None
    half = max(1, int(np.floor(root)) - 1)
    for _ in range(4):  # floating-point rounding of the root moves W by at most one either way
        if (half * half - half) * ratio / 2.0 > -EXP_UNDERFLOW:
            break
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
    """Scaled densities on each point's window only (the same bits there, exact zeros elsewhere).

    Returns
    -------
    dens : ndarray of float64, shape (width, n_batch)
    offsets : ndarray of int64, shape (n_batch,)
    """
    offsets = window_offsets(geometry, points[0], width)
    components = window_components(offsets, width)
    # The arithmetic of Geometry.log_density_columns, on each point's window of components.
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
    """:func:`igmm.model.em.em_step` with banded densities: the same bits, O(r * width) per agent instead of O(r * K).

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


def flat_indices(partners: np.ndarray) -> np.ndarray:
    """Partners (n_reps, n_agents) within their replicate -> flat batch indices, shape (n_batch,)."""
    n_reps, n_agents = partners.shape
    return (partners + n_agents * np.arange(n_reps)[:, None]).reshape(-1)


def paper_step(layout: LayoutState, params: ModelParams, noise: StepNoise, partners: np.ndarray,
               query_weights: np.ndarray | None = None) -> None:
    """One synchronous step of the paper dynamics, updating ``layout`` in place (docs/model.md).

    Every agent reads the state of step t - 1: the partners' databases and
    weights are gathered (copied) before any agent's own database changes.

    Parameters
    ----------
    layout : LayoutState
        State after step t - 1; becomes the state after step t.
    params : ModelParams
    noise : StepNoise
        This step's random draws.
    partners : ndarray of int, shape (n_reps, n_agents)
        Each agent's partner (itself when it mirrors).
    query_weights : ndarray of float64, shape (n_components, n_batch), optional
        Mixture each agent draws its query from (default: its weights; the
        early-draft variant passes its refit).
    """
    geometry, eps, n_em = params.geometry, params.eps, params.em_iterations
    n_batch = layout.weights.shape[1]
    uniforms = noise.uniforms.reshape(n_batch, -1)
    normals = noise.normals.reshape(n_batch, 2, -1)
    time = layout.time + 1
    partners = flat_indices(partners)
    # 3. Query x_i ~ f_i(t - 1).
    query_from = layout.weights if query_weights is None else query_weights
    query = sample_points(geometry, sample_components(query_from, uniforms[:, U_QUERY]), normals[:, 0])
    # 4. The partner answers from a temporary copy of its database holding the query.
    # Clipped weights of every agent, once: the partners' EM gathers them, the own EM reuses them.
    start = clip_renormalise(layout.weights, eps)
    partner_rag = gather(layout.rag, partners)
    partner_dens = gather(layout.dens, partners)
    partner_ages = gather(layout.ages, partners)
    slot = choose_slot(params.rag_policy, partner_rag, partner_ages, query, uniforms[:, U_SLOT_PARTNER])
    batch = np.arange(n_batch)
    if layout.offsets is None:
        partner_dens[slot, :, batch] = geometry.scaled_densities(query).T
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
    absorb = absorbing_mask(params, layout.n_reps)
    slot = choose_slot(params.rag_policy, layout.rag, layout.ages, answer, uniforms[:, U_SLOT_OWN])
    old_weights = layout.weights
    if layout.offsets is None:
        write_point(layout.rag, layout.dens, layout.ages, slot, answer, geometry.scaled_densities(answer), time, absorb)
        layout.weights = em_step(layout.weights, layout.dens, eps, n_em, start=start)
    else:
        answer_dens, answer_offsets = banded_scaled_densities(geometry, answer, layout.dens.shape[1])
        write_point(layout.rag, layout.dens, layout.ages, slot, answer, answer_dens, time, absorb)
        rows = batch if absorb is None else batch[absorb]
        layout.offsets[slot[rows], rows] = answer_offsets[rows]
        layout.weights = banded_em_step(layout.weights, layout.dens, layout.offsets, eps, n_em)
    if absorb is not None:  # stubborn agents keep their weights
        layout.weights = np.where(absorb, layout.weights, old_weights)
    layout.time = time


def absorbing_mask(params: ModelParams, n_reps: int) -> np.ndarray | None:
    """Which agents absorb their answer (all but the frozen ones), shape (n_batch,); None when all do."""
    frozen = params.frozen_mask()
    return None if frozen is None else np.tile(~frozen, n_reps)


@register_dynamics("paper", backend="numpy")
class PaperStepper(NearestPartners):
    """Steps the paper dynamics in place in the agents-last layout (the :class:`~igmm.dynamics.protocol.Stepper` protocol).

    The k-nearest table of the current weights is computed once per state and
    serves both the polarization flag of step t and the partners of step t + 1
    (:class:`~igmm.dynamics.partners.NearestPartners`).
    """

    def __init__(self, params: ModelParams, rngs: Sequence[np.random.Generator], state: PopulationState | None = None):
        state = state if state is not None else initial_state(params, rngs, exact_one_hot=self.exact_one_hot)
        self.layout, self.params = to_layout(state, params.geometry), params
        self.noise = HostNoise(rngs, self.layout.n_agents, normal_shape=(2, params.geometry.n_dims))
        self._nearest: np.ndarray | None = None
        self._ids: np.ndarray | None = None

    exact_one_hot = False

    @property
    def time(self) -> int:
        return self.layout.time

    @property
    def n_agents(self) -> int:
        return self.layout.n_agents

    def partner_vectors(self) -> np.ndarray:
        return self.layout.batch_weights()

    def step(self) -> None:
        noise = self.noise.next()
        paper_step(self.layout, self.params, noise, self.partners(noise))
        self._nearest, self._ids = None, None

    def ids(self) -> np.ndarray:
        if self._ids is None:
            self._ids = self.layout.ids()
        return self._ids

    def weights(self) -> np.ndarray:
        return self.layout.batch_weights()

    def state(self) -> PopulationState:
        return from_layout(self.layout)


@register_dynamics("early-draft", backend="numpy")
class EarlyDraftStepper(PaperStepper):
    """The early-draft variant: refit on one's own database, then the paper step (module docstring)."""

    exact_one_hot = True

    def step(self) -> None:
        noise = self.noise.next()
        layout, params = self.layout, self.params
        jitter = None
        if layout.time == 0 and params.neighbours is None:
            jitter = symmetric_jitter(noise.uniforms[..., U_SLOT_PARTNER], scale=1e-3)
        if jitter is None:
            partners = self.partners(noise)
        else:  # the jittered distances rank even the complete graph's partners
            partners = choose_partners(layout.batch_weights(), params.k, params.p, noise.uniforms[..., U_MIRROR],
                                       noise.uniforms[..., U_PARTNER], distance_jitter=jitter)
        if layout.offsets is None:
            refit = em_step(layout.weights, layout.dens, params.eps, params.em_iterations)
        else:
            refit = banded_em_step(layout.weights, layout.dens, layout.offsets, params.eps, params.em_iterations)
        paper_step(layout, params, noise, partners, query_weights=refit)
        self._nearest, self._ids = None, None


def symmetric_jitter(uniforms: np.ndarray, scale: float) -> np.ndarray:
    """A symmetric (n_reps, n_agents, n_agents) jitter built from one uniform per agent.

    jitter_ij = scale * frac(u_i + u_j): symmetric in i and j, and every pair
    gets its own offset (|u_i - u_j| would vanish for equal draws only, but
    gives fewer distinct values).
    """
    pair_sum = uniforms[:, :, None] + uniforms[:, None, :]
    return scale * (pair_sum - np.floor(pair_sum))
