"""Labellers: turn answer texts into integer IDs, from a list of names or by clustering embeddings.

A labeller maps an array of answers (any shape) to an int16 array of IDs of
the same shape. Two kinds:

- :class:`ListLabeller`: the name from a given list that a text mentions
  first (earliest position, at one position the longer name, whole words,
  plurals). The flower list of the released transcripts is one configuration
  of it (:data:`LABEL_LISTS`\\ ``["flowers"]``).
- :class:`ClusterLabeller`: agglomerative clustering
  (:func:`scipy.cluster.hierarchy.linkage`) of the answers' embeddings. All
  texts passed in one call are clustered together, so one call per run keeps a
  run's labels consistent across its steps; IDs of different runs are not
  comparable (cluster 0 of one run has nothing to do with cluster 0 of
  another), which the within-run measures (silos, stability, t*) never need.

Both are pure functions of the texts (the cluster labeller also of its
embedder) and satisfy :class:`Labeller`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np

#: Name of the label of texts that name nothing (list labellers).
UNLABELED_NAME = "(none)"
#: Linkage methods accepted by :class:`ClusterLabeller` (scipy's names).
LINKAGE_METHODS = ("average", "complete", "single", "ward")
#: Largest ID an int16 trajectory holds.
MAX_ID = np.iinfo(np.int16).max

# Between the words of a multi-word name ("calla lily", "bird of paradise"): blanks or hyphens.
_SEPARATOR = r"[\s\-]+"


@runtime_checkable
class Labeller(Protocol):
    """What every labeller provides.

    Attributes
    ----------
    name : str
        Short description, recorded with analyses (e.g. ``"flowers"``).
    unlabeled : int or None
        The ID of a text that names nothing, or None when every text gets a
        real label (clustering).
    """

    name: str
    unlabeled: int | None

    def label_texts(self, texts: np.ndarray) -> np.ndarray:
        """IDs of ``texts`` (int16, same shape); texts of one call are labelled together."""

    def label_names(self, n_ids: int) -> tuple[str, ...]:
        """Name of every ID 0 .. max(n_ids, own count) - 1."""


# --- list labeller -----------------------------------------------------------------------------


def normalise_name(text: str) -> str:
    """Lower case with every run of blanks or hyphens turned into one space.

    Examples
    --------
    >>> normalise_name("Cherry-Blossom")
    'cherry blossom'
    """
    return re.sub(r"[\s\-]+", " ", text.lower()).strip()


def name_forms(name: str, plurals: bool = True) -> set[str]:
    """Spellings of one normalised name that count as naming it.

    The plural goes on the head noun: the word before the first " of " when
    there is one ("birds of paradise"), else the last word ("gerbera
    daisies"). Forms are ``+s``, ``+es`` and ``y -> ies``; a form that is not
    an English word (``"birdes of paradise"``) costs nothing, since it never
    occurs.

    Parameters
    ----------
    name : str
        Normalised (:func:`normalise_name`).
    plurals : bool
        Add the plural forms.

    Examples
    --------
    >>> sorted(name_forms("lily"))
    ['lilies', 'lily', 'lilyes', 'lilys']
    """
    if not plurals:
        return {name}
    words = name.split(" ")
    head = words.index("of", 1) - 1 if "of" in words[1:] else len(words) - 1
    endings = [words[head] + "s", words[head] + "es"]
    if words[head].endswith("y"):
        endings.append(words[head][:-1] + "ies")
    return {name} | {" ".join(words[:head] + [ending] + words[head + 1:]) for ending in endings}


def _trie_regex(forms: Iterable[str]) -> str:
    """A regex matching any of ``forms``, as a trie: shared prefixes are tried once.

    A plain alternation of the ~120 flower forms made each search about three
    times slower. At every node the continuations come before the optional end
    of a shorter form, so the longest form that fits wins and a failed longer
    match backtracks to the shorter one.
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


def _form_pattern(form: str) -> re.Pattern[str]:
    """One form on its own, with the separators and case rule of the trie."""
    return re.compile(_SEPARATOR.join(re.escape(word) for word in form.split(" ")), re.IGNORECASE)


def _validated_names(names: Sequence[str]) -> tuple[str, ...]:
    names = tuple(names)
    if not names:
        raise ValueError("labels: an empty list is not allowed: give at least one name")
    if len(names) >= MAX_ID:
        raise ValueError(f"labels: {len(names)} names is not allowed: at most {MAX_ID - 1}")
    seen: dict[str, str] = {}
    for name in names:
        if not isinstance(name, str) or not normalise_name(name):
            raise ValueError(f"labels: {name!r} is not allowed: every name must be non-blank text")
        key = normalise_name(name)
        if key in seen:
            raise ValueError(f"labels: {name!r} is not allowed: it repeats {seen[key]!r} (case and hyphens are ignored)")
        seen[key] = name
    return names


@dataclass(frozen=True, eq=False)
class ListLabeller:
    """The name from a list that a text mentions first.

    Rules: the name whose mention starts earliest in the text wins; at one
    start position the longer mention wins ("calla lily" is not "lily");
    matching ignores case; a mention must stand as a whole word (no letter
    directly before or after it), so "prose" does not mention "rose"; with
    ``plurals`` the forms of :func:`name_forms` count too; the words of a
    multi-word name may be separated by any blanks or hyphens. A text that
    mentions no name gets :attr:`unlabeled` = ``len(names)``.

    Parameters
    ----------
    names : sequence of str
        Label i is ``names[i]``; distinct after :func:`normalise_name`.
    plurals : bool
        Count plural forms (default True). Turn off for titles and proper
        names ("The Godfathers" is not "The Godfather").
    aliases : mapping of str to sequence of str, optional
        Further spellings of a name (``{"New York": ["NY"]}``), matched like
        the name itself; an alias competes by position and length like any
        other form.
    name : str
        Recorded with analyses.

    Raises
    ------
    ValueError
        For an empty list, blank or repeated names, an alias of an unknown
        name, or an alias that is also another name's form.

    Examples
    --------
    >>> colours = ListLabeller(["red", "blue", "sky blue"])
    >>> colours.label("Sky-blue walls and red doors"), colours.label("no colour")
    (2, 3)
    """

    names: tuple[str, ...]
    plurals: bool = True
    aliases: Mapping[str, Sequence[str]] = field(default_factory=dict)
    name: str = "list"
    form_to_id: dict[str, int] = field(init=False, repr=False)
    pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = _validated_names(self.names)
        object.__setattr__(self, "names", names)
        position = {normalise_name(label): index for index, label in enumerate(names)}
        form_to_id = {form: index for index, label in enumerate(names)
                      for form in name_forms(normalise_name(label), self.plurals)}
        form_to_id |= position  # a name as written beats another name's plural ("mars" vs "mar" + s)
        for label, spellings in self.aliases.items():
            if normalise_name(label) not in position:
                raise ValueError(f"aliases: {label!r} is not allowed: it is not one of the names")
            for spelling in spellings:
                for form in name_forms(normalise_name(spelling), self.plurals):
                    if form_to_id.setdefault(form, position[normalise_name(label)]) != position[normalise_name(label)]:
                        raise ValueError(f"aliases: {spelling!r} of {label!r} is not allowed: "
                                         f"it is also a form of {names[form_to_id[form]]!r}")
        object.__setattr__(self, "form_to_id", form_to_id)
        # Letters on neither side: "prose" and "primrose" do not mention a rose.
        object.__setattr__(self, "pattern", re.compile(
            rf"(?<![^\W\d_]){_trie_regex(form_to_id)}(?![^\W\d_])", re.IGNORECASE))

    @property
    def unlabeled(self) -> int:
        """ID of a text that names none of the names: ``len(names)``."""
        return len(self.names)

    def label_names(self, n_ids: int = 0) -> tuple[str, ...]:
        """The names, then ``"(none)"`` for :attr:`unlabeled`; ``n_ids`` is ignored (the list is fixed)."""
        return self.names + (UNLABELED_NAME,)

    def _form_of(self, mention: str) -> int:
        """ID of a matched mention.

        Normalising the match finds its form, except where case-insensitive
        matching pairs characters that ``lower`` keeps apart (the long s "ſ"
        matches "s"; a dotless "ı" matches "i"): then each form is tried on
        its own, which the trie's match guarantees to succeed.
        """
        found = self.form_to_id.get(normalise_name(mention))
        if found is not None:
            return found
        for form, index in self.form_to_id.items():
            if _form_pattern(form).fullmatch(mention):
                return index
        return self.unlabeled  # unreachable: the trie matched one of the forms

    def label(self, text: str) -> int:
        """ID of one text (:attr:`unlabeled` for a non-string or a text naming nothing)."""
        if not isinstance(text, str):
            return self.unlabeled
        match = self.pattern.search(text)
        return self.unlabeled if match is None else self._form_of(match.group(0))

    def label_texts(self, texts: Iterable[str] | np.ndarray) -> np.ndarray:
        """IDs of many texts, keeping the array shape.

        Parameters
        ----------
        texts : array_like of str, any shape (...)

        Returns
        -------
        ndarray of int16, shape (...)
        """
        array = np.asarray(texts, dtype=object)
        labels = np.fromiter((self.label(text) for text in array.ravel()), dtype=np.int16, count=array.size)
        return labels.reshape(array.shape)


# --- cluster labeller --------------------------------------------------------------------------


def cluster_vectors(vectors: np.ndarray, threshold: float | None = None, n_clusters: int | None = None,
                    method: str = "average") -> np.ndarray:
    """Agglomerative clusters of vectors, numbered 0, 1, ... in order of first appearance.

    Parameters
    ----------
    vectors : ndarray of float, shape (n_texts, dim)
    threshold : float, optional
        Cut the tree where clusters are farther apart than this (scipy's
        ``criterion="distance"``: cophenetic distance, in the units of the
        Euclidean distance between vectors).
    n_clusters : int, optional
        Cut the tree into at most this many clusters (``criterion="maxclust"``).
        Exactly one of ``threshold`` and ``n_clusters`` is given.
    method : {"average", "complete", "single", "ward"}
        Linkage (:func:`scipy.cluster.hierarchy.linkage`), Euclidean metric.

    Returns
    -------
    ndarray of int16, shape (n_texts,)
        Cluster of each vector; the first vector is in cluster 0, the first
        vector outside it in cluster 1, and so on, so the numbering does not
        depend on scipy's.

    Examples
    --------
    >>> cluster_vectors(np.array([[0.0], [5.0], [0.1]]), threshold=1.0).tolist()
    [0, 1, 0]
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    vectors = np.asarray(vectors, dtype=np.float64)
    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=np.int16)  # linkage needs two observations
    tree = linkage(vectors, method=method, metric="euclidean")
    if threshold is not None:
        raw = fcluster(tree, t=threshold, criterion="distance")
    else:
        raw = fcluster(tree, t=n_clusters, criterion="maxclust")
    _, first_seen, inverse = np.unique(raw, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first_seen))  # cluster -> order of its first member
    return rank[inverse].astype(np.int16)


@dataclass(frozen=True, eq=False)
class ClusterLabeller:
    """Labels from clustering the embeddings of all texts passed together.

    Each distinct text is embedded and clustered once (a text repeated by many
    agents does not weigh more in the tree); equal texts share a label.

    Parameters
    ----------
    embed : callable
        ``embed(texts)``: a sequence of n str to float vectors of shape
        (n, dim), e.g. an :class:`igmm.llm.embed.Embedder`.
    threshold : float, optional
        Distance at which the tree is cut (> 0); see :func:`cluster_vectors`.
    n_clusters : int, optional
        Number of clusters at most (>= 1). Exactly one of the two.
    method : {"average", "complete", "single", "ward"}

    Raises
    ------
    ValueError
        When neither or both of ``threshold`` and ``n_clusters`` are given,
        or one is out of range.
    """

    embed: Callable[[Sequence[str]], np.ndarray]
    threshold: float | None = None
    n_clusters: int | None = None
    method: Literal["average", "complete", "single", "ward"] = "average"
    unlabeled: None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if (self.threshold is None) == (self.n_clusters is None):
            raise ValueError("clustering: give exactly one of threshold and n_clusters")
        if self.threshold is not None and not (np.isfinite(self.threshold) and self.threshold > 0):
            raise ValueError(f"threshold: {self.threshold!r} is not allowed: must be a finite number > 0")
        if self.n_clusters is not None and not 1 <= self.n_clusters <= MAX_ID:
            raise ValueError(f"n_clusters: {self.n_clusters!r} is not allowed: must be in 1 .. {MAX_ID}")
        if self.method not in LINKAGE_METHODS:
            raise ValueError(f"method: {self.method!r} is not allowed: choose one of {', '.join(LINKAGE_METHODS)}")

    @property
    def name(self) -> str:
        """E.g. ``"clustering(hashing-256, average, threshold=0.8)"``."""
        cut = f"threshold={self.threshold:g}" if self.threshold is not None else f"n_clusters={self.n_clusters}"
        return f"clustering({getattr(self.embed, 'name', 'embedder')}, {self.method}, {cut})"

    def label_names(self, n_ids: int) -> tuple[str, ...]:
        """``"cluster 0"`` .. ``"cluster {n_ids - 1}"``."""
        return tuple(f"cluster {index}" for index in range(n_ids))

    def label_texts(self, texts: Iterable[str] | np.ndarray) -> np.ndarray:
        """Cluster IDs of texts clustered together, keeping the array shape.

        Parameters
        ----------
        texts : array_like of str, any shape (...)
            Non-strings are read as empty texts.

        Returns
        -------
        ndarray of int16, shape (...)
            Numbered by first appearance of each cluster in row-major order.
        """
        array = np.asarray(texts, dtype=object)
        flat = [text if isinstance(text, str) else "" for text in array.ravel()]
        unique, first_seen, inverse = np.unique(np.array(flat, dtype=object).astype(str), return_index=True,
                                                return_inverse=True)
        # Cluster the distinct texts in order of first appearance, so cluster 0 holds the first text.
        order = np.argsort(first_seen)
        vectors = np.asarray(self.embed([str(text) for text in unique[order]]), dtype=np.float64)
        clusters_in_order = cluster_vectors(vectors, self.threshold, self.n_clusters, self.method)
        clusters = np.empty(len(unique), dtype=np.int16)
        clusters[order] = clusters_in_order
        return clusters[inverse.reshape(-1)].reshape(array.shape)
