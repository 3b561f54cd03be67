"""Target systems: any set of runs turned into ID trajectories for the GMM's measures.

A *target* is what a proxy model is compared with: runs of language models
(or of anything else) reduced to the project's trajectory contract, ``ids``
int16 of shape (n_steps + 1, n_agents) per run with row 0 the initial state.
:func:`load_target` reads three forms:

``transcripts``
    A folder in the released transcript layout (:mod:`igmm.llm.transcripts`):
    ``output{P}_{K}_{V}.csv`` + ``_2nd.csv`` and ``RAGs.npz``, on any topic.
    Answers are labelled by a :class:`~igmm.llm.labels.Labeller`: a list of
    names (the flowers by default) or clusters of the answers' embeddings.
``table``
    A tidy CSV or Parquet table, one row per run, step and agent, with
    columns ``p``, ``k``, ``replicate``, ``t``, ``agent``, ``label``, any
    further run-key columns and an optional ``text`` column (the answer at
    t >= 1, for embeddings). See :func:`read_table` for the label rule.

Every run keeps its keys (``p``, ``k``, ``replicate`` and any others), so the
tables of ``igmm llm analyze`` and the comparison with the GMM work for any
target. Reading is forgiving about data and strict about the call: a bad run
becomes a :class:`~igmm.llm.transcripts.Problem` and the others are read; a
source that cannot be read at all raises ``ValueError`` with one line.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from igmm.llm.flowers import FLOWER_LABELLER, FLOWERS
from igmm.llm.labels import MAX_ID, Labeller, ListLabeller
from igmm.llm.transcripts import FLOWER_TOPIC, SAMPLING_SEED_OFFSET, Problem, RunKey, load_transcripts

#: Named label lists (``labels="flowers"``); a list labeller is made from the names.
LABEL_LISTS: dict[str, tuple[str, ...]] = {"flowers": FLOWERS}
#: Source formats of :func:`load_target`.
FORMATS = ("auto", "transcripts", "table")
#: Columns every target table has; any other column except ``text`` is a further run key.
TABLE_COLUMNS = ("p", "k", "replicate", "t", "agent", "label")
#: Optional column of answer texts in a target table.
TEXT_COLUMN = "text"
#: File endings read as tables.
TABLE_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
#: Bad rows reported one by one per column before the rest are summed up in one problem.
MAX_ROW_PROBLEMS = 20
#: Run keys every target run has, in table order.
BASE_KEYS = ("p", "k", "replicate")


@dataclass(frozen=True, eq=False)
class TargetRun:
    """One run of a target system as an ID trajectory.

    Attributes
    ----------
    keys : dict
        Run keys; always ``"p"`` (float), ``"k"`` (int) and ``"replicate"``
        (int), then any others (e.g. ``"model"``), in table order.
    ids : ndarray of int16, shape (n_steps + 1, n_agents)
        Row 0 the initial state, row s + 1 after answer round s.
    texts : ndarray of object (str), shape (n_steps, n_agents), or None
        ``texts[s, i]``: agent i's answer in round s, when known.
    seed : int
        Sampling seed of the run when known (11 + replicate for transcripts), else -1.
    files : tuple of str
        Files the run was read from.
    """

    keys: dict
    ids: np.ndarray
    texts: np.ndarray | None = None
    seed: int = -1
    files: tuple[str, ...] = ()

    @property
    def p(self) -> float:
        return self.keys["p"]

    @property
    def k(self) -> int:
        return self.keys["k"]

    @property
    def replicate(self) -> int:
        return self.keys["replicate"]

    @property
    def n_steps(self) -> int:
        """T, the number of steps after the initial state."""
        return self.ids.shape[0] - 1

    @property
    def n_agents(self) -> int:
        return self.ids.shape[1]

    @property
    def label(self) -> str:
        """Short name such as ``p0.2_k15_r0`` (further keys appended), safe as a folder name."""
        return run_label(self.keys)


def run_label(keys: dict) -> str:
    """``p0.2_k15_r0`` for keys p, k, replicate, with ``_name-value`` for each further key; safe as a folder name."""
    extra = "".join(f"_{name}-{value}" for name, value in keys.items() if name not in BASE_KEYS)
    return re.sub(r"[^A-Za-z0-9._-]", "-", f"p{keys['p']:g}_k{keys['k']}_r{keys['replicate']}{extra}")


@dataclass(frozen=True, eq=False)
class TargetSet:
    """The runs of one target, the problems met reading it and the names of its labels.

    Attributes
    ----------
    runs : tuple of TargetRun
        Sorted by keys; all with the same (n_steps, n_agents).
    problems : tuple of Problem
        Input that was skipped.
    label_names : tuple of str
        Name of every ID: ``label_names[i]`` for ID i.
    source : str
        Where the runs came from (folder or file).
    unlabeled : int or None
        The ID of answers that name no label (list labellers), else None.
    labeller : str
        Name of the labeller (``"flowers"``, ``"clustering(...)"``, ``"table"``).
    """

    runs: tuple[TargetRun, ...]
    problems: tuple[Problem, ...]
    label_names: tuple[str, ...]
    source: str
    unlabeled: int | None = None
    labeller: str = ""

    @property
    def n_labels(self) -> int:
        """Number of IDs (``n_labels`` for silo sizes)."""
        return len(self.label_names)

    def ids(self) -> np.ndarray:
        """All runs stacked, int16 of shape (n_runs, n_steps + 1, n_agents), in the order of :attr:`runs`."""
        if not self.runs:
            raise ValueError(f"no runs were read from {self.source}")
        return np.stack([run.ids for run in self.runs])

    def cells(self) -> dict[tuple[float, int], np.ndarray]:
        """Trajectories per (p, k).

        Returns
        -------
        dict of (p, k) -> ndarray of int16, shape (n_runs, n_steps + 1, n_agents)
            Runs sorted by replicate (then by any further keys, which a cell
            does not separate: use :attr:`runs` to group finer).
        """
        groups: dict[tuple[float, int], list[TargetRun]] = {}
        for run in self.runs:
            groups.setdefault((run.p, run.k), []).append(run)
        return {cell: np.stack([run.ids for run in sorted(runs, key=_replicate_order)])
                for cell, runs in sorted(groups.items())}


def _replicate_order(run: TargetRun) -> tuple:
    return (run.replicate,) + tuple(str(value) for name, value in run.keys.items() if name not in BASE_KEYS)


def _sort_order(run: TargetRun) -> tuple:
    return (run.p, run.k, run.replicate) + tuple(str(v) for n, v in run.keys.items() if n not in BASE_KEYS)


# --- labellers by name --------------------------------------------------------------------------


def resolve_labeller(labels: str | Sequence[str] | Labeller | None) -> Labeller:
    """The labeller a ``labels`` argument means.

    Parameters
    ----------
    labels : None, str, sequence of str or Labeller
        None or ``"flowers"``: the flowers; another name of
        :data:`LABEL_LISTS`; a sequence of names: a :class:`ListLabeller` of
        them (plurals counted); a labeller: itself.

    Raises
    ------
    ValueError
        For an unknown name or a bad list, naming what is allowed.
    """
    if labels is None:
        return FLOWER_LABELLER
    if isinstance(labels, str):
        if labels not in LABEL_LISTS:
            raise ValueError(f"labels: {labels!r} is not allowed: choose one of {', '.join(LABEL_LISTS)} "
                             "or give a list of names")
        return FLOWER_LABELLER if labels == "flowers" else ListLabeller(LABEL_LISTS[labels], name=labels)
    if isinstance(labels, Labeller):
        return labels
    return ListLabeller(tuple(labels), name="list")


# --- transcripts --------------------------------------------------------------------------------


def _target_from_transcripts(directory: Path | None, labeller: Labeller, initial_topic: int,
                             keep: Callable[[dict], bool] | None) -> TargetSet:
    def keep_key(key: RunKey) -> bool:
        return keep is None or keep({"p": key.p, "k": key.k, "replicate": key.replicate})

    transcripts = load_transcripts(directory, keep=keep_key, labeller=labeller, initial_topic=initial_topic)
    if transcripts.n_found == 0:
        raise ValueError(f"{transcripts.directory}: no transcripts here (files output{{P}}_{{K}}_{{V}}.csv "
                         "and output{P}_{K}_{V}_2nd.csv)")
    runs = tuple(TargetRun(keys=run.keys, ids=run.ids, texts=run.texts,
                           seed=SAMPLING_SEED_OFFSET + run.key.replicate, files=run.files)
                 for run in transcripts.runs)
    n_ids = max((int(run.ids.max()) + 1 for run in runs), default=0)
    return TargetSet(runs=runs, problems=transcripts.problems, label_names=labeller.label_names(n_ids),
                     source=str(transcripts.directory), unlabeled=labeller.unlabeled, labeller=labeller.name)


# --- tables -------------------------------------------------------------------------------------


def _read_frame(path: Path, kind: str) -> pd.DataFrame:
    """The table as read, every CSV cell as text; one-line ValueError when it cannot be read."""
    try:
        if kind == "csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        return pd.read_parquet(path)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except Exception as error:  # noqa: BLE001  parsers of hostile files raise many kinds; report the kind only
        raise ValueError(f"{path}: not a readable {kind} table ({type(error).__name__})") from None


def _numbers(column: pd.Series) -> np.ndarray:
    """Float values of a column of text or numbers; NaN where a value is not a number."""
    return pd.to_numeric(column.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v),
                         errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _parse_number_columns(frame: pd.DataFrame) -> tuple[dict[str, np.ndarray], np.ndarray, list[tuple]]:
    """Parsed p, k, replicate, t, agent; a mask of good rows; (column, row index, rule) of bad ones."""
    rules = {
        "p": ("a number in [0, 1]", lambda x: np.isfinite(x) & (x >= 0) & (x <= 1)),
        "k": (f"an integer in 1 .. {MAX_ID}", lambda x: _whole(x) & (x >= 1) & (x <= MAX_ID)),
        "replicate": ("an integer >= 0", lambda x: _whole(x) & (x >= 0) & (x < 2**31)),
        "t": ("an integer >= 0", lambda x: _whole(x) & (x >= 0) & (x < 2**31)),
        "agent": (f"an integer in 0 .. {MAX_ID - 1}", lambda x: _whole(x) & (x >= 0) & (x < MAX_ID)),
    }
    values, good, bad = {}, np.ones(len(frame), dtype=bool), []
    for name, (rule, check) in rules.items():
        numbers = _numbers(frame[name])
        ok = check(numbers)
        bad += [(name, index, rule) for index in np.flatnonzero(~ok)]
        good &= ok
        values[name] = numbers
    return values, good, bad


def _whole(x: np.ndarray) -> np.ndarray:
    return np.isfinite(x) & (np.floor(x) == x)


def table_labels(column: pd.Series) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
    """IDs of a ``label`` column and the names of the IDs.

    Rule: when every present label is a whole number (``3``, ``"3"``,
    ``3.0``), the numbers are the IDs and must lie in 0 .. 32766; the name of
    ID i is ``"i"``. Otherwise every label is read as a name, and the
    distinct names, sorted, get IDs 0, 1, 2, ... A blank or missing label is
    a bad row.

    Returns
    -------
    ids : ndarray of int16, shape (n_rows,)
        -1 on bad rows.
    names : tuple of str
    bad : ndarray of bool, shape (n_rows,)
    """
    raw = column.astype(object).to_numpy()
    missing = np.array([v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and not v.strip())
                        for v in raw], dtype=bool)
    numbers = _numbers(column)
    if np.all(_whole(numbers) | missing):
        bad = missing | ~((numbers >= 0) & (numbers < MAX_ID))
        ids = np.where(bad, -1, np.nan_to_num(numbers, nan=-1)).astype(np.int16)
        n_ids = int(ids.max()) + 1 if len(ids) else 0
        return ids, tuple(str(index) for index in range(n_ids)), bad
    text = np.array([str(v).strip() if not m else "" for v, m in zip(raw, missing)], dtype=object)
    names = tuple(sorted(set(text[~missing])))
    if len(names) >= MAX_ID:
        raise ValueError(f"label: {len(names)} distinct names is not allowed: at most {MAX_ID - 1}")
    lookup = {name: index for index, name in enumerate(names)}
    ids = np.array([lookup.get(value, -1) if not m else -1 for value, m in zip(text, missing)], dtype=np.int16)
    return ids, names, missing


def _row_problems(file: str, bad: list[tuple]) -> list[Problem]:
    """One problem per bad (column, row), the first :data:`MAX_ROW_PROBLEMS` per column, then a count."""
    problems, per_column = [], Counter()
    for column, index, rule in bad:
        per_column[column] += 1
        if per_column[column] <= MAX_ROW_PROBLEMS:
            # Row numbers count the header as row 1: the line number of a CSV without line breaks in cells.
            problems.append(Problem(file, int(index) + 2, f"column {column}: must be {rule}; its run is left out"))
    problems += [Problem(file, None, f"column {column}: {count - MAX_ROW_PROBLEMS} more bad rows")
                 for column, count in per_column.items() if count > MAX_ROW_PROBLEMS]
    return problems


def _run_from_rows(rows: pd.DataFrame, keys: dict, file: str, has_text: bool) -> tuple[TargetRun | None, Problem | None]:
    """One run's ids (and texts) from its rows, or the problem that leaves it out."""
    label = run_label(keys)
    t, agent = rows["t_"].to_numpy(np.int64), rows["agent_"].to_numpy(np.int64)
    n_times, n_agents = int(t.max()) + 1, int(agent.max()) + 1
    cell = t * n_agents + agent
    duplicated = pd.Series(cell).duplicated().to_numpy()
    if duplicated.any():
        row = int(rows.index[np.argmax(duplicated)]) + 2
        return None, Problem(file, row, f"run {label}: a second row for t = {t[np.argmax(duplicated)]}, "
                                        f"agent {agent[np.argmax(duplicated)]}; each (t, agent) needs exactly one row")
    if len(rows) != n_times * n_agents or n_times < 2:
        return None, Problem(file, None, f"run {label}: has {len(rows)} rows; it needs one row for every t in "
                                         f"0 .. T (T >= 1) and every agent in 0 .. n_agents - 1")
    ids = np.empty(n_times * n_agents, dtype=np.int16)
    ids[cell] = rows["label_"].to_numpy(np.int16)
    texts = None
    if has_text:
        flat = np.empty(n_times * n_agents, dtype=object)
        flat[cell] = [v if isinstance(v, str) else "" for v in rows[TEXT_COLUMN].astype(object)]
        texts = flat.reshape(n_times, n_agents)[1:]  # t = 0 is the initial state, not an answer round
    return TargetRun(keys=keys, ids=ids.reshape(n_times, n_agents), texts=texts, files=(file,)), None


