"""`igmm llm analyze` as a function: tables, ids, labels, problems and figures."""

import shutil

import numpy as np
import pandas as pd
import pytest

from igmm.llm.analyze import analyze_transcripts, select_figure_runs
from igmm.llm.flowers import UNLABELED
from igmm.tables import RUN_SCHEMA, STEP_SCHEMA




def test_fixture_analysis_writes_every_output_and_reports_the_skipped(fixture_dir, tmp_path):
    out = tmp_path / "analysis"
    result = analyze_transcripts(fixture_dir, out, figures="all")
    assert result.n_runs == 1 and not result.complete
    metrics = pd.read_parquet(out / "metrics.parquet")
    assert list(metrics.columns[:2]) == ["p", "k"] and set(STEP_SCHEMA.names) <= set(metrics.columns)
    assert metrics["n_silos"].tolist() == [3, 3, 2, 2]  # last round: rose, rose, no flower
    runs = pd.read_parquet(out / "runs.parquet")
    assert set(RUN_SCHEMA.names) <= set(runs.columns)
    assert runs[["p", "k", "replicate", "seed", "n_silos_final"]].values.tolist() == [[0.2, 5, 0, "11", 2]]
    with np.load(out / "ids.npz") as arrays:
        assert arrays["ids"].shape == (1, 4, 3) and arrays["ids"][0, -1, 2] == UNLABELED
        assert arrays["p"].tolist() == [0.2] and arrays["replicate"].tolist() == [0]
    labels = pd.read_parquet(out / "labels.parquet")
    assert labels[["n_answers", "n_unlabeled"]].values.tolist() == [[9, 1]]
    problems = pd.read_csv(out / "problems.csv")
    assert {"output2_5_1.csv", "output2_5_2.csv", "output2_5_3_2nd.csv"} <= set(problems["file"])
    assert len(problems) == len(result.problems)
    assert sorted(p.name for p in (out / "figures" / "p0.2_k5_r0").iterdir()) == ["ids.png", "silo_sizes.png", "stability.png"]
    assert not list(out.rglob(".*tmp*"))  # atomic writes leave no temporary files


def test_figure_selection_rejects_bad_values_naming_the_choices():
    with pytest.raises(ValueError, match="'all', 'none' or 'p,k,replicate'"):
        select_figure_runs([], "some")
    with pytest.raises(ValueError, match="figures: '0.2,15' is not allowed"):
        analyze_transcripts("/nonexistent", "/tmp/unused", figures="0.2,15")


def test_released_runs_give_hand_checked_tables(transcripts_dir, tmp_path):
    source = tmp_path / "released"
    source.mkdir()
    for name in ("output2_15_0.csv", "output2_15_0_2nd.csv", "output7_1_3.csv", "output7_1_3_2nd.csv", "RAGs.npz"):
        shutil.copy(transcripts_dir / name, source / name)
    result = analyze_transcripts(source, tmp_path / "out", figures="0.2,15,0")
    assert result.complete and result.n_runs == 2 and result.n_unlabeled == 0
    runs = pd.read_parquet(tmp_path / "out" / "runs.parquet").set_index(["p", "k", "replicate"])
    assert runs.loc[(0.2, 15, 0), ["converged", "t_star", "n_silos_final", "largest_silo_final"]].tolist() == [True, 6, 1, 30]
    assert not runs.loc[(0.7, 1, 3), "converged"] and runs.loc[(0.7, 1, 3), "t_star"] == 80
    metrics = pd.read_parquet(tmp_path / "out" / "metrics.parquet").set_index(["p", "k", "replicate", "t"])
    assert metrics.loc[(0.2, 15, 0, 2), "n_silos"] == 19
    assert metrics.loc[(0.2, 15, 0, 2), "stability"] == pytest.approx(2 / 30)
    assert (tmp_path / "out" / "figures" / "p0.2_k15_r0" / "ids.png").is_file()
    assert not (tmp_path / "out" / "figures" / "p0.7_k1_r3").exists()


# --- any target, polarization ------------------------------------------------------------------

