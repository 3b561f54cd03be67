"""`igmm llm analyze`: the GMM's tables and figures for language-model transcripts.

Output folder
-------------
``metrics.parquet`` and ``runs.parquet``
    Built by :mod:`igmm.tables` with keys ``p`` and ``k`` and the replicate
    ``V`` of the file name, so they have the GMM's columns. The ``seed``
    column holds the language model's sampling seed, 11 + replicate
    (LLM-SYSTEM.md); ``spawn_key`` is empty (no SeedSequence was involved).
``ids.npz``
    ``ids`` int16 of shape (n_runs, n_steps + 1, n_agents) and the arrays
    ``p``, ``k``, ``replicate`` of shape (n_runs,), in the row order of
    ``runs.parquet``; ``flowers`` the label names (index 30 = no flower).
``labels.parquet``
    Per run: answers, answers naming no flower, distinct flowers named.
``problems.csv``
    ``file, row, message`` for everything skipped (header only when nothing was).
``figures/<p…_k…_r…>/``
    ``ids.png``, ``silo_sizes.png``, ``stability.png`` per run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from igmm import storage
from igmm.llm.flowers import FLOWERS, N_LABELS, UNLABELED
from igmm.llm.transcripts import LLMRun, Problem, TranscriptSet, load_transcripts
from igmm.tables import runs_table, steps_table

#: Offset of the language model's sampling seed: replicate V sampled with seed 11 + V.
SAMPLING_SEED_OFFSET = 11


@dataclass(frozen=True)
class AnalysisResult:
    """What :func:`analyze_transcripts` read and wrote.

    Attributes
    ----------
    out_dir : Path
    n_runs : int
        Runs analysed.
    problems : tuple of Problem
        Input that was skipped; empty when everything was read.
    n_unlabeled : int
        Answers naming no flower, over all runs.
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


def _groups(runs: Sequence[LLMRun]) -> dict[tuple[float, int], list[LLMRun]]:
    """Runs grouped by (p, k), keeping the sorted order."""
    groups: dict[tuple[float, int], list[LLMRun]] = {}
    for run in runs:
        groups.setdefault((run.key.p, run.key.k), []).append(run)
    return groups


def llm_tables(runs: Sequence[LLMRun]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``metrics.parquet`` and ``runs.parquet`` tables of transcript runs.

    Parameters
    ----------
    runs : sequence of LLMRun
        All with the same (n_steps, n_agents).

    Returns
    -------
    metrics, runs : DataFrame
        The schemas of :func:`igmm.tables.metrics_table` and
        :func:`igmm.tables.runs_table` with keys ``p, k``.
    """
    metrics_parts, runs_parts = [], []
    for (p, k), group in _groups(runs).items():
        ids = np.stack([run.ids for run in group])
        replicates = [run.key.replicate for run in group]
        point = f"p={p:g},k={k}"
        metrics_parts.append(_with_cell(steps_table(ids, replicates=replicates, point=point), p, k))
        cell_runs = runs_table(ids, replicates=replicates, point=point)
        cell_runs["seed"] = [str(SAMPLING_SEED_OFFSET + replicate) for replicate in replicates]
        runs_parts.append(_with_cell(cell_runs, p, k))
    return pd.concat(metrics_parts, ignore_index=True), pd.concat(runs_parts, ignore_index=True)


def _with_cell(frame: pd.DataFrame, p: float, k: int) -> pd.DataFrame:
    """The cell's p and k as the first columns (the transcripts' grid values)."""
    frame.insert(0, "k", k)
    frame.insert(0, "p", p)
    return frame


def labels_table(runs: Sequence[LLMRun]) -> pd.DataFrame:
    """How well the answers of each run were labelled.

    Returns
    -------
    DataFrame
        Columns ``p, k, replicate, n_answers, n_unlabeled, share_unlabeled,
        n_flowers_named`` (answer rounds only; t = 0 comes from the knowledge
        bases, not from an answer).
    """
    rows = []
    for run in runs:
        answer_ids = run.ids[1:]
        n_unlabeled = int(np.count_nonzero(answer_ids == UNLABELED))
        named = np.unique(answer_ids[answer_ids != UNLABELED])
        rows.append({
            "p": run.key.p, "k": run.key.k, "replicate": run.key.replicate,
            "n_answers": int(answer_ids.size), "n_unlabeled": n_unlabeled,
            "share_unlabeled": n_unlabeled / answer_ids.size, "n_flowers_named": int(named.size),
        })
    return pd.DataFrame(rows, columns=["p", "k", "replicate", "n_answers", "n_unlabeled",
                                       "share_unlabeled", "n_flowers_named"])


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


def write_llm_run_figures(run: LLMRun, out_dir: str | os.PathLike, formats: Sequence[str] = ("png",)) -> list[Path]:
    """``ids``, ``silo_sizes`` and ``stability`` figures of one transcript run.

    The GMM's figures (:mod:`igmm.plots`) with the y axis named for flowers.
    """
    from igmm.plots import plot_ids, plot_silo_sizes, plot_stability, save_figure

    title = f"language models, p = {run.key.p:g}, k = {run.key.k}, replicate {run.key.replicate}"
    out_dir = Path(out_dir)
    ids_figure = plot_ids(run.ids, title=title)
    ids_figure.axes[0].set_ylabel(f"flower ID (0-{len(FLOWERS) - 1}; {UNLABELED} = none)")
    written = save_figure(ids_figure, out_dir / "ids", formats)
    written += save_figure(plot_silo_sizes(run.ids, N_LABELS, title=title), out_dir / "silo_sizes", formats)
    written += save_figure(plot_stability(run.ids, title=title), out_dir / "stability", formats)
    return written


def select_figure_runs(runs: Sequence[LLMRun], figures: str) -> list[LLMRun]:
    """Runs to draw: ``"all"``, ``"none"``, or one run written ``"P,K,V"`` (e.g. ``"0.2,15,0"``).

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
        raise ValueError(f"figures must be 'all', 'none' or 'p,k,replicate' such as '0.2,15,0'; got {figures!r}") from None
    return [run for run in runs if np.isclose(run.key.p, p) and run.key.k == k and run.key.replicate == replicate]


