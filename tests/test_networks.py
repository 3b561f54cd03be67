"""Static networks: degrees, symmetry, padding, determinism by seed, and use in a simulation."""

import numpy as np
import pytest

from igmm.config import ConfigError, make_config
from igmm.networks import NetworkConfig, build_neighbours, network_seed, parse_network_option
from igmm.simulate import simulate


def _edges(neighbours):
    return {(i, j) for i, row in enumerate(neighbours) for j in row if j >= 0}


def _is_symmetric(neighbours):
    edges = _edges(neighbours)
    return all((j, i) in edges for i, j in edges)


def test_ring_lattice_has_the_given_degree():
    neighbours = build_neighbours(NetworkConfig(kind="ring", degree=4), 30)
    assert neighbours.shape == (30, 4)
    assert (neighbours >= 0).all() and _is_symmetric(neighbours)
    assert sorted(neighbours[0]) == [1, 2, 28, 29]


@pytest.mark.parametrize("config", [
    NetworkConfig(kind="erdos-renyi", edge_prob=0.2),
    NetworkConfig(kind="watts-strogatz", degree=4, rewire=0.3),
    NetworkConfig(kind="sbm", blocks=[15, 15], p_in=0.5, p_out=0.05),
])
def test_random_graphs_are_symmetric_padded_and_deterministic_by_seed(config):
    first, again, other = (build_neighbours(config, 30, seed=s) for s in (1, 1, 2))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert _is_symmetric(first)
    valid = first >= 0
    # Valid entries first, then -1 pads; no agent is its own neighbour.
    assert (np.sort(~valid, axis=1, kind="stable") == ~valid).all()
    assert not any(i == j for i, j in _edges(first))


def test_sbm_has_denser_blocks():
    neighbours = build_neighbours(NetworkConfig(kind="sbm", blocks=[15, 15], p_in=0.6, p_out=0.02), 30, seed=3)
    inside = sum((i < 15) == (j < 15) for i, j in _edges(neighbours))
    assert inside > 5 * (len(_edges(neighbours)) - inside)


def test_edge_list_file(tmp_path):
    path = tmp_path / "g.txt"
    path.write_text("0 1\n1 2\n")
    neighbours = build_neighbours(NetworkConfig(kind="edge-list", path=str(path)), 4)
    assert neighbours.tolist() == [[1, -1], [0, 2], [1, -1], [-1, -1]]
    path.write_text("0 9\n")
    with pytest.raises(ValueError, match="agent 9 .* 0 .. 3"):
        build_neighbours(NetworkConfig(kind="edge-list", path=str(path)), 4)


def test_config_errors_name_the_bad_value():
    with pytest.raises(ConfigError, match="needs edge_prob"):
        make_config(network={"kind": "erdos-renyi"})
    with pytest.raises(ConfigError, match="sum to 20; must sum to n_agents = 30"):
        make_config(network={"kind": "sbm", "blocks": [10, 10], "p_in": 0.5, "p_out": 0.1})
    with pytest.raises(ConfigError, match="degree: 3 is not allowed: must be even"):
        make_config(network={"kind": "ring", "degree": 3})
    with pytest.raises(ConfigError, match="network.kind"):
        make_config(network={"kind": "lattice", "degree": 2})


def test_simulation_stores_a_seed_derived_from_the_root_seed():
    config = {"T": 15, "p": 0.1, "network": {"kind": "erdos-renyi", "edge_prob": 0.3}}
    first, again = simulate(config, replicates=2, seed=11), simulate(config, replicates=2, seed=11)
    assert first.config.network.seed == network_seed(11) == again.config.network.seed
    np.testing.assert_array_equal(first.ids, again.ids)
    assert simulate(config, replicates=1, seed=12).config.network.seed != network_seed(11)


def test_a_ring_of_degree_two_keeps_distant_opinions_apart():
    # On a ring of degree 2 without mirroring, agents only hear their two neighbours: many silos survive.
    ring = simulate({"T": 40, "p": 0.0, "network": {"kind": "ring", "degree": 2}}, replicates=4, seed=5)
    complete = simulate({"T": 40, "p": 0.0}, replicates=4, seed=5)
    assert ring.runs["n_silos_final"].mean() > complete.runs["n_silos_final"].mean() + 2


def test_cli_option_parser():
    assert parse_network_option("sbm:blocks=15+15,p_in=0.5,p_out=0.02") == {
        "kind": "sbm", "blocks": ["15", "15"], "p_in": "0.5", "p_out": "0.02"}
    with pytest.raises(ValueError, match="key=value"):
        parse_network_option("ring:4")


def test_igmm_run_accepts_network_and_moving_variance(tmp_path):
    import yaml
    from typer.testing import CliRunner

    from igmm.cli import app

    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", "--T", "10", "--replicates", "2", "--network", "watts-strogatz:degree=4,rewire=0.2",
                                      "--dynamics", "moving-variance", "--out", str(out), "--seed", "4"])
    assert result.exit_code == 0, result.output
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["network"]["kind"] == "watts-strogatz" and config["network"]["seed"] == network_seed(4)
    assert config["dynamics"] == "moving-variance"
    bad = CliRunner().invoke(app, ["run", "--T", "5", "--network", "ring:degree=3", "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "must be even" in bad.output


def test_malformed_network_flag_is_a_clean_error(tmp_path):
    from typer.testing import CliRunner

    from igmm.cli import app

    result = CliRunner().invoke(app, ["run", "--T", "5", "--network", "ring:4", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "write key=value" in result.output
