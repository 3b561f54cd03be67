"""The extension point: the tutorial of docs/extending.md runs as written, and the shipped extensions work everywhere."""

import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import igmm
from igmm.cli import app
from igmm.config import ConfigError, make_config
from igmm.registry import DYNAMICS, MEASURES, MODIFIERS, NETWORKS

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture
def tutorial_entries():
    """The names the tutorial registers, removed again after the test."""
    yield
    MODIFIERS.unregister("zealots")
    DYNAMICS.unregister("forgetful")
    MEASURES.unregister("share_in_largest")
    NETWORKS.unregister("star")


def test_the_tutorial_runs_as_written(tutorial_entries):
    text = (ROOT / "docs" / "extending.md").read_text()
    namespace: dict = {}
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        exec(compile(block, "docs/extending.md", "exec"), namespace)
    assert "zealots" in MODIFIERS and "forgetful" in DYNAMICS
    result = igmm.simulate({"T": 10, "dynamics": "forgetful"}, replicates=1, seed=0)
    assert result.ids.shape == (1, 11, 30)
    with pytest.raises(ConfigError, match="has no 'numba' implementation; backends that have one: numpy"):
        make_config({"dynamics": "forgetful", "backend": "numba"})


PLUGIN = '''
import dataclasses
import numpy as np
import igmm


@igmm.register_modifier("plugin-zealots")
def zealots(params, rng, *, agents: list[int]):
    frozen = np.zeros(params.n_agents, dtype=bool)
    frozen[agents] = True
    return dataclasses.replace(params, frozen=frozen)


def rate_options(*, rate: float = 0.5):
    """Options of the plugin's dynamics."""


@igmm.register_dynamics("plugin-drift", options=rate_options)
def drift(state, params, noise):
    weights = (1 - params.options["rate"]) * state.weights + params.options["rate"] * state.weights[:, ::-1]
    return igmm.dynamics.PopulationState(weights, state.rag, state.rag_dens, state.rag_ages, state.time + 1)


@igmm.register_measure("plugin-max-weight")
def max_weight(view):
    return view.weights().max(axis=(1, 2))
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    (tmp_path / "igmm_test_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "igmm_test_plugin"
    for registry, name in ((MODIFIERS, "plugin-zealots"), (DYNAMICS, "plugin-drift"), (MEASURES, "plugin-max-weight")):
        registry.unregister(name)
    from igmm import registry

    registry._loaded.discard("igmm_test_plugin")
    import sys

    sys.modules.pop("igmm_test_plugin", None)


def test_a_plugin_works_from_the_command_line_yaml_and_a_sweep(plugin, tmp_path):
    result = runner.invoke(app, ["run", "--plugin", plugin, "--modifier", "plugin-zealots:agents=[0,1]",
                                 "--measure", "plugin-max-weight", "--k", "4", "--T", "20", "--out", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    ids = np.load(tmp_path / "a" / "ids.npz")["ids"]
    assert (ids[:, :, :2] == ids[:, :1, :2]).all()
    config = yaml.safe_load((tmp_path / "a" / "config.yaml").read_text())
    assert config["plugins"] == [plugin] and config["measures"] == ["plugin-max-weight"]
    again = runner.invoke(app, ["run", "--config", str(tmp_path / "a" / "config.yaml"), "--out", str(tmp_path / "b")])
    assert again.exit_code == 0, again.output
    np.testing.assert_array_equal(np.load(tmp_path / "b" / "ids.npz")["ids"], ids)
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump({
        "base": {"plugins": [plugin], "T": 10, "dynamics": "plugin-drift", "measures": ["plugin-max-weight"]},
        "grid": {"dynamics_options": [{"rate": 0.1}, {"rate": 0.4}]}, "replicates": 2}))
    swept = runner.invoke(app, ["sweep", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "sweep"), "--serial"])
    assert swept.exit_code == 0, swept.output
    import pandas as pd

    assert "plugin-max-weight" in pd.read_parquet(tmp_path / "sweep" / "steps").columns
    bad = runner.invoke(app, ["run", "--plugin", plugin, "--dynamics", "plugin-drift", "--out", str(tmp_path / "c")]
                        + ["--config", str(_write(tmp_path / "bad.yaml", {"dynamics_options": {"rat": 1}}))])
    assert bad.exit_code == 2 and "option 'rat' is not known" in bad.output


def _write(path, values):
    path.write_text(yaml.safe_dump(values))
    return path


def test_a_plugin_that_cannot_be_imported_is_one_line(tmp_path):
    result = runner.invoke(app, ["run", "--plugin", "no_such_plugin_module", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "plugin 'no_such_plugin_module' could not be imported" in result.output


BACKENDS = ["numpy", "numba", "numba-parallel", "torch"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_stubborn_agents_and_per_agent_p_on_every_backend(backend, tmp_path):
    if backend.startswith("numba"):
        pytest.importorskip("numba")
    if backend == "torch":
        pytest.importorskip("torch")
    result = runner.invoke(app, ["run", "--backend", backend, "--k", "5", "--T", "30", "--replicates", "3",
                                 "--modifier", "stubborn:agents=[0,7]",
                                 "--modifier", "per-agent-p:values=[" + ",".join(["1.0"] * 5 + ["0.0"] * 25) + "]",
                                 "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    ids = np.load(tmp_path / "o" / "ids.npz")["ids"]
    still = [0, 1, 2, 3, 4, 7]  # the zealots, and the agents that always talk to themselves (p = 1)
    assert (ids[:, :, still] == ids[:, :1, still]).all()
    assert (ids[:, -1, 8:] != ids[:, 0, 8:]).any(), "the others move"


def test_stubborn_share_and_per_agent_p_distributions_are_drawn_once_per_run():
    config = make_config({"modifiers": [{"kind": "stubborn", "share": 0.2}, {"kind": "per-agent-p", "beta": [2, 5]}]})
    first, again, other = config.to_params(1), config.to_params(1), config.to_params(2)
    assert first.frozen.sum() == 6 and np.array_equal(first.frozen, again.frozen)
    np.testing.assert_array_equal(first.p, again.p)
    assert not np.array_equal(first.p, other.p)
    assert 0.1 < first.p.mean() < 0.5  # Beta(2, 5) has mean 2/7; 30 draws: SE about 0.03


def test_a_sweep_over_stubborn_shares(tmp_path):
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump({
        "base": {"T": 20, "k": 5}, "grid": {"modifiers": [[], [{"kind": "stubborn", "share": 0.5}]]},
        "replicates": 2}))
    result = runner.invoke(app, ["sweep", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "o"), "--serial"])
    assert result.exit_code == 0, result.output
    from igmm.pipeline import store

    runs = store.read_runs(tmp_path / "o")
    assert len(runs) == 4
