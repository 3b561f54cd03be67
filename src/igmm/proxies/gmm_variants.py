"""GMM variants that copy the language models' mechanism where the paper GMM differs from it.

The language models (docs/llm.md) and the paper GMM differ in four places:
who is near whom (answers vs weights), what the partner sees (a fixed
question vs the asker's query in its temporary database), what a mirroring
agent writes (its own answer vs an answer to its own query) and memory (one
retrieved entry overwritten whole vs the farthest of r points). Each variant
below changes some of them and keeps the rest of the paper GMM; all are built
from the paper step's own pieces (:mod:`igmm.dynamics.paper`: the layout,
sampling, gathering, the k-nearest partner draw, :func:`paper_step` itself)
and the model's database and EM functions, not from a copy of the paper step.

``answer-graph``
    The paper step, with partners ranked by the distance between the agents'
    *answers of this step* instead of their weights. An agent's answer is a
    point drawn from its own mixture: exactly the query x_i ~ f_i(t - 1) the
    paper step draws from the same random numbers, so :func:`paper_step` runs
    unchanged with these partners (no hook needed). Like the language models'
    embeddings, answers are noisy samples: two agents of one opinion are near
    only as often as their samples are.

``lm-exchange``
    The language models' exchange: every agent answers once from its own
    mixture (its answer a_i, drawn as above), partners are ranked by the
    distance between the answers (as ``answer-graph``; option ``graph:
    weights`` ranks by weights instead), and each agent stores its partner's
    answer a_j, or its own a_i when it mirrors, in its database (the slot of
    the database policy, farthest by default) and refits by EM. The partner
    never sees the asker's query. Memory stays the paper's r points.

``one-entry``
    ``lm-exchange`` with the language models' memory: the stored answer
    replaces the agent's knowledge whole (every one of its r slots holds it:
    r = 1 semantics), and its weights become the responsibilities of that one
    point, pi_k proportional to N(a; mu_k, Sigma_k) (option ``prior:
    uniform``, the default: the received flower is all the agent knows), or
    EM from its previous weights (``prior: own``: the old opinion resists the
    new entry in proportion to the weight it held). sigma sets how often an
    answer names a component other than the one it was drawn from (the
    language model's "mutation" when it rephrases).

The IDs are the GMM's (argmax of the weights). Densities are kept dense (no
banded window) in the two exchange variants; with K = 30 components the
paper step does not band either.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from igmm.dynamics.paper import (
    PaperStepper,
    absorbing_mask,
    flat_indices,
    from_layout,
    gather,
    sample_points,
    to_layout,
)
from igmm.dynamics.partners import k_nearest, nearest_partners
from igmm.dynamics.protocol import register_dynamics
from igmm.dynamics.state import U_QUERY, U_SLOT_OWN, ModelParams, StepNoise
from igmm.model.em import em_step, sample_components
from igmm.model.rag import choose_slot, write_point
from igmm.proxies.common import option_values


def lm_exchange_options(*, graph: Literal["answers", "weights"] = "answers") -> None:
    """Options of ``lm-exchange``.

    Parameters
    ----------
    graph : {"answers", "weights"}
        Rank partners by the distance between this step's answers (the
        language models) or between weights (the paper GMM).
    """


def one_entry_options(*, graph: Literal["answers", "weights"] = "answers",
                      prior: Literal["uniform", "own"] = "uniform") -> None:
    """Options of ``one-entry``.

    Parameters
    ----------
    graph : {"answers", "weights"}
        As in ``lm-exchange``.
    prior : {"uniform", "own"}
        Weights after an update: the responsibilities of the one entry under
        uniform weights, or EM (``em_iterations``) from the agent's previous weights.
    """


def own_answers(weights: np.ndarray, params: ModelParams, noise: StepNoise) -> np.ndarray:
    """Every agent's answer of this step, drawn from its own mixture, shape (n_dims, n_batch).

    The same numbers as the query :func:`igmm.dynamics.paper.paper_step`
    draws from ``noise`` (component from the U_QUERY uniform, point from the
    first normal).

    Parameters
    ----------
    weights : ndarray of float64, shape (n_components, n_batch)
        The agents-last weights of step t - 1.
    """
    n_batch = weights.shape[1]
    uniforms = noise.uniforms.reshape(n_batch, -1)
    normals = noise.normals.reshape(n_batch, 2, -1)
    return sample_points(params.geometry, sample_components(weights, uniforms[:, U_QUERY]), normals[:, 0])


def answer_table(answers: np.ndarray, n_reps: int, k: int) -> np.ndarray:
    """The k nearest agents by the distance between answers, shape (n_reps, n_agents, k) (ties: lower index).

    Parameters
    ----------
    answers : ndarray of float64, shape (n_dims, n_batch)
    """
    batch_first = answers.T.reshape(n_reps, -1, answers.shape[0])
    return k_nearest(batch_first, k)


class _AnswerRankedStepper(PaperStepper):
    """A paper stepper whose partners may be ranked by this step's answers.

    ``neighbourhoods()`` (the polarization flag) then reports the k nearest by
    the last step's answers, as the language models' analysis does with their
    answer embeddings; before the first step, by the weights.
    """

    _answer_nearest: np.ndarray | None = None

    def answer_partners(self, answers: np.ndarray, noise: StepNoise) -> np.ndarray:
        """Partners among the k nearest by ``answers`` (n_dims, n_batch), with mirroring; shape (n_reps, n_agents)."""
        self._answer_nearest = answer_table(answers, self.layout.n_reps, self.params.k)
        return nearest_partners(self._answer_nearest, self.params, noise)

    def neighbourhoods(self) -> np.ndarray | None:
        if self._answer_nearest is not None and self.params.neighbours is None:
            return self._answer_nearest
        return super().neighbourhoods()


@register_dynamics("answer-graph", backend="numpy")
class AnswerGraphStepper(_AnswerRankedStepper):
    """The paper step with partners ranked by this step's answers (module docstring)."""

    def partners(self, noise: StepNoise) -> np.ndarray:
        if not self.uses_nearest():  # complete graph or static network: the paper's rule
            return super().partners(noise)
        return self.answer_partners(own_answers(self.layout.weights, self.params, noise), noise)