def read_table(path: str | os.PathLike, keep: Callable[[dict], bool] | None = None) -> TargetSet:
    """Read a tidy target table (CSV or Parquet).

    Parameters
    ----------
    path : path-like
        ``.csv`` (UTF-8, header row) or ``.parquet``. Columns ``p`` (in
        [0, 1]), ``k`` (>= 1), ``replicate`` (>= 0), ``t`` (0 .. T),
        ``agent`` (0 .. n_agents - 1), ``label`` (see :func:`table_labels`),
        optionally ``text`` (the answer, used at t >= 1), and any further
        columns as run keys. One row per run, t and agent.
    keep : callable, optional
        Keep only the runs whose keys dict it accepts.

    Returns
    -------
    TargetSet
        A row with a bad value leaves its run out (reported with its row
        number, the header being row 1); so do a repeated or missing
        (t, agent) and a run whose shape differs from the most common one.

    Raises
    ------
    ValueError
        One line: the file cannot be read, lacks a column, or has no rows.
    """
    path = Path(path)
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"{path}: a target table must end in {', '.join(TABLE_SUFFIXES)}")
    frame = _read_frame(path, kind)
    missing = [name for name in TABLE_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; a target table has columns "
                         f"{', '.join(TABLE_COLUMNS)} (and may have further key columns and {TEXT_COLUMN})")
    if frame.empty:
        raise ValueError(f"{path}: the table has no rows")
    frame = frame.reset_index(drop=True)
    values, good, bad = _parse_number_columns(frame)
    ids, names, bad_labels = table_labels(frame["label"])
    bad += [("label", index, "a label (an integer in 0 .. 32766, or a name)") for index in np.flatnonzero(bad_labels)]
    good &= ~bad_labels
    extra = [name for name in frame.columns if name not in TABLE_COLUMNS and name != TEXT_COLUMN]
    work = frame.assign(p_=values["p"], k_=values["k"], replicate_=values["replicate"], t_=values["t"],
                        agent_=values["agent"], label_=ids, good_=good)
    problems, runs = _row_problems(path.name, sorted(bad, key=lambda item: item[1])), []
    for key_values, rows in work.groupby(["p_", "k_", "replicate_"] + extra, sort=True, dropna=False):
        keys = {"p": float(key_values[0]), "k": int(key_values[1]), "replicate": int(key_values[2])}
        keys |= {name: value.item() if isinstance(value, np.generic) else value
                 for name, value in zip(extra, key_values[3:])}
        if not rows["good_"].all() or (keep is not None and not keep(keys)):
            continue  # bad rows were reported above
        run, problem = _run_from_rows(rows, keys, path.name, TEXT_COLUMN in frame.columns)
        problems += [problem] if problem else []
        runs += [run] if run else []
    runs, shape_problems = _keep_common_shape(runs, path.name)
    return TargetSet(runs=tuple(sorted(runs, key=_sort_order)), problems=tuple(problems + shape_problems),
                     label_names=names, source=str(path), unlabeled=None, labeller="table")


