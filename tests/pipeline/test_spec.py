"""The SPEC: grid points keyed by value, declarative validation (one line per bad value), planning, hashing."""

import pytest
from typer.testing import CliRunner

from igmm.cli import app
from igmm.config import ConfigError
from igmm.pipeline.spec import MAX_POINTS, make_spec, point_key, point_seeds
from igmm.pipeline.tasks import plan_tasks
from pipeline.sweep_helpers import TINY, TINY_TASKS, key_of, tiny_spec


def test_grid_is_a_product_with_the_last_axis_fastest_and_zip_walks_together():
    spec = make_spec({"grid": {"p": [0.0, 0.5], "k": [1, 3]}, "zip": {"sigma": [0.2, 0.3], "delta": [1.0, 2.0]},
                      "replicates": 1, "base": {"n_agents": 6}})
    points = spec.points()
    assert len(points) == spec.n_points() == 2 * 2 * 2
    assert points[0] == {"p": 0.0, "k": 1, "sigma": 0.2, "delta": 1.0}
    assert points[1] == {"p": 0.0, "k": 1, "sigma": 0.3, "delta": 2.0}
    assert points[2] == {"p": 0.0, "k": 3, "sigma": 0.2, "delta": 1.0}
    assert points[-1] == {"p": 0.5, "k": 3, "sigma": 0.3, "delta": 2.0}
    assert spec.axes == ["p", "k", "sigma", "delta"]


def test_seeds_are_keyed_by_the_points_values_not_their_position():
    small = tiny_spec()
    grown = tiny_spec(grid={"p": [0.9, 0.0, 0.5], "k": [7, 1, 3]})
    assert dict(small.keyed_points())[key_of(0.5, 7)] == dict(grown.keyed_points())[key_of(0.5, 7)]
    assert point_key({"p": 0.5, "k": 7}) == point_key({"k": 7, "p": 0.5})
    first = point_seeds(11, key_of(0.5, 7), 3, 2)
    assert [s.generate_state(2).tolist() for s in first] == [s.generate_state(2).tolist()
                                                            for s in point_seeds(11, key_of(0.5, 7), 3, 2)]
    assert first[0].spawn_key[-1] == 3 and first[1].spawn_key[-1] == 4


def test_tasks_cover_every_replicate_once_in_chunks_and_skip_what_is_done():
    tasks = plan_tasks(tiny_spec())
    assert len(tasks) == TINY_TASKS
    key = key_of(0.5, 1)
    assert [(t.start, t.n_reps) for t in tasks if t.point == key] == [(0, 2), (2, 2), (4, 1)]
    assert len({t.name for t in tasks}) == len(tasks)
    assert tasks[3].config == {"n_agents": 8, "T": 15, "p": 0.0, "k": 7}
    # A folder already holding replicates 0-2 and 4 of that point: only replicate 3 is planned there.
    resumed = plan_tasks(tiny_spec(), {key: {0, 1, 2, 4}})
    assert [(t.start, t.n_reps) for t in resumed if t.point == key] == [(3, 1)]
    assert len(resumed) == TINY_TASKS - 2


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
     ({"grid": {"p": [0.1]}, "zip": {"p": [0.2]}}, "appears in both"),
     ({"grid": {"colour": [1, 2]}}, "'colour' is not a simulation key"),
     ({"grid": {"measures": [["max_sigma"]]}}, "cannot be swept"),
     ({"grid": {"p": [0.1] * 0 + [0.1, 0.2], "k": list(range(1, 3))}, "replicates": True}, "replicates"),
     ({"grid": {f"n_agents": list(range(2, 1002)), "T": list(range(1001)), "p": [0.0, 0.5]}}, "points is not allowed")],
)
def test_inconsistent_axes_are_refused(change, fragment):
    with pytest.raises(ConfigError, match=fragment):
        make_spec({**TINY, **change})


def test_a_grid_of_a_billion_points_is_refused_without_building_it():
    axes = {name: list(range(1000)) for name in ("n_agents", "T", "r")}
    with pytest.raises(ConfigError, match=f"at most {MAX_POINTS}"):
        make_spec({"grid": axes, "replicates": 1})


def test_digest_changes_with_any_value_and_only_then():
    assert tiny_spec().digest() == tiny_spec().digest()
    assert tiny_spec().digest() != tiny_spec(seed=12).digest()
    assert tiny_spec().digest() != tiny_spec(grid={"p": [0.0, 0.5], "k": [1, 6]}).digest()
    assert tiny_spec().identity() == tiny_spec(grid={"p": [0.0, 0.5, 0.9], "k": [1, 7]}, replicates=9).identity()


def test_cli_exits_2_with_one_line_per_bad_value_naming_the_file(tmp_path):
    (tmp_path / "spec.yaml").write_text("replicates: 0\nbase: {p: 2}\n")
    result = CliRunner().invoke(app, ["sweep", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert f"error: {tmp_path / 'spec.yaml'}: replicates: 0 is not allowed" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content, fragment", [
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8 text"),
    ("- 1\n- 2\n".encode(), "must hold a mapping"),
    ("a: [\n".encode(), "is not valid YAML (line"),
    (b"a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + b"".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n".encode()
        for p, c in zip("abcdefgh", "bcdefghi")) + b"replicates: 1\nbase: {colour: *i}\n", "expands to more than"),
])
def test_unreadable_spec_files_are_one_line_errors(tmp_path, content, fragment):
    (tmp_path / "spec.yaml").write_bytes(content)
    result = CliRunner().invoke(app, ["sweep", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert fragment in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.startswith("error:")]) == 1
    assert not (tmp_path / "out").exists()
