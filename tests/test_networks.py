"""Static networks: degrees, symmetry, padding, determinism by seed, and use in a simulation."""

import numpy as np
import pytest

import networkx as nx

from igmm.api import simulate
from igmm.config import ConfigError, make_config
from igmm.networks import build_neighbours, network_seed, parse_network_option


def _edges(neighbours):
    return {(i, j) for i, row in enumerate(neighbours) for j in row if j >= 0}


def _is_symmetric(neighbours):
    edges = _edges(neighbours)
    return all((j, i) in edges for i, j in edges)


def test_ring_lattice_has_the_given_degree():
    neighbours = build_neighbours("ring", 30, degree=4)
    assert neighbours.shape == (30, 4)
    assert (neighbours >= 0).all() and _is_symmetric(neighbours)
    assert sorted(neighbours[0]) == [1, 2, 28, 29]


@pytest.mark.parametrize("kind, options", [
    ("erdos-renyi", {"edge_prob": 0.2}),
    ("watts-strogatz", {"degree": 4, "rewire": 0.3}),
    ("sbm", {"blocks": [15, 15], "p_in": 0.5, "p_out": 0.05}),
])
def test_random_graphs_are_symmetric_padded_and_deterministic_by_seed(kind, options):
    first, again, other = (build_neighbours(kind, 30, seed=s, **options) for s in (1, 1, 2))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert _is_symmetric(first)
    valid = first >= 0
    # Valid entries first, then -1 pads; no agent is its own neighbour.
    assert (np.sort(~valid, axis=1, kind="stable") == ~valid).all()
    assert not any(i == j for i, j in _edges(first))


def test_sbm_has_denser_blocks():
    neighbours = build_neighbours("sbm", 30, seed=3, blocks=[15, 15], p_in=0.6, p_out=0.02)
    inside = sum((i < 15) == (j < 15) for i, j in _edges(neighbours))
    assert inside > 5 * (len(_edges(neighbours)) - inside)


def test_edge_list_file(tmp_path):
    path = tmp_path / "g.txt"
    path.write_text("0 1\n1 2\n")
    neighbours = build_neighbours("edge-list", 4, path=str(path))
    assert neighbours.tolist() == [[1, -1], [0, 2], [1, -1], [-1, -1]]
    path.write_text("0 9\n")
    with pytest.raises(ValueError, match="agent 9 is not allowed: agents are 0 .. 3"):
        build_neighbours("edge-list", 4, path=str(path))


@pytest.mark.parametrize("text, fragment", [
    ("", "holds no edge"),
    ("# only a comment\n", "holds no edge"),
    ("0 0\n1 1\n", "holds no edge between two different agents"),
    ("a b\n", "line 1: 'a' is not allowed: agents are whole numbers"),
    ("0 1\n1\n", "line 2: expected two agent numbers"),
    ("0 -1\n", "'-1' is not allowed"),
    ("0 1.5\n", "'1.5' is not allowed"),
])
def test_unusable_edge_lists_are_refused_before_any_work(tmp_path, text, fragment):
    path = tmp_path / "g.txt"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        make_config(n_agents=4, network={"kind": "edge-list", "path": str(path)})
    assert any(fragment in line and "g.txt" in line for line in error.value.lines), error.value.lines


def test_binary_edge_list_is_refused(tmp_path):
    path = tmp_path / "g.bin"
    path.write_bytes(bytes(range(256)))
    with pytest.raises(ConfigError, match="not a UTF-8 text file"):
        make_config(n_agents=4, network={"kind": "edge-list", "path": str(path)})


def test_a_networkx_graph_passed_from_python_runs_and_its_output_folder_reproduces_it(tmp_path):
    from igmm.api import write_result
    from typer.testing import CliRunner

    from igmm.cli import app

    graph = nx.star_graph(11)  # agent 0 linked to 1..11
    result = simulate({"n_agents": 12, "T": 20, "p": 0.0, "network": {"kind": "graph", "graph": graph}},
                      replicates=2, seed=3)
    write_result(result, tmp_path / "a", figures=False)
    assert (tmp_path / "a" / "network.edgelist").is_file()
    again = CliRunner().invoke(app, ["run", "--config", str(tmp_path / "a" / "config.yaml"), "--out", str(tmp_path / "b")])
    assert again.exit_code == 0, again.output
    np.testing.assert_array_equal(np.load(tmp_path / "b" / "ids.npz")["ids"], result.ids)
    with pytest.raises(ConfigError, match="its nodes must be the agents 0 .. 11"):
        make_config(n_agents=12, network={"kind": "graph", "graph": nx.path_graph(5)})
    with pytest.raises(ConfigError, match="give a networkx Graph"):
        make_config(n_agents=12, network={"kind": "graph", "graph": [[0, 1]]})


def test_config_errors_name_the_bad_value():
    with pytest.raises(ConfigError, match="option 'edge_prob' is missing"):
        make_config(network={"kind": "erdos-renyi"})
    with pytest.raises(ConfigError, match=r"network: option 'colour' is not known \(for ring\); allowed: degree"):
        make_config(network={"kind": "ring", "degree": 2, "colour": "red"})
    with pytest.raises(ConfigError, match="sum to 20; must sum to n_agents = 30"):
        make_config(network={"kind": "sbm", "blocks": [10, 10], "p_in": 0.5, "p_out": 0.1})
    with pytest.raises(ConfigError, match="degree: 3 is not allowed: must be even"):
        make_config(network={"kind": "ring", "degree": 3})
    with pytest.raises(ConfigError, match="'lattice' is not a known network"):
        make_config(network={"kind": "lattice", "degree": 2})
    with pytest.raises(ConfigError, match="network.degree: True is not allowed"):
        make_config(network={"kind": "ring", "degree": True})


def test_simulation_stores_a_seed_derived_from_the_root_seed():
    config = {"T": 15, "p": 0.1, "network": {"kind": "erdos-renyi", "edge_prob": 0.3}}
    from igmm.api import run_config_dict

    first, again = simulate(config, replicates=2, seed=11), simulate(config, replicates=2, seed=11)
    assert run_config_dict(first.config, first.seed, 2)["network"]["seed"] == network_seed(11)
    np.testing.assert_array_equal(first.ids, again.ids)
    other = simulate(config, replicates=1, seed=12)
    assert run_config_dict(other.config, other.seed, 1)["network"]["seed"] != network_seed(11)


def test_a_ring_of_degree_two_keeps_distant_opinions_apart():
    # On a ring of degree 2 without mirroring, agents only hear their two neighbours: many silos survive.
    # 4 runs each: the ring keeps ~10 silos at T = 40 against ~2 on the complete graph (sds ~1.5); a margin of
    # 2 silos fails only if the ring's effect were less than a third of that.
    ring = simulate({"T": 40, "p": 0.0, "network": {"kind": "ring", "degree": 2}}, replicates=4, seed=5)
    complete = simulate({"T": 40, "p": 0.0}, replicates=4, seed=5)
    assert ring.runs["n_silos_final"].mean() > complete.runs["n_silos_final"].mean() + 2


def test_cli_option_parser():
    assert parse_network_option("sbm:blocks=15+15,p_in=0.5,p_out=0.02") == {
        "kind": "sbm", "blocks": ["15", "15"], "p_in": "0.5", "p_out": "0.02"}
    with pytest.raises(ValueError, match="key=value"):
        parse_network_option("ring:4")
    with pytest.raises(ValueError, match="start with a name"):
        parse_network_option("")
    with pytest.raises(ValueError, match="'degree' is given twice"):
        parse_network_option("ring:degree=2,degree=4")


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
