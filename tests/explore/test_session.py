"""The explorer's run: the same numbers as igmm.api.simulate, frames that carry what changed, capped panels."""

from __future__ import annotations

import numpy as np
import pytest

from igmm.api import simulate
from igmm.config import make_config
from igmm.explore.session import ExploreSession, partner_edges, shown_agents
from igmm.metrics import classify_patterns, n_silos, silo_sizes, stability


@pytest.mark.parametrize("values", [
    {"p": 0.3, "k": 4, "T": 25},
    {"p": 0.5, "T": 20, "network": {"kind": "ring", "degree": 4}, "modifiers": [{"kind": "stubborn", "share": 0.2}]},
    {"p": 0.1, "k": 6, "T": 15, "initial": {"kind": "dirichlet", "alpha": 0.5}},
])
def test_frames_rebuild_the_ids_of_simulate_with_the_same_seed(values):
    config = make_config(values)
    expected = simulate(config, replicates=1, seed=11)
    session = ExploreSession(config, seed=11)
    frames = session.advance(7) + session.advance(100)
    assert [f["t"] for f in frames] == list(range(config.n_steps + 1)) and session.done
    ids = np.zeros(config.n_agents, dtype=np.int64)
    for frame in frames:
        ids[frame["moved"]] = frame["to"]
        t = frame["t"]
        np.testing.assert_array_equal(ids, expected.ids[0, t])
        assert frame["silos"] == n_silos(expected.ids[0, t])
        alive, sizes = frame["sizes"]
        assert sizes == silo_sizes(expected.ids[0, t], config.resolved_n_components)[alive].tolist()
        assert frame["polarized"] == bool(expected.series["polarized"][0, t])
        if t:
            assert frame["stability"] == pytest.approx(stability(expected.ids[0, t - 1:t + 1])[0], abs=0)
            assert frame["verdict"] == classify_patterns(expected.ids[:, :t + 1])[0]
    np.testing.assert_array_equal(session.ids, expected.ids[0])
    steps, runs = session.tables()
    for column in ("pattern", "t_star", "converged", "n_silos_final", "seed"):
        assert runs[column].tolist() == expected.runs[column].tolist(), column
    assert steps.equals(expected.steps)


def test_only_the_last_frame_of_a_request_carries_the_panels():
    session = ExploreSession(make_config({"T": 10, "k": 3}), seed=0)
    frames = session.advance(4)
    assert ["xy" in f for f in frames] == [False, False, False, True]
    assert all("edges" not in f for f in session.advance(2, graph=False, perspective=False))


def test_perspective_frames_are_the_aligned_cmds_of_the_metrics():
    from igmm.dynamics import weight_distances
    from igmm.metrics import aligned_cmds

    # Dirichlet opinions: no two agents alike at t = 0, so CMDS has distinct eigenvalues (one-hot starts are a
    # regular simplex, whose axes any rounding may turn).
    config = make_config({"T": 8, "p": 0.2, "k": 5, "initial": {"kind": "dirichlet", "alpha": 1.0}})
    weights = simulate(config, replicates=1, seed=2, keep_weights=True).weights[0]
    session = ExploreSession(config, seed=2)
    shown = np.stack([np.asarray(session.advance(1)[0]["xy"]) for _ in range(config.n_steps + 1)])
    # Frames are rounded to 4 decimals for the page; an unaligned CMDS could differ by a rotation or a flip.
    np.testing.assert_allclose(shown, aligned_cmds(weight_distances(weights)), atol=2e-4)


def test_partner_edges_are_undirected_capped_and_none_for_the_complete_graph():
    neighbourhoods = np.array([[1, 2], [0, -1], [0, 1]])
    assert partner_edges(neighbourhoods) == [[0, 1], [0, 2], [1, 2]]
    assert partner_edges(None) is None
    many = np.tile(np.arange(1, 50), (1000, 1))
    assert len(partner_edges(many, cap=300)) <= 300


def test_shown_agents_are_all_or_an_even_subset():
    assert shown_agents(30).tolist() == list(range(30))
    subset = shown_agents(1000, cap=150)
    assert len(subset) == 150 and subset[0] == 0 and subset[-1] == 999
