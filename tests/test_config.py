"""Configuration validation: one clear line per bad value."""

import pytest

from igmm.config import ConfigError, make_config


@pytest.mark.parametrize(
    "values, fragment",
    [
        ({"p": 1.5}, "p: 1.5 is not allowed"),
        ({"p": -0.1}, "p: -0.1 is not allowed"),
        ({"k": 0}, "k: 0 is not allowed"),
        ({"k": 30}, "k: 30 is not allowed: must satisfy 1 <= k <= n_agents - 1 = 29"),
        ({"r": 0}, "r: 0 is not allowed"),
        ({"sigma": 0}, "sigma: 0 is not allowed"),
        ({"T": -1}, "T: -1 is not allowed"),
        ({"T": 0}, "T: 0 is not allowed: Input should be greater than or equal to 1"),  # measures need one step
        ({"n_components": 0}, "n_components: 0 is not allowed"),
        ({"geometry": "cube"}, "geometry: 'cube' is not allowed"),
        ({"colour": "red"}, "colour: unknown key; allowed are:"),
        ({"geometry": "custom"}, "needs both 'means' and 'covariances'"),
        ({"geometry": "custom", "means": [[0, 0], [1, 1]], "covariances": [1, 2, 3]}, "do not fit"),
        ({"means": [[0.0]]}, "only allowed with geometry 'custom'"),
        ({"n_agents": 3, "assignment": [0, 1]}, "must have one per agent"),
        ({"n_agents": 3, "n_components": 2, "assignment": [0, 1, 2]}, "assignment: 2 is not allowed"),
    ],
)
def test_bad_values_name_the_parameter_value_and_rule(values, fragment):
    with pytest.raises(ConfigError) as error:
        make_config(values)
    assert any(fragment in line for line in error.value.lines), error.value.lines


def test_every_bad_value_is_reported_once():
    with pytest.raises(ConfigError) as error:
        make_config({"p": 2, "r": 0, "sigma": -1})
    assert len(error.value.lines) == 3


def test_defaults_are_the_papers_and_overrides_win():
    config = make_config({"p": 0.1}, p=0.3)
    assert (config.p, config.resolved_k, config.rag_size, config.resolved_n_components, config.sigma) == (
        0.3, 29, 5, 30, 0.2)
    assert make_config({"r": 7, "T": 12}).to_dict()["r"] == 7


def test_custom_geometry_builds():
    config = make_config(n_agents=4, geometry="custom", means=[[0, 0], [3, 0]], covariances=0.1)
    params = config.to_params()
    assert params.geometry.n_components == 2 and params.geometry.n_dims == 2
    assert list(params.assignment) == [0, 1, 0, 1]