@register_dynamics("lm-exchange", backend="numpy", options=lm_exchange_options)
class LanguageModelExchangeStepper(_AnswerRankedStepper):
    """The language models' exchange with the paper's r-point memory (module docstring)."""

    declare = staticmethod(lm_exchange_options)

    def __init__(self, params, rngs, state=None):
        super().__init__(params, rngs, state)
        self.settings = option_values(self.declare, params.options)
        if self.layout.offsets is not None:  # dense densities: the exchange writes whole columns
            self.layout = to_layout(from_layout(self.layout))

    def exchange_partners(self, answers: np.ndarray, noise: StepNoise) -> np.ndarray:
        """Each agent's partner, shape (n_reps, n_agents): by answers or weights, with mirroring."""
        if not self.uses_nearest() or self.settings["graph"] == "weights":  # the paper's rule
            return self.partners(noise)
        return self.answer_partners(answers, noise)

    def step(self) -> None:
        noise = self.noise.next()
        layout = self.layout
        answers = own_answers(layout.weights, self.params, noise)
        received = gather(answers, flat_indices(self.exchange_partners(answers, noise)))
        self.absorb(received, noise)
        layout.time += 1
        self._nearest, self._ids = None, None

    def absorb(self, received: np.ndarray, noise: StepNoise) -> None:
        """Store the received answers (n_dims, n_batch) in the policy's slot and refit (the paper's memory)."""
        layout, params = self.layout, self.params
        n_batch = layout.weights.shape[1]
        uniforms = noise.uniforms.reshape(n_batch, -1)
        absorb = absorbing_mask(self.params, self.layout.n_reps)
        slot = choose_slot(params.rag_policy, layout.rag, layout.ages, received, uniforms[:, U_SLOT_OWN])
        old = layout.weights
        write_point(layout.rag, layout.dens, layout.ages, slot, received, params.geometry.scaled_densities(received),
                    layout.time + 1, absorb)
        layout.weights = em_step(layout.weights, layout.dens, params.eps, params.em_iterations)
        if absorb is not None:
            layout.weights = np.where(absorb, layout.weights, old)


@register_dynamics("one-entry", backend="numpy", options=one_entry_options)
class OneEntryStepper(LanguageModelExchangeStepper):
    """The language models' exchange and memory: the received answer replaces the agent's knowledge."""

    declare = staticmethod(one_entry_options)

    def absorb(self, received: np.ndarray, noise: StepNoise) -> None:
        layout, params = self.layout, self.params
        n_batch = layout.weights.shape[1]
        absorb = absorbing_mask(self.params, self.layout.n_reps)
        rows = np.arange(n_batch) if absorb is None else np.flatnonzero(absorb)
        point_dens = params.geometry.scaled_densities(received)  # (n_components, n_batch)
        layout.rag[:, :, rows] = received[None, :, rows]
        layout.dens[:, :, rows] = point_dens[None, :, rows]
        layout.ages[:, rows] = layout.time + 1
        if self.settings["prior"] == "uniform":
            start = np.full_like(layout.weights, 1.0 / layout.weights.shape[0])
            new = em_step(start, layout.dens, params.eps, 1)
        else:
            new = em_step(layout.weights, layout.dens, params.eps, params.em_iterations)
        layout.weights = new if absorb is None else np.where(absorb, new, layout.weights)
