"""Read language-model transcripts in the released format into ID trajectories.

The released format (LLM-SYSTEM.md): ``output{P}_{K}_{V}.csv`` holds answer
rounds 0-39 and ``output{P}_{K}_{V}_2nd.csv`` rounds 40-79 of the run with
p = P/10, k = K, replicate V. Each file has a header row (an empty cell, then
the agent numbers 0 .. n_agents - 1), then one row per round: the round index
within the file, then one cell per agent holding a Python list literal with the
agent's answer. ``RAGs.npz`` (key ``arr_0``, shape (n_agents, 2, n_topics))
holds every agent's initial knowledge base.

Time axis
---------
The GMM's trajectory has ``n_steps + 1`` rows with t = 0 the initial state
before any interaction. Here t = 0 is the flower of each agent's initial
knowledge base (the flower answer in ``RAGs.npz``, 30 different flowers) and
t = s + 1 is the flower named in answer round s, so 80 rounds give
``ids`` of shape (81, n_agents) and T = 80, as for a GMM run with
``n_steps = 80``. The answer of round s is written from the knowledge base
after s updates, so the language model's ID is observed one update later than
the GMM's (whose ID at t is read after t updates); consensus times are shifted
by one step against counting from the first answer row. With this convention
the median t* of the released runs matches the values read off the authors'
figures (EXPERIMENTS.md). When ``RAGs.npz`` is missing or unusable, t = 0 is a
copy of the first answer round and a :class:`Problem` says so.

Untrusted input
---------------
Cells are parsed with :func:`ast.literal_eval` (never ``eval``). Every
malformed file, row or cell becomes a :class:`Problem` naming the file and the
1-based line number; a run with any problem is left out, and every other run
is still read.
"""

from __future__ import annotations

import ast
import csv
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from igmm.llm.flowers import label_answers

#: Environment variable naming the transcripts directory.
TRANSCRIPTS_ENV = "IGMM_TRANSCRIPTS"
#: Answer rounds in the first file of a run when a second file follows.
ROUNDS_PER_FILE = 40
#: Name of the initial knowledge bases inside a transcripts directory.
RAGS_FILE = "RAGs.npz"
#: Index of the flower topic in the last axis of ``RAGs.npz`` (LLM-SYSTEM.md lists it first).
FLOWER_TOPIC = 0
#: Longest cell accepted (characters); longer cells are reported, not parsed.
MAX_CELL_CHARS = 100_000

_RUN_FILE = re.compile(r"^output(?P<P>\d+(?:\.\d+)?)_(?P<K>\d+)_(?P<V>\d+)(?P<second>_2nd)?\.csv$")


@dataclass(frozen=True)
class Problem:
    """One piece of input that was skipped.

    Attributes
    ----------
    file : str
        File name, relative to the transcripts directory.
    row : int or None
        1-based line number in the file (the header is line 1); None when
        the whole file is concerned.
    message : str
        What is wrong and what was expected.
    """

    file: str
    row: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}, line {self.row}"
        return f"{where}: {self.message}"


@dataclass(frozen=True, order=True)
class RunKey:
    """Identity of one transcript run: p = P/10, k, replicate."""

    p: float
    k: int
    replicate: int
    p_tag: str = field(compare=False, default="")

    @property
    def first_file(self) -> str:
        """Name of the file with rounds 0-39."""
        return f"output{self.p_tag}_{self.k}_{self.replicate}.csv"

    @property
    def second_file(self) -> str:
        """Name of the file with rounds 40 and later."""
        return f"output{self.p_tag}_{self.k}_{self.replicate}_2nd.csv"

    @property
    def label(self) -> str:
        """Short text such as ``p0.2_k15_r0`` (used for figure folders)."""
        return f"p{self.p:g}_k{self.k}_r{self.replicate}"


@dataclass(frozen=True, eq=False)
class LLMRun:
    """One language-model run as an ID trajectory.

    Attributes
    ----------
    key : RunKey
    texts : ndarray of object (str), shape (n_steps, n_agents)
        ``texts[s, i]``: agent i's answer in round s.
    ids : ndarray of int16, shape (n_steps + 1, n_agents)
        Flower IDs; row 0 the initial knowledge base, row s + 1 round s.
    files : tuple of str
        The files read.
    """

    key: RunKey
    texts: np.ndarray
    ids: np.ndarray
    files: tuple[str, ...]

    @property
    def n_steps(self) -> int:
        """T, the number of answer rounds."""
        return self.texts.shape[0]

    @property
    def n_agents(self) -> int:
        """Number of agents."""
        return self.texts.shape[1]


