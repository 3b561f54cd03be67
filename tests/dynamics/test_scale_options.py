"""`backend: auto` and the approximate neighbour search (`neighbour_search: hnsw`)."""

import numpy as np
import pytest

from igmm.api import replicate_seeds
from igmm.config import ConfigError, make_config
from igmm.dynamics import partners, run
from igmm.dynamics.protocol import resolve_backend


def test_auto_picks_an_installed_backend_that_accepts_the_config():
    pytest.importorskip("numba")
    assert make_config({"backend": "auto"}).resolved_backend == "numba"  # no CUDA device on the test machines
    full = make_config({"geometry": "custom", "n_agents": 4, "means": [[0, 0], [1, 1]],
                        "covariances": [[[0.1, 0.05], [0.05, 0.1]]] * 2, "backend": "auto"})
    assert full.resolved_backend == "numpy"  # numba refuses full covariances
    assert resolve_backend("moving-variance") == "numpy"
    assert resolve_backend("paper", backend="torch") == "torch"


def test_auto_runs():
    config = make_config({"p": 0.2, "k": 5, "T": 5, "backend": "auto"})
    rngs = [np.random.default_rng(s) for s in replicate_seeds(1, 2)]
    assert run(config.to_params(), rngs, 5, backend=config.backend).ids.shape == (2, 6, 30)


def test_neighbour_search_is_validated():
    with pytest.raises(ConfigError, match="neighbour_search"):
        make_config({"neighbour_search": "kd-tree"})
    assert make_config({}).to_params().neighbour_search == "exact"


def test_hnsw_is_exact_below_its_threshold_and_close_above(monkeypatch):
    pytest.importorskip("faiss")
    rng = np.random.default_rng(5)
    weights = rng.dirichlet(np.full(30, 0.5), (1, 600))
    exact = partners.k_nearest(weights, 10)
    np.testing.assert_array_equal(partners.k_nearest(weights, 10, "hnsw"), exact)  # 600 < ANN_MIN_GROUPS
    from igmm.backends import ann

    monkeypatch.setattr(ann, "ANN_MIN_GROUPS", 100)
    approximate = partners.k_nearest(weights, 10, "hnsw")
    recall = np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(approximate[0], exact[0])])
    assert recall > 0.9, recall  # measured ~0.99 here
    # Ranked by exact distances: wherever both found the same set, the order is the exact one.
    same = np.all(np.sort(approximate[0], axis=1) == np.sort(exact[0], axis=1), axis=1)
    np.testing.assert_array_equal(approximate[0][same], exact[0][same])


def test_hnsw_keeps_duplicates_and_ties_in_groups(monkeypatch):
    pytest.importorskip("faiss")
    from igmm.backends import ann

    monkeypatch.setattr(ann, "ANN_MIN_GROUPS", 2)
    weights = np.repeat(np.eye(4) * (1 - 3e-12) + 1e-12, 60, axis=0)[None]  # 4 opinions, 60 agents each
    np.testing.assert_array_equal(partners.k_nearest(weights, 5, "hnsw"), partners.k_nearest(weights, 5))
