"""The classical opinion models: published properties, vectorised steps against plain loops, the run contract."""

import numpy as np
import pytest

from igmm.api import iterate, simulate
from igmm.config import ConfigError, make_config
from igmm.proxies.bounded_confidence import deffuant_update, hegselmann_krause_update
from igmm.proxies.common import anchor_ids


def final_opinions(config, replicates, seed):
    for view in iterate(config, replicates=replicates, seed=seed):
        weights = view.weights()
    return weights[..., 0].copy()


def test_voter_consensus_probability_is_the_initial_share_on_the_complete_graph():
    # Martingale property: P(ends on label 0) = n_0(0) / n = 0.3. With 400 runs the binomial SE is 0.023;
    # the tolerance 0.08 (3.5 SE) detects a bias of 0.08 or more with power > 0.95.
    config = {"dynamics": "voter", "n_agents": 10, "n_components": 2, "assignment": [0] * 3 + [1] * 7,
              "p": 0.0, "k": 9, "T": 400}
    result = simulate(config, replicates=400, seed=11)
    final = result.ids[:, -1]
    assert np.all(final == final[:, :1]), "every run reaches consensus by T = 400"
    assert abs(np.mean(final[:, 0] == 0) - 0.3) < 0.08


def test_voter_mirroring_keeps_labels_and_copying_takes_a_neighbours_label():
    result = simulate({"dynamics": "voter", "p": 1.0, "k": 3, "T": 5}, replicates=2, seed=1)
    assert np.all(result.ids == result.ids[:, :1])  # everyone mirrors: nobody changes
    result = simulate({"dynamics": "voter", "p": 0.0, "k": 1, "T": 1, "n_agents": 6}, replicates=1, seed=1)
    # t = 0: labels 0..5, all sqrt 2 apart: everyone's nearest is the lowest other index (agent 0, or 1 for agent 0).
    assert result.ids[0, 1].tolist() == [1, 0, 0, 0, 0, 0]


def test_voter_random_ties_draw_partners_beyond_the_lowest_indices():
    result = simulate({"dynamics": "voter", "dynamics_options": {"ties": "random"}, "p": 0.0, "k": 1, "T": 1},
                      replicates=4, seed=2)
    assert len(np.unique(result.ids[:, 1])) > 5


def test_hegselmann_krause_freezes_in_finite_time():
    # Dittmer (2001): on the complete graph HK reaches a fixed point in finitely many steps (exactly, not asymptotically).
    config = {"dynamics": "hegselmann-krause", "dynamics_options": {"epsilon": 0.15, "start": "uniform"},
              "n_agents": 60, "p": 0.0, "T": 60}
    states = np.stack([view.weights()[..., 0].copy() for view in iterate(config, replicates=4, seed=5)])
    frozen_from = [int(np.flatnonzero(~np.all(states[1:, rep] == states[:-1, rep], axis=-1)).max(initial=-1)) + 1
                   for rep in range(4)]
    assert max(frozen_from) < 40, frozen_from
    final = np.sort(states[-1], axis=-1)
    for row in final:  # clusters of a fixed point are more than epsilon apart
        clusters = np.unique(row)
        assert np.all(np.diff(clusters) > 0.15)


def test_deffuant_symmetric_exchanges_conserve_the_mean_opinion():
    config = {"dynamics": "deffuant", "dynamics_options": {"epsilon": 0.3, "mu": 0.5, "start": "uniform"},
              "p": 0.3, "k": 5, "T": 50}
    states = np.stack([view.weights()[..., 0].copy() for view in iterate(config, replicates=3, seed=7)])
    assert np.allclose(states.mean(axis=-1), states[0].mean(axis=-1), atol=1e-12, rtol=0)
    assert np.ptp(states[-1], axis=-1).max() < np.ptp(states[0], axis=-1).min()  # and opinions did move
    one_way = {**config, "dynamics_options": {**config["dynamics_options"], "symmetric": False}}
    moved = np.stack([view.weights()[..., 0].copy() for view in iterate(one_way, replicates=3, seed=7)])
    assert not np.allclose(moved.mean(axis=-1), moved[0].mean(axis=-1), atol=1e-6)


def test_deffuant_clusters_end_about_two_epsilon_apart():
    # Deffuant et al. (2000): from uniform opinions, clusters end ~2 epsilon apart (about 1 / (2 eps) of them).
    # Set before looking: every gap between major clusters (>= 5% of agents) > epsilon, their mean in [1.6, 2.6] eps.
    epsilon, n_agents = 0.1, 300
    final = final_opinions({"dynamics": "deffuant", "dynamics_options": {"epsilon": epsilon, "start": "uniform"},
                            "n_agents": n_agents, "p": 0.0, "T": 300}, replicates=8, seed=3)
    gaps = []
    for row in final:
        ordered = np.sort(row)
        groups = np.split(ordered, np.flatnonzero(np.diff(ordered) > 1e-3) + 1)
        centres = [group.mean() for group in groups if len(group) >= 0.05 * n_agents]
        gaps += list(np.diff(centres))
    assert min(gaps) > epsilon
    assert 1.6 * epsilon <= np.mean(gaps) <= 2.6 * epsilon


