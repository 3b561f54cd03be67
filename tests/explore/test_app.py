"""The explorer's HTTP API and assets (Starlette's test client; no browser)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("starlette", reason="the explorer needs the 'explore' extra: pip install -e '.[explore]'")

from starlette.testclient import TestClient  # noqa: E402

from igmm.api import simulate  # noqa: E402
from igmm.config import make_config  # noqa: E402
from igmm.explore.app import STATIC, create_app  # noqa: E402
from igmm.registry import DYNAMICS, INITIAL_OPINIONS, MODIFIERS, NETWORKS, RAG_POLICIES  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "llm" / "fixtures" / "transcripts"


@pytest.fixture()
def client():
    return TestClient(create_app())


def test_controls_come_from_the_registries_including_a_researchers_own(client):
    from igmm.registry import register_modifier

    @register_modifier("test-explore-nothing")
    def nothing(params, rng, *, strength: float = 0.5):
        return params

    try:
        schema = client.get("/api/schema").json()
    finally:
        MODIFIERS.unregister("test-explore-nothing")
    assert schema["dynamics"] == DYNAMICS.names() == sorted(schema["dynamics_options"])
    assert schema["rag_policy"] == RAG_POLICIES.names()
    assert {c["name"] for c in schema["network"]} == set(NETWORKS.names()) - {"graph"}
    assert {c["name"] for c in schema["initial"]} == set(INITIAL_OPINIONS.names()) - {"given"}
    mine = [c for c in schema["modifiers"] if c["name"] == "test-explore-nothing"]
    assert mine == [{"name": "test-explore-nothing", "options": [
        {"name": "strength", "default": "0.5", "type": "float", "required": False}]}]


def test_a_bad_value_is_refused_with_one_line_naming_it(client):
    response = client.get("/api/start?p=2&k=3")
    assert response.status_code == 400
    assert response.json()["errors"] == ["p: 2 is not allowed: Input should be less than or equal to 1"]
    assert client.get("/api/step?session=nope").status_code == 404


def test_steps_through_the_api_are_replicate_0_of_simulate(client):
    started = client.get("/api/start?p=0.3&k=4&T=12&seed=5").json()
    assert started["info"]["n_labels"] == 30 and len(started["info"]["palette"]) == 30
    body = client.get(f"/api/step?session={started['session']}&count=50").json()
    assert body["done"] and len(body["frames"]) == 13
    ids = np.zeros(30, dtype=int)
    for frame in body["frames"]:
        ids[frame["moved"]] = frame["to"]
    expected = simulate(make_config({"p": 0.3, "k": 4, "T": 12}), replicates=1, seed=5)
    np.testing.assert_array_equal(ids, expected.ids[0, -1])
    runs = client.get(f"/api/tables/{started['session']}/runs.csv").text
    assert runs.splitlines()[1].endswith(str(expected.runs["pattern"][0]))
    steps = client.get(f"/api/tables/{started['session']}/steps.csv").text
    assert len(steps.splitlines()) == 1 + 13  # a header and one row per step
    table = [line.split(",") for line in client.get(f"/api/tables/{started['session']}/ids.csv").text.splitlines()]
    assert table[0] == ["t", "agent", "id"] and len(table) == 1 + 13 * 30
    assert [int(row[2]) for row in table[1:]] == expected.ids[0].ravel().tolist()
    assert client.get(f"/api/tables/{started['session']}/other.csv").status_code == 404


def test_the_yaml_export_is_a_run_configuration(client):
    text = client.get("/api/config.yaml?p=0.2&k=5&seed=9&network=ring&network.degree=4").text
    values = yaml.safe_load(text)
    assert values["seed"] == 9 and values["replicates"] == 1
    assert values["network"]["kind"] == "ring" and values["network"]["degree"] == 4
    make_config({key: value for key, value in values.items() if key not in ("seed", "replicates")})


def test_transcript_runs_come_with_the_gmm_settings_beside_them(client):
    listing = client.get("/api/transcript", params={"source": str(FIXTURES)}).json()
    assert [run["label"] for run in listing["runs"]] == ["p0.2_k5_r0"] and listing["problems"] > 0
    run = client.get("/api/transcript", params={"source": str(FIXTURES), "run": "p0.2_k5_r0"}).json()
    assert run["ids"] == [[0, 1, 2], [0, 1, 2], [0, 0, 2], [0, 0, 30]]
    # k = 5 is more than 3 agents allow: the GMM beside it takes k = n - 1.
    assert run["gmm"] == {"p": 0.2, "k": 2, "n": 3, "T": 3}
    assert run["verdicts"][0] == "" and len(run["verdicts"]) == 4
    missing = client.get("/api/transcript", params={"source": str(FIXTURES), "run": "p9_k9_r9"})
    assert missing.status_code == 400 and "not a run" in missing.json()["errors"][0]
    assert client.get("/api/transcript", params={"source": "/no/such/folder"}).status_code == 400


def test_every_asset_is_served_from_the_package(client):
    page = client.get("/").text
    for name in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert not re.match(r"^(https?:)?//", name), name
        if name.startswith("static/"):
            assert client.get("/" + name).status_code == 200
    for path in STATIC.iterdir():
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", path.read_text()), path.name


def test_a_plugins_entries_become_choices_and_its_module_goes_into_the_export(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from igmm.cli import app
    from igmm.registry import load_plugins

    (tmp_path / "explore_test_plugin.py").write_text(
        "from igmm.registry import register_modifier\n\n"
        "@register_modifier('explore-test-calm')\n"
        "def calm(params, rng, *, strength: float = 0.5):\n"
        "    return params\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        load_plugins(("explore_test_plugin",))
        client = TestClient(create_app(plugins=("explore_test_plugin",)))
        assert "explore-test-calm" in [c["name"] for c in client.get("/api/schema").json()["modifiers"]]
        text = client.get("/api/config.yaml?T=5&mods=explore-test-calm&mod.explore-test-calm.strength=0.2").text
        values = yaml.safe_load(text)
        assert values["plugins"] == ["explore_test_plugin"]
        assert values["modifiers"] == [{"kind": "explore-test-calm", "strength": 0.2}]
        (tmp_path / "run.yaml").write_text(text)
        result = CliRunner().invoke(app, ["run", "--config", str(tmp_path / "run.yaml"), "--out", str(tmp_path / "out")])
        assert result.exit_code == 0, result.output
    finally:
        MODIFIERS.unregister("explore-test-calm")