def write_analysis(transcripts: TranscriptSet, out_dir: str | os.PathLike, figures: str = "all",
                   formats: Sequence[str] = ("png",)) -> AnalysisResult:
    """Write the tables, ``ids.npz``, problems and figures of read transcripts.

    Parameters
    ----------
    transcripts : TranscriptSet
    out_dir : path-like
    figures : str
        See :func:`select_figure_runs`.
    formats : sequence of str
        Figure formats.

    Returns
    -------
    AnalysisResult
    """
    out_dir = Path(out_dir)
    runs = transcripts.runs
    figure_runs = select_figure_runs(runs, figures)
    problems = list(transcripts.problems)
    if figures not in ("all", "none") and not figure_runs:
        problems.append(Problem("(figures)", None, f"no run {figures!r} among the runs read"))
    written = [write_csv(problems_table(problems), out_dir / "problems.csv")]
    labels = labels_table(runs)
    written.append(storage.write_parquet(labels, out_dir / "labels.parquet"))
    if runs:
        metrics, runs_frame = llm_tables(runs)
        written.append(storage.write_parquet(metrics, out_dir / "metrics.parquet"))
        written.append(storage.write_parquet(runs_frame, out_dir / "runs.parquet"))
        written.append(storage.write_npz(
            out_dir / "ids.npz",
            ids=transcripts.ids().astype(np.int16),
            p=np.array([run.key.p for run in runs]),
            k=np.array([run.key.k for run in runs]),
            replicate=np.array([run.key.replicate for run in runs]),
            flowers=np.array(FLOWERS + ("(none)",)),
        ))
    for run in figure_runs:
        written += write_llm_run_figures(run, out_dir / "figures" / run.key.label, formats)
    return AnalysisResult(out_dir=out_dir, n_runs=len(runs), problems=tuple(problems),
                          n_unlabeled=int(labels["n_unlabeled"].sum()), written=tuple(written))


def analyze_transcripts(directory: str | os.PathLike | None, out_dir: str | os.PathLike, figures: str = "all",
                        formats: Sequence[str] = ("png",)) -> AnalysisResult:
    """Read a transcripts directory and write its analysis (the `igmm llm analyze` command).

    Parameters
    ----------
    directory : path-like or None
        Transcripts; None for :func:`~igmm.llm.transcripts.default_transcripts_dir`.
    out_dir : path-like
    figures : str
        ``"all"``, ``"none"`` or ``"p,k,replicate"``.
    formats : sequence of str

    Returns
    -------
    AnalysisResult
        ``complete`` is False when anything was skipped.
    """
    select_figure_runs([], figures)  # reject a bad value before reading anything
    return write_analysis(load_transcripts(directory), out_dir, figures, formats)
