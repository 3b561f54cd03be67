"""Calibration end to end on small synthetic targets: recovery, resume, leave-one-cell-out, the command."""

import numpy as np
import pytest
import yaml

from igmm.api import simulate
from igmm.calibrate.measures import read_at_scale
from igmm.calibrate.space import make_space
from igmm.calibrate.study import baseline, calibrate_proxy
from igmm.config import ConfigError, make_config
from igmm.pipeline.executors import SerialExecutor

SMALL = {"n_agents": 10, "sigma": 0.2}
CELLS = [(0.2, 2), (0.5, 2), (0.2, 9), (0.5, 9)]


def gmm_target(r=3, sigma=0.2, scale=2.0, n_rounds=15, runs=16, seed=99):
    """Runs of the GMM itself read every ``scale`` steps: a target whose true values are known."""
    cells = {}
    for p, k in CELLS:
        result = simulate(SMALL | {"sigma": sigma, "p": p, "k": k, "r": r, "T": int(np.ceil(n_rounds * scale))},
                          replicates=runs, seed=seed)
        cells[(p, k)] = read_at_scale(result.ids, scale, n_rounds)
    return cells


def small_space(**search):
    return make_space({"name": "recovery", "base": SMALL,
                       "params": {"r": {"low": 1, "high": 6}, "sigma": {"low": 0.1, "high": 0.4, "step": 0.1}},
                       "time_scale": {"low": 1.0, "high": 4.0, "n": 5}, "replicates": 16, "seed": 1,
                       "search": {"design": 24, "refine": 0, "bootstrap": 40} | search,
                       "measures": {"times": [1, 2, 5, 10, 15]}})


def test_calibration_recovers_a_gmm_within_its_stated_uncertainty(tmp_path):
    truth = {"r": 3, "sigma": 0.2, "time_scale": 2.0}
    result = calibrate_proxy(gmm_target(), small_space(), tmp_path, executor=SerialExecutor(), loco=False)
    table = result.uncertainty.set_index("parameter")
    for name, value in truth.items():
        assert table.loc[name, "low"] <= value <= table.loc[name, "high"], (name, table)
    # And the uncertainty says something about r and the scale (narrower than the range searched).
    assert table.loc["r", "high"] - table.loc["r", "low"] < 5
    assert table.loc["time_scale", "high"] - table.loc["time_scale", "low"] < 3


def test_a_resumed_calibration_repeats_no_simulation(tmp_path, monkeypatch):
    space = small_space(design=4, refine=2, bootstrap=5)
    target = gmm_target(runs=8)
    first = calibrate_proxy(target, space, tmp_path, executor=SerialExecutor(), loco=True)
    assert first.tasks_run > 0
    again = calibrate_proxy(target, space, tmp_path, executor=SerialExecutor(), loco=True)
    assert again.tasks_run == 0
    assert again.best == first.best
    assert again.heldout.equals(first.heldout)
    # Leave-one-cell-out: one prediction per held-out cell and measure.
    assert len(first.heldout) == len(CELLS) * len(first.simulator.target.measures)
    assert set(zip(first.heldout["p"], first.heldout["k"])) == set(CELLS)
    # ... but a cache filled before a backend's arithmetic changed is not reused: the revisions are in the key.
    from igmm.dynamics.protocol import BITS_REVISIONS

    params = {"r": 3, "sigma": 0.2}
    before = first.simulator.key(params)
    monkeypatch.setitem(BITS_REVISIONS, "numpy", 2)  # every dynamics has a numpy implementation
    assert first.simulator.key(params) != before


def test_the_baseline_is_the_uncalibrated_paper_gmm(tmp_path):
    result = baseline(gmm_target(runs=8), tmp_path, executor=SerialExecutor(), replicates=4)
    assert result.best == {"time_scale": 1.0}
    assert result.simulator.config_values({})["dynamics"] == "paper"
    assert len(result.heldout) == len(result.fit_table)


@pytest.mark.parametrize("values, message", [
    ({"base": {"k": 3}}, "'k' cannot be set"),
    ({"params": {"sigma": {"low": 0.5, "high": 0.1}}}, "must be below high"),
    ({"params": {"sigma": {"low": 0.0, "high": 0.1, "log": True}}}, "log: needs low > 0"),
    ({"params": {"sigmaa": {"low": 0.1, "high": 0.2}}}, "sigmaa: unknown key"),
    ({"params": {"dynamics_options.epsilon": {"low": 0.1, "high": 0.2}}}, "takes no options"),
    ({"time_scale": -1.0}, "must be > 0"),
    ({"measures": {"weights": {"Q": 1.0}}}, "not a measure family"),
])
def test_bad_spaces_are_refused_with_one_line_naming_the_key(values, message):
    with pytest.raises(ConfigError) as error:
        make_space(values, source="space.yaml")
    assert message in str(error.value)


