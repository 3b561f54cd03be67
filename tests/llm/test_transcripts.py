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
