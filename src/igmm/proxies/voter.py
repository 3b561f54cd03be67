"""The voter model on the GMM's dynamic k-nearest graph: copy a partner's label.

Each step every agent draws a partner by the GMM's rule (mirroring with
probability p, else uniformly among its k nearest agents) and takes the
partner's label of the previous step (synchronous update). Distances are
between one-hot labels: 0 to agents of the same label, sqrt 2 to all others,
so an agent's k nearest are the other members of its silo first, then other
agents; the many ties are broken by the lower agent index as everywhere in
the project (option ``ties: index``) or at random each step (``ties: random``,
a symmetric jitter far below sqrt 2). Mirroring keeps one's label.

The silos are the labels, the IDs of the trajectory contract; labels start
from the configuration's initial rule (the argmax of each agent's initial
weights: with the default one-hot start, agent i holds label c(i)).

Published property (tested): on the complete graph without mirroring the
number of holders of a label is a martingale (E[n_a(t + 1)] = n_a(t) for the
synchronous update too: each agent copies a uniformly drawn other agent), so
the probability that the population ends on label a is its initial share
n_a(0) / n (Liggett 1985; Sood and Redner 2005 for heterogeneous graphs).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from igmm.dynamics.paper import symmetric_jitter
from igmm.dynamics.partners import choose_partners
from igmm.dynamics.protocol import register_dynamics
from igmm.dynamics.state import U_MIRROR, U_PARTNER
from igmm.proxies.common import U_TIE, OpinionStepper, initial_opinion_weights

#: Scale of the random tie-breaking jitter: far below the distance sqrt 2 between two labels.
TIE_JITTER = 1e-3


def voter_options(*, ties: Literal["index", "random"] = "index") -> None:
    """Options of the voter model.

    Parameters
    ----------
    ties : {"index", "random"}
        Order among equally distant agents: the lower index (the project's
        rule) or a fresh random order every step.
    """


def one_hot(labels: np.ndarray, n_labels: int) -> np.ndarray:
    """Labels (..., n_agents) as one-hot vectors (..., n_agents, n_labels), float64."""
    return (labels[..., None] == np.arange(n_labels)).astype(np.float64)


@register_dynamics("voter", backend="numpy", options=voter_options)
class VoterStepper(OpinionStepper):
    """The voter model (module docstring); ``opinions`` are labels of shape (n_reps, n_agents), int64."""

    declare = staticmethod(voter_options)

    def initial(self, params, rngs):
        return np.argmax(initial_opinion_weights(params, rngs), axis=-1).astype(np.int64)

    def from_weights(self, weights):
        return np.argmax(weights, axis=-1).astype(np.int64)

    def vectors(self) -> np.ndarray:
        return one_hot(self.opinions, self.n_components)

    def weights(self) -> np.ndarray:
        """One-hot labels, shape (n_reps, n_agents, n_components)."""
        return self.vectors()

    def ids(self) -> np.ndarray:
        return self.opinions

    def partners(self, noise) -> np.ndarray:
        if self.settings["ties"] == "random" and self.uses_nearest():  # jittered distances break the index ties
            params = self.params
            return choose_partners(self.vectors(), params.k, params.p, noise.uniforms[..., U_MIRROR],
                                   noise.uniforms[..., U_PARTNER],
                                   distance_jitter=symmetric_jitter(noise.uniforms[..., U_TIE], TIE_JITTER))
        return super().partners(noise)

    def update(self, partners: np.ndarray, noise) -> np.ndarray:
        return np.take_along_axis(self.opinions, partners, axis=-1)


__all__ = ["VoterStepper", "one_hot", "voter_options"]
