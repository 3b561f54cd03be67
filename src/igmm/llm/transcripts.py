"""Read language-model transcripts in the released format into ID trajectories.

The released format: ``output{P}_{K}_{V}.csv`` holds answer rounds 0-39 and
``output{P}_{K}_{V}_2nd.csv`` rounds 40-79 of the run with p = P/10, k = K,
replicate V. Each file has a header row (an empty cell, then the agent numbers
0 .. n_agents - 1), then one row per round: the round index within the file,
then one cell per agent holding a Python list literal with the agent's answer.
``RAGs.npz`` (key ``arr_0``, text of shape (n_agents, 2, n_topics)) holds every
agent's initial knowledge base: [agent, 0 = key questions / 1 = answers, topic].

Time axis
---------
The GMM's trajectory has ``n_steps + 1`` rows with t = 0 the initial state
before any interaction. Here t = 0 is the label of each agent's initial
knowledge-base answer (topic ``initial_topic`` of ``RAGs.npz``, the flower
topic 0 for the released runs; a run written by ``igmm llm simulate`` records
the topic each agent retrieved in ``run_{P}_{K}_{V}.json`` and that one is
used) and t = s + 1 is the label of answer round s, so 80 rounds give ``ids``
of shape (81, n_agents) and T = 80, as for a GMM run with ``n_steps = 80``.
The answer of round s is written from the knowledge base after s updates, so
the language model's ID is observed one update later than the GMM's (whose
ID at t is read after t updates); consensus times are shifted by one step
against counting from the first answer row. With this convention the median
t* of the released runs matches the values read off the original figures.
When ``RAGs.npz`` is missing or unusable, t = 0 is a copy of the first answer
round and a :class:`Problem` says so.

Untrusted input
---------------
Cells are parsed with :func:`ast.literal_eval` (never ``eval``). Every
malformed file, row or cell becomes a :class:`Problem` naming the file and the
1-based line number, and saying what is wrong without quoting the file's
content; a run with any problem is left out, and every other run is still
read. Names whose numbers are out of range, files that are not regular files
and symbolic links that lead out of the folder are reported and never opened.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from igmm.llm.flowers import FLOWER_LABELLER, label_answers
from igmm.llm.labels import Labeller

#: Environment variable naming the transcripts directory.
TRANSCRIPTS_ENV = "IGMM_TRANSCRIPTS"
#: Answer rounds in the first file of a run when a second file follows.
ROUNDS_PER_FILE = 40
#: Name of the initial knowledge bases inside a transcripts directory.
RAGS_FILE = "RAGs.npz"
#: Key of the knowledge-base array inside ``RAGs.npz``.
RAGS_KEY = "arr_0"
#: Index of the flower topic in the last axis of ``RAGs.npz`` (the released runs list it first).
FLOWER_TOPIC = 0
#: Sampling seed of replicate V in the released runs (and in ``igmm llm simulate``): 11 + V.
SAMPLING_SEED_OFFSET = 11
#: Longest cell accepted (characters); longer cells are reported, not parsed.
MAX_CELL_CHARS = 100_000
#: Largest k and replicate a file name may carry (keeps them in int32 everywhere downstream).
MAX_KEY_VALUE = 10**9
#: Largest run record read (``run_{P}_{K}_{V}.json``); a record holds settings and one int per agent.
MAX_RECORD_BYTES = 1_000_000

_RUN_FILE = re.compile(r"^output(?P<P>\d+(?:\.\d+)?)_(?P<K>\d+)_(?P<V>\d+)(?P<second>_2nd)?\.csv$")
_ZIP_MAGIC = b"PK\x03\x04"


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
        What is wrong and what was expected (never the file's content).
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
    def record_file(self) -> str:
        """Name of the run record ``igmm llm simulate`` writes beside the transcripts."""
        return f"run_{self.p_tag}_{self.k}_{self.replicate}.json"

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
        Labels; row 0 the initial knowledge base, row s + 1 round s.
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

    @property
    def keys(self) -> dict:
        """Run keys ``{"p", "k", "replicate"}``, as a :class:`~igmm.llm.targets.TargetRun` has them."""
        return {"p": self.key.p, "k": self.key.k, "replicate": self.key.replicate}


@dataclass(frozen=True, eq=False)
class TranscriptSet:
    """All runs read from one directory, sorted by (p, k, replicate), and the problems met.

    Attributes
    ----------
    directory : Path
    runs : tuple of LLMRun
    problems : tuple of Problem
    n_found : int
        Runs whose file names were found, read or not (0: no transcripts here).
    """

    directory: Path
    runs: tuple[LLMRun, ...]
    problems: tuple[Problem, ...]
    n_found: int = 0

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


# --- file names ---------------------------------------------------------------------------------


def _bounded_int(digits: str, what: str, low: int) -> int:
    """``int(digits)`` within ``low .. MAX_KEY_VALUE``; the length is checked first (Python caps int())."""
    if len(digits) > len(str(MAX_KEY_VALUE)) or not low <= int(digits) <= MAX_KEY_VALUE:
        raise ValueError(f"{what} must be an integer in {low} .. {MAX_KEY_VALUE}")
    return int(digits)


def _p_of_tag(p_tag: str) -> float:
    """p = P/10 of a file name's P, which must lie in 0 .. 10."""
    if len(p_tag) > 20 or not 0.0 <= float(p_tag) <= 10.0:
        raise ValueError("P must be a number in 0 .. 10 (p = P/10 in [0, 1]) with at most 20 characters")
    return round(float(p_tag) / 10, 10)


