"""Reading transcripts: the released runs checked by hand, and malformed input."""


import numpy as np
import pytest

from igmm.llm.flowers import FLOWERS, UNLABELED
from igmm.llm.transcripts import (
    RunKey,
    default_transcripts_dir,
    load_transcripts,
    parse_run_file_name,
    read_initial_flowers,
)
from igmm.metrics import consensus_time, largest_silo, n_silos, stability



def flower(name: str) -> int:
    return FLOWERS.index(name)



def test_file_names_parse_to_p_k_replicate():
    assert parse_run_file_name("output2_15_0.csv") == (RunKey(0.2, 15, 0, "2"), False)
    assert parse_run_file_name("output7_25_7_2nd.csv") == (RunKey(0.7, 25, 7, "7"), True)
    assert parse_run_file_name("output2.5_1_3.csv")[0].p == 0.25
    assert parse_run_file_name("output2_15.csv") is None
    assert parse_run_file_name("RAGs.npz") is None


def test_default_directory_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("IGMM_TRANSCRIPTS", str(tmp_path))
    assert default_transcripts_dir() == tmp_path
    monkeypatch.delenv("IGMM_TRANSCRIPTS")
    assert default_transcripts_dir().parts[-2:] == ("shared", "llm-transcripts")


def test_good_fixture_run_is_read_and_labelled(fixture_dir):
    transcripts = load_transcripts(fixture_dir)
    assert [run.key.label for run in transcripts.runs] == ["p0.2_k5_r0"]
    run = transcripts.runs[0]
    assert run.texts.shape == (3, 3) and run.ids.shape == (4, 3)
    rose, orchid, tulip = flower("rose"), flower("orchid"), flower("tulip")
    assert run.ids.tolist() == [[rose, orchid, tulip], [rose, orchid, tulip], [rose, rose, tulip], [rose, rose, UNLABELED]]


def test_malformed_input_is_reported_with_file_and_line_and_the_rest_is_read(fixture_dir):
    transcripts = load_transcripts(fixture_dir)
    found = {(problem.file, problem.row) for problem in transcripts.problems}
    assert ("output2_5_1.csv", 3) in found  # unclosed list literal
    assert ("output2_5_1.csv", 4) in found  # a call expression: reported, never run
    assert ("output2_5_2.csv", 3) in found  # 3 columns instead of 4
    assert ("output2_5_3_2nd.csv", None) in found  # missing second file
    assert ("output_notes.csv", None) in found  # not a transcript name
    messages = " ".join(problem.message for problem in transcripts.problems)
    assert "not a Python literal" in messages and "expected 4 columns" in messages and "missing" in messages
    assert len(transcripts.runs) == 1  # the good run survives its broken neighbours


def test_missing_knowledge_bases_copy_the_first_round_and_say_so(fixture_dir):
    (fixture_dir / "RAGs.npz").unlink()
    transcripts = load_transcripts(fixture_dir)
    assert ("RAGs.npz", None) in {(p.file, p.row) for p in transcripts.problems}
    run = transcripts.runs[0]
    assert np.array_equal(run.ids[0], run.ids[1])


def test_a_truncated_first_file_before_a_second_file_is_reported(fixture_dir):
    (fixture_dir / "output2_5_0_2nd.csv").write_text(
        ",0,1,2\n0,\"['rose']\",\"['rose']\",\"['rose']\"\n", encoding="utf-8"
    )
    transcripts = load_transcripts(fixture_dir)
    assert not transcripts.runs
    assert any(p.file == "output2_5_0.csv" and "must hold 40" in p.message for p in transcripts.problems)


def test_missing_directory_raises_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_transcripts(tmp_path / "nowhere")


# --- the released transcripts -------------------------------------------------------------


def test_released_knowledge_bases_start_on_thirty_different_flowers(transcripts_dir):
    initial, problems = read_initial_flowers(transcripts_dir / "RAGs.npz")
    assert not problems
    assert sorted(initial.tolist()) == list(range(30))


def test_one_released_run_matches_values_read_by_hand(transcripts_dir):
    """output2_15_0 read by eye (see the answers' first words):

    round 0 repeats the 30 initial flowers; round 1 names 19 flowers, and only
    agents 13 (gardenia) and 22 (lavender) keep theirs; round 4 leaves orchid,
    daffodil, hibiscus, tulip and 23 chrysanthemums; round 5 orchid (agent 0),
    hibiscus (agent 11) and 28 chrysanthemums; from round 6 on every agent
    names the chrysanthemum.
    """
    transcripts = load_transcripts(transcripts_dir, keep=lambda key: key == RunKey(0.2, 15, 0))
    (run,) = transcripts.runs
    assert run.ids.shape == (81, 30)
    silos = n_silos(run.ids)
    assert silos[:8].tolist() == [30, 30, 19, silos[3], silos[4], 5, 3, 1]
    assert largest_silo(run.ids)[[5, 6]].tolist() == [23, 28]
    assert stability(run.ids)[0] == 1.0 and stability(run.ids)[1] == pytest.approx(2 / 30)
    assert run.ids[2, 20] == flower("gerbera daisy") and run.ids[1, 20] == flower("daisy")
    assert set(run.ids[6].tolist()) == {flower("orchid"), flower("hibiscus"), flower("chrysanthemum")}
    assert (run.ids[7:] == flower("chrysanthemum")).all()
    consensus = consensus_time(run.ids[None])
    assert consensus.t_star.tolist() == [6] and consensus.converged.tolist() == [True]


