"""Targets: transcripts of any topic, label lists or clusters, and tidy tables, as ID trajectories."""

import numpy as np
import pandas as pd
import pytest

from igmm.llm.embed import hashing_embedder
from igmm.llm.flowers import FLOWERS, UNLABELED
from igmm.llm.labels import ClusterLabeller
from igmm.llm.live import transcript_csv
from igmm.llm.targets import TargetRun, load_target, read_table, table_labels
from igmm.llm.transcripts import load_transcripts

COLOUR_ANSWERS = [  # 3 rounds x 3 agents
    ["My favourite colour is red.", "My favourite colour is blue.", "Green, like grass."],
    ["My favourite colour is red.", "Red, surely.", "Light-blue skies."],
    ["Reds everywhere.", "Red.", "A deep red."],
]


def write_colour_folder(folder, tag="5_2_0", answers=COLOUR_ANSWERS):
    """A transcripts folder on another topic: 3 agents, colour answers, knowledge bases on colours."""
    folder.mkdir(exist_ok=True)
    texts = np.array(answers, dtype=object)
    (folder / f"output{tag}.csv").write_text(transcript_csv(texts))
    (folder / f"output{tag}_2nd.csv").write_text(transcript_csv(texts[:0]))
    rags = np.array([[["Which colour do you like?"], [answer]] for answer in ("Blue.", "Blue!", "Green.")])
    with open(folder / "RAGs.npz", "wb") as handle:
        np.savez(handle, arr_0=rags)
    return folder


# --- transcripts --------------------------------------------------------------------------------


def test_transcripts_become_target_runs_with_keys_seed_and_label_names(fixture_dir):
    target = load_target(fixture_dir)
    (run,) = target.runs
    assert run.keys == {"p": 0.2, "k": 5, "replicate": 0} and run.seed == 11
    assert run.ids.dtype == np.int16 and run.ids.shape == (4, 3) and run.texts.shape == (3, 3)
    assert target.label_names == FLOWERS + ("(none)",) and target.unlabeled == UNLABELED
    assert target.labeller == "flowers" and target.problems  # the fixture's broken runs
    assert list(target.cells()) == [(0.2, 5)] and target.cells()[(0.2, 5)].shape == (1, 4, 3)


def test_cells_stack_the_released_runs_by_replicate(transcripts_dir):
    target = load_target(transcripts_dir, keep=lambda keys: keys["replicate"] in (3, 1) and keys["k"] == 25)
    cells = target.cells()
    assert sorted(cells) == [(0.2, 25), (0.5, 25), (0.7, 25)]
    reference = load_transcripts(transcripts_dir, keep=lambda key: key.k == 25 and key.replicate in (1, 3))
    for (p, k), ids in cells.items():
        assert ids.shape == (2, 81, 30)
        assert np.array_equal(ids, np.stack([run.ids for run in reference.select(p, k)]))


def test_transcripts_of_another_topic_with_a_label_list(tmp_path):
    target = load_target(write_colour_folder(tmp_path / "colours"), labels=["red", "blue", "green"])
    (run,) = target.runs
    # t = 0 from the knowledge bases; "Light-blue" names blue as a whole word; "Reds" is a plural.
    assert run.ids.tolist() == [[1, 1, 2], [0, 1, 2], [0, 0, 1], [0, 0, 0]]
    assert target.label_names == ("red", "blue", "green", "(none)") and not target.problems


def test_transcripts_labelled_by_clusters_are_consistent_within_a_run(tmp_path):
    answers = [["red apple pie", "green tea cup", "red apple tart"],
               ["green tea cup", "green tea mug", "red apple pie"]]
    folder = write_colour_folder(tmp_path / "clusters", answers=answers)
    rags = np.array([[["q"], [text]] for text in ("red apple", "green tea", "green tea")])
    with open(folder / "RAGs.npz", "wb") as handle:
        np.savez(handle, arr_0=rags)
    target = load_target(folder, labels=ClusterLabeller(hashing_embedder(), threshold=0.9))
    (run,) = target.runs
    assert run.ids.tolist() == [[0, 1, 1], [0, 1, 0], [1, 1, 0]]
    assert target.label_names == ("cluster 0", "cluster 1") and target.unlabeled is None


