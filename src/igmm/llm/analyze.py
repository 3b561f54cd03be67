"""`igmm llm analyze`: the GMM's tables and figures for any target system.

Output folder
-------------
``metrics.parquet`` and ``runs.parquet``
    Built by :mod:`igmm.tables` with the run keys (``p``, ``k``, any further
    keys) and the replicate, so they have the GMM's columns. The ``seed``
    column holds the run's sampling seed (11 + replicate for transcripts, -1
    when unknown); ``spawn_key`` is empty (no SeedSequence was involved).
    With an embedder, ``metrics.parquet`` gains ``polarized`` and
    ``runs.parquet`` ``polarized_final`` and ``t_polarized`` (-1: never), as
    the GMM's tables have them (:mod:`igmm.llm.measures`).
``ids.npz``
    ``ids`` int16 of shape (n_runs, n_steps + 1, n_agents), the arrays ``p``,
    ``k``, ``replicate`` (and one per further key) of shape (n_runs,), in the
    row order of ``runs.parquet``; ``label_names`` the name of every ID;
    ``labeller`` what produced the IDs.
``labels.parquet``
    Per run: answers, answers naming no label, distinct labels named.
``problems.csv``
    ``file, row, message`` for everything skipped (header only when nothing was).
``figures/<p…_k…_r…>/``
    ``ids.png``, ``silo_sizes.png``, ``stability.png`` per run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from igmm import storage
from igmm.llm.labels import Labeller
from igmm.llm.targets import BASE_KEYS, TargetRun, TargetSet, load_target
from igmm.llm.transcripts import SAMPLING_SEED_OFFSET, Problem
from igmm.tables import runs_table, steps_table

__all__ = ["SAMPLING_SEED_OFFSET", "AnalysisResult", "analyze_target", "analyze_transcripts", "labels_table",
           "llm_tables", "polarization_by_run", "problems_table", "select_figure_runs", "write_analysis",
           "write_csv", "write_run_figures"]


@dataclass(frozen=True)
class AnalysisResult:
    """What :func:`write_analysis` read and wrote.

    Attributes
    ----------
    out_dir : Path
    n_runs : int
        Runs analysed.
    problems : tuple of Problem
        Input that was skipped; empty when everything was read.
    n_unlabeled : int
        Answers naming no label, over all runs (0 for labels without such an ID).
    written : tuple of Path
    """

    out_dir: Path
    n_runs: int
    problems: tuple[Problem, ...]
    n_unlabeled: int
    written: tuple[Path, ...]

    @property
    def complete(self) -> bool:
        """True when nothing was skipped."""
        return not self.problems


def _keys_of(run) -> dict:
    """Keys of a :class:`TargetRun` (or of a transcripts ``LLMRun``, which has the same ``keys``)."""
    return dict(run.keys)


def _seed_of(run) -> int:
    seed = getattr(run, "seed", None)
    return SAMPLING_SEED_OFFSET + _keys_of(run)["replicate"] if seed is None else seed


def _groups(runs: Sequence) -> dict[tuple, list[int]]:
    """Indices of runs grouped by every key but the replicate, in first-seen order."""
    groups: dict[tuple, list[int]] = {}
    for index, run in enumerate(runs):
        cell = tuple((name, value) for name, value in _keys_of(run).items() if name != "replicate")
        groups.setdefault(cell, []).append(index)
    return groups


def llm_tables(runs: Sequence[TargetRun], polarized: Sequence[np.ndarray] | None = None
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``metrics.parquet`` and ``runs.parquet`` tables of target runs.

    Parameters
    ----------
    runs : sequence of TargetRun
        All with the same (n_steps, n_agents). Transcript ``LLMRun`` objects work too.
    polarized : sequence of ndarray of bool, shape (n_steps + 1,), optional
        Per-step polarization of each run; adds ``polarized`` to the metrics
        and ``polarized_final``, ``t_polarized`` to the runs table.

    Returns
    -------
    metrics, runs : DataFrame
        The schemas of :func:`igmm.tables.steps_table` and
        :func:`igmm.tables.runs_table` with the run keys first (``point`` holds them as text).
    """
    metrics_parts, runs_parts = [], []
    for cell, members in _groups(runs).items():
        ids = np.stack([runs[index].ids for index in members])
        replicates = [_keys_of(runs[index])["replicate"] for index in members]
        keys = dict(cell)
        point = ",".join(f"{name}={value}" for name, value in keys.items())
        series = None if polarized is None else {"polarized": np.stack([polarized[index] for index in members])}
        metrics_parts.append(_with_keys(steps_table(ids, series, replicates, point), keys))
        cell_runs = runs_table(ids, series, replicates=replicates, point=point)
        cell_runs["seed"] = [str(_seed_of(runs[index])) for index in members]
        runs_parts.append(_with_keys(cell_runs, keys))
    return pd.concat(metrics_parts, ignore_index=True), pd.concat(runs_parts, ignore_index=True)


