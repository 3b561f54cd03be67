"""Partner selection: exact k-nearest with the lowest-index tie rule, mirroring, static lists."""

import numpy as np

from igmm.dynamics import choose_partners, nearest_neighbours, weight_distances


def test_weight_distances_symmetric_zero_diagonal():
    weights = np.random.default_rng(0).dirichlet(np.ones(5), size=(2, 6))
    distances = weight_distances(weights)
    assert distances.shape == (2, 6, 6)
    np.testing.assert_array_equal(distances, np.swapaxes(distances, -1, -2))
    np.testing.assert_array_equal(np.diagonal(distances, axis1=-2, axis2=-1), 0)
    np.testing.assert_allclose(distances[1, 2, 4], np.linalg.norm(weights[1, 2] - weights[1, 4]))


def test_nearest_neighbours_ties_go_to_lowest_index():
    # Agents 0..4 on a 1-D "weight" line at 0, 1, 1, 2, 3 (as one-component distances).
    positions = np.array([0.0, 1.0, 1.0, 2.0, 3.0])
    distances = np.abs(positions[:, None] - positions[None])[None]
    nearest = nearest_neighbours(distances, 2)[0]
    # Agent 0: agents 1 and 2 at distance 1 -> [1, 2]; agent 3: 1, 2, 4 all at distance 1 -> [1, 2].
    np.testing.assert_array_equal(nearest[0], [1, 2])
    np.testing.assert_array_equal(nearest[3], [1, 2])
    # Agent 1: agent 2 at 0, then 0 and 3 tie at 1 -> [2, 0]; never itself.
    np.testing.assert_array_equal(nearest[1], [2, 0])


def test_mirroring_when_uniform_below_p_and_partner_otherwise():
    weights = np.tile(np.eye(4), (1, 1, 1))
    mirror = np.array([[0.1, 0.9, 0.1, 0.9]])
    partners = choose_partners(weights, k=3, p=0.5, mirror_uniforms=mirror, partner_uniforms=np.zeros((1, 4)))
    np.testing.assert_array_equal(partners[0, [0, 2]], [0, 2])
    assert partners[0, 1] != 1 and partners[0, 3] != 3


def test_complete_graph_partner_is_uniform_over_others():
    n_agents, n_draws = 5, 200_000
    rng = np.random.default_rng(3)
    uniforms = rng.random((n_draws, n_agents))
    weights = np.zeros((n_draws, n_agents, 2))
    partners = choose_partners(weights, k=n_agents - 1, p=0.0, mirror_uniforms=np.ones_like(uniforms),
                               partner_uniforms=uniforms)
    counts = np.array([np.bincount(partners[:, i], minlength=n_agents) for i in range(n_agents)])
    assert np.all(np.diagonal(counts) == 0)
    expected = n_draws / (n_agents - 1)
    standard_error = np.sqrt(expected * (1 - 1 / (n_agents - 1)))
    off_diagonal = counts[~np.eye(n_agents, dtype=bool)]
    assert np.all(np.abs(off_diagonal - expected) < 5 * standard_error)


def test_k_nearest_partner_is_uniform_over_the_k_nearest():
    positions = np.array([0.0, 0.1, 0.3, 0.6, 1.0, 5.0])
    weights = np.stack([positions, 1 - positions], axis=-1)[None]  # distances grow with |x_i - x_j|
    n_draws = 60_000
    uniforms = np.random.default_rng(4).random((n_draws, 6))
    partners = choose_partners(np.repeat(weights, n_draws, 0), k=2, p=0.0, mirror_uniforms=np.ones((n_draws, 6)),
                               partner_uniforms=uniforms)
    # Agent 0's two nearest are 1 and 2, each chosen half the time.
    share = np.mean(partners[:, 0] == 1)
    assert set(np.unique(partners[:, 0])) == {1, 2}
    assert abs(share - 0.5) < 5 * np.sqrt(0.25 / n_draws)


def test_static_network_lists_and_isolated_agents():
    neighbours = np.array([[1, 2], [0, -1], [-1, -1]])
    uniforms = np.array([[0.2, 0.7, 0.5], [0.8, 0.1, 0.5]])
    partners = choose_partners(np.zeros((2, 3, 2)), k=1, p=0.0, mirror_uniforms=np.ones((2, 3)),
                               partner_uniforms=uniforms, neighbours=neighbours)
    np.testing.assert_array_equal(partners, [[1, 0, 2], [2, 0, 2]])


def test_weight_distances_sum_the_components_in_order():
    """The documented order (component 0, 1, ...) that the compiled search of the numba backend repeats bit for bit."""
    rng = np.random.default_rng(8)
    weights = rng.dirichlet(np.full(23, 0.2), size=(2, 9))
    expected = np.zeros((2, 9, 9))
    for i in range(9):
        for j in range(9):
            squared = 0.0
            for c in range(23):
                diff = weights[:, i, c] - weights[:, j, c]
                squared = squared + diff * diff
            expected[:, i, j] = np.sqrt(squared)
    np.testing.assert_array_equal(weight_distances(weights), expected)