@dataclass(frozen=True, eq=False)
class TranscriptSet:
    """All runs read from one directory, sorted by (p, k, replicate), and the problems met."""

    directory: Path
    runs: tuple[LLMRun, ...]
    problems: tuple[Problem, ...]

    def ids(self) -> np.ndarray:
        """Stacked trajectories, int16 of shape (n_runs, n_steps + 1, n_agents)."""
        if not self.runs:
            raise ValueError(f"no runs were read from {self.directory}")
        return np.stack([run.ids for run in self.runs])

    def select(self, p: float, k: int) -> list[LLMRun]:
        """Runs at one (p, k), sorted by replicate."""
        return [run for run in self.runs if np.isclose(run.key.p, p) and run.key.k == k]


def default_transcripts_dir() -> Path:
    """Directory of the released transcripts.

    ``$IGMM_TRANSCRIPTS`` when set; otherwise ``../shared/llm-transcripts``
    relative to the current directory, or, failing that, relative to the
    repository root of this checkout (src layout). The returned path may not
    exist; callers report that.
    """
    from_env = os.environ.get(TRANSCRIPTS_ENV)
    if from_env:
        return Path(from_env).expanduser()
    relative = Path("..") / "shared" / "llm-transcripts"
    candidates = [Path.cwd() / relative, Path(__file__).resolve().parents[3] / relative]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    return candidates[0]


def parse_run_file_name(name: str) -> tuple[RunKey, bool] | None:
    """Run key of a transcript file name and whether it is the ``_2nd`` part.

    Returns None for a name outside the ``output{P}_{K}_{V}[_2nd].csv`` pattern.

    Examples
    --------
    >>> parse_run_file_name("output7_25_3_2nd.csv")
    (RunKey(p=0.7, k=25, replicate=3, p_tag='7'), True)
    """
    match = _RUN_FILE.match(name)
    if match is None:
        return None
    key = RunKey(
        p=round(float(match["P"]) / 10, 10),
        k=int(match["K"]),
        replicate=int(match["V"]),
        p_tag=match["P"],
    )
    return key, match["second"] is not None


def simple_list_literal(cell: str) -> str | None:
    """Text of a cell written exactly ``['text']`` or ``["text"]`` with nothing to unescape, else None.

    For such a cell this equals ``ast.literal_eval(cell)[0]`` (a test checks
    it) at a fraction of the cost; every other cell goes through
    ``literal_eval``.
    """
    if len(cell) < 4 or cell[0] != "[" or cell[-1] != "]" or cell[1] != cell[-2] or cell[1] not in "'\"":
        return None
    inner = cell[2:-2]
    # A quote, backslash, line break or NUL would need the real parser (or make it fail).
    if any(char in inner for char in (cell[1], "\\", "\n", "\r", "\x00")):
        return None
    return inner


def _parse_cell(cell: str) -> str:
    """Answer text held by one cell; raises ValueError with the reason."""
    if len(cell) > MAX_CELL_CHARS:
        raise ValueError(f"cell longer than {MAX_CELL_CHARS} characters")
    simple = simple_list_literal(cell)
    if simple is not None:
        return simple
    try:
        value = ast.literal_eval(cell)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as error:
        raise ValueError(f"not a Python literal ({type(error).__name__}): {cell[:60]!r}") from None
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a non-empty list of strings, got {type(value).__name__}: {cell[:60]!r}")
    # The format allows "answer(s)"; several strings are read as one answer.
    return " ".join(value)


def _check_header(header: list[str], name: str) -> list[Problem]:
    agents = header[1:]
    expected = [str(agent) for agent in range(len(agents))]
    if not agents or agents != expected:
        shown = ",".join(header)[:80]
        return [Problem(name, 1, f"header must be an index column then agents 0..n-1; got {shown!r}")]
    return []


