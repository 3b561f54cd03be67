"""Stubborn agents (zealots): a given set or share of agents never update their weights.

A modifier of the population's parameters (:data:`igmm.registry.MODIFIERS`):
it marks agents as frozen, and every backend leaves a frozen agent's state
as it is (it still answers its partners, from its fixed database and
weights, but never absorbs an answer or refits). YAML::

    modifiers:
      - {kind: stubborn, share: 0.1}        # 10% of the agents, drawn once per run
      - {kind: stubborn, agents: [0, 1]}    # these agents
"""

from __future__ import annotations

import dataclasses

import numpy as np

from igmm.registry import MODIFIERS


@MODIFIERS.register("stubborn")
def stubborn(params, rng: np.random.Generator, *, agents: list[int] | None = None, share: float | None = None):
    """Freeze the listed agents, or a random ``share`` of them (drawn from ``rng``, the run's own).

    Parameters
    ----------
    params : igmm.dynamics.ModelParams
    rng : numpy.random.Generator
        Derived from the run's root seed: every replicate of a run has the same zealots.
    agents : list of int, optional
        Agent numbers 0 .. n_agents - 1.
    share : float, optional
        Share of the agents in [0, 1], rounded to the nearest whole number of agents.

    Returns
    -------
    igmm.dynamics.ModelParams
        With ``frozen`` set (added to any agents frozen already).
    """
    n_agents = params.n_agents
    if (agents is None) == (share is None):
        raise ValueError("stubborn: give exactly one of agents (a list of agent numbers) or share (0 .. 1)")
    frozen = np.zeros(n_agents, dtype=bool) if params.frozen is None else np.array(params.frozen, dtype=bool)
    if agents is not None:
        bad = [agent for agent in agents if not 0 <= agent < n_agents]
        if bad:
            raise ValueError(f"stubborn: agent {bad[0]} is not allowed: agents are 0 .. {n_agents - 1}")
        frozen[list(agents)] = True
    else:
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"stubborn: share {share} is not allowed: must lie in [0, 1]")
        frozen[rng.choice(n_agents, size=int(round(share * n_agents)), replace=False)] = True
    return dataclasses.replace(params, frozen=frozen)