def test_all_released_runs_read_without_problems(transcripts_dir):
    transcripts = load_transcripts(transcripts_dir, keep=lambda key: key.replicate == 0)
    assert not transcripts.problems
    assert {(run.key.p, run.key.k) for run in transcripts.runs} == {
        (p, k) for p in (0.2, 0.5, 0.7) for k in (1, 5, 15, 25)
    }
    assert transcripts.ids().shape == (12, 81, 30)


# --- the fast path for plain cells equals ast.literal_eval -------------------------------

import ast  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from igmm.llm.transcripts import simple_list_literal  # noqa: E402


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.text(alphabet=st.sampled_from(list("ab '\"\\\n\r\x00é[],")), max_size=12), st.sampled_from(["'", '"']))
def test_fast_cell_path_agrees_with_literal_eval(inner, quote):
    cell = f"[{quote}{inner}{quote}]"
    fast = simple_list_literal(cell)
    if fast is None:
        return  # left to literal_eval
    assert [fast] == ast.literal_eval(cell)


# --- hardening: one bad file never stops the others, nothing is echoed, no link is followed out ---

import json  # noqa: E402
import os  # noqa: E402

from llm.llm_helpers import write_rags  # noqa: E402


@pytest.fixture
def good_dir(fixture_dir):
    """Only the good fixture run (3 agents, 3 rounds) and its knowledge bases."""
    for path in fixture_dir.iterdir():
        if path.name not in ("output2_5_0.csv", "output2_5_0_2nd.csv", "RAGs.npz"):
            path.unlink()
    return fixture_dir


def copy_run(directory, tag):
    for suffix in ("", "_2nd"):
        (directory / f"output{tag}{suffix}.csv").write_bytes((directory / f"output2_5_0{suffix}.csv").read_bytes())


@pytest.mark.parametrize("tag", ["999999999999999999999999_5_0", "2_999999999999999999999999_0",
                                 "2_5_999999999999999999999999", "11_5_0", "2_0_0"])
def test_names_with_out_of_range_numbers_are_reported_and_the_rest_is_read(good_dir, tag):
    copy_run(good_dir, tag)
    transcripts = load_transcripts(good_dir)
    assert [run.key.label for run in transcripts.runs] == ["p0.2_k5_r0"]
    assert {p.file for p in transcripts.problems} == {f"output{tag}.csv", f"output{tag}_2nd.csv"}
    assert all("not a usable transcript name" in p.message for p in transcripts.problems)


def test_numbers_too_long_for_int_or_float_raise_a_value_error_naming_the_rule():
    with pytest.raises(ValueError, match=r"V must be an integer in 0 \.\. 1000000000"):
        parse_run_file_name("output2_5_" + "9" * 5000 + ".csv")  # int() refuses over 4300 digits
    with pytest.raises(ValueError, match=r"P must be a number in 0 \.\. 10"):
        parse_run_file_name("output" + "9" * 400 + "_5_0.csv")  # float() gives inf


def write_bad_rags(path, kind):
    if kind == "not a zip":
        path.write_text("just text")
    elif kind == "npy inside":
        with open(path, "wb") as handle:
            np.save(handle, np.zeros(3))
    elif kind == "broken zip":
        path.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    elif kind == "wrong key":
        with open(path, "wb") as handle:
            np.savez(handle, other=np.zeros(3))
    elif kind == "wrong dtype":
        with open(path, "wb") as handle:
            np.savez(handle, arr_0=np.zeros((3, 2, 2)))
    elif kind == "pickled objects":
        with open(path, "wb") as handle:
            np.savez(handle, arr_0=np.array([[["q", "a"]]] * 3, dtype=object).reshape(3, 2, 1))
    elif kind == "wrong agent count":
        write_rags(path, n_agents=5)


@pytest.mark.parametrize("kind", ["not a zip", "npy inside", "broken zip", "wrong key", "wrong dtype",
                                  "pickled objects", "wrong agent count"])
def test_a_malformed_rags_file_is_reported_and_every_run_still_read(good_dir, kind):
    write_bad_rags(good_dir / "RAGs.npz", kind)
    transcripts = load_transcripts(good_dir)
    (run,) = transcripts.runs
    assert np.array_equal(run.ids[0], run.ids[1])  # t = 0 falls back to the first round
    (problem,) = transcripts.problems
    assert problem.file == "RAGs.npz" and "t = 0 is a copy of the first answer round" in problem.message


