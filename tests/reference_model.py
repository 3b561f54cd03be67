"""A plain, per-agent reading of MODEL.md section 3: the executable spec.

Written for clarity, not speed, and independently of the engine: Python
loops over agents, scipy.stats for densities, raw log-sum-exp per point.
Line geometry (mu_k = delta * k, sd sigma). Used by the statistical tests
(tests/dynamics/test_against_reference.py) and as the "plain loop" baseline
of the benchmarks.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from scipy.stats import norm


def em1(rag: list[float], weights: np.ndarray, means: np.ndarray, sigma: float, eps: float) -> np.ndarray:
    """One warm-started EM step on the weights (MODEL.md section 2)."""
    start = np.clip(weights, eps, 1 - eps)
    start = start / start.sum()
    # Row z, column k: log(pi_k) + log N(z; mu_k, sigma^2); normalise each row.
    log_joint = np.log(start) + norm.logpdf(np.array(rag)[:, None], loc=means, scale=sigma)
    gamma = np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))
    new = np.clip(gamma.mean(axis=0), eps, 1 - eps)
    return new / new.sum()


def replace_farthest(rag: list[float], point: float) -> list[float]:
    """Rep(R, z): overwrite the stored point farthest from z (ties: lowest index)."""
    distances = [abs(stored - point) for stored in rag]
    farthest = distances.index(max(distances))
    return rag[:farthest] + [point] + rag[farthest + 1:]


def draw_from_mixture(weights: np.ndarray, means: np.ndarray, sigma: float, rng: np.random.Generator) -> float:
    """One point from sum_k w_k N(mu_k, sigma^2)."""
    component = rng.choice(len(weights), p=weights / weights.sum())
    return rng.normal(means[component], sigma)


def simulate_reference(
    n_agents: int,
    n_components: int,
    p: float,
    k: int,
    rag_size: int,
    n_steps: int,
    sigma: float,
    delta: float,
    eps: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Run the paper dynamics agent by agent.

    Returns
    -------
    ndarray of int, shape (n_steps + 1, n_agents)
        ID (argmax weight) of every agent at every step.
    """
    means = delta * np.arange(n_components, dtype=float)
    weights = []
    rags = []
    for agent in range(n_agents):
        start = np.full(n_components, eps / n_components)
        start[agent % n_components] = 1 - eps
        weights.append(start)
        rags.append([draw_from_mixture(start, means, sigma, rng) for _ in range(rag_size)])
    ids = [[int(np.argmax(w)) for w in weights]]
    for _ in range(n_steps):
        new_weights, new_rags = [], []
        for agent in range(n_agents):
            if rng.random() < p:
                partner = agent
            else:
                distances = [
                    (np.linalg.norm(weights[agent] - weights[other]), other)
                    for other in range(n_agents) if other != agent
                ]
                nearest = [other for _, other in sorted(distances)[:k]]  # ties: lower index first
                partner = nearest[rng.integers(k)]
            query = draw_from_mixture(weights[agent], means, sigma, rng)
            partner_rag = replace_farthest(rags[partner], query)
            partner_weights = em1(partner_rag, weights[partner], means, sigma, eps)
            answer = draw_from_mixture(partner_weights, means, sigma, rng)
            own_rag = replace_farthest(rags[agent], answer)
            new_rags.append(own_rag)
            new_weights.append(em1(own_rag, weights[agent], means, sigma, eps))
        weights, rags = new_weights, new_rags
        ids.append([int(np.argmax(w)) for w in weights])
    return np.array(ids)


# -- The same step with the engine's random draws: a step-by-step oracle ------------------------------
# Column meanings of the draws (igmm.dynamics.state): uniforms[agent] = (mirror, partner, query component,
# answer component, partner's slot, own slot); normals[agent] = (query normal, answer normal).


def component_from_uniform(weights: np.ndarray, uniform: float) -> int:
    """Invert the CDF of the weights at ``uniform`` (scaled by the total, as the engine does)."""
    cdf = np.cumsum(weights)
    return min(int(np.sum(cdf < uniform * cdf[-1])), len(weights) - 1)


def em1_scaled(rag: list[float], weights: np.ndarray, means: np.ndarray, sigma: float, eps: float,
               iterations: int = 1) -> np.ndarray:
    """:func:`em1` repeated ``iterations`` times (the engine's ``em_iterations``)."""
    for _ in range(iterations):
        weights = em1(rag, weights, means, sigma, eps)
    return weights


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance with the squares summed in component order (the engine's documented order)."""
    squared = 0.0
    for x, y in zip(a, b):
        squared += (x - y) * (x - y)
    return float(np.sqrt(squared))


def reference_step(weights: list[np.ndarray], rags: list[list[float]], means: np.ndarray, sigma: float, eps: float,
                   p: np.ndarray, k: int, uniforms: np.ndarray, normals: np.ndarray,
                   neighbours: list[list[int]] | None = None, frozen: np.ndarray | None = None,
                   refit_first: bool = False, iterations: int = 1) -> tuple[list[np.ndarray], list[list[float]]]:
    """One synchronous step of every agent, in a plain loop, with the given draws (line geometry, Rep policy).

    ``refit_first`` is the early-draft variant after t = 1 (the query comes
    from EM1 of the agent's own database); ``frozen`` agents keep their state.
    """
    n_agents = len(weights)
    new_weights, new_rags = [], []
    for agent in range(n_agents):
        u = uniforms[agent]
        if neighbours is not None:
            options = neighbours[agent]
            partner = options[min(int(u[1] * len(options)), len(options) - 1)] if options else agent
        elif k == n_agents - 1:  # the complete graph: uniform over the others, counted in index order
            others = [other for other in range(n_agents) if other != agent]
            partner = others[min(int(u[1] * k), k - 1)]
        else:
            distances = [(_distance(weights[agent], weights[other]), other) for other in range(n_agents) if other != agent]
            nearest = [other for _, other in sorted(distances)[:k]]  # ties: lower index first
            partner = nearest[min(int(u[1] * k), k - 1)]
        if u[0] < p[agent]:
            partner = agent
        query_weights = em1_scaled(rags[agent], weights[agent], means, sigma, eps, iterations) if refit_first \
            else weights[agent]
        query = means[component_from_uniform(query_weights, u[2])] + sigma * normals[agent, 0, 0]
        partner_rag = replace_farthest(rags[partner], query)
        partner_weights = em1_scaled(partner_rag, weights[partner], means, sigma, eps, iterations)
        answer = means[component_from_uniform(partner_weights, u[3])] + sigma * normals[agent, 1, 0]
        if frozen is not None and frozen[agent]:
            new_rags.append(list(rags[agent]))
            new_weights.append(weights[agent])
            continue
        own_rag = replace_farthest(rags[agent], answer)
        new_rags.append(own_rag)
        new_weights.append(em1_scaled(own_rag, weights[agent], means, sigma, eps, iterations))
    return new_weights, new_rags
