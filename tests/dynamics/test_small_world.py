"""The networkx-free Watts-Strogatz builder gives networkx's graph, draw for draw."""

import networkx as nx
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from igmm.networks import build_neighbours, padded_neighbours, small_world_adjacency


@settings(max_examples=150, deadline=None)
@given(n_agents=st.integers(3, 60), half=st.integers(1, 8), rewire=st.sampled_from([0.0, 0.05, 0.3, 0.7, 1.0]),
       seed=st.integers(0, 2**31 - 1))
def test_small_world_equals_networkx(n_agents, half, rewire, seed):
    degree = min(2 * half, n_agents - 1 - (n_agents - 1) % 2)  # even and < n_agents
    if degree < 2:
        return
    expected = padded_neighbours(nx.watts_strogatz_graph(n_agents, degree, rewire, seed=seed), n_agents)
    found = padded_neighbours(small_world_adjacency(n_agents, degree, rewire, seed), n_agents)
    np.testing.assert_array_equal(found, expected)


def test_dense_rewiring_skips_like_networkx():
    # n = 5, degree 4: every node is linked to all others, so each rewiring is skipped after one draw.
    for seed in range(20):
        expected = padded_neighbours(nx.watts_strogatz_graph(5, 4, 1.0, seed=seed), 5)
        np.testing.assert_array_equal(padded_neighbours(small_world_adjacency(5, 4, 1.0, seed), 5), expected)


def test_registered_builders_keep_their_graphs():
    expected = padded_neighbours(nx.watts_strogatz_graph(200, 6, 0.1, seed=12), 200)
    np.testing.assert_array_equal(build_neighbours("watts-strogatz", 200, 12, degree=6, rewire=0.1), expected)
    ring = padded_neighbours(nx.watts_strogatz_graph(50, 4, 0.0), 50)
    np.testing.assert_array_equal(build_neighbours("ring", 50, degree=4), ring)