def test_a_run_with_another_agent_count_is_reported_and_the_others_read(good_dir):
    rows = (good_dir / "output2_5_0.csv").read_text().splitlines()
    widened = [rows[0] + ",3"] + [row + ",\"['a rose']\"" for row in rows[1:]]
    (good_dir / "output2_5_1.csv").write_text("\n".join(widened) + "\n")
    (good_dir / "output2_5_1_2nd.csv").write_text(",0,1,2,3\n")
    copy_run(good_dir, "2_5_2")
    transcripts = load_transcripts(good_dir)
    assert [run.key.replicate for run in transcripts.runs] == [0, 2]
    assert [(p.file, p.message) for p in transcripts.problems] == [
        ("output2_5_1.csv", "3 rounds x 4 agents; the other runs have 3 x 3")]


def test_symlinks_out_of_the_folder_are_reported_and_never_read(good_dir, tmp_path):
    outside = tmp_path / "outside.csv"
    outside.write_text(",0,1,2\n0,\"['SECRET-OUTSIDE rose']\",\"['rose']\",\"['rose']\"\n")
    (good_dir / "output2_5_1.csv").symlink_to(outside)
    (good_dir / "output2_5_1_2nd.csv").symlink_to(good_dir / "output2_5_0_2nd.csv")  # inside: fine
    (good_dir / "RAGs.npz").unlink()
    (good_dir / "RAGs.npz").symlink_to(write_rags(tmp_path / "RAGs.npz", n_agents=3))
    transcripts = load_transcripts(good_dir)
    assert [run.key.replicate for run in transcripts.runs] == [0]
    found = {(p.file, p.message.split(";")[0]) for p in transcripts.problems}
    assert ("output2_5_1.csv", "a symbolic link leading out of the transcripts folder") in found
    assert ("RAGs.npz", "a symbolic link leading out of the transcripts folder") in found
    assert all("SECRET" not in str(p) for p in transcripts.problems)


def test_a_fifo_named_like_a_transcript_is_reported_not_opened(good_dir):
    os.mkfifo(good_dir / "output2_5_1.csv")  # opening it would block forever
    transcripts = load_transcripts(good_dir)
    assert len(transcripts.runs) == 1
    assert ("output2_5_1.csv", "not a regular file; not read") in {(p.file, p.message) for p in transcripts.problems}


def test_messages_never_quote_the_files_content(fixture_dir):
    (fixture_dir / "output2_5_4.csv").write_text("index,zero-SECRET,one\n")
    (fixture_dir / "output2_5_4_2nd.csv").write_bytes(b",0,1,2\n0,\"['\xff SECRET']\",\"['a']\",\"['b']\"\n")
    transcripts = load_transcripts(fixture_dir)
    messages = [str(problem) for problem in transcripts.problems]
    assert any("output2_5_1.csv, line 4: agent 1: not a Python literal" in m for m in messages)
    assert any("output2_5_4.csv, line 1: header must be" in m for m in messages)
    assert any("output2_5_4_2nd.csv: not UTF-8 text" in m for m in messages)
    for fragment in ("pwned", "__import__", "SECRET", "prettiest"):
        assert all(fragment not in message for message in messages), fragment


def test_a_run_record_names_the_topic_read_at_t0(good_dir):
    rags_path = write_rags(good_dir / "RAGs.npz", n_agents=3)
    with np.load(rags_path) as archive:
        rags = archive["arr_0"].copy()
    rags[:, 1, 1] = ["Tulip.", "Tulip!", "Tulip?"]  # topic 1 names one flower for everyone
    with open(rags_path, "wb") as handle:
        np.savez(handle, arr_0=rags)
    (good_dir / "run_2_5_0.json").write_text(json.dumps({"retrieved_topics": [1, 1, 1]}))
    (run,) = load_transcripts(good_dir).runs
    assert run.ids[0].tolist() == [flower("tulip")] * 3
    (good_dir / "run_2_5_0.json").write_text(json.dumps({"retrieved_topics": [1, 7, 1]}))
    transcripts = load_transcripts(good_dir)
    assert transcripts.runs[0].ids[0].tolist() == [flower("rose"), flower("orchid"), flower("tulip")]
    assert "retrieved_topics must be 3 integers in 0 .. 2" in transcripts.problems[0].message


def test_any_labeller_can_read_a_folder(good_dir):
    from igmm.llm.labels import ListLabeller

    colours = ListLabeller(["red", "soft"])
    (run,) = load_transcripts(good_dir, labeller=colours).runs
    # t = 0 "Rose - lovely petals." names neither; round 0 agent 0 says "soft and red": soft comes first.
    assert run.ids[:2].tolist() == [[2, 2, 2], [1, 2, 2]]
