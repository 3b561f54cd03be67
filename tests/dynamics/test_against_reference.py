"""Statistical agreement of the vectorised engine with the plain per-agent loop.

``tests/reference_model.py`` is an independent, readable per-agent reading of
MODEL.md section 3, kept as an executable spec. The two use different random
streams, so they agree in distribution, not run by run: each comparison
checks a difference of means against its standard error.
"""

import numpy as np
import pytest
import reference_model

from igmm.metrics import consensus_time, n_silos
from igmm.api import simulate


N_SIGMAS = 4.0  # two-sided, per comparison: false alarm ~ 6e-5


def _reference_ids(n_reps, seed, **params):
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n_reps)]
    return np.stack([
        reference_model.simulate_reference(
            n_agents=30, n_components=30, rag_size=5, sigma=0.2, delta=1.0, eps=1e-12, rng=rng, **params)
        for rng in rngs
    ])


def _assert_same_mean(engine_values, reference_values, label):
    engine_values = np.asarray(engine_values, float)
    reference_values = np.asarray(reference_values, float)
    difference = engine_values.mean() - reference_values.mean()
    standard_error = np.sqrt(engine_values.var(ddof=1) / len(engine_values)
                             + reference_values.var(ddof=1) / len(reference_values))
    # Floor the SE at a tenth of a unit so two near-constant samples do not demand equality.
    assert abs(difference) <= N_SIGMAS * max(standard_error, 0.1 / np.sqrt(len(reference_values))), (
        f"{label}: engine {engine_values.mean():.3f} vs reference {reference_values.mean():.3f} "
        f"(difference {difference:.3f}, SE {standard_error:.3f})")


@pytest.mark.parametrize("k, n_reference", [(1, 8), (10, 8)])
def test_mean_silos_at_80_no_mirroring(k, n_reference):
    engine = simulate({"p": 0.0, "k": k, "T": 80}, replicates=200, seed=21)
    reference = _reference_ids(n_reference, seed=1021, p=0.0, k=k, n_steps=80)
    _assert_same_mean(engine.runs["n_silos_final"], n_silos(reference[:, -1]), f"S(80), k = {k}")


def test_mean_consensus_time_unstable_silo_setting():
    engine = simulate({"p": 0.4, "k": 29, "T": 100}, replicates=200, seed=22)
    reference = _reference_ids(8, seed=1022, p=0.4, k=29, n_steps=100)
    _assert_same_mean(engine.runs["t_star"], consensus_time(reference).t_star, "t*, p = 0.4, k = 29, T = 100")


@pytest.mark.slow
@pytest.mark.parametrize("p, k, n_steps", [(0.0, 1, 80), (0.0, 5, 80), (0.0, 10, 80), (0.2, 5, 100), (0.4, 29, 100)])
def test_larger_samples_silos_stability_and_consensus(p, k, n_steps):
    engine = simulate({"p": p, "k": k, "T": n_steps}, replicates=400, seed=31)
    reference = _reference_ids(60, seed=1031, p=p, k=k, n_steps=n_steps)
    _assert_same_mean(engine.runs["n_silos_final"], n_silos(reference[:, -1]), "S(T)")
    _assert_same_mean(engine.runs["t_star"], consensus_time(reference).t_star, "t*")
    engine_stability = engine.metrics[engine.metrics.t > 0].groupby("replicate")["stability"].mean()
    reference_stability = np.mean(reference[:, 1:] == reference[:, :-1], axis=(1, 2))
    _assert_same_mean(engine_stability * 30, reference_stability * 30, "mean stability (x n)")
