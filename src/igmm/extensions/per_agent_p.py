"""A mirroring probability per agent: a given vector, or drawn once per run from a distribution.

A modifier (:data:`igmm.registry.MODIFIERS`) that replaces the scalar p by
one value per agent; every backend compares each agent's mirroring draw
with its own p. YAML::

    modifiers:
      - {kind: per-agent-p, values: [0.1, 0.9, 0.5, ...]}   # one per agent
      - {kind: per-agent-p, beta: [2.0, 5.0]}              # p_i ~ Beta(2, 5)
      - {kind: per-agent-p, uniform: [0.2, 0.6]}           # p_i ~ U(0.2, 0.6)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from igmm.registry import MODIFIERS


@MODIFIERS.register("per-agent-p")
def per_agent_p(params, rng: np.random.Generator, *, values: list[float] | None = None,
                beta: tuple[float, float] | None = None, uniform: tuple[float, float] | None = None):
    """Give every agent its own mirroring probability.

    Parameters
    ----------
    params : igmm.dynamics.ModelParams
    rng : numpy.random.Generator
        Derived from the run's root seed: every replicate of a run has the same p vector.
    values : list of float, optional
        One probability in [0, 1] per agent.
    beta : (a, b), optional
        Draw p_i ~ Beta(a, b), a, b > 0.
    uniform : (low, high), optional
        Draw p_i ~ U(low, high), 0 <= low <= high <= 1.

    Returns
    -------
    igmm.dynamics.ModelParams
        With ``p`` an array of shape (n_agents,).
    """
    given = [name for name, option in (("values", values), ("beta", beta), ("uniform", uniform)) if option is not None]
    if len(given) != 1:
        raise ValueError("per-agent-p: give exactly one of values, beta or uniform")
    n_agents = params.n_agents
    if values is not None:
        p = np.asarray(values, dtype=np.float64)
        if p.shape != (n_agents,):
            raise ValueError(f"per-agent-p: values has {p.size} entries; must have one per agent (n_agents = {n_agents})")
    elif beta is not None:
        a, b = beta
        if not (a > 0 and b > 0):
            raise ValueError(f"per-agent-p: beta {list(beta)} is not allowed: both parameters must be > 0")
        p = rng.beta(a, b, size=n_agents)
    else:
        low, high = uniform
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"per-agent-p: uniform {list(uniform)} is not allowed: need 0 <= low <= high <= 1")
        p = rng.uniform(low, high, size=n_agents)
    if not np.all((p >= 0.0) & (p <= 1.0)):
        raise ValueError("per-agent-p: every probability must lie in [0, 1]")
    return dataclasses.replace(params, p=p)