def _with_keys(frame: pd.DataFrame, keys: dict) -> pd.DataFrame:
    """The run keys (p, k, ...) as the first columns."""
    for position, (name, value) in enumerate(keys.items()):
        frame.insert(position, name, value)
    return frame


def labels_table(target: TargetSet) -> pd.DataFrame:
    """How the answers of each run were labelled.

    Returns
    -------
    DataFrame
        Columns: the run keys, then ``n_answers, n_unlabeled,
        share_unlabeled, n_labels_named`` (answer rounds only: t = 0 comes
        from the initial state, not from an answer; ``n_unlabeled`` is 0 when
        the labels have no "none" ID).
    """
    key_names = list(dict.fromkeys(name for run in target.runs for name in run.keys)) or list(BASE_KEYS)
    rows = []
    for run in target.runs:
        answer_ids = run.ids[1:]
        unlabeled = answer_ids == target.unlabeled if target.unlabeled is not None else np.zeros_like(answer_ids, bool)
        n_unlabeled = int(np.count_nonzero(unlabeled))
        rows.append(run.keys | {
            "n_answers": int(answer_ids.size), "n_unlabeled": n_unlabeled,
            "share_unlabeled": n_unlabeled / answer_ids.size,
            "n_labels_named": int(np.unique(answer_ids[~unlabeled]).size),
        })
    return pd.DataFrame(rows, columns=key_names + ["n_answers", "n_unlabeled", "share_unlabeled", "n_labels_named"])