def test_deffuant_step_equals_a_plain_loop_over_exchanges():
    rng = np.random.default_rng(0)
    opinions = rng.random((3, 12))
    partners = rng.integers(0, 12, (3, 12))
    got = deffuant_update(opinions, partners, epsilon=0.4, mu=0.3, symmetric=True)
    expected = opinions.copy()
    for rep in range(3):
        pairs = [(i, j) for i, j in enumerate(partners[rep]) if i != j and abs(opinions[rep, j] - opinions[rep, i]) < 0.4]
        degree = np.zeros(12)
        for i, j in pairs:
            degree[i] += 1
            degree[j] += 1
        for i, j in pairs:
            weight = 0.3 / max(degree[i], degree[j])
            expected[rep, i] += weight * (opinions[rep, j] - opinions[rep, i])
            expected[rep, j] += weight * (opinions[rep, i] - opinions[rep, j])
    assert np.allclose(got, expected, atol=1e-14)


def test_hegselmann_krause_step_equals_a_plain_loop():
    rng = np.random.default_rng(1)
    opinions = rng.random((2, 9))
    members = np.stack([np.sort(rng.choice(np.delete(np.arange(9), i), 4, replace=False)) for i in range(9)])[None]
    listening = rng.random((2, 9)) > 0.3
    got = hegselmann_krause_update(opinions, members, listening, epsilon=0.3)
    for rep in range(2):
        for i in range(9):
            heard = [opinions[rep, j] for j in [i, *members[0, i]] if abs(opinions[rep, j] - opinions[rep, i]) <= 0.3]
            assert got[rep, i] == pytest.approx(np.mean(heard) if listening[rep, i] else opinions[rep, i], abs=1e-15)


def test_anchor_ids_start_every_agent_in_its_own_silo_and_stay_fixed_labels():
    for dynamics in ("deffuant", "hegselmann-krause"):
        result = simulate({"dynamics": dynamics, "T": 10, "k": 5}, replicates=2, seed=0)
        assert result.ids[:, 0].tolist() == [list(range(30))] * 2
    assert anchor_ids(np.array([0.5 / 30, 29.5 / 30]), 30).tolist() == [0, 29]


@pytest.mark.parametrize("dynamics", ["voter", "deffuant", "hegselmann-krause"])
def test_stubborn_agents_never_change(dynamics):
    result = simulate({"dynamics": dynamics, "T": 20, "k": 5, "p": 0.1,
                       "modifiers": [{"kind": "stubborn", "agents": [0, 7]}]}, replicates=3, seed=4)
    assert np.all(result.ids[:, :, [0, 7]] == result.ids[:, :1, [0, 7]])


def test_bad_options_are_refused_naming_the_option():
    with pytest.raises(ConfigError, match="dynamics_options.epsilon"):
        make_config({"dynamics": "deffuant", "dynamics_options": {"epsilon": 2.0}})
    with pytest.raises(ConfigError, match="'eps' is not known"):
        make_config({"dynamics": "hegselmann-krause", "dynamics_options": {"eps": 0.1}})
    with pytest.raises(ConfigError, match="ties"):
        make_config({"dynamics": "voter", "dynamics_options": {"ties": "sideways"}})


def test_classical_models_run_from_the_command_line_and_yaml(tmp_path):
    from typer.testing import CliRunner

    from igmm.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["run", "--dynamics", "voter", "--k", "5", "--T", "10", "--replicates", "2",
                                 "--out", str(tmp_path / "voter")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "voter" / "runs.parquet").is_file()
    config = tmp_path / "hk.yaml"
    config.write_text("dynamics: hegselmann-krause\ndynamics_options: {epsilon: 0.1}\nk: 5\nT: 10\n")
    result = runner.invoke(app, ["run", "--config", str(config), "--out", str(tmp_path / "hk")])
    assert result.exit_code == 0, result.output
    config.write_text("dynamics: deffuant\ndynamics_options: {mu: 0.9}\nT: 10\n")
    result = runner.invoke(app, ["run", "--config", str(config), "--out", str(tmp_path / "bad")])
    assert result.exit_code == 2 and "mu" in result.output
    assert not (tmp_path / "bad").exists()


def test_classical_models_run_in_a_sweep(tmp_path):
    from igmm.pipeline import store
    from igmm.pipeline.executors import SerialExecutor
    from igmm.pipeline.runner import run_sweep
    from igmm.pipeline.spec import make_spec

    spec = make_spec({"base": {"dynamics": "deffuant", "T": 10}, "grid": {"k": [2, 10]}, "replicates": 2})
    outcome = run_sweep(spec, tmp_path / "sweep", executor=SerialExecutor(), progress=False)
    assert outcome.complete and len(store.read_runs(tmp_path / "sweep")) == 4
