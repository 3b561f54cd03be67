"""The SPEC: grid points, declarative validation (one line per bad value), hashing."""

import pytest
from typer.testing import CliRunner

from igmm.cli import app
from igmm.config import ConfigError
from igmm.sweep.spec import make_spec
from igmm.sweep.tasks import plan_tasks
from sweep.sweep_helpers import TINY, TINY_TASKS, tiny_spec


def test_grid_is_a_product_with_the_last_axis_fastest_and_zip_walks_together():
    spec = make_spec({"grid": {"p": [0.0, 0.5], "k": [1, 3]}, "zip": {"sigma": [0.2, 0.3], "delta": [1.0, 2.0]},
                      "replicates": 1, "base": {"n_agents": 6}})
    points = spec.points()
    assert len(points) == 2 * 2 * 2
    assert points[0] == {"p": 0.0, "k": 1, "sigma": 0.2, "delta": 1.0}
    assert points[1] == {"p": 0.0, "k": 1, "sigma": 0.3, "delta": 2.0}
    assert points[2] == {"p": 0.0, "k": 3, "sigma": 0.2, "delta": 1.0}
    assert points[-1] == {"p": 0.5, "k": 3, "sigma": 0.3, "delta": 2.0}
    assert spec.axes == ["p", "k", "sigma", "delta"]


def test_tasks_cover_every_replicate_once_in_chunks():
    tasks = plan_tasks(tiny_spec())
    assert len(tasks) == TINY_TASKS
    assert [(t.start, t.n_reps) for t in tasks if t.point == 2] == [(0, 2), (2, 2), (4, 1)]
    assert len({t.name for t in tasks}) == len(tasks)
    assert tasks[5].config == {"n_agents": 8, "T": 15, "p": 0.0, "k": 7}


def test_every_bad_value_gets_one_line_naming_it():
    with pytest.raises(ConfigError) as caught:
        make_spec({"replicates": 0, "seed": -2, "chunk_size": 0, "grids": {}, "zip": {"a": [1], "b": [1, 2]}})
    text = "\n".join(caught.value.lines)
    for name in ("replicates", "seed", "chunk_size", "grids: unknown key"):
        assert sum(line.startswith(name) for line in caught.value.lines) == 1, text


def test_bad_grid_values_are_reported_with_their_point():
    with pytest.raises(ConfigError) as caught:
        make_spec({**TINY, "grid": {"p": [0.0, 1.5], "k": [1, 8]}})
    lines = caught.value.lines
    assert any(line.startswith("grid point 1 (p=0.0, k=8): k: 8 is not allowed") for line in lines), lines
    assert any(line.startswith("grid point 2 (p=1.5, k=1): p: 1.5 is not allowed") for line in lines), lines


@pytest.mark.parametrize(
    "change, fragment",
    [({"zip": {"sigma": [0.1, 0.2], "delta": [1.0]}}, "equal lengths"),
     ({"grid": {"p": []}}, "has no values"),
     ({"grid": {"p": [0.1, 0.1]}}, "distinct"),
     ({"grid": {"p": [0.1]}, "zip": {"p": [0.2]}}, "appears in both")],
)
def test_inconsistent_axes_are_refused(change, fragment):
    with pytest.raises(ConfigError, match=fragment):
        make_spec({**TINY, **change})


def test_digest_changes_with_any_value_and_only_then():
    assert tiny_spec().digest() == tiny_spec().digest()
    assert tiny_spec().digest() != tiny_spec(seed=12).digest()
    assert tiny_spec().digest() != tiny_spec(grid={"p": [0.0, 0.5], "k": [1, 6]}).digest()


def test_cli_exits_2_with_one_line_per_bad_value(tmp_path):
    (tmp_path / "spec.yaml").write_text("replicates: 0\nbase: {p: 2}\n")
    result = CliRunner().invoke(app, ["sweep", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "error: replicates: 0 is not allowed" in result.output
    assert not (tmp_path / "out").exists()
