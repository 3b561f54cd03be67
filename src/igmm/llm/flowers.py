"""Flower ID of an answer: which of the 30 flowers a text names first.

The flower list of the released transcripts as one configuration of
:class:`igmm.llm.labels.ListLabeller`; this module keeps the names its
callers use (``FLOWERS``, ``UNLABELED``, ``N_LABELS``, ``label_answer``,
``label_answers``).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from igmm.llm.labels import ListLabeller

#: The 30 flowers of the released transcripts; a Flower ID is an index into this tuple.
FLOWERS: tuple[str, ...] = (
    "rose", "orchid", "tulip", "lily", "sunflower", "lotus", "peony", "hydrangea",
    "dahlia", "magnolia", "iris", "gardenia", "poppy", "hyacinth", "wisteria",
    "daffodil", "daisy", "chrysanthemum", "lavender", "carnation", "marigold",
    "hibiscus", "bluebell", "zinnia", "anemone", "azalea", "calla lily",
    "cherry blossom", "bird of paradise", "gerbera daisy",
)
#: The flower labeller: earliest name wins, at one position the longer one, whole words, plurals.
FLOWER_LABELLER = ListLabeller(FLOWERS, plurals=True, name="flowers")
#: Label of an answer that names none of the flowers (its own silo in the measures).
UNLABELED: int = FLOWER_LABELLER.unlabeled
#: Number of possible labels including :data:`UNLABELED` (``n_labels`` for silo sizes).
N_LABELS: int = len(FLOWERS) + 1
# Every spelling that counts (singular and plural forms) -> Flower ID; the tests check the regex against it.
_FORM_TO_ID = FLOWER_LABELLER.form_to_id


def label_answer(text: str) -> int:
    """Flower ID of one answer.

    Rules (:class:`~igmm.llm.labels.ListLabeller`): the flower whose name
    starts earliest in the text wins; at one start position the longer name
    wins ("calla lily" is not "lily", "gerbera daisy" is not "daisy");
    matching ignores case; a name must stand as a whole word (no letter
    directly before or after it), but the plural forms ``+s``, ``+es`` and
    ``y -> ies`` (and "birds of paradise") count, so "roses" and "lilies" are
    named but "prose" and "primrose" are not. Words of a two- or three-word
    name may be separated by any blanks or hyphens ("cherry-blossom").

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
    return FLOWER_LABELLER.label(text)


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
    return FLOWER_LABELLER.label_texts(texts)
