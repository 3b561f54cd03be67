"""Flower ID of an answer: which of the 30 flowers a text names first (LLM-SYSTEM.md)."""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

#: The 30 flowers, in the order of LLM-SYSTEM.md; a Flower ID is an index into this tuple.
FLOWERS: tuple[str, ...] = (
    "rose", "orchid", "tulip", "lily", "sunflower", "lotus", "peony", "hydrangea",
    "dahlia", "magnolia", "iris", "gardenia", "poppy", "hyacinth", "wisteria",
    "daffodil", "daisy", "chrysanthemum", "lavender", "carnation", "marigold",
    "hibiscus", "bluebell", "zinnia", "anemone", "azalea", "calla lily",
    "cherry blossom", "bird of paradise", "gerbera daisy",
)
#: Label of an answer that names none of the flowers (its own silo in the measures).
UNLABELED: int = len(FLOWERS)
#: Number of possible labels including :data:`UNLABELED` (``n_labels`` for silo sizes).
N_LABELS: int = len(FLOWERS) + 1


def _forms(name: str) -> set[str]:
    """Singular and plural spellings of one flower name (plural on the head noun)."""
    if name == "bird of paradise":
        return {name, "birds of paradise"}
    forms = {name, name + "s", name + "es"}  # roses, lotuses, irises, hibiscuses
    if name.endswith("y"):
        forms.add(name[:-1] + "ies")  # lilies, peonies, poppies, (gerbera) daisies
    return forms


def _normalise(text: str) -> str:
    """Lower case with every run of blanks or hyphens turned into one space."""
    return re.sub(r"[\s\-]+", " ", text.lower())


_SEPARATOR = r"[\s\-]+"  # between the words of "calla lily", "bird of paradise", ...


def _trie_regex(forms: list[str]) -> str:
    """A regex matching any of ``forms``, as a trie: shared prefixes are tried once.

    A plain alternation of the ~120 forms made each search about three times
    slower. At every node the longer continuations come first and the end of
    a shorter form is optional, so the longest form that fits wins and a
    failed longer match backtracks to the shorter one.
    """
    trie: dict = {}
    for form in forms:
        node = trie
        for char in form:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict) -> str:
        branches = [(_SEPARATOR if char == " " else re.escape(char)) + build(child)
                    for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = "(?:" + "|".join(branches) + ")"
        return body + "?" if "" in node else body

    return build(trie)


def _build_pattern() -> tuple[re.Pattern[str], dict[str, int]]:
    form_to_id = {form: index for index, name in enumerate(FLOWERS) for form in _forms(name)}
    # Letters on neither side: "prose" and "primrose" do not name a rose.
    pattern = re.compile(rf"(?<![^\W\d_]){_trie_regex(list(form_to_id))}(?![^\W\d_])", re.IGNORECASE)
    return pattern, form_to_id


_PATTERN, _FORM_TO_ID = _build_pattern()


def label_answer(text: str) -> int:
    """Flower ID of one answer.

    Rules: the flower whose name starts earliest in the text wins; at one
    start position the longer name wins ("calla lily" is not "lily",
    "gerbera daisy" is not "daisy"); matching ignores case; a name must
    stand as a whole word (no letter directly before or after it), but the
    plural forms ``+s``, ``+es`` and ``y -> ies`` (and "birds of paradise")
    count, so "roses" and "lilies" are named but "prose" and "primrose" are
    not. Words of a two- or three-word name may be separated by any blanks
    or hyphens ("cherry-blossom").

    Parameters
    ----------
    text : str
        One answer.

    Returns
    -------
    int
        Index into :data:`FLOWERS`, or :data:`UNLABELED` (30) when no flower
        is named (also for a non-string value).

    Examples
    --------
    >>> FLOWERS[label_answer("The prettiest flower is the Calla Lily, not the rose.")]
    'calla lily'
    >>> label_answer("A dazzling bloom.") == UNLABELED
    True
    """
    if not isinstance(text, str):
        return UNLABELED
    match = _PATTERN.search(text)
    if match is None:
        return UNLABELED
    return _FORM_TO_ID[_normalise(match.group(0))]


def label_answers(texts: Iterable[str] | np.ndarray) -> np.ndarray:
    """Flower IDs of many answers, keeping the array shape.

    Parameters
    ----------
    texts : array_like of str, any shape (...)

    Returns
    -------
    ndarray of int16, shape (...)
        :func:`label_answer` of every element.
    """
    array = np.asarray(texts, dtype=object)
    labels = np.fromiter((label_answer(text) for text in array.ravel()), dtype=np.int16, count=array.size)
    return labels.reshape(array.shape)
