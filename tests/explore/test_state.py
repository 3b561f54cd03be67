"""The address's query <-> configuration mapping, and the YAML export that igmm run accepts."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from igmm.api import simulate
from igmm.config import make_config
from igmm.explore.state import export_config, parse_query


def test_defaults_are_the_papers_headline_run_with_k_following_n():
    state = parse_query({})
    config = make_config(state.values)
    assert (config.n_agents, config.p, config.resolved_k, config.rag_size, config.n_steps) == (30, 0.4, 29, 5, 200)
    assert make_config(parse_query({"n": "12"}).values).resolved_k == 11
    assert (state.seed, state.t, state.transcript, state.run) == (0, 0, "", "")


def test_options_are_read_as_yaml_and_only_for_what_is_chosen():
    state = parse_query({"network": "watts-strogatz", "network.degree": "4", "network.rewire": "0.1",
                         "initial": "dirichlet", "initial.alpha": "0.5", "mods": "stubborn,per-agent-p",
                         "mod.stubborn.share": "0.1", "mod.per-agent-p.beta": "[2, 5]", "mod.unused.x": "1"})
    assert state.values["network"] == {"kind": "watts-strogatz", "degree": 4, "rewire": 0.1}
    assert state.values["initial"] == {"kind": "dirichlet", "alpha": 0.5}
    assert state.values["modifiers"] == [{"kind": "stubborn", "share": 0.1}, {"kind": "per-agent-p", "beta": [2, 5]}]
    make_config(state.values)  # a valid configuration


def test_an_empty_network_is_the_dynamic_graph_and_text_fields_stay_text():
    state = parse_query({"network": "", "dynamics": "paper", "p": "0.25"})
    assert "network" not in state.values
    assert state.values["dynamics"] == "paper" and state.values["p"] == 0.25


@pytest.mark.parametrize("query, message", [({"seed": "x"}, "seed: 'x'"), ({"t": "-3"}, "t: -3")])
def test_bad_view_numbers_are_named(query, message):
    assert any(line.startswith(message) for line in parse_query(query).problems)


def test_the_export_runs_in_igmm_run_and_repeats_the_explorers_run(tmp_path):
    from typer.testing import CliRunner

    from igmm.cli import app

    state = parse_query({"p": "0.2", "k": "5", "T": "15", "seed": "7", "mods": "stubborn", "mod.stubborn.share": "0.1"})
    config = make_config(state.values)
    path = tmp_path / "explore.yaml"
    path.write_text(yaml.safe_dump(export_config(config, state.seed)))
    result = CliRunner().invoke(app, ["run", "--config", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "out" / "ids.npz") as saved:
        np.testing.assert_array_equal(saved["ids"], simulate(config, replicates=1, seed=7).ids)


def test_dynamics_options_and_em_iterations_are_read():
    state = parse_query({"dynamics.window": "5", "em_iterations": "3"})
    assert state.values["dynamics_options"] == {"window": 5} and state.values["em_iterations"] == 3
