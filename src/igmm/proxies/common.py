"""What the classical opinion models share: opinion state, the GMM's partner rule, anchor IDs, snapshots.

Every classical model keeps one opinion per agent (a label, or a number in
[0, 1]), vectorised over replicates and agents, and draws partners exactly as
the GMM does (:mod:`igmm.dynamics.partners`): with probability p an agent
*mirrors* (its partner is itself, so it keeps its opinion), otherwise its
partner is drawn uniformly from its k nearest agents in opinion space (ties
by the lower agent index), or from a static network's neighbours. Opinions
are "vectors" for the distances: a label is its one-hot vector (distance 0
to the same label, sqrt 2 to any other), a number x is the vector (x,).

Silos of continuous opinions are *anchor IDs*: ``K = n_components`` anchors
at (c + 1/2) / K, c = 0 .. K - 1, partition [0, 1] into K equal cells, and
an agent's ID is the index of its nearest anchor (between two, the lower).
The labels are fixed in advance, so an ID means the same opinion at every
step (a silo never changes its name when its members move), agents that
agree exactly always share an ID, and with the default start (agent i at the
anchor of its component c(i)) the n = K agents begin in n different silos,
like the language models' 30 different flowers. Two clusters closer than
1/K can share an ID; bounded-confidence clusters end more than epsilon apart,
so that needs epsilon < 1/K.
"""

from __future__ import annotations

import inspect
from typing import Sequence

import numpy as np

from igmm.dynamics.initial import initial_weights
from igmm.dynamics.partners import NearestPartners
from igmm.dynamics.state import HostNoise, ModelParams, PopulationState, StepNoise

#: Uniform draws per agent and step of every classical model: mirror, partner, tie-breaking.
N_CLASSICAL_UNIFORMS = 3
#: Column of the tie-breaking uniform (the voter model's random ties).
U_TIE = 2


def option_values(declare, given: dict) -> dict:
    """The options of a dynamics: the declared defaults, overridden by the validated ones given.

    Parameters
    ----------
    declare : callable
        The options function (keyword-only parameters with defaults).
    given : dict
        ``params.options`` (validated by the configuration; only what the user set).
    """
    defaults = {name: parameter.default for name, parameter in inspect.signature(declare).parameters.items()
                if parameter.kind is inspect.Parameter.KEYWORD_ONLY and parameter.default is not inspect.Parameter.empty}
    return defaults | dict(given)


def anchors(n_components: int) -> np.ndarray:
    """The K anchors (c + 1/2) / K of [0, 1], shape (n_components,), float64."""
    return (np.arange(n_components) + 0.5) / n_components


def anchor_ids(opinions: np.ndarray, n_components: int) -> np.ndarray:
    """Index of the nearest anchor of every opinion (the lower one on a boundary), int64, the input's shape.

    Examples
    --------
    >>> anchor_ids(np.array([0.0, 0.1, 0.25, 0.26, 1.0]), 4).tolist()
    [0, 0, 0, 1, 3]
    """
    return np.clip(np.ceil(opinions * n_components).astype(np.int64) - 1, 0, n_components - 1)


def initial_opinion_weights(params: ModelParams, rngs: Sequence[np.random.Generator]) -> np.ndarray:
    """Every replicate's initial weights from the configuration's initial rule, shape (n_reps, n_agents, K)."""
    return np.stack([initial_weights(params, rng) for rng in rngs])


