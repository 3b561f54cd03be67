"""Initial state and multi-step runs of a batch of replicates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from igmm.dynamics import fast
from igmm.dynamics.partners import k_nearest
from igmm.dynamics.state import N_NORMALS, N_UNIFORMS, ModelParams, PopulationState, StepNoise
from igmm.dynamics.step import STEP_FUNCTIONS, sample_components
from igmm.metrics.polarization import is_polarized
from igmm.model.em import scaled_densities

#: Steps of random draws taken from each generator at once. A constant, so a
#: replicate's numbers never depend on the batch, the worker or T (the first
#: T steps of a longer run equal the shorter run).
NOISE_CHUNK = 16


def initial_state(params: ModelParams, rngs: Sequence[np.random.Generator], one_hot: bool = False) -> PopulationState:
    """The state at t = 0 (MODEL.md section 1).

    Agent i starts centred on component c(i): pi_i,c(i) = 1 - eps and eps / K
    elsewhere (exactly one-hot when ``one_hot``, the early-draft variant). Its
    database holds ``rag_size`` independent draws from its initial mixture.

    Parameters
    ----------
    params : ModelParams
    rngs : sequence of numpy.random.Generator, one per replicate
        Each replicate's initial draws come from its own generator.
    one_hot : bool
        Exactly one-hot initial weights.
    """
    geometry, n_agents = params.geometry, params.n_agents
    n_components = geometry.n_components
    weights = np.full((n_agents, n_components), 0.0 if one_hot else params.eps / n_components)
    weights[np.arange(n_agents), params.assignment] = 1.0 if one_hot else 1.0 - params.eps
    weights = np.broadcast_to(weights, (len(rngs), n_agents, n_components)).copy()
    uniforms = np.stack([rng.random((n_agents, params.rag_size)) for rng in rngs])
    normals = np.stack([rng.standard_normal((n_agents, params.rag_size, geometry.n_dims)) for rng in rngs])
    components = sample_components(weights[:, :, None, :], uniforms)
    rag = geometry.sample(components, normals)
    return PopulationState(
        weights=weights,
        rag=rag,
        rag_dens=scaled_densities(geometry.log_density(rag)),
        rag_ages=np.zeros(rag.shape[:-1], dtype=np.int64),
        time=0,
    )


def draw_noise(rngs: Sequence[np.random.Generator], n_steps: int, n_agents: int, n_dims: int) -> list[StepNoise]:
    """The random draws of ``n_steps`` steps, each replicate from its own generator.

    Returns
    -------
    list of StepNoise, one per step, arrays with the replicate axis first.
    """
    uniforms = np.stack([rng.random((n_steps, n_agents, N_UNIFORMS)) for rng in rngs], axis=1)
    normals = np.stack([rng.standard_normal((n_steps, n_agents, N_NORMALS, n_dims)) for rng in rngs], axis=1)
    return [StepNoise(uniforms=uniforms[t], normals=normals[t]) for t in range(n_steps)]


@dataclass(frozen=True, eq=False)
class Trajectory:
    """What a run records.

    Attributes
    ----------
    ids : ndarray of int16, shape (n_reps, n_steps + 1, n_agents)
        ID_i(t) = argmax_k pi_ik(t); row 0 is the initial state.
    weights : ndarray of float64, shape (n_reps, n_steps + 1, n_agents, n_components) or None
        Full weights, only when asked for.
    polarized : ndarray of bool, shape (n_reps, n_steps + 1)
        Polarization flag of every state (:mod:`igmm.metrics.polarization`).
    final : PopulationState
        The state after the last step.
    """

    ids: np.ndarray
    weights: np.ndarray | None
    polarized: np.ndarray
    final: PopulationState


def run(
    params: ModelParams,
    rngs: Sequence[np.random.Generator],
    n_steps: int,
    keep_weights: bool = False,
    on_step: Callable[[int], None] | None = None,
    state: PopulationState | None = None,
    backend="numpy",
) -> Trajectory:
    """Run ``n_steps`` steps of a batch of replicates.

    Parameters
    ----------
    params : ModelParams
    rngs : sequence of numpy.random.Generator
        One generator per replicate (spawned from one SeedSequence by the shell).
    n_steps : int
        T.
    keep_weights : bool
        Also record the full weights at every step (memory: n_reps * (T + 1) * n_agents * K * 8 bytes).
    on_step : callable, optional
        Called with the number of steps done after every step (progress bars).
    state : PopulationState, optional
        Start here instead of the initial state drawn from ``rngs``.
    backend : "numpy" or callable
        "numpy" (default), or a stepper class ``(state, params) -> stepper``
        supplied by the shell: :func:`igmm.backends.run` resolves "torch" to
        :class:`igmm.backends.torch_backend.TorchStepper` (the core never imports torch).

    Returns
    -------
    Trajectory
    """
    if state is None:
        state = initial_state(params, rngs, one_hot=params.dynamics == "early-draft")
    n_reps, n_agents = state.n_reps, state.n_agents
    ids = np.empty((n_reps, n_steps + 1, n_agents), dtype=np.int16 if params.geometry.n_components < 2**15 else np.int32)
    polarized = np.zeros((n_reps, n_steps + 1), dtype=bool)
    weights = np.empty((n_reps, n_steps + 1) + state.weights.shape[1:]) if keep_weights else None
    stepper = _make_stepper(state, params, backend)
    noise: list[StepNoise] = []
    for t in range(n_steps + 1):
        if t > 0:
            if not noise:
                noise = draw_noise(rngs, NOISE_CHUNK, n_agents, params.geometry.n_dims)
            stepper.step(noise.pop(0))
        ids[:, t] = stepper.ids()
        polarized[:, t] = stepper.polarization_flags()
        if weights is not None:
            weights[:, t] = stepper.batch_weights()
        if on_step is not None and t > 0:
            on_step(t)
    return Trajectory(ids=ids, weights=weights, polarized=polarized, final=stepper.final())


def _make_stepper(state: PopulationState, params: ModelParams, backend):
    if callable(backend):  # a stepper class from the shell (igmm.backends), e.g. the torch one
        if params.dynamics != "paper":
            raise ValueError(f"backend: only available for dynamics 'paper' (got {params.dynamics!r})")
        return backend(state, params)
    if backend != "numpy":
        raise ValueError(f"backend: {backend!r} is not allowed here: 'numpy', or a stepper from igmm.backends")
    return _LayoutStepper(state, params) if params.dynamics == "paper" else _GenericStepper(state, params)


class _GenericStepper:
    """Steps any entry of STEP_FUNCTIONS on immutable PopulationStates."""

    def __init__(self, state: PopulationState, params: ModelParams):
        self.state, self.params, self.function = state, params, STEP_FUNCTIONS[params.dynamics]

    def step(self, noise: StepNoise) -> None:
        self.state = self.function(self.state, self.params, noise)

    def ids(self) -> np.ndarray:
        return self.state.ids()

    def batch_weights(self) -> np.ndarray:
        return self.state.weights

    def polarization_flags(self) -> np.ndarray:
        return polarization_flags(self.state, self.params)

    def final(self) -> PopulationState:
        return self.state


class _LayoutStepper:
    """Steps the paper dynamics in place in the agents-last layout (:mod:`igmm.dynamics.fast`).

    The k-nearest table of the current weights is computed once per state and
    serves both the polarization flag of step t and the partners of step t + 1.
    """

    def __init__(self, state: PopulationState, params: ModelParams):
        self.layout, self.params = fast.to_layout(state, params.geometry), params
        self._nearest: np.ndarray | None = None
        self._ids: np.ndarray | None = None

    def _needs_distances(self) -> bool:
        return self.params.neighbours is None and self.params.k < self.layout.n_agents - 1

    def nearest(self) -> np.ndarray | None:
        if self._nearest is None and self._needs_distances():
            self._nearest = k_nearest(self.layout.batch_weights(), self.params.k)
        return self._nearest

    def step(self, noise: StepNoise) -> None:
        fast.paper_step_inplace(self.layout, self.params, noise, self.nearest())
        self._nearest, self._ids = None, None

    def ids(self) -> np.ndarray:
        if self._ids is None:
            self._ids = self.layout.ids()
        return self._ids

    def batch_weights(self) -> np.ndarray:
        return self.layout.batch_weights()

    def polarization_flags(self) -> np.ndarray:
        if self.params.neighbours is not None:
            return is_polarized(self.ids(), self.params.neighbours)
        if not self._needs_distances():
            return np.zeros(self.layout.n_reps, dtype=bool)
        return is_polarized(self.ids(), self.nearest())

    def final(self) -> PopulationState:
        return fast.from_layout(self.layout)


def polarization_flags(state: PopulationState, params: ModelParams) -> np.ndarray:
    """Is each replicate's population polarized (closed multi-silo) now? Shape (n_reps,), bool."""
    if params.neighbours is not None:
        return is_polarized(state.ids(), params.neighbours)
    if params.k >= state.n_agents - 1:
        # Every agent hears every other: a closed multi-silo state cannot exist.
        return np.zeros(state.n_reps, dtype=bool)
    return is_polarized(state.ids(), k_nearest(state.weights, params.k))