from igmm.llm.analyze import analyze_target  # noqa: E402
from igmm.llm.embed import hashing_embedder  # noqa: E402
from igmm.llm.live import transcript_csv  # noqa: E402

TWO_CAMPS = [  # 3 rounds x 4 agents: two camps of identical answers, then everyone on the rose
    ["The prettiest flower is the rose.", "The prettiest flower is the rose.",
     "The prettiest flower is the tulip.", "The prettiest flower is the tulip."],
    ["The prettiest flower is the rose.", "The prettiest flower is the rose.",
     "The prettiest flower is the tulip.", "The prettiest flower is the tulip."],
    ["The prettiest flower is the rose."] * 4,
]


def write_run(folder, tag, answers):
    folder.mkdir(exist_ok=True)
    texts = np.array(answers, dtype=object)
    (folder / f"output{tag}.csv").write_text(transcript_csv(texts))
    (folder / f"output{tag}_2nd.csv").write_text(transcript_csv(texts[:0]))
    return folder


def test_an_embedder_adds_the_polarization_columns_of_the_gmm_tables(tmp_path):
    folder = write_run(tmp_path / "camps", "2_1_0", TWO_CAMPS)
    write_run(folder, "2_3_0", TWO_CAMPS)  # k = 3: every agent sees the other camp
    result = analyze_target(folder, tmp_path / "out", figures="none", embed=hashing_embedder())
    assert result.n_runs == 2
    metrics = pd.read_parquet(tmp_path / "out" / "metrics.parquet").set_index(["k", "t"])
    assert metrics.loc[1, "polarized"].tolist() == [False, True, True, False]
    assert metrics.loc[3, "polarized"].tolist() == [False] * 4
    runs = pd.read_parquet(tmp_path / "out" / "runs.parquet").set_index("k")
    assert runs.loc[1, ["t_polarized", "polarized_final"]].tolist() == [1, False]
    assert runs.loc[3, "t_polarized"] == -1
    plain = analyze_target(folder, tmp_path / "plain", figures="none")
    # Without an embedder polarization is unknown: missing values, never False.
    assert plain.n_runs == 2 and pd.read_parquet(tmp_path / "plain" / "metrics.parquet")["polarized"].isna().all()
    assert pd.read_parquet(tmp_path / "plain" / "runs.parquet")["t_polarized"].isna().all()


def test_a_table_target_is_analysed_with_its_keys_and_label_names(tmp_path):
    rows = [{"p": 0.5, "k": 1, "replicate": r, "model": "m", "t": t, "agent": a, "label": "x" if t < 2 or a else "y"}
            for r in range(2) for t in range(3) for a in range(2)]
    pd.DataFrame(rows).to_csv(tmp_path / "runs.csv", index=False)
    result = analyze_target(tmp_path / "runs.csv", tmp_path / "out", figures="0.5,1,1")
    assert result.complete and result.n_runs == 2
    runs = pd.read_parquet(tmp_path / "out" / "runs.parquet")
    assert list(runs.columns[:5]) == ["p", "k", "model", "point", "replicate"] and runs["seed"].tolist() == ["-1", "-1"]
    with np.load(tmp_path / "out" / "ids.npz") as arrays:
        assert arrays["label_names"].tolist() == ["x", "y"] and arrays["model"].tolist() == ["m", "m"]
        assert arrays["ids"][0, 2].tolist() == [1, 0]
    assert (tmp_path / "out" / "figures" / "p0.5_k1_r1_model-m" / "ids.png").is_file()


def test_nothing_is_written_when_the_source_has_no_runs_or_no_texts(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no transcripts here"):
        analyze_target(tmp_path / "empty", tmp_path / "out")
    pd.DataFrame([{"p": 0.5, "k": 1, "replicate": 0, "t": t, "agent": a, "label": 0}
                  for t in range(2) for a in range(2)]).to_csv(tmp_path / "runs.csv", index=False)
    with pytest.raises(ValueError, match="polarization needs the answers' texts"):
        analyze_target(tmp_path / "runs.csv", tmp_path / "out", embed=hashing_embedder())
    assert not (tmp_path / "out").exists()