def parse_run_file_name(name: str) -> tuple[RunKey, bool] | None:
    """Run key of a transcript file name and whether it is the ``_2nd`` part.

    Returns None for a name outside the ``output{P}_{K}_{V}[_2nd].csv`` pattern.

    Raises
    ------
    ValueError
        For a name in the pattern whose numbers are out of range: P in
        0 .. 10, K in 1 .. 10**9, V in 0 .. 10**9 (the message names the
        rule, not the number).

    Examples
    --------
    >>> parse_run_file_name("output7_25_3_2nd.csv")
    (RunKey(p=0.7, k=25, replicate=3, p_tag='7'), True)
    """
    match = _RUN_FILE.match(name)
    if match is None:
        return None
    key = RunKey(
        p=_p_of_tag(match["P"]),
        k=_bounded_int(match["K"], "K", 1),
        replicate=_bounded_int(match["V"], "V", 0),
        p_tag=match["P"],
    )
    return key, match["second"] is not None


def _is_inside(path: Path, root: Path) -> bool:
    """True when ``path``, with every symbolic link followed, lies inside ``root`` (already resolved)."""
    return Path(os.path.realpath(path)).is_relative_to(root)


def _readable_problem(path: Path, root: Path, name: str) -> Problem | None:
    """Why ``path`` must not be opened (a link out of the folder, not a regular file), or None."""
    if not _is_inside(path, root):
        return Problem(name, None, "a symbolic link leading out of the transcripts folder; not read")
    if not path.is_file():  # a directory, FIFO or device would block or fail when read
        return Problem(name, None, "not a regular file; not read")
    return None


def discover_runs(directory: str | os.PathLike) -> tuple[list[RunKey], list[Problem]]:
    """Run keys of the transcript files in ``directory``, sorted.

    A file whose name starts with ``output`` and ends with ``.csv`` but does
    not fit the pattern or carries out-of-range numbers, a symbolic link
    leading out of ``directory``, a name that is not a regular file, or two
    spellings of one run (``output2_…`` and ``output2.0_…``) is reported;
    other files are ignored.
    """
    directory = Path(directory)
    root = Path(os.path.realpath(directory))
    keys: dict[RunKey, RunKey] = {}
    problems = []
    for path in sorted(directory.iterdir()):
        try:
            parsed = parse_run_file_name(path.name)
        except ValueError as error:
            problems.append(Problem(path.name, None, f"not a usable transcript name: {error}"))
            continue
        if parsed is None:
            if path.name.startswith("output") and path.name.endswith(".csv"):
                problems.append(Problem(path.name, None, "not a transcript name output{P}_{K}_{V}[_2nd].csv"))
            continue
        unreadable = _readable_problem(path, root, path.name)
        if unreadable is not None:
            problems.append(unreadable)
            continue
        key, _ = parsed
        known = keys.setdefault(key, key)
        if known.p_tag != key.p_tag:
            problems.append(Problem(path.name, None, f"duplicates run {known.label} spelled with another P"))
    return sorted(keys), problems