def _keep_common_shape(runs: list[TargetRun], file: str) -> tuple[list[TargetRun], list[Problem]]:
    """Runs whose ids shape is the most common; the others reported (the tables need one T and n)."""
    if not runs:
        return runs, []
    common, _ = Counter(run.ids.shape for run in runs).most_common(1)[0]
    problems = [Problem(file, None, f"run {run.label}: T = {run.n_steps} and {run.n_agents} agents; the other runs "
                                    f"have T = {common[0] - 1} and {common[1]}")
                for run in runs if run.ids.shape != common]
    return [run for run in runs if run.ids.shape == common], problems


# --- entry point --------------------------------------------------------------------------------


def detect_format(source: Path) -> str:
    """``"transcripts"`` for a folder, ``"table"`` for a ``.csv``/``.parquet`` file.

    Raises
    ------
    ValueError
        For anything else, naming what is allowed.
    """
    if source.is_dir():
        return "transcripts"
    if source.suffix.lower() in TABLE_SUFFIXES:
        return "table"
    if not source.exists():
        raise FileNotFoundError(f"source: {source} does not exist")
    raise ValueError(f"source: {source} is not allowed: give a transcripts folder or a table ending in "
                     f"{', '.join(TABLE_SUFFIXES)}")


def load_target(source: str | os.PathLike | None = None, *, format: str = "auto",
                labels: str | Sequence[str] | Labeller | None = None, initial_topic: int = FLOWER_TOPIC,
                keep: Callable[[dict], bool] | None = None) -> TargetSet:
    """Read a target system into ID trajectories.

    Parameters
    ----------
    source : path-like, optional
        A transcripts folder or a target table; default the released
        transcripts (:func:`~igmm.llm.transcripts.default_transcripts_dir`).
    format : {"auto", "transcripts", "table"}
        ``"auto"``: a folder is transcripts, a ``.csv``/``.parquet`` file a table.
    labels : None, str, sequence of str or Labeller
        How transcript answers become IDs (:func:`resolve_labeller`; default
        the flowers). A table brings its own labels, so ``labels`` must be
        None for it.
    initial_topic : int
        Knowledge-base topic of t = 0 for transcripts without a run record.
    keep : callable, optional
        Keep only the runs whose keys dict (``{"p", "k", "replicate", ...}``) it accepts.

    Returns
    -------
    TargetSet

    Raises
    ------
    FileNotFoundError
        When ``source`` does not exist.
    ValueError
        One line, for a bad argument or a source with nothing to read.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> table = pathlib.Path(tempfile.mkdtemp()) / "runs.csv"
    >>> _ = table.write_text("p,k,replicate,t,agent,label\\n" + "".join(
    ...     f"0.5,1,0,{t},{a},{'red' if t and a else 'blue'}\\n" for t in range(3) for a in range(2)))
    >>> target = load_target(table)
    >>> target.label_names, target.cells()[(0.5, 1)].tolist()
    (('blue', 'red'), [[[0, 0], [0, 1], [0, 1]]])
    """
    if format not in FORMATS:
        raise ValueError(f"format: {format!r} is not allowed: choose one of {', '.join(FORMATS)}")
    from igmm.llm.transcripts import TRANSCRIPTS_ENV, default_transcripts_dir

    path = Path(source) if source is not None else default_transcripts_dir()
    if not path.exists():
        hint = f" (set ${TRANSCRIPTS_ENV} or give the folder)" if source is None else ""
        raise FileNotFoundError(f"source: {path} does not exist{hint}")
    kind = detect_format(path) if format == "auto" else format
    if kind == "table":
        if labels is not None:
            raise ValueError("labels: not allowed with a table: its label column gives the labels")
        if path.is_dir():
            raise ValueError(f"source: {path} is a folder; a table is a .csv or .parquet file")
        return read_table(path, keep=keep)
    if not path.is_dir():
        raise ValueError(f"source: {path} is not a folder; transcripts are a folder of output*.csv files")
    return _target_from_transcripts(path, resolve_labeller(labels), initial_topic, keep)
