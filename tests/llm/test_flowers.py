"""Flower labelling on hand-written tricky sentences."""

import numpy as np
import pytest

from igmm.llm.flowers import FLOWERS, N_LABELS, UNLABELED, label_answer, label_answers


def flower(name: str) -> int:
    return FLOWERS.index(name)


def test_the_list_has_thirty_distinct_flowers_and_unlabeled_is_thirty():
    assert len(FLOWERS) == 30 and len(set(FLOWERS)) == 30
    assert UNLABELED == 30 and N_LABELS == 31


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The prettiest flower is the calla lily, elegant and pure.", "calla lily"),
        ("The prettiest flower is the gerbera daisy, bright as the sun.", "gerbera daisy"),
        ("The prettiest flower is the daisy, simple and charming.", "daisy"),
        ("The prettiest flower is the lily, graceful and fragrant.", "lily"),
        ("The prettiest flower is the Bird of Paradise.", "bird of paradise"),
        ("The prettiest flower is the CHERRY BLOSSOM!", "cherry blossom"),
        ("Cherry-blossom season is the loveliest.", "cherry blossom"),
        ("The prettiest flower is the tulip, though some prefer the rose.", "tulip"),
        ("Some prefer roses, but the prettiest flower is the tulip.", "rose"),
        ("Calla lilies outshine every lily.", "calla lily"),
        ("Gerbera daisies beat plain daisies.", "gerbera daisy"),
        ("Irises and peonies", "iris"),
        ("The rose's petals", "rose"),
        ("Lotuses float on ponds.", "lotus"),
        ("sunflower fields", "sunflower"),
    ],
)
def test_earliest_then_longest_name_wins(text, expected):
    assert label_answer(text) == flower(expected)


@pytest.mark.parametrize(
    "text",
    ["", "The prettiest flower is a matter of taste.", "Good prose about a primrose.",
     "Irish tulipwood furniture", "a dazzling bloom", "mums and asters"],
)
def test_no_listed_flower_is_unlabeled(text):
    assert label_answer(text) == UNLABELED


def test_sunflower_is_not_read_as_a_bare_flower_word_and_lily_not_inside_calla_lily():
    assert label_answer("the sunflower") != UNLABELED
    assert label_answer("calla lily") != flower("lily")


def test_non_string_is_unlabeled():
    assert label_answer(None) == UNLABELED  # type: ignore[arg-type]


def test_label_answers_keeps_shape_and_matches_single_calls():
    texts = np.array([["a rose", "no flower"], ["Calla Lily", "daisy chain"]], dtype=object)
    labels = label_answers(texts)
    assert labels.shape == (2, 2) and labels.dtype == np.int16
    expected = [[label_answer(t) for t in row] for row in texts]
    assert labels.tolist() == expected == [[0, UNLABELED], [flower("calla lily"), flower("daisy")]]