# --- answer files -------------------------------------------------------------------------------


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
    """Answer text held by one cell; raises ValueError saying what is wrong (never quoting the cell)."""
    if len(cell) > MAX_CELL_CHARS:
        raise ValueError(f"cell longer than {MAX_CELL_CHARS} characters")
    simple = simple_list_literal(cell)
    if simple is not None:
        return simple
    try:
        value = ast.literal_eval(cell)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as error:
        raise ValueError(f"not a Python literal ({type(error).__name__}); expected a list of strings "
                         "such as ['answer']") from None
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a non-empty list of strings, got {type(value).__name__}")
    # The format allows "answer(s)"; several strings are read as one answer.
    return " ".join(value)


def _check_header(header: list[str], name: str) -> list[Problem]:
    agents = header[1:]
    expected = [str(agent) for agent in range(len(agents))]
    if not agents or agents != expected:
        return [Problem(name, 1, f"header must be an index column then the agents 0 .. n-1 "
                                 f"(found {len(header)} columns, not in that form)")]
    return []


def _parse_row(row: list[str], step: int, n_agents: int, name: str, line: int) -> tuple[list[str], list[Problem]]:
    if len(row) != n_agents + 1:
        return [], [Problem(name, line, f"expected {n_agents + 1} columns (step + {n_agents} agents), got {len(row)}")]
    problems = []
    if row[0].strip() != str(step):
        problems.append(Problem(name, line, f"step column must be {step} (rounds are numbered from 0 in each file)"))
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
    except UnicodeDecodeError as error:
        return None, [Problem(name, None, f"not UTF-8 text (undecodable byte at offset {error.start})")]
    except OSError as error:
        return None, [Problem(name, None, f"cannot read file ({error.strerror or type(error).__name__})")]
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
    except csv.Error as error:  # the csv module's messages name the rule broken, never the data
        problems.append(Problem(name, reader.line_num, f"CSV error: {error}"))
    return rows, n_agents, problems


def read_run_texts(directory: str | os.PathLike, key: RunKey) -> tuple[np.ndarray | None, list[Problem]]:
    """Answers of both files of one run.

    Returns
    -------
    texts : ndarray of object (str), shape (n_rounds, n_agents), or None
        None when any of its files has a problem.
    problems : list of Problem
    """
    directory = Path(directory)
    root = Path(os.path.realpath(directory))
    parts, problems = [], []
    for name in (key.first_file, key.second_file):
        path = directory / name
        if not path.exists() and not path.is_symlink():
            problems.append(Problem(name, None, f"missing: run {key.label} needs {key.first_file} and {key.second_file}"))
            continue
        unreadable = _readable_problem(path, root, name)
        if unreadable is not None:
            continue  # discover_runs reported it
        texts, file_problems = read_answer_file(path)
        problems += file_problems
        parts.append(texts)
    if problems or len(parts) != 2:
        return None, problems
    first, second = parts
    problems = _check_parts(key, first, second)
    if problems:
        return None, problems
    return (np.concatenate([first, second]) if second.size else first), []


def _check_parts(key: RunKey, first: np.ndarray, second: np.ndarray) -> list[Problem]:
    if first.shape[0] == 0:
        return [Problem(key.first_file, None, "no answer rounds")]
    if second.size and second.shape[1] != first.shape[1]:
        return [Problem(key.second_file, 1, f"{second.shape[1]} agents, but {key.first_file} has {first.shape[1]}")]
    if second.size and first.shape[0] != ROUNDS_PER_FILE:
        message = f"{first.shape[0]} rounds; a first file followed by a _2nd file must hold {ROUNDS_PER_FILE}"
        return [Problem(key.first_file, None, message)]
    return []


# --- initial knowledge bases --------------------------------------------------------------------


