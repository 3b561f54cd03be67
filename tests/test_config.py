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