class OpinionStepper(NearestPartners):
    """Base of the classical models' steppers (the :class:`~igmm.dynamics.protocol.Stepper` protocol).

    Partners follow the GMM's rule on the opinions' vectors (:class:`~igmm.dynamics.partners.NearestPartners`).

    Subclasses hold their opinions in ``self.opinions`` and define
    :meth:`vectors` (opinions as vectors, for distances), :meth:`ids` and
    :meth:`update` (the new opinions from this step's partners).
    """

    #: The options function of the dynamics (set by subclasses).
    declare = None

    def __init__(self, params: ModelParams, rngs: Sequence[np.random.Generator], state: PopulationState | None = None):
        self.params = params
        self.settings = option_values(self.declare, params.options) if self.declare is not None else {}
        self.n_components = params.geometry.n_components
        if state is None:
            self.opinions, self.time = self.initial(params, rngs), 0
        else:
            self.opinions, self.time = self.from_weights(np.asarray(state.weights)), state.time
        self.noise = HostNoise(rngs, params.n_agents, n_uniforms=N_CLASSICAL_UNIFORMS, normal_shape=())
        self._nearest: np.ndarray | None = None

    # --- what a model defines -------------------------------------------------------------------

    def initial(self, params: ModelParams, rngs: Sequence[np.random.Generator]) -> np.ndarray:
        raise NotImplementedError

    def from_weights(self, weights: np.ndarray) -> np.ndarray:
        """Opinions from a snapshot's weights (the inverse of :meth:`weights`)."""
        raise NotImplementedError

    def vectors(self) -> np.ndarray:
        """Opinions as vectors for the k-nearest search, shape (n_reps, n_agents, m), float64."""
        raise NotImplementedError

    def update(self, partners: np.ndarray, noise: StepNoise) -> np.ndarray:
        """New opinions from this step's partners (n_reps, n_agents) (itself when mirroring)."""
        raise NotImplementedError

    # --- shared ---------------------------------------------------------------------------------

    @property
    def n_reps(self) -> int:
        return self.opinions.shape[0]

    @property
    def n_agents(self) -> int:
        return self.opinions.shape[1]

    def partner_vectors(self) -> np.ndarray:
        return self.vectors()

    def step(self) -> None:
        noise = self.noise.next()
        new = self.update(self.partners(noise), noise)
        frozen = self.params.frozen_mask()
        if frozen is not None:  # stubborn agents keep their opinion
            new[:, frozen] = self.opinions[:, frozen]
        self.opinions, self.time, self._nearest = new, self.time + 1, None

    def state(self) -> PopulationState:
        weights = self.weights()
        n_reps, n_agents = weights.shape[:2]
        return PopulationState(weights=weights.copy(), rag=np.zeros((n_reps, n_agents, 0, 1)),
                               rag_dens=np.zeros((n_reps, n_agents, 0, weights.shape[-1])),
                               rag_ages=np.zeros((n_reps, n_agents, 0), dtype=np.int64), time=self.time)


class ContinuousOpinionStepper(OpinionStepper):
    """Opinions are numbers in [0, 1], shape (n_reps, n_agents); IDs are anchor IDs (module docstring).

    Start (option ``start``): ``anchors``, each agent at the weighted mean of
    the anchors under its initial weights (the paper's one-hot start puts
    agent i on the anchor of c(i)); ``uniform``, independent U(0, 1) draws.
    """

    def initial(self, params, rngs):
        if self.settings.get("start", "anchors") == "uniform":
            return np.stack([rng.random(params.n_agents) for rng in rngs])
        return initial_opinion_weights(params, rngs) @ anchors(self.n_components)

    def from_weights(self, weights):
        return weights[..., 0].astype(np.float64)

    def vectors(self):
        return self.opinions[..., None]

    def weights(self) -> np.ndarray:
        """The opinions as vectors of one entry, shape (n_reps, n_agents, 1)."""
        return self.opinions[..., None]

    def ids(self) -> np.ndarray:
        return anchor_ids(self.opinions, self.n_components)

    def confidence_sets(self) -> np.ndarray:
        """Who each agent may hear: its k nearest, the whole population or its network neighbours.

        Returns
        -------
        ndarray of int64, shape (n_reps or 1, n_agents, m)
            Agent indices sorted ascending, -1 pads (itself excluded).
        """
        n_agents = self.n_agents
        if self.params.neighbours is not None:
            members = np.asarray(self.params.neighbours)[None]
        elif self.uses_nearest():
            members = self.nearest()
        else:
            everyone = np.broadcast_to(np.arange(n_agents), (n_agents, n_agents))
            members = everyone[~np.eye(n_agents, dtype=bool)].reshape(n_agents, n_agents - 1)[None]
        # Ascending index order: agents that hear the same set sum it in the same order (same bits).
        padded = np.where(members < 0, n_agents, members).astype(np.int64)
        ordered = np.sort(padded, axis=-1)
        return np.where(ordered == n_agents, -1, ordered)