@pytest.mark.parametrize(
    "values, fragment",
    [
        ({"sigma": float("nan")}, "sigma: nan is not allowed"),
        ({"sigma": float("inf")}, "sigma: inf is not allowed"),
        ({"sigma": 1e-320}, "sigma^2 must be a normal positive float"),
        ({"delta": 1e-170}, "(delta / sigma)^2"),
        ({"delta": 1e-320}, "(delta / sigma)^2"),
        ({"delta": float("inf")}, "delta: inf is not allowed"),
        ({"p": float("nan")}, "p: nan is not allowed"),
        ({"k": True}, "k: True is not allowed: a number is required, not a true/false value"),
        ({"p": "0.4"}, "p: '0.4' is not allowed: a number is required, not text"),
        ({"n_agents": 3.5}, "n_agents: 3.5 is not allowed"),
        ({"geometry": "custom", "means": [[0.0], [float("nan")]], "covariances": 0.1}, "means.1.0: nan is not allowed"),
        ({"geometry": "custom", "means": [[0.0], [1.0]], "covariances": None}, "needs both"),
        ({"geometry": "custom", "means": [[0.0], [1.0]], "covariances": [0.1, None]}, "covariances"),
        ({"geometry": "custom", "means": [[0.0], [1.0]], "covariances": [0.1, float("inf")]}, "finite number"),
        ({"geometry": "custom", "means": [[0.0, 0.0], [1.0, 0.0]],
          "covariances": [[[1.0, 2.0], [2.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]]}, "positive definite"),
        ({"geometry": "custom", "means": [[0.0, 0.0], [1.0, 0.0]],
          "covariances": [[[1.0, 0.5], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]]}, "symmetric"),
        ({"geometry": "custom", "means": [[0.0], [1.0]], "covariances": 1e-320}, "variances must be at least"),
        ({"geometry": "custom", "means": [], "covariances": 0.1}, "give at least one mean"),
        ({"geometry": "custom", "means": [[], []], "covariances": 0.1}, "give at least one mean"),
        ({"geometry": "custom", "means": [[0.0], [1.0, 2.0]], "covariances": 0.1}, "same number of dimensions"),
        ({"geometry": "custom", "n_components": 3, "means": [[0.0], [1.0]], "covariances": 0.1},
         "n_components: 3 is not allowed with custom means"),
        ({"eps": 0.1, "n_components": 30}, "eps * n_components must be < 1"),
        ({"dynamics": "pepper"}, "'pepper' is not a known dynamics"),
        ({"rag_policy": "newest"}, "'newest' is not a known database policy"),
        ({"measures": ["nope"]}, "'nope' is not a known measure"),
        ({"initial": {"kind": "dirichlet", "alpha": -1.0}}, "initial"),
        ({"initial": {"kind": "dirichlet", "beta": 1.0}}, "option 'beta' is not known"),
        ({"modifiers": [{"kind": "stubborn"}]}, "give exactly one of agents"),
        ({"modifiers": [{"kind": "stubborn", "agents": [40]}]}, "agent 40 is not allowed"),
        ({"modifiers": [{"kind": "per-agent-p", "values": [0.5] * 3}]}, "must have one per agent"),
        ({"network": {"kind": ""}}, "'' is not a known network"),
        ({"backend": "jax"}, "backend 'jax' is not known"),
        ({"dynamics": "moving-variance", "backend": "numba"}, "has no 'numba' implementation"),
        ({"dynamics_options": {"speed": 2}}, "takes no options"),
    ],
)
def test_nonsense_is_refused_with_one_line_naming_it(values, fragment):
    with pytest.raises(ConfigError) as error:
        make_config(values)
    assert any(fragment in line for line in error.value.lines), error.value.lines
    assert all("\n" not in line and "Traceback" not in line for line in error.value.lines)


def test_dirichlet_alpha_must_be_positive():
    # A non-positive concentration has no Dirichlet distribution: refused when validated, before any run.
    with pytest.raises(ConfigError, match="alpha"):
        make_config({"initial": {"kind": "dirichlet", "alpha": 0.0}})


def test_a_yaml_document_that_is_a_list_or_binary_is_refused(tmp_path):
    from igmm.config import load_yaml

    (tmp_path / "list.yaml").write_text("- p: 0.4\n")
    with pytest.raises(ConfigError, match="must hold a mapping of key: value, not a list"):
        load_yaml(tmp_path / "list.yaml")
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00p: 1")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_yaml(tmp_path / "binary.yaml")


def test_an_alias_bomb_is_refused_before_it_is_expanded(tmp_path):
    from igmm.config import load_yaml

    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for previous, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [*{previous}] " .replace("[*", "[" + ", ".join([f"*{previous}"] * 10) + "]") .split(" [")[0]
                     + " [" + ", ".join([f"*{previous}"] * 10) + "]")
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="expands to more than"):
        load_yaml(tmp_path / "bomb.yaml")


def test_the_engine_refuses_to_report_from_nan():
    # A state that is not numbers stops the run with a clear error instead of reporting a consensus.
    import numpy as np

    from igmm.dynamics import NumericalError, run
    from igmm.dynamics.state import ModelParams
    from igmm.model import line

    geometry = line(4)
    broken = ModelParams(geometry=geometry, p=0.0, k=3, rag_size=2, assignment=np.arange(4), initial=("given", {
        "weights": np.full((4, 4), np.nan)}))
    with pytest.raises(NumericalError, match="NaN or infinity at step 0"):
        run(broken, [np.random.default_rng(0)], 3)


def test_a_config_error_survives_the_trip_back_from_a_worker_process():
    import pickle

    from igmm.pipeline.store import SpecMismatchError

    for error_type in (ConfigError, SpecMismatchError):
        error = pickle.loads(pickle.dumps(error_type(["k: 0 is not allowed", "r: 0 is not allowed"])))
        assert error.lines == ["k: 0 is not allowed", "r: 0 is not allowed"]
        assert str(error) == "k: 0 is not allowed\nr: 0 is not allowed"