def _parse_row(row: list[str], step: int, n_agents: int, name: str, line: int) -> tuple[list[str], list[Problem]]:
    if len(row) != n_agents + 1:
        return [], [Problem(name, line, f"expected {n_agents + 1} columns (step + {n_agents} agents), got {len(row)}")]
    problems = []
    if row[0].strip() != str(step):
        problems.append(Problem(name, line, f"step column is {row[0][:20]!r}, expected {step}"))
    answers = []
    for agent, cell in enumerate(row[1:]):
        try:
            answers.append(_parse_cell(cell))
        except ValueError as error:
            problems.append(Problem(name, line, f"agent {agent}: {error}"))
    return answers, problems


def read_answer_file(path: str | os.PathLike, name: str | None = None) -> tuple[np.ndarray | None, list[Problem]]:
    """Answers of one transcript file.

    Parameters
    ----------
    path : path-like
    name : str, optional
        Name used in problems (default the file name).

    Returns
    -------
    texts : ndarray of object, shape (n_rounds, n_agents), or None
        None when anything in the file is malformed.
    problems : list of Problem
        Every malformed header, row and cell (not only the first).
    """
    path = Path(path)
    name = name or path.name
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows, n_agents, problems = _read_rows(csv.reader(handle), name)
    except (OSError, UnicodeDecodeError) as error:
        return None, [Problem(name, None, f"cannot read file: {error}")]
    if problems:
        return None, problems
    texts = np.empty((len(rows), n_agents), dtype=object)
    for step, answers in enumerate(rows):
        texts[step, :] = answers
    return texts, []


def _read_rows(reader, name: str) -> tuple[list[list[str]], int, list[Problem]]:
    """Parsed answer rows, the number of agents in the header, and the problems."""
    rows: list[list[str]] = []
    n_agents = 0
    problems: list[Problem] = []
    try:
        header = next(reader, None)
        if header is None:
            return rows, n_agents, [Problem(name, None, "empty file (no header row)")]
        problems = _check_header(header, name)
        if problems:
            return rows, n_agents, problems
        n_agents = len(header) - 1
        for step, row in enumerate(reader):
            answers, row_problems = _parse_row(row, step, n_agents, name, reader.line_num)
            problems += row_problems
            rows.append(answers)
    except csv.Error as error:
        problems.append(Problem(name, reader.line_num, f"CSV error: {error}"))
    return rows, n_agents, problems