def test_a_folder_without_transcripts_is_an_error_naming_it(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing here")
    with pytest.raises(ValueError, match="no transcripts here"):
        load_target(tmp_path)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"format": "xml"}, "format: 'xml' is not allowed: choose one of auto, transcripts, table"),
    ({"labels": "trees"}, "labels: 'trees' is not allowed: choose one of flowers"),
    ({"labels": ["red", "RED"]}, "repeats 'red'"),
])
def test_bad_arguments_are_one_line_errors(fixture_dir, kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_target(fixture_dir, **kwargs)


def test_a_source_that_is_neither_folder_nor_table_is_refused(tmp_path):
    (tmp_path / "runs.txt").write_text("x")
    with pytest.raises(ValueError, match="give a transcripts folder or a table ending in .csv"):
        load_target(tmp_path / "runs.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_target(tmp_path / "nowhere.csv")


# --- tables -------------------------------------------------------------------------------------


def tidy(ids_by_run: dict, texts: dict | None = None) -> pd.DataFrame:
    """Rows p, k, replicate, t, agent, label (and text) from {(p, k, replicate): labels (T + 1, n)}."""
    rows = []
    for (p, k, replicate), labels in ids_by_run.items():
        for t, row in enumerate(labels):
            for agent, label in enumerate(row):
                record = {"p": p, "k": k, "replicate": replicate, "t": t, "agent": agent, "label": label}
                if texts is not None:
                    record["text"] = texts[(p, k, replicate)][t][agent]
                rows.append(record)
    return pd.DataFrame(rows)


def test_a_csv_table_with_string_labels_maps_sorted_names_to_ids(tmp_path):
    frame = tidy({(0.5, 1, 1): [["tulip", "rose"], ["rose", "rose"]],
                  (0.5, 1, 0): [["rose", "daisy"], ["rose", "rose"]]})
    frame.sample(frac=1.0, random_state=0).to_csv(tmp_path / "runs.csv", index=False)  # row order must not matter
    target = load_target(tmp_path / "runs.csv")
    assert target.label_names == ("daisy", "rose", "tulip") and target.labeller == "table"
    assert [run.replicate for run in target.runs] == [0, 1]
    assert target.cells()[(0.5, 1)].tolist() == [[[1, 0], [1, 1]], [[2, 1], [1, 1]]]
    assert all(run.texts is None and run.seed == -1 for run in target.runs)


def test_a_parquet_table_with_integer_labels_extra_keys_and_texts(tmp_path):
    frame = tidy({(0.2, 1, 0): [[0, 3], [3, 3], [3, 3]]},
                 texts={(0.2, 1, 0): [["", ""], ["b", "b"], ["c", "c"]]})
    frame = pd.concat([frame.assign(model="m1"), frame.assign(model="m2", label=frame["label"].replace(3, 4))])
    frame.to_parquet(tmp_path / "runs.parquet")
    target = load_target(tmp_path / "runs.parquet")
    assert [run.keys for run in target.runs] == [{"p": 0.2, "k": 1, "replicate": 0, "model": "m1"},
                                                 {"p": 0.2, "k": 1, "replicate": 0, "model": "m2"}]
    assert target.label_names == ("0", "1", "2", "3", "4")
    assert target.runs[1].ids.tolist() == [[0, 4], [4, 4], [4, 4]]
    assert target.runs[0].texts.tolist() == [["b", "b"], ["c", "c"]]  # t = 0 is not an answer round
    assert target.runs[0].label == "p0.2_k1_r0_model-m1"
    assert target.cells()[(0.2, 1)].shape == (2, 3, 2)


def test_bad_rows_leave_only_their_run_out_and_are_reported_by_row(tmp_path):
    frame = tidy({(0.5, 1, 0): [[0, 1], [1, 1]], (0.5, 1, 1): [[0, 1], [0, 0]], (0.5, 1, 2): [[1, 1], [0, 1]]})
    frame = frame.astype(object)
    frame.loc[5, "t"] = "-1"       # run 1, data row 6 -> line 7
    frame.loc[9, "label"] = ""     # run 2, data row 10 -> line 11
    frame.to_csv(tmp_path / "runs.csv", index=False)
    target = read_table(tmp_path / "runs.csv")
    assert [run.replicate for run in target.runs] == [0]
    assert [(p.row, p.message) for p in target.problems] == [
        (7, "column t: must be an integer >= 0; its run is left out"),
        (11, "column label: must be a label (an integer in 0 .. 32766, or a name); its run is left out")]


def test_repeated_or_missing_steps_leave_the_run_out(tmp_path):
    frame = tidy({(0.5, 1, 0): [[0, 1], [1, 1]], (0.5, 1, 1): [[0, 1], [0, 0]], (0.5, 1, 2): [[1, 1], [0, 1]]})
    frame = pd.concat([frame, frame.iloc[[4]]], ignore_index=True)  # run 1, t = 0, agent 0 twice
    frame = frame.drop(index=11)  # run 2 loses t = 1, agent 1
    frame.to_csv(tmp_path / "runs.csv", index=False)
    target = read_table(tmp_path / "runs.csv")
    assert [run.replicate for run in target.runs] == [0]
    messages = [str(problem) for problem in target.problems]
    assert "a second row for t = 0, agent 0" in messages[0] and "run p0.5_k1_r1" in messages[0]
    assert "run p0.5_k1_r2: has 3 rows" in messages[1]


def test_runs_of_another_length_are_reported(tmp_path):
    frame = tidy({(0.5, 1, 0): [[0, 1], [1, 1]], (0.5, 1, 1): [[0, 1], [1, 1]], (0.5, 1, 2): [[0, 1], [1, 1], [1, 1]]})
    frame.to_csv(tmp_path / "runs.csv", index=False)
    target = read_table(tmp_path / "runs.csv")
    assert [run.replicate for run in target.runs] == [0, 1]
    assert "run p0.5_k1_r2: T = 2 and 2 agents; the other runs have T = 1 and 2" in str(target.problems[0])


@pytest.mark.parametrize(("content", "message"), [
    ("p,k,replicate,t,agent\n0.5,1,0,0,0\n", "missing column(s) label"),
    ("p,k,replicate,t,agent,label\n", "the table has no rows"),
])
def test_unusable_tables_are_one_line_errors(tmp_path, content, message):
    (tmp_path / "runs.csv").write_text(content)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_target(tmp_path / "runs.csv")


def test_a_corrupt_parquet_file_is_a_one_line_error(tmp_path):
    (tmp_path / "runs.parquet").write_bytes(b"PAR1 not really parquet")
    with pytest.raises(ValueError, match=r"runs.parquet: not a readable parquet table \(\w+\)"):
        load_target(tmp_path / "runs.parquet")


def test_labels_are_not_allowed_with_a_table(tmp_path):
    tidy({(0.5, 1, 0): [[0, 1], [1, 1]]}).to_csv(tmp_path / "runs.csv", index=False)
    with pytest.raises(ValueError, match="labels: not allowed with a table"):
        load_target(tmp_path / "runs.csv", labels="flowers")


@pytest.mark.parametrize(("values", "expected_ids", "expected_names"), [
    ([2, 0, "1"], [2, 0, 1], ("0", "1", "2")),
    (["b", "a", 3], [2, 1, 0], ("3", "a", "b")),  # one name makes every label a name
    ([1.0, 0.0, 1.0], [1, 0, 1], ("0", "1")),
])
def test_the_label_rule(values, expected_ids, expected_names):
    ids, names, bad = table_labels(pd.Series(values, dtype=object))
    assert ids.tolist() == expected_ids and names == expected_names and not bad.any()


def test_integer_labels_out_of_range_are_bad_rows():
    ids, _, bad = table_labels(pd.Series([0, 40000, -1]))
    assert bad.tolist() == [False, True, True] and ids[0] == 0


def test_target_run_label_is_a_safe_folder_name():
    run = TargetRun(keys={"p": 0.25, "k": 3, "replicate": 1, "model": "a/b c"}, ids=np.zeros((2, 2), np.int16))
    assert run.label == "p0.25_k3_r1_model-a-b-c" and run.n_steps == 1 and run.n_agents == 2


@pytest.mark.slow
def test_minilm_clusters_of_a_released_run_reproduce_its_flower_silos(transcripts_dir, tmp_path, minilm):
    """Average linkage cut at 0.5 on MiniLM embeddings against the flower list, on one run (about 10 s).

    Measured when written: every cluster holds a single flower (purity 1.000) and S(t) of the two
    labellings agrees at 80 of 81 steps, never by more than one silo.
    """
    for suffix in ("", "_2nd"):
        (tmp_path / f"output7_1_3{suffix}.csv").write_bytes((transcripts_dir / f"output7_1_3{suffix}.csv").read_bytes())
    (tmp_path / "RAGs.npz").write_bytes((transcripts_dir / "RAGs.npz").read_bytes())
    (flowers,) = load_target(tmp_path).runs
    (clusters,) = load_target(tmp_path, labels=ClusterLabeller(minilm, threshold=0.5)).runs
    answers_f, answers_c = flowers.ids[1:].ravel(), clusters.ids[1:].ravel()
    purity = sum(np.bincount(answers_f[answers_c == c]).max() for c in np.unique(answers_c)) / answers_f.size
    assert purity > 0.99
    from igmm.metrics import n_silos

    difference = np.abs(n_silos(flowers.ids) - n_silos(clusters.ids))
    assert difference.max() <= 1 and (difference == 0).mean() > 0.95
    assert n_silos(flowers.ids)[-1] == n_silos(clusters.ids)[-1] == 8