def test_the_command_writes_configs_that_igmm_run_accepts(tmp_path):
    from typer.testing import CliRunner

    from igmm.cli import app
    import pandas as pd

    rows = [{"p": p, "k": k, "replicate": rep, "t": t, "agent": agent, "label": int(ids[rep, t, agent])}
            for (p, k), ids in gmm_target(runs=4, n_rounds=8).items()
            for rep in range(4) for t in range(9) for agent in range(10)]
    table = tmp_path / "target.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"name": "tiny", "base": SMALL, "params": {"r": {"low": 1, "high": 5}},
                                     "time_scale": {"low": 1, "high": 3, "n": 3}, "replicates": 4,
                                     "search": {"design": 2, "refine": 1, "bootstrap": 3},
                                     "measures": {"times": [1, 4, 8]}}))
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(app, ["calibrate", str(table), "--space", str(space), "--out", str(out), "--serial",
                                 "--no-loco"])
    assert result.exit_code == 0, result.output
    for name in ("leaderboard.md", "report.md", "provenance.json", "tiny/best_config.yaml", "tiny/fitted_parameters.csv",
                 "tiny/fit_table.csv", "tiny/silos_over_time.png", "baseline/fit_table.csv"):
        assert (out / name).is_file(), name
    cell = yaml.safe_load((out / "tiny" / "configs" / "p0.5_k9.yaml").read_text())
    make_config({key: value for key, value in cell.items() if key not in ("seed", "replicates")})
    best = yaml.safe_load((out / "tiny" / "best_config.yaml").read_text())
    result = runner.invoke(app, ["run", "--config", str(out / "tiny" / "best_config.yaml"), "--p", "0.5", "--k", "3",
                                 "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert best["T"] % 8 == 0 or best["T"] >= 8
    # Bad input: exit 2 before any work, nothing written.
    space.write_text("name: bad\nparams: {r: {low: 5, high: 1}}\n")
    result = runner.invoke(app, ["calibrate", str(table), "--space", str(space), "--out", str(tmp_path / "bad")])
    assert result.exit_code == 2 and "space" in result.output
    assert not (tmp_path / "bad").exists() and not (tmp_path / "bad-cache").exists()


@pytest.mark.slow
def test_full_size_recovery_of_sigma_r_and_the_time_scale(tmp_path):
    """n = 30 agents, the comparison's grid corners, 8 target runs per cell like the transcripts."""
    truth = {"sigma": 0.3, "r": 3, "time_scale": 2.0}
    cells = {}
    for p, k in [(0.2, 1), (0.2, 15), (0.7, 5), (0.7, 25)]:
        result = simulate({"sigma": truth["sigma"], "r": truth["r"], "p": p, "k": k, "T": 80}, replicates=8, seed=7)
        cells[(p, k)] = read_at_scale(result.ids, truth["time_scale"], 40)
    space = make_space({"name": "recovery-30", "base": {"n_agents": 30},
                        "params": {"sigma": {"low": 0.1, "high": 0.5, "step": 0.1}, "r": {"low": 1, "high": 6}},
                        "time_scale": {"low": 1.0, "high": 4.0, "n": 5}, "replicates": 16, "seed": 2,
                        "search": {"design": 24, "refine": 6, "bootstrap": 100},
                        "measures": {"times": [1, 2, 5, 10, 20, 40]}})
    result = calibrate_proxy(cells, space, tmp_path, loco=False)
    table = result.uncertainty.set_index("parameter")
    for name, value in truth.items():
        assert table.loc[name, "low"] <= value <= table.loc[name, "high"], (name, table)


def test_only_the_revisions_of_backends_that_run_the_dynamics_are_in_the_cache_key():
    # voter runs on numpy only: a bumped numba revision leaves its cached runs valid, while the paper GMM's
    # key (numba implements it, when installed) names the revision.
    from igmm.calibrate.engine import _changed_revisions

    assert "numba" not in _changed_revisions("voter")
    pytest.importorskip("numba")
    assert _changed_revisions("paper")["numba"] >= 2
