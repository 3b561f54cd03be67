"""Bounded-confidence models on the GMM's dynamic k-nearest graph: Deffuant and Hegselmann-Krause.

Opinions are numbers in [0, 1]; agents only listen to opinions within
``epsilon`` of their own; silos are anchor IDs (:mod:`igmm.proxies.common`).
Partners come from the GMM's rule (mirroring with probability p, else the k
nearest agents in opinion space, ties by the lower index).

**Deffuant** (Deffuant, Neau, Amblard and Weisbuch 2000). Each agent starts
one exchange per step, with the partner the GMM's rule draws; when their
opinions differ by less than epsilon they move towards each other by mu times
the difference. The classical model picks one random pair at a time; here
every agent starts an exchange in the same step, so an agent can take part
in several. *Symmetric* (default, the classical model): both agents move,
pair (i, j) with weight mu / max(d_i, d_j), where d is the number of
exchanges an agent takes part in this step. The weights are symmetric, so the
sum of the opinions (the mean) is conserved exactly by every step, and no
agent moves by more than mu times its largest difference (no overshoot).
*Asymmetric* (``symmetric: false``, the language models' one-way update):
only the agent that started the exchange moves, by mu times the difference.
Mirroring (partner = itself) is no exchange. Known result (tested): from
uniform opinions on the complete graph the population ends in clusters about
2 epsilon apart (about 1 / (2 epsilon) of them), each pair of clusters more
than epsilon apart.

**Hegselmann-Krause** (Hegselmann and Krause 2002). Each step every agent
that does not mirror moves to the mean of the opinions within epsilon among
itself and the agents it may hear (its k nearest; everyone when
k = n - 1, the classical model; a static network's neighbours). A mirroring
agent keeps its opinion. Known result (tested): on the complete graph the
dynamics freezes in finite time (Dittmer 2001; Lorenz 2005). Floating point
keeps that: agents that hear the same set sum it in the same (index) order
and so get the same bits, and an agent whose every audible opinion equals its
own keeps it exactly (in exact arithmetic the mean of equal numbers is that
number; in floating point it can be one unit in the last place off).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from igmm.dynamics.protocol import register_dynamics
from igmm.dynamics.state import U_MIRROR
from igmm.proxies.common import ContinuousOpinionStepper


def deffuant_options(
    *,
    epsilon: float = 0.2,
    mu: float = 0.5,
    symmetric: bool = True,
    start: Literal["anchors", "uniform"] = "anchors",
) -> None:
    """Options of the Deffuant model.

    Parameters
    ----------
    epsilon : float
        Confidence bound: agents exchange when their opinions differ by less.
    mu : float
        Convergence parameter, 0 < mu <= 1/2 (1/2: a symmetric pair meets in the middle).
    symmetric : bool
        Both agents of an exchange move (classical; conserves the mean) or only the one that started it.
    start : {"anchors", "uniform"}
        Initial opinions (:class:`~igmm.proxies.common.ContinuousOpinionStepper`).

    Raises
    ------
    ValueError
        For a bound outside (0, 1] or mu outside (0, 1/2] (called when a configuration is validated).
    """
    _check_epsilon(epsilon)
    if not 0.0 < mu <= 0.5:
        raise ValueError(f"dynamics_options.mu: {mu!r} is not allowed: must satisfy 0 < mu <= 0.5")


def hegselmann_krause_options(
    *,
    epsilon: float = 0.2,
    start: Literal["anchors", "uniform"] = "anchors",
) -> None:
    """Options of the Hegselmann-Krause model.

    Parameters
    ----------
    epsilon : float
        Confidence bound: an agent averages the opinions within epsilon (inclusive).
    start : {"anchors", "uniform"}
        Initial opinions.
    """
    _check_epsilon(epsilon)


def _check_epsilon(epsilon: float) -> None:
    if not 0.0 < epsilon <= 1.0:
        raise ValueError(f"dynamics_options.epsilon: {epsilon!r} is not allowed: must satisfy 0 < epsilon <= 1")


def deffuant_update(opinions: np.ndarray, partners: np.ndarray, epsilon: float, mu: float,
                    symmetric: bool) -> np.ndarray:
    """One synchronous Deffuant step (module docstring).

    Parameters
    ----------
    opinions : ndarray of float64, shape (n_reps, n_agents)
    partners : ndarray of int, shape (n_reps, n_agents)
        The partner of each agent's exchange (itself: no exchange).
    epsilon, mu : float
    symmetric : bool

    Returns
    -------
    ndarray of float64, shape (n_reps, n_agents)
    """
    n_reps, n_agents = opinions.shape
    partner_opinions = np.take_along_axis(opinions, partners, axis=-1)
    difference = partner_opinions - opinions
    active = (partners != np.arange(n_agents)) & (np.abs(difference) < epsilon)
    if not symmetric:
        return opinions + np.where(active, mu * difference, 0.0)
    flat = np.arange(n_reps)[:, None] * n_agents
    starter, other = (np.arange(n_agents) + flat)[active], (partners + flat)[active]
    degree = np.bincount(np.concatenate([starter, other]), minlength=n_reps * n_agents)
    weight = mu / np.maximum(degree[starter], degree[other])
    step = weight * difference[active]
    # The starter gets +w (x_j - x_i), the partner -w (x_j - x_i): the moves cancel in the sum.
    moves = np.bincount(starter, weights=step, minlength=n_reps * n_agents)
    moves -= np.bincount(other, weights=step, minlength=n_reps * n_agents)
    return opinions + moves.reshape(n_reps, n_agents)


def hegselmann_krause_update(opinions: np.ndarray, members: np.ndarray, listening: np.ndarray,
                             epsilon: float) -> np.ndarray:
    """One synchronous Hegselmann-Krause step (module docstring).

    Parameters
    ----------
    opinions : ndarray of float64, shape (n_reps, n_agents)
    members : ndarray of int, shape (n_reps or 1, n_agents, m)
        Whom each agent may hear besides itself, ascending, -1 pads.
    listening : ndarray of bool, shape (n_reps, n_agents)
        Agents that update this step (the others mirror: they keep their opinion).
    epsilon : float

    Returns
    -------
    ndarray of float64, shape (n_reps, n_agents)
    """
    n_reps, n_agents = opinions.shape
    members = np.broadcast_to(members, (n_reps,) + members.shape[1:])
    # Each agent's own index joins its set in ascending position, so equal sets are summed in one order.
    own = np.broadcast_to(np.arange(n_agents)[None, :, None], (n_reps, n_agents, 1))
    padded = np.where(members < 0, n_agents, members)
    heard = np.sort(np.concatenate([padded, own], axis=-1), axis=-1)
    valid = heard < n_agents
    values = np.take_along_axis(opinions[:, None, :], np.where(valid, heard, 0), axis=-1)
    within = valid & (np.abs(values - opinions[..., None]) <= epsilon)
    count = within.sum(axis=-1)
    mean = np.where(within, values, 0.0).sum(axis=-1) / count
    settled = np.all(~within | (values == opinions[..., None]), axis=-1)
    return np.where(listening & ~settled, mean, opinions)


@register_dynamics("deffuant", backend="numpy", options=deffuant_options)
class DeffuantStepper(ContinuousOpinionStepper):
    """The Deffuant model on the GMM's partner rule (module docstring)."""

    declare = staticmethod(deffuant_options)

    def update(self, partners, noise):
        settings = self.settings
        return deffuant_update(self.opinions, partners, settings["epsilon"], settings["mu"], settings["symmetric"])


@register_dynamics("hegselmann-krause", backend="numpy", options=hegselmann_krause_options)
class HegselmannKrauseStepper(ContinuousOpinionStepper):
    """The Hegselmann-Krause model on the GMM's graph (module docstring)."""

    declare = staticmethod(hegselmann_krause_options)

    def update(self, partners, noise):
        # The agents that do not mirror this step (the partner rule's own draw; an isolated agent of a network
        # listens but hears nobody).
        listening = noise.uniforms[..., U_MIRROR] >= self.params.p_per_agent()
        return hegselmann_krause_update(self.opinions, self.confidence_sets(), listening, self.settings["epsilon"])
