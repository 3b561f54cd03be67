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


# --- the trie-shaped regex against a plain alternation (the rule as written) ---------------

import re  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from igmm.llm.flowers import _FORM_TO_ID  # noqa: E402


def reference_label(text: str) -> int:
    """Earliest match, longest form at one position, letters on neither side: the plain way."""
    best = None
    for form, index in _FORM_TO_ID.items():
        body = r"[\s\-]+".join(map(re.escape, form.split(" ")))
        for match in re.finditer(rf"(?<![^\W\d_])(?:{body})(?![^\W\d_])", text, re.IGNORECASE):
            key = (match.start(), -len(match.group(0)))
            if best is None or key < best[0]:
                best = (key, index)
    return UNLABELED if best is None else best[1]


PIECES = list(_FORM_TO_ID) + ["The", "prettiest", "is", "the", "calla", "gerbera", "prose", "paradise", "bird",
                              "cherry", "x", "lil", "ROSE", "Lily", "-", "2", "_"]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(PIECES), max_size=8), st.lists(st.sampled_from([" ", "", "-", ", ", "  "]), min_size=8, max_size=8))
def test_fast_labeller_agrees_with_the_plain_rule(pieces, separators):
    text = "".join(piece + separator for piece, separator in zip(pieces, separators))
    assert label_answer(text) == reference_label(text)