def read_rags(path: str | os.PathLike) -> np.ndarray:
    """The knowledge-base array of an ``RAGs.npz``, checked.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    ndarray of str, shape (n_agents, 2, n_topics)
        [agent, 0 = key questions / 1 = answers, topic]; n_agents, n_topics >= 1.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        One line saying what is wrong: not an ``.npz`` archive, no ``arr_0``,
        pickled objects (never loaded), another dtype or shape.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            if handle.read(len(_ZIP_MAGIC)) != _ZIP_MAGIC:
                raise ValueError("not an .npz archive (a zip of .npy arrays)")
            handle.seek(0)
            with np.load(handle, allow_pickle=False) as archive:  # never unpickle an untrusted file
                if RAGS_KEY not in archive.files:
                    raise ValueError(f"no array '{RAGS_KEY}' in the archive")
                rags = archive[RAGS_KEY]
    except (FileNotFoundError, ValueError):
        raise
    except Exception as error:  # noqa: BLE001  zip and npy parsing of a hostile file may raise almost anything
        raise ValueError(f"not a readable .npz archive ({type(error).__name__})") from None
    if rags.dtype.kind == "O":
        raise ValueError(f"{RAGS_KEY} holds Python objects; only text arrays are read")
    if rags.dtype.kind != "U" or rags.ndim != 3 or rags.shape[1] != 2 or 0 in rags.shape:
        raise ValueError(f"{RAGS_KEY} must be text of shape (n_agents, 2, n_topics); "
                         f"got dtype {rags.dtype.str} and shape {rags.shape}")
    return rags


def read_initial_answers(path: str | os.PathLike) -> tuple[np.ndarray | None, list[Problem]]:
    """Initial knowledge bases of a transcripts folder, or a problem saying why t = 0 falls back.

    Returns
    -------
    rags : ndarray of str, shape (n_agents, 2, n_topics), or None
    problems : list of Problem
    """
    path = Path(path)
    fallback = "; t = 0 is a copy of the first answer round"
    if not path.exists() and not path.is_symlink():
        return None, [Problem(path.name, None, "missing" + fallback)]
    unreadable = _readable_problem(path, Path(os.path.realpath(path.parent)), path.name)
    if unreadable is not None:
        return None, [Problem(path.name, None, unreadable.message + fallback)]
    try:
        return read_rags(path), []
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        return None, [Problem(path.name, None, f"unusable ({reason}){fallback}")]


def read_initial_flowers(path: str | os.PathLike) -> tuple[np.ndarray | None, list[Problem]]:
    """Flower ID of every agent's initial knowledge base (the flower topic of ``RAGs.npz``).

    Returns
    -------
    ids : ndarray of int16, shape (n_agents,), or None when unusable
    problems : list of Problem
    """
    rags, problems = read_initial_answers(path)
    if rags is None:
        return None, problems
    return label_answers(rags[:, 1, FLOWER_TOPIC]), []


def read_retrieved_topics(path: Path, n_agents: int, n_topics: int) -> tuple[np.ndarray | None, list[Problem]]:
    """Topic each agent retrieved, from a run record of ``igmm llm simulate``.

    Parameters
    ----------
    path : Path
        ``run_{P}_{K}_{V}.json``; its ``retrieved_topics`` is a list of
        n_agents ints in 0 .. n_topics - 1.

    Returns
    -------
    topics : ndarray of int64, shape (n_agents,), or None
        None when there is no record (no problem then) or it is unusable.
    problems : list of Problem
    """
    if not path.exists() and not path.is_symlink():
        return None, []
    unreadable = _readable_problem(path, Path(os.path.realpath(path.parent)), path.name)
    if unreadable is not None:
        return None, [unreadable]
    try:
        if path.stat().st_size > MAX_RECORD_BYTES:
            raise ValueError(f"larger than {MAX_RECORD_BYTES} bytes")
        topics = json.loads(path.read_text(encoding="utf-8")).get("retrieved_topics")
    except (OSError, ValueError, AttributeError) as error:
        reason = str(error) if isinstance(error, ValueError) and "bytes" in str(error) else type(error).__name__
        return None, [Problem(path.name, None, f"unusable run record ({reason}); t = 0 from the default topic")]
    if topics is None:
        return None, []  # a run still in progress has no topics yet
    valid = (isinstance(topics, list) and len(topics) == n_agents
             and all(isinstance(t, int) and not isinstance(t, bool) and 0 <= t < n_topics for t in topics))
    if not valid:
        return None, [Problem(path.name, None, f"retrieved_topics must be {n_agents} integers in 0 .. "
                                               f"{n_topics - 1}; t = 0 from the default topic")]
    return np.asarray(topics, dtype=np.int64), []


# --- whole folders ------------------------------------------------------------------------------


def _keep_common_shape(texts: dict[RunKey, np.ndarray]) -> tuple[dict[RunKey, np.ndarray], list[Problem]]:
    """Runs whose (n_steps, n_agents) is the most common; the others reported."""
    if not texts:
        return texts, []
    common, _ = Counter(answers.shape for answers in texts.values()).most_common(1)[0]
    kept = {key: answers for key, answers in texts.items() if answers.shape == common}
    problems = [
        Problem(key.first_file, None,
                f"{answers.shape[0]} rounds x {answers.shape[1]} agents; the other runs have {common[0]} x {common[1]}")
        for key, answers in texts.items() if answers.shape != common
    ]
    return kept, problems


def _usable_rags(rags: np.ndarray | None, n_agents: int | None,
                 initial_topic: int) -> tuple[np.ndarray | None, list[Problem]]:
    """``rags`` when it fits the runs (agent count, topic index); else None and the reason."""
    if rags is None or n_agents is None:
        return rags, []
    fallback = "; t = 0 is a copy of the first answer round"
    if rags.shape[0] != n_agents:
        return None, [Problem(RAGS_FILE, None, f"{rags.shape[0]} agents, but the transcripts have {n_agents}{fallback}")]
    if not 0 <= initial_topic < rags.shape[2]:
        return None, [Problem(RAGS_FILE, None, f"has {rags.shape[2]} topics, so no topic {initial_topic}{fallback}")]
    return rags, []


def label_run(key: RunKey, texts: np.ndarray, initial_texts: np.ndarray | None, labeller: Labeller,
              files: tuple[str, ...] = ()) -> LLMRun:
    """Label one run's answers (and its initial knowledge) in one call, so clusters agree across steps.

    Parameters
    ----------
    key : RunKey
    texts : ndarray of str, shape (n_steps, n_agents)
    initial_texts : ndarray of str, shape (n_agents,), or None
        Each agent's initial knowledge-base answer; None copies the first round's labels to t = 0.
    labeller : Labeller

    Returns
    -------
    LLMRun
        ``ids`` int16 of shape (n_steps + 1, n_agents).
    """
    if initial_texts is None:
        labels = labeller.label_texts(texts)
        ids = np.concatenate([labels[:1], labels])
    else:
        ids = labeller.label_texts(np.concatenate([np.asarray(initial_texts, dtype=object)[None, :], texts]))
    return LLMRun(key=key, texts=texts, ids=ids.astype(np.int16), files=files)


def load_transcripts(directory: str | os.PathLike | None = None,
                     keep: Callable[[RunKey], bool] | None = None,
                     labeller: Labeller = FLOWER_LABELLER,
                     initial_topic: int = FLOWER_TOPIC) -> TranscriptSet:
    """Read every run in a transcripts directory.

    Parameters
    ----------
    directory : path-like, optional
        Default :func:`default_transcripts_dir`.
    keep : callable, optional
        Read only the runs whose key it accepts (e.g. the first replicates).
    labeller : Labeller
        Turns answers into IDs; default the flowers
        (:data:`igmm.llm.flowers.FLOWER_LABELLER`).
    initial_topic : int
        Topic of ``RAGs.npz`` whose answers give t = 0, for runs without a
        run record naming the retrieved topics (default 0, the flowers of the
        released runs).

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
    texts: dict[RunKey, np.ndarray] = {}
    for key in keys:
        answers, run_problems = read_run_texts(directory, key)
        problems += run_problems
        if answers is not None:
            texts[key] = answers
    texts, shape_problems = _keep_common_shape(texts)
    rags, rags_problems = read_initial_answers(directory / RAGS_FILE) if keys else (None, [])
    n_agents = next(iter(texts.values())).shape[1] if texts else None
    rags, fit_problems = _usable_rags(rags, n_agents, initial_topic)
    problems += rags_problems + fit_problems + shape_problems
    runs = []
    for key, answers in texts.items():
        initial, topic_problems = _initial_texts(directory, key, rags, initial_topic)
        problems += topic_problems
        runs.append(label_run(key, answers, initial, labeller, (key.first_file, key.second_file)))
    return TranscriptSet(directory=directory, runs=tuple(runs), problems=tuple(problems), n_found=len(keys))


def _initial_texts(directory: Path, key: RunKey, rags: np.ndarray | None,
                   initial_topic: int) -> tuple[np.ndarray | None, list[Problem]]:
    """Each agent's initial answer: the topic its run record names, else ``initial_topic``."""
    if rags is None:
        return None, []
    topics, problems = read_retrieved_topics(directory / key.record_file, rags.shape[0], rags.shape[2])
    if topics is None:
        topics = np.full(rags.shape[0], initial_topic)
    return rags[np.arange(rags.shape[0]), 1, topics], problems
