"""Scenario files: validation with one line per bad value, knowledge bases, prompts and labellers."""

import re

import numpy as np
import pytest
import yaml

from igmm.llm.flowers import FLOWER_LABELLER
from igmm.llm.labels import ClusterLabeller, ListLabeller
from igmm.llm.scenario import default_scenario_path, load_scenario, parse_scenario
from llm.llm_helpers import write_rags

BASE = {
    "topic": "favourite colour",
    "query": "Which colour is the most beautiful?",
    "user_prompt": "Context: {context}\n\n{query}",
    "labels": ["red", "blue"],
    "knowledge_bases": [[{"question": "Colour?", "answer": "Red."}], [{"question": "Colour?", "answer": "Blue."}]],
}


def write(folder, data, name="scenario.yaml"):
    path = folder / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def test_the_packaged_default_is_the_flower_setting():
    scenario = load_scenario()
    assert default_scenario_path().name == "flowers.yaml" and default_scenario_path().is_file()
    assert scenario.labeller() is FLOWER_LABELLER
    assert scenario.query == "Describe the prettiest flower in a single sentence."
    assert scenario.knowledge_base_array() is None  # the released RAGs.npz comes from --rags


def test_inline_knowledge_bases_become_the_released_layout(tmp_path):
    scenario = load_scenario(write(tmp_path, BASE))
    rags = scenario.knowledge_base_array()
    assert rags.shape == (2, 2, 1) and rags.dtype.kind == "U"
    assert rags[:, 1, 0].tolist() == ["Red.", "Blue."] and rags[0, 0, 0] == "Colour?"
    assert scenario.messages("Red.") == [{"role": "user", "content": "Context: Red.\n\nWhich colour is the most beautiful?"}]


def test_a_knowledge_base_path_is_relative_to_the_scenario_file(tmp_path):
    (tmp_path / "data").mkdir()
    write_rags(tmp_path / "data" / "kb.npz", n_agents=4)
    scenario = load_scenario(write(tmp_path, BASE | {"knowledge_bases": "data/kb.npz"}))
    assert scenario.knowledge_base_array().shape == (4, 2, 3)


def test_labels_as_a_list_with_aliases_and_plurals_off(tmp_path):
    data = BASE | {"labels": ["red", {"name": "blue", "aliases": ["azure"]}], "plurals": False}
    labeller = load_scenario(write(tmp_path, data)).labeller()
    assert isinstance(labeller, ListLabeller) and labeller.name == "favourite colour"
    assert labeller.label_texts(["An azure sky", "reds", "red"]).tolist() == [1, 2, 0]


def test_labels_by_clustering(tmp_path):
    data = BASE | {"labels": {"clustering": {"threshold": 0.9, "embedder": "hashing", "method": "complete"}}}
    labeller = load_scenario(write(tmp_path, data)).labeller()
    assert isinstance(labeller, ClusterLabeller) and labeller.threshold == 0.9 and labeller.method == "complete"


@pytest.mark.parametrize(("change", "line"), [
    ({"query": ""}, "query: '' is not allowed: String should have at least 1 character"),
    ({"user_prompt": "{query}"}, "user_prompt: '{query}' is not allowed: user_prompt or system_prompt must contain {context}"),
    ({"user_prompt": "{context.__class__}"}, "user_prompt: '{context.__class__}' is not allowed: placeholders are {context}"),
    ({"user_prompt": "{context"}, "user_prompt: '{context' is not allowed: unbalanced braces"),
    ({"system_prompt": "Say {phrase}."}, "required_phrase: None is not allowed: a prompt uses {phrase}"),
    ({"labels": "trees"}, "labels.preset: 'trees' is not allowed: Input should be 'flowers'"),
    ({"labels": []}, "labels.names: [] is not allowed: Tuple should have at least 1 item"),
    ({"labels": {"clustering": {}}}, "labels.clustering: {} is not allowed: give exactly one of threshold and n_clusters"),
    ({"labels": {"clustering": {"n_clusters": 0}}}, "labels.clustering.n_clusters: 0 is not allowed: Input should be greater than or equal to 1"),
    ({"labels": {"clustering": {"n_clusters": 2, "embedder": "bert"}}}, "labels.clustering.embedder: 'bert' is not allowed: Input should be 'minilm' or 'hashing'"),
    ({"knowledge_bases": [[{"question": "q", "answer": "a"}]]}, "is not allowed: give at least 2 agents, each a list of {question, answer} entries"),
    ({"knowledge_bases": [[{"question": "q", "answer": "a"}], []]}, "is not allowed: every agent needs the same number (>= 1)"),
    ({"knowledge_bases": [[{"question": "q"}], [{"question": "q", "answer": "a"}]]}, "knowledge_bases.0.0.answer: missing; this key is required"),
    ({"knowledge_bases": "nowhere.npz"}, "knowledge_bases: 'nowhere.npz' is not allowed: no such file"),
    ({"temperature": 2}, "temperature: 2 is not allowed: Extra inputs are not permitted"),
])
def test_each_bad_value_is_one_line_naming_file_key_value_and_rule(tmp_path, change, line):
    path = write(tmp_path, BASE | change)
    with pytest.raises(ValueError) as caught:
        load_scenario(path)
    lines = str(caught.value).splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}: ") and line in lines[0], lines


def test_several_bad_values_give_several_lines(tmp_path):
    path = write(tmp_path, BASE | {"query": "", "plurals": "maybe", "extra": 1})
    with pytest.raises(ValueError) as caught:
        load_scenario(path)
    keys = [line.split(": ")[1] for line in str(caught.value).splitlines()]
    assert keys == ["query", "plurals", "extra"]


def test_a_malformed_knowledge_base_file_is_named_without_its_content(tmp_path):
    (tmp_path / "kb.npz").write_text("SECRET text, not an archive")
    with pytest.raises(ValueError, match=r"knowledge_bases: 'kb.npz' is not allowed: kb.npz: not an .npz archive") as caught:
        load_scenario(write(tmp_path, BASE | {"knowledge_bases": "kb.npz"}))
    assert "SECRET" not in str(caught.value)


@pytest.mark.parametrize(("text", "message"), [
    ("topic: [unclosed\n", "not valid YAML (line 2)"),
    ("- a list\n- not a mapping\n", "must be a mapping with keys topic, query"),
])
def test_unreadable_scenarios_are_one_line(tmp_path, text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        load_scenario(write(tmp_path, text))


def test_a_missing_scenario_file_is_one_line(tmp_path):
    with pytest.raises(ValueError, match=r"scenario: cannot read .*nowhere.yaml"):
        load_scenario(tmp_path / "nowhere.yaml")


def test_the_prompt_hash_changes_with_the_prompt_not_with_the_labels():
    first = parse_scenario(BASE)
    assert first.prompt_sha256() == parse_scenario(BASE | {"labels": ["green"]}).prompt_sha256()
    assert first.prompt_sha256() != parse_scenario(BASE | {"query": "Which colour is ugliest?"}).prompt_sha256()
    assert isinstance(first.knowledge_base_array(), np.ndarray)


def test_the_scenarios_shown_in_the_docs_are_valid_and_the_first_is_the_default():
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs" / "llm.md"
    blocks = re.findall(r"```yaml\n(.*?)```", docs.read_text(encoding="utf-8"), re.S)
    scenarios = [parse_scenario(yaml.safe_load(block), "llm.md") for block in blocks]
    assert len(scenarios) == 2
    assert scenarios[0] == load_scenario()  # the docs show the packaged flower scenario
    assert scenarios[1].knowledge_base_array().shape == (2, 2, 2)
