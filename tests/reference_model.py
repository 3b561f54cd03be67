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
