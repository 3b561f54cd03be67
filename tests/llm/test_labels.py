"""Labellers on hand-written answers: name lists of several topics, and clustering of embeddings."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from igmm.llm.embed import hashing_embedder
from igmm.llm.flowers import FLOWERS, label_answer
from igmm.llm.labels import ClusterLabeller, Labeller, ListLabeller, cluster_vectors, name_forms

STATES = ListLabeller(["Virginia", "West Virginia", "New York", "York", "Kansas", "Arkansas"], plurals=False)
BANDS = ListLabeller(["Queen", "Queens of the Stone Age", "The Beatles", "Beatles", "AC/DC"])
COLOURS = ListLabeller(["red", "blue", "sky blue", "cherry", "peach"])
MOVIES = ListLabeller(["The Godfather", "Alien", "Aliens", "Star Wars"], plurals=False)
MATHEMATICIANS = ListLabeller(["Carl Friedrich Gauss", "Leonhard Euler", "Emmy Noether"],
                              aliases={"Carl Friedrich Gauss": ["Gauss"], "Leonhard Euler": ["Euler"]})


def named(labeller: ListLabeller, text: str) -> str:
    return labeller.label_names()[labeller.label(text)]


@pytest.mark.parametrize(
    ("labeller", "text", "expected"),
    [
        # earliest position wins
        (STATES, "West Virginia beats Virginia.", "West Virginia"),
        (STATES, "Virginia, not West Virginia.", "Virginia"),
        (COLOURS, "Blue skies over red roofs.", "blue"),
        # at one position the longer name wins
        (STATES, "New York City is the place.", "New York"),
        (COLOURS, "A sky-blue door.", "sky blue"),
        (COLOURS, "SKY   BLUE", "sky blue"),
        (BANDS, "Queens of the Stone Age rock harder.", "Queens of the Stone Age"),
        (BANDS, "The Beatles changed music.", "The Beatles"),
        (MOVIES, "Aliens is better than Alien.", "Aliens"),
        # whole words only
        (STATES, "Arkansas is home.", "Arkansas"),
        (STATES, "Yorkshire pudding, then New York.", "New York"),
        (COLOURS, "Fred wore a reddish coat, then red.", "red"),
        (COLOURS, "Bluebells are blue.", "blue"),
        (BANDS, "I like AC/DC.", "AC/DC"),
        # plurals on the head noun when enabled
        (COLOURS, "Two reds and a blue.", "red"),
        (COLOURS, "Cherries first, then peaches.", "cherry"),
        (COLOURS, "Peaches before cherries.", "peach"),
        (BANDS, "Two queens met.", "Queen"),
        (MOVIES, "The Godfathers of crime", "(none)"),  # plurals off for titles
        # aliases compete like names
        (MATHEMATICIANS, "Euler, then Carl Friedrich Gauss.", "Leonhard Euler"),
        (MATHEMATICIANS, "Gauss's law", "Carl Friedrich Gauss"),
        (MATHEMATICIANS, "Emmy Noether's theorem", "Emmy Noether"),
        (MATHEMATICIANS, "Eulerian paths", "(none)"),
    ],
)
def test_list_labels_of_several_topics(labeller, text, expected):
    assert named(labeller, text) == expected


def test_unlabeled_is_the_length_of_the_list_and_named_none():
    assert COLOURS.unlabeled == 5 and COLOURS.label("green") == 5
    assert COLOURS.label_names()[-1] == "(none)" and len(COLOURS.label_names()) == 6
    assert COLOURS.label(None) == COLOURS.unlabeled  # type: ignore[arg-type]


def test_plural_goes_on_the_head_noun():
    assert "birds of paradise" in name_forms("bird of paradise")
    assert "gerbera daisies" in name_forms("gerbera daisy")
    assert name_forms("the godfather", plurals=False) == {"the godfather"}
    assert "men of war" in name_forms("man of war") or "mans of war" in name_forms("man of war")


def test_a_name_as_written_beats_another_names_plural():
    planets = ListLabeller(["Mar", "Mars"])
    assert planets.label("Mars is red") == 1


def test_characters_that_only_case_folding_pairs_never_crash():
    # The long s matches "s" and a dotless i matches "i" under IGNORECASE, but lower() keeps them apart.
    assert FLOWERS[label_answer("The prettiest flower is the roſe.")] == "rose"
    assert FLOWERS[label_answer("An ırıs")] == "iris"


def test_labels_keep_the_array_shape():
    texts = np.array([["red", "blue"], ["nothing", "sky blue"]], dtype=object)
    labels = COLOURS.label_texts(texts)
    assert labels.dtype == np.int16 and labels.tolist() == [[0, 1], [5, 2]]


@pytest.mark.parametrize(
    ("names", "aliases", "message"),
    [
        ([], {}, "empty list"),
        (["red", "Red"], {}, "repeats 'red'"),
        (["red", "  "], {}, "non-blank"),
        (["red"], {"blue": ["azure"]}, "'blue' is not allowed: it is not one of the names"),
        (["red", "blue"], {"red": ["Blue"]}, "also a form of 'blue'"),
    ],
)
def test_bad_label_lists_are_rejected_naming_the_value(names, aliases, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ListLabeller(names, aliases=aliases)


def test_both_labellers_satisfy_the_protocol():
    assert isinstance(COLOURS, Labeller)
    assert isinstance(ClusterLabeller(hashing_embedder(), n_clusters=2), Labeller)


# --- the trie-shaped regex against the rule as written, on a list with overlapping names --------

OVERLAPPING = ListLabeller(["ab", "abc", "b c", "bc", "c of d", "d"])


def reference_label(labeller: ListLabeller, text: str) -> int:
    """Earliest match, longest at one position, letters on neither side: the plain way."""
    best = None
    for form, index in labeller.form_to_id.items():
        body = r"[\s\-]+".join(map(re.escape, form.split(" ")))
        for match in re.finditer(rf"(?<![^\W\d_])(?:{body})(?![^\W\d_])", text, re.IGNORECASE):
            key = (match.start(), -len(match.group(0)))
            if best is None or key < best[0]:
                best = (key, index)
    return labeller.unlabeled if best is None else best[1]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(["a", "b", "c", "d", "of", "s", "es", "A", "B"]), max_size=8),
       st.lists(st.sampled_from([" ", "", "-", ", "]), min_size=8, max_size=8))
def test_list_labeller_agrees_with_the_plain_rule(pieces, separators):
    text = "".join(piece + separator for piece, separator in zip(pieces, separators))
    assert OVERLAPPING.label(text) == reference_label(OVERLAPPING, text)


# --- clustering -------------------------------------------------------------------------------

ROSES = ["The prettiest flower is the rose, with velvety red petals.",
         "Roses are the loveliest flowers, red and velvety.",
         "The prettiest flower is the rose, a timeless symbol of love."]
SUNFLOWERS = ["The prettiest flower is the sunflower, tall and golden.",
              "Sunflowers are the most beautiful, turning their golden faces to the sun.",
              "The prettiest flower is the sunflower, bright and cheerful."]
PYTHON = ["The best programming language is Python, simple and readable."]


def test_cluster_numbers_follow_first_appearance():
    vectors = np.array([[5.0], [0.0], [5.1], [0.1], [9.0]])
    assert cluster_vectors(vectors, threshold=1.0).tolist() == [0, 1, 0, 1, 2]
    assert cluster_vectors(vectors, n_clusters=2).tolist() == [0, 1, 0, 1, 0]
    assert cluster_vectors(vectors[:1], threshold=1.0).tolist() == [0]


def test_hashing_clusters_follow_shared_words_and_are_consistent_across_steps():
    labeller = ClusterLabeller(hashing_embedder(), threshold=0.9)
    # Rows are steps, columns agents: the same text keeps its cluster from one step to the next.
    texts = np.array([["red apple pie", "green tea cup", "red apple tart"],
                      ["green tea cup", "green tea mug", "red apple pie"]], dtype=object)
    labels = labeller.label_texts(texts)
    assert labels.dtype == np.int16 and labels.shape == (2, 3)
    assert labels.tolist() == [[0, 1, 0], [1, 1, 0]]


def test_n_clusters_bounds_the_number_of_labels():
    texts = np.array(["apple pie", "green tea", "apple tart", "green mug", "apple pie"], dtype=object)
    labels = ClusterLabeller(hashing_embedder(), n_clusters=2).label_texts(texts)
    assert labels.tolist() == [0, 1, 0, 1, 0]
    assert ClusterLabeller(hashing_embedder(), n_clusters=1).label_texts(texts).tolist() == [0] * 5


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "exactly one of threshold and n_clusters"),
    ({"threshold": 1.0, "n_clusters": 2}, "exactly one"),
    ({"threshold": 0.0}, "threshold: 0.0 is not allowed"),
    ({"n_clusters": 0}, "n_clusters: 0 is not allowed"),
    ({"n_clusters": 2, "method": "median"}, "method: 'median' is not allowed"),
])
def test_cluster_settings_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ClusterLabeller(hashing_embedder(), **kwargs)


def test_minilm_clusters_paraphrases_by_meaning(minilm):
    texts = np.array(ROSES + SUNFLOWERS + PYTHON, dtype=object)
    three = ClusterLabeller(minilm, n_clusters=3).label_texts(texts)
    assert three.tolist() == [0, 0, 0, 1, 1, 1, 2]
    # Measured MiniLM distances: rose paraphrases 0.5-0.7 apart, rose-sunflower ~0.9, Python >= 1.3.
    two = ClusterLabeller(minilm, threshold=1.1).label_texts(texts)
    assert two.tolist() == [0, 0, 0, 0, 0, 0, 1]
