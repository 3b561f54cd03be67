"""State, parameters and per-step random draws of a batch of populations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from igmm.model.geometry import Geometry


@dataclass(frozen=True, eq=False)
class PopulationState:
    """The state of ``n_reps`` independent populations after step ``time``.

    Attributes
    ----------
    weights : ndarray of float64, shape (n_reps, n_agents, n_components)
        Mixture weights pi_i: each agent's perspective.
    rag : ndarray of float64, shape (n_reps, n_agents, rag_size, n_dims)
        Each agent's database of points.
    rag_dens : ndarray of float64, shape (n_reps, n_agents, rag_size, n_components)
        Cached densities N(z; mu_k, Sigma_k) of each stored point, scaled so the
        largest is 1 (:func:`igmm.model.em.scaled_densities`). The components are
        fixed, so a point's densities are computed once, when it is inserted.
    rag_ages : ndarray of int64, shape (n_reps, n_agents, rag_size)
        Step at which each stored point was inserted (0 for the initial draws).
    time : int
        Steps taken so far.
    """

    weights: np.ndarray
    rag: np.ndarray
    rag_dens: np.ndarray
    rag_ages: np.ndarray
    time: int = 0

    @property
    def n_reps(self) -> int:
        return self.weights.shape[0]

    @property
    def n_agents(self) -> int:
        return self.weights.shape[1]

    def ids(self) -> np.ndarray:
        """ID_i = argmax_k pi_ik, shape (n_reps, n_agents), int64 (ties: lowest index)."""
        return np.argmax(self.weights, axis=-1)


@dataclass(frozen=True, eq=False)
class ModelParams:
    """Parameters of the dynamics (validated by the shell before they get here).

    Attributes
    ----------
    geometry : Geometry
        The shared components.
    p : float or ndarray of float64, shape (n_agents,)
        Mirroring probability, one for all agents or one per agent.
    k : int
        Number of nearest agents a partner is drawn from (n_agents - 1: complete graph).
    rag_size : int
        r, points per database.
    eps : float
        Weight floor.
    assignment : ndarray of int, shape (n_agents,)
        Component c(i) each agent starts centred on.
    dynamics : str
        A name of :data:`igmm.registry.DYNAMICS`.
    rag_policy : str
        A name of :data:`igmm.registry.RAG_POLICIES`.
    em_iterations : int
        EM iterations per refit (1 in the paper).
    neighbours : ndarray of int, shape (n_agents, max_degree), optional
        Static network: padded neighbour lists (-1 = none). None: the dynamic
        k-nearest graph in weight space.
    frozen : ndarray of bool, shape (n_agents,), optional
        Agents whose state never changes (stubborn agents, zealots): they
        answer partners but never absorb an answer or refit.
    initial : tuple of (str, dict)
        Initial-opinion rule (a name of :data:`igmm.registry.INITIAL_OPINIONS`) and its options.
    options : dict
        Options of the dynamics itself (e.g. a bounded-confidence threshold).
    neighbour_search : str
        How the dynamic k-nearest graph is searched: "exact" (default) or
        "hnsw" (approximate, large populations; :func:`igmm.dynamics.partners.k_nearest`).
    """

    geometry: Geometry
    p: Any
    k: int
    rag_size: int
    eps: float = 1e-12
    assignment: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    dynamics: str = "paper"
    rag_policy: str = "farthest"
    em_iterations: int = 1
    neighbours: np.ndarray | None = None
    frozen: np.ndarray | None = None
    initial: tuple[str, dict] = ("one-hot", {})
    options: dict = field(default_factory=dict)
    neighbour_search: str = "exact"

    @property
    def n_agents(self) -> int:
        return len(self.assignment)

    def p_per_agent(self) -> np.ndarray:
        """The mirroring probability of every agent, shape (n_agents,), float64."""
        return np.broadcast_to(np.asarray(self.p, dtype=np.float64), (self.n_agents,))

    def frozen_mask(self) -> np.ndarray | None:
        """``frozen`` as a bool array, or None when no agent is frozen (the common case: no extra work)."""
        if self.frozen is None or not np.any(self.frozen):
            return None
        return np.asarray(self.frozen, dtype=bool)


#: Uniform draws per agent and step, by column of ``StepNoise.uniforms``.
U_MIRROR, U_PARTNER, U_QUERY, U_ANSWER, U_SLOT_PARTNER, U_SLOT_OWN = range(6)
N_UNIFORMS = 6
#: Normal draws per agent and step (query, answer), each of n_dims.
N_NORMALS = 2
#: Steps of random draws taken from each generator at once. A constant, so a
#: replicate's numbers never depend on the batch, the worker or T (the first
#: T steps of a longer run equal the shorter run).
NOISE_CHUNK = 16


@dataclass(frozen=True, eq=False)
class StepNoise:
    """All random draws of one step, fixed in count so runs are reproducible.

    Attributes
    ----------
    uniforms : ndarray of float64, shape (n_reps, n_agents, n_uniforms)
        For the GMM dynamics, 6 columns: mirror, partner, query component, answer
        component, partner's slot, own slot (the slots only matter for the
        "random" database policy).
    normals : ndarray of float64, shape (n_reps, n_agents, n_normals, n_dims)
        Standard normals (GMM: the query and the answer).
    """

    uniforms: np.ndarray
    normals: np.ndarray


class HostNoise:
    """Each replicate's random draws from its own numpy Generator, a fixed chunk of steps at a time.

    Every replicate draws ``NOISE_CHUNK`` steps of uniforms, then of normals,
    from its own generator, so its numbers never depend on the batch it runs
    in, the worker, the backend or T.

    Parameters
    ----------
    rngs : sequence of numpy.random.Generator, one per replicate
    n_agents : int
    n_uniforms : int
        Uniform draws per agent and step.
    normal_shape : tuple of int
        Shape of the normal draws per agent and step, e.g. (2, n_dims); () for none.
    """

    def __init__(self, rngs: Sequence[np.random.Generator], n_agents: int, n_uniforms: int = N_UNIFORMS,
                 normal_shape: tuple[int, ...] = (N_NORMALS, 1)):
        self.rngs, self.n_agents = list(rngs), n_agents
        self.n_uniforms, self.normal_shape = n_uniforms, tuple(normal_shape)
        self._chunk: list[StepNoise] = []

    def next(self) -> StepNoise:
        """The draws of the next step."""
        if not self._chunk:
            self._chunk = self._draw(NOISE_CHUNK)
        return self._chunk.pop(0)

    def _draw(self, n_steps: int) -> list[StepNoise]:
        uniforms = np.stack([rng.random((n_steps, self.n_agents, self.n_uniforms)) for rng in self.rngs], axis=1)
        if self.normal_shape and np.prod(self.normal_shape) > 0:
            normals = np.stack([rng.standard_normal((n_steps, self.n_agents) + self.normal_shape)
                                for rng in self.rngs], axis=1)
        else:
            normals = np.zeros((n_steps, len(self.rngs), self.n_agents) + self.normal_shape)
        return [StepNoise(uniforms=uniforms[t], normals=normals[t]) for t in range(n_steps)]