def problems_table(problems: Sequence[Problem]) -> pd.DataFrame:
    """Problems as a table with columns ``file, row, message`` (row empty for whole files)."""
    frame = pd.DataFrame([(p.file, p.row, p.message) for p in problems], columns=["file", "row", "message"])
    frame["row"] = frame["row"].astype("Int64")
    return frame


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a DataFrame as CSV (no index), atomically."""
    with storage.atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return Path(path)


def _title(run: TargetRun) -> str:
    extra = "".join(f", {name} = {value}" for name, value in run.keys.items() if name not in BASE_KEYS)
    return f"target, p = {run.p:g}, k = {run.k}, replicate {run.replicate}{extra}"


def write_run_figures(run: TargetRun, out_dir: str | os.PathLike, n_labels: int, unlabeled: int | None = None,
                      formats: Sequence[str] = ("png",)) -> list[Path]:
    """``ids``, ``silo_sizes`` and ``stability`` figures of one run (the GMM's figures of :mod:`igmm.plots`).

    Parameters
    ----------
    run : TargetRun
    out_dir : path-like
    n_labels : int
        Number of IDs (for the silo sizes).
    unlabeled : int, optional
        The "none" ID, named on the y axis.
    """
    from igmm.plots import plot_ids, plot_silo_sizes, plot_stability, save_figure

    out_dir = Path(out_dir)
    ids_figure = plot_ids(run.ids, title=_title(run), n_labels=n_labels)  # same colour per silo as the sizes panel
    none = f"; {unlabeled} = none" if unlabeled is not None else ""
    ids_figure.axes[0].set_ylabel(f"ID (0-{n_labels - 1}{none})")
    written = save_figure(ids_figure, out_dir / "ids", formats)
    written += save_figure(plot_silo_sizes(run.ids, n_labels, title=_title(run)), out_dir / "silo_sizes", formats)
    written += save_figure(plot_stability(run.ids, title=_title(run)), out_dir / "stability", formats)
    return written


def select_figure_runs(runs: Sequence[TargetRun], figures: str) -> list[TargetRun]:
    """Runs to draw: ``"all"``, ``"none"``, or the runs with keys ``"P,K,V"`` (e.g. ``"0.2,15,0"``).

    Raises
    ------
    ValueError
        For any other text, naming what is allowed.
    """
    if figures == "all":
        return list(runs)
    if figures == "none":
        return []
    try:
        p_text, k_text, v_text = figures.split(",")
        p, k, replicate = float(p_text), int(k_text), int(v_text)
    except ValueError:
        raise ValueError(f"figures: {figures!r} is not allowed: give 'all', 'none' or 'p,k,replicate' "
                         "such as '0.2,15,0'") from None
    return [run for run in runs
            if np.isclose(run.keys["p"], p) and run.keys["k"] == k and run.keys["replicate"] == replicate]


def polarization_by_run(target: TargetSet, embed: Callable, on_run: Callable[[int], None] | None = None
                        ) -> list[np.ndarray]:
    """Per-step polarization of every run (:func:`igmm.llm.measures.run_polarization`).

    Returns
    -------
    list of ndarray of bool, shape (n_steps + 1,), one per run of ``target``
    """
    from igmm.llm.measures import run_polarization

    flags = []
    for index, run in enumerate(target.runs):
        flags.append(run_polarization(run.ids, run.texts, run.k, embed))
        if on_run is not None:
            on_run(index + 1)
    return flags


def _extra_key_arrays(runs: Sequence[TargetRun]) -> dict[str, np.ndarray]:
    names = dict.fromkeys(name for run in runs for name in run.keys if name not in BASE_KEYS)
    return {name: np.array([str(run.keys.get(name, "")) for run in runs]) for name in names}


def write_analysis(target: TargetSet, out_dir: str | os.PathLike, figures: str = "all",
                   formats: Sequence[str] = ("png",), polarized: Sequence[np.ndarray] | None = None
                   ) -> AnalysisResult:
    """Write the tables, ``ids.npz``, problems and figures of a read target.

    Parameters
    ----------
    target : TargetSet
    out_dir : path-like
    figures : str
        See :func:`select_figure_runs`.
    formats : sequence of str
        Figure formats.
    polarized : sequence of ndarray of bool, optional
        From :func:`polarization_by_run`.

    Returns
    -------
    AnalysisResult
    """
    out_dir = Path(out_dir)
    runs = target.runs
    figure_runs = select_figure_runs(runs, figures)
    problems = list(target.problems)
    if figures not in ("all", "none") and not figure_runs:
        problems.append(Problem("(figures)", None, f"no run {figures!r} among the runs read"))
    written = [write_csv(problems_table(problems), out_dir / "problems.csv")]
    labels = labels_table(target)
    written.append(storage.write_parquet(labels, out_dir / "labels.parquet"))
    if runs:
        metrics, runs_frame = llm_tables(runs, polarized)
        written.append(storage.write_parquet(metrics, out_dir / "metrics.parquet"))
        written.append(storage.write_parquet(runs_frame, out_dir / "runs.parquet"))
        order = [index for members in _groups(runs).values() for index in members]  # the row order of the tables
        ordered = [runs[index] for index in order]
        written.append(storage.write_npz(
            out_dir / "ids.npz",
            ids=np.stack([run.ids for run in ordered]).astype(np.int16),
            p=np.array([run.p for run in ordered]),
            k=np.array([run.k for run in ordered]),
            replicate=np.array([run.replicate for run in ordered]),
            label_names=np.array(target.label_names),
            labeller=np.array(target.labeller),
            **_extra_key_arrays(ordered),
        ))
    for run in figure_runs:
        written += write_run_figures(run, out_dir / "figures" / run.label, target.n_labels, target.unlabeled, formats)
    return AnalysisResult(out_dir=out_dir, n_runs=len(runs), problems=tuple(problems),
                          n_unlabeled=int(labels["n_unlabeled"].sum()), written=tuple(written))


def analyze_target(source: str | os.PathLike | None, out_dir: str | os.PathLike, figures: str = "all",
                   formats: Sequence[str] = ("png",), *, format: str = "auto",
                   labels: str | Sequence[str] | Labeller | None = None, embed: Callable | None = None,
                   on_run: Callable[[int], None] | None = None) -> AnalysisResult:
    """Read a target and write its analysis (the `igmm llm analyze` command).

    Everything that can be wrong with the arguments or the source as a whole
    is raised before anything is written.

    Parameters
    ----------
    source : path-like or None
        Transcripts folder or target table (:func:`~igmm.llm.targets.load_target`);
        None for the released transcripts.
    out_dir : path-like
    figures : str
        ``"all"``, ``"none"`` or ``"p,k,replicate"``.
    formats : sequence of str
    format, labels
        As in :func:`~igmm.llm.targets.load_target`.
    embed : Embedder, optional
        When given, per-step polarization from the answers' embeddings.
    on_run : callable, optional
        Called with the number of runs whose polarization is done.

    Returns
    -------
    AnalysisResult
        ``complete`` is False when anything was skipped.

    Raises
    ------
    FileNotFoundError
        When the source does not exist.
    ValueError
        One line, for a bad argument, a source with no runs to read, or an
        embedder with a target without answer texts.
    """
    select_figure_runs([], figures)  # reject a bad value before reading anything
    target = load_target(source, format=format, labels=labels)
    if embed is not None and any(run.texts is None for run in target.runs):
        raise ValueError(f"embedder: polarization needs the answers' texts, and {target.source} has none "
                         f"(a table needs a 'text' column); use --embedder none")
    polarized = polarization_by_run(target, embed, on_run) if embed is not None else None
    return write_analysis(target, out_dir, figures, formats, polarized)


def analyze_transcripts(directory: str | os.PathLike | None, out_dir: str | os.PathLike, figures: str = "all",
                        formats: Sequence[str] = ("png",)) -> AnalysisResult:
    """:func:`analyze_target` of a transcripts folder with the flower labels (the former entry point)."""
    return analyze_target(directory, out_dir, figures, formats, format="transcripts")


# --- command-line choices -> labeller and embedder ----------------------------------------------

#: Embedder names of the command line; "none" skips everything that needs embeddings.
EMBEDDER_CHOICES = ("none", "hashing", "minilm")
#: Longest label file read (bytes): a list of names, not a corpus.
MAX_LABEL_FILE_BYTES = 1_000_000


def read_label_file(path: str | os.PathLike) -> list[str]:
    """Names from a text file: one per line; blank lines and lines starting with ``#`` are skipped.

    Raises
    ------
    ValueError
        One line naming the file and what is wrong.
    """
    path = Path(path)
    try:
        if path.stat().st_size > MAX_LABEL_FILE_BYTES:
            raise ValueError(f"labels: {path} is not allowed: larger than {MAX_LABEL_FILE_BYTES} bytes")
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise ValueError(f"labels: {path} is not allowed: not UTF-8 text") from None
    except OSError as error:
        raise ValueError(f"labels: cannot read {path} ({error.strerror or type(error).__name__})") from None
    names = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    if not names:
        raise ValueError(f"labels: {path} is not allowed: it names no label (one name per line)")
    return names


def choose_labeller(labels: str | None, n_clusters: int | None, threshold: float | None,
                    embed: Callable | None, scenario: str | os.PathLike | None = None) -> Labeller | None:
    """The labeller meant by the command-line options (None: the source's default).

    Parameters
    ----------
    labels : str or None
        ``"flowers"`` (or another name of :data:`~igmm.llm.targets.LABEL_LISTS`),
        ``"clustering"``, or a file with one name per line.
    n_clusters, threshold : optional
        The cut of the tree, with ``labels="clustering"`` only (one of them).
    embed : Embedder or None
        The embedder chosen; clustering needs one.
    scenario : path-like, optional
        Take the labels from a scenario file instead (its clustering brings
        its own embedder).

    Raises
    ------
    ValueError
        One line for any option that does not fit the others.
    """
    from igmm.llm.labels import ClusterLabeller
    from igmm.llm.targets import LABEL_LISTS, resolve_labeller

    if scenario is not None:
        if labels is not None or n_clusters is not None or threshold is not None:
            raise ValueError("labels: give either --scenario or --labels/--clusters/--cluster-threshold, not both")
        from igmm.llm.scenario import load_scenario

        return load_scenario(scenario).labeller()
    if labels != "clustering" and (n_clusters is not None or threshold is not None):
        raise ValueError("clusters: --clusters and --cluster-threshold go with --labels clustering only")
    if labels is None:
        return None
    if labels == "clustering":
        if embed is None:
            raise ValueError("labels: 'clustering' needs an embedder: add --embedder hashing or --embedder minilm")
        return ClusterLabeller(embed, threshold=threshold, n_clusters=n_clusters)
    if labels in LABEL_LISTS:
        return resolve_labeller(labels)
    if not Path(labels).is_file():
        raise ValueError(f"labels: {labels!r} is not allowed: give {', '.join(LABEL_LISTS)}, 'clustering' "
                         "or a file with one name per line")
    return resolve_labeller(read_label_file(labels))


def choose_embedder(name: str):
    """The embedder of ``--embedder`` (None for ``"none"``).

    Raises
    ------
    ValueError
        For a name outside :data:`EMBEDDER_CHOICES`.
    ImportError
        When ``"minilm"`` lacks its extra, naming the install command.
    """
    from igmm.llm.embed import make_embedder

    if name not in EMBEDDER_CHOICES:
        raise ValueError(f"embedder: {name!r} is not allowed: choose one of {', '.join(EMBEDDER_CHOICES)}")
    return None if name == "none" else make_embedder(name)