def read_initial_flowers(path: str | os.PathLike) -> tuple[np.ndarray | None, list[Problem]]:
    """Flower ID of every agent's initial knowledge base.

    Parameters
    ----------
    path : path-like
        ``RAGs.npz`` with key ``arr_0`` of shape (n_agents, 2, n_topics):
        [agent, 0 = key questions / 1 = answers, topic].

    Returns
    -------
    ids : ndarray of int16, shape (n_agents,), or None when unusable
    problems : list of Problem
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:  # no pickles from untrusted files
            rags = archive["arr_0"]
    except FileNotFoundError:
        return None, [Problem(path.name, None, "missing; t = 0 is a copy of the first answer round")]
    except (OSError, KeyError, ValueError) as error:
        return None, [Problem(path.name, None, f"unusable ({error}); t = 0 is a copy of the first answer round")]
    if rags.ndim != 3 or rags.shape[1] != 2 or rags.dtype.kind != "U":
        message = f"arr_0 must be text of shape (n_agents, 2, n_topics), got {rags.dtype} {rags.shape}"
        return None, [Problem(path.name, None, message + "; t = 0 is a copy of the first answer round")]
    return label_answers(rags[:, 1, FLOWER_TOPIC]), []


def read_run(directory: str | os.PathLike, key: RunKey,
             initial_ids: np.ndarray | None) -> tuple[LLMRun | None, list[Problem]]:
    """Read both files of one run and label its answers.

    Parameters
    ----------
    directory : path-like
    key : RunKey
    initial_ids : ndarray of int, shape (n_agents,), or None
        Row t = 0; None copies the first answer round.

    Returns
    -------
    run : LLMRun or None
        None when any of its files has a problem.
    problems : list of Problem
    """
    directory = Path(directory)
    parts, problems = [], []
    for name in (key.first_file, key.second_file):
        if not (directory / name).is_file():
            problems.append(Problem(name, None, f"missing: run {key.label} needs {key.first_file} and {key.second_file}"))
            continue
        texts, file_problems = read_answer_file(directory / name)
        problems += file_problems
        parts.append(texts)
    if problems:
        return None, problems
    first, second = parts
    problems = _check_parts(key, first, second, initial_ids)
    if problems:
        return None, problems
    texts = np.concatenate([first, second]) if second.size else first
    labels = label_answers(texts)
    initial = labels[0] if initial_ids is None else np.asarray(initial_ids, dtype=np.int16)
    ids = np.concatenate([initial[None, :], labels]).astype(np.int16)
    return LLMRun(key=key, texts=texts, ids=ids, files=(key.first_file, key.second_file)), []


def _check_parts(key: RunKey, first: np.ndarray, second: np.ndarray, initial_ids: np.ndarray | None) -> list[Problem]:
    if first.shape[0] == 0:
        return [Problem(key.first_file, None, "no answer rounds")]
    if second.size and second.shape[1] != first.shape[1]:
        return [Problem(key.second_file, 1, f"{second.shape[1]} agents, but {key.first_file} has {first.shape[1]}")]
    if second.size and first.shape[0] != ROUNDS_PER_FILE:
        message = f"{first.shape[0]} rounds; a first file followed by a _2nd file must hold {ROUNDS_PER_FILE}"
        return [Problem(key.first_file, None, message)]
    if initial_ids is not None and len(initial_ids) != first.shape[1]:
        return [Problem(key.first_file, 1, f"{first.shape[1]} agents, but {RAGS_FILE} has {len(initial_ids)}")]
    return []


def discover_runs(directory: str | os.PathLike) -> tuple[list[RunKey], list[Problem]]:
    """Run keys of the transcript files in ``directory``, sorted.

    A file whose name starts with ``output`` and ends with ``.csv`` but does
    not fit the pattern, or two spellings of one run (``output2_…`` and
    ``output2.0_…``), is reported; other files are ignored.
    """
    directory = Path(directory)
    keys: dict[RunKey, RunKey] = {}
    problems = []
    for path in sorted(directory.iterdir()):
        parsed = parse_run_file_name(path.name)
        if parsed is None:
            if path.name.startswith("output") and path.name.endswith(".csv"):
                problems.append(Problem(path.name, None, "not a transcript name output{P}_{K}_{V}[_2nd].csv"))
            continue
        key, _ = parsed
        known = keys.setdefault(key, key)
        if known.p_tag != key.p_tag:
            problems.append(Problem(path.name, None, f"duplicates run {known.label} spelled with P={known.p_tag}"))
    return sorted(keys), problems


def _keep_common_shape(runs: list[LLMRun]) -> tuple[list[LLMRun], list[Problem]]:
    """Runs whose (n_steps, n_agents) is the most common; the others reported."""
    if not runs:
        return runs, []
    common, _ = Counter(run.texts.shape for run in runs).most_common(1)[0]
    kept = [run for run in runs if run.texts.shape == common]
    problems = [
        Problem(run.key.first_file, None,
                f"{run.n_steps} rounds x {run.n_agents} agents; the other runs have {common[0]} x {common[1]}")
        for run in runs if run.texts.shape != common
    ]
    return kept, problems


def load_transcripts(directory: str | os.PathLike | None = None,
                     keep: Callable[[RunKey], bool] | None = None) -> TranscriptSet:
    """Read every run in a transcripts directory.

    Parameters
    ----------
    directory : path-like, optional
        Default :func:`default_transcripts_dir`.
    keep : callable, optional
        Read only the runs whose key it accepts (e.g. the first replicates).

    Returns
    -------
    TranscriptSet
        Runs sorted by (p, k, replicate), all with the same number of rounds
        and agents, and every problem met on the way.

    Raises
    ------
    FileNotFoundError
        When ``directory`` is not a directory.
    """
    directory = Path(directory) if directory is not None else default_transcripts_dir()
    if not directory.is_dir():
        raise FileNotFoundError(f"transcripts directory not found: {directory} (set ${TRANSCRIPTS_ENV})")
    keys, problems = discover_runs(directory)
    keys = [key for key in keys if keep is None or keep(key)]
    initial_ids, initial_problems = read_initial_flowers(directory / RAGS_FILE)
    if keys:
        problems += initial_problems
    runs = []
    for key in keys:
        run, run_problems = read_run(directory, key, initial_ids)
        problems += run_problems
        if run is not None:
            runs.append(run)
    runs, shape_problems = _keep_common_shape(runs)
    return TranscriptSet(directory=directory, runs=tuple(runs), problems=tuple(problems + shape_problems))
