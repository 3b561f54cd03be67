"""State, parameters and per-step random draws of a batch of populations."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    p : float
        Mirroring probability.
    k : int
        Number of nearest agents a partner is drawn from (n_agents - 1: complete graph).
    rag_size : int
        r, points per database.
    eps : float
        Weight floor.
    assignment : ndarray of int, shape (n_agents,)
        Component c(i) each agent starts centred on.
    dynamics : str
        Key of :data:`igmm.dynamics.step.STEP_FUNCTIONS`.
    rag_policy : str
        Key of :data:`igmm.model.rag.RAG_POLICIES`.
    em_iterations : int
        EM iterations per refit (1 in the paper).
    neighbours : ndarray of int, shape (n_agents, max_degree), optional
        Static network: padded neighbour lists (-1 = none). None: the dynamic
        k-nearest graph in weight space.
    """

    geometry: Geometry
    p: float
    k: int
    rag_size: int
    eps: float = 1e-12
    assignment: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    dynamics: str = "paper"
    rag_policy: str = "farthest"
    em_iterations: int = 1
    neighbours: np.ndarray | None = None

    @property
    def n_agents(self) -> int:
        return len(self.assignment)


#: Uniform draws per agent and step, by column of ``StepNoise.uniforms``.
U_MIRROR, U_PARTNER, U_QUERY, U_ANSWER, U_SLOT_PARTNER, U_SLOT_OWN = range(6)
N_UNIFORMS = 6
#: Normal draws per agent and step (query, answer), each of n_dims.
N_NORMALS = 2


@dataclass(frozen=True, eq=False)
class StepNoise:
    """All random draws of one step, fixed in count so runs are reproducible.

    Attributes
    ----------
    uniforms : ndarray of float64, shape (n_reps, n_agents, 6)
        Columns: mirror, partner, query component, answer component, partner's
        slot, own slot (the slots only matter for the "random" database policy).
    normals : ndarray of float64, shape (n_reps, n_agents, 2, n_dims)
        Standard normals for the query and the answer.
    """

    uniforms: np.ndarray
    normals: np.ndarray
