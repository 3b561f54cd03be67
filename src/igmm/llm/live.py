"""`igmm llm simulate`: run the language-model system against an OpenAI-compatible server.

n agents (one per row of the knowledge bases), each retrieves once the
knowledge-base entry whose key question is nearest to the query, answers the
query with that entry as context every round, and overwrites the entry with
its own answer (probability p) or with the answer of a partner drawn
uniformly among its k nearest agents in the embedding space of this round's
answers. The topic, query, prompt, required phrase and knowledge bases come
from a scenario (:mod:`igmm.llm.scenario`; the flowers by default).

Resume
------
Every answer is appended to ``answers_{P}_{K}_{V}.jsonl`` (one JSON line:
step, agent, attempt, text, has_phrase) as soon as it arrives, and flushed to
disk. A rerun with the same ``--out`` replays the log: answers on disk are not
asked for again, and the knowledge-base updates are recomputed from them with
the same random numbers (one generator per replicate, drawing a fixed amount
per round), so an interrupted run continues exactly where it stopped. A
truncated last line (a write cut off) is dropped. ``run_{P}_{K}_{V}.json``
records what identifies the run; resuming with a different model, p, k,
sampling settings, scenario prompt, knowledge bases or embedder is refused.
When the run is complete it also records the topic each agent retrieved, so
the analysis reads t = 0 from the right knowledge-base entry.

Seeds
-----
Updates use ``SeedSequence(seed, spawn_key=(replicate,))``, the project's
replicate rule. The spec's sampling seed 11 + replicate is the root of the
request seeds: request (step, agent, attempt) sends
``SeedSequence(11 + replicate, spawn_key=(step, agent, attempt))``'s first
31-bit word. A server that honours ``seed`` then answers a resumed run with
the same text, and a regeneration is a new sample rather than a repeat of
the answer that lacked the phrase.

Secrets
-------
The API key is read from ``$IGMM_API_KEY`` (else ``$OPENAI_API_KEY``) when the
run starts and is sent only in the ``Authorization`` header; it is never
stored in the config. A server may quote it back (in an error body) and a
model may repeat it, so every answer, log line, state file and error message
passes through :func:`igmm.llm.redaction.redact` first.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from igmm.llm.embed import Embedder, pairwise_distances
from igmm.llm.redaction import API_KEY_ENVS, api_key, redact
from igmm.llm.scenario import Scenario, load_scenario
from igmm.llm.transcripts import RAGS_FILE, ROUNDS_PER_FILE, SAMPLING_SEED_OFFSET, read_rags

__all__ = ["API_KEY_ENVS", "LLM_INSTALL_HINT", "SAMPLING_SEED_OFFSET", "ChatClient", "LiveConfig", "LiveResult",
           "LiveRunError", "has_phrase", "kept_answer", "load_knowledge_bases", "make_live_config", "request_seed",
           "require_httpx", "retrieve_topics", "simulate_live", "transcript_csv", "update_knowledge"]

#: What to run when the live-run extra is missing.
LLM_INSTALL_HINT = "pip install 'interacting-gmm[llm]'"
#: HTTP statuses worth another try (timeouts, rate limits, server trouble).
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
#: Longest pause between retries, in seconds.
MAX_BACKOFF_S = 60.0
#: Fields of the configuration that identify a run (a resume must match them).
IDENTITY_FIELDS = ("model", "p", "k", "replicate", "seed", "temperature", "top_p", "max_tokens", "max_regenerations")


def default_scenario() -> Scenario:
    """The packaged flower scenario (read once per process)."""
    global _DEFAULT_SCENARIO
    if _DEFAULT_SCENARIO is None:
        _DEFAULT_SCENARIO = load_scenario()
    return _DEFAULT_SCENARIO


_DEFAULT_SCENARIO: Scenario | None = None
# Stands for "the default scenario's phrase" in signatures (None already means "no phrase required").
_DEFAULT_PHRASE: Any = object()


def __getattr__(name: str) -> str:
    """``QUERY`` and ``REQUIRED_PHRASE``: the flower scenario's, read from its file when first asked for."""
    if name == "QUERY":
        return default_scenario().query
    if name == "REQUIRED_PHRASE":
        return default_scenario().required_phrase
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def require_httpx() -> None:
    """Fail early, naming the install command, when the ``llm`` extra (httpx) is missing.

    Raises
    ------
    ImportError
        One line with :data:`LLM_INSTALL_HINT`.
    """
    try:
        import httpx  # noqa: F401
    except ImportError:
        raise ImportError(f"live runs need the 'llm' extra (httpx is missing): {LLM_INSTALL_HINT}") from None


class LiveRunError(RuntimeError):
    """The live run cannot go on (server refused, retries exhausted, resume mismatch)."""


class LiveConfig(BaseModel):
    """Settings of one live run; validated once, here."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = Field(description="OpenAI-compatible API root, e.g. http://127.0.0.1:8080/v1")
    model: str = Field(min_length=1, description="model name sent with every request")
    p: float = Field(ge=0.0, le=1.0, description="mirroring probability")
    k: int = Field(ge=1, description="partners drawn among the k nearest agents (<= n_agents - 1)")
    replicate: int = Field(0, ge=0, description="replicate index V")
    n_steps: int = Field(80, ge=1, description="answer rounds T")
    seed: int = Field(0, ge=0, description="root seed of the update draws")
    concurrency: int = Field(4, ge=1, description="requests in flight at most")
    timeout: float = Field(120.0, gt=0, description="seconds per request")
    retries: int = Field(5, ge=0, description="extra tries of a failed request")
    backoff: float = Field(1.0, ge=0, description="seconds before the first retry; doubles each retry")
    temperature: float = Field(0.75, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int = Field(500, ge=1)
    max_regenerations: int = Field(4, ge=0, description="new answers asked when the phrase is missing")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        if any(char.isspace() or not char.isprintable() for char in value) or not urlsplit(value).hostname:
            raise ValueError("must be a URL with a host and no blanks, e.g. http://127.0.0.1:8080/v1")
        return value.rstrip("/")

    @property
    def p_tag(self) -> str:
        """P of the file names: p * 10 without trailing zeros (0.2 -> "2", 0.25 -> "2.5")."""
        return f"{round(self.p * 10, 6):g}"

    @property
    def run_tag(self) -> str:
        """``{P}_{K}_{V}`` of this run's file names."""
        return f"{self.p_tag}_{self.k}_{self.replicate}"


def make_live_config(**values: Any) -> LiveConfig:
    """Validated :class:`LiveConfig`; errors name the field, the value and what is allowed.

    Raises
    ------
    ValueError
        One line per bad value.
    """
    try:
        return LiveConfig(**{name: value for name, value in values.items() if value is not None})
    except ValidationError as error:
        lines = [f"{'.'.join(map(str, item['loc']))}: {item.get('input')!r} is not allowed: "
                 f"{item['msg'].removeprefix('Value error, ')}" for item in error.errors()]
        raise ValueError("\n".join(lines)) from None


@dataclass
class RunFiles:
    """Paths of one live run inside its output folder."""

    out_dir: Path
    tag: str

    @property
    def log(self) -> Path:
        return self.out_dir / f"answers_{self.tag}.jsonl"

    @property
    def state(self) -> Path:
        return self.out_dir / f"run_{self.tag}.json"

    @property
    def first_csv(self) -> Path:
        return self.out_dir / f"output{self.tag}.csv"

    @property
    def second_csv(self) -> Path:
        return self.out_dir / f"output{self.tag}_2nd.csv"


@dataclass(frozen=True)
class LiveResult:
    """Outcome of :func:`simulate_live`.

    Attributes
    ----------
    out_dir : Path
    texts : ndarray of object (str), shape (n_steps, n_agents)
        The answer kept for each agent and round.
    n_requests : int
        Requests answered by the server in this call (resumed answers excluded).
    n_reused : int
        Answers read back from the log instead of asked for.
    n_missing_phrase : int
        Kept answers still lacking the phrase after every regeneration.
    retrieved_topics : ndarray of int, shape (n_agents,)
    written : tuple of Path
    """

    out_dir: Path
    texts: np.ndarray
    n_requests: int
    n_reused: int
    n_missing_phrase: int
    retrieved_topics: np.ndarray
    written: tuple[Path, ...] = field(default=())


def load_knowledge_bases(path: str | os.PathLike) -> np.ndarray:
    """Initial knowledge bases from an ``RAGs.npz`` (:func:`igmm.llm.transcripts.read_rags`).

    Returns
    -------
    ndarray of str, shape (n_agents, 2, n_topics)
        [agent, 0 = key questions / 1 = answers, topic].

    Raises
    ------
    ValueError
        One line naming the file: not an archive, no ``arr_0``, another
        dtype or shape, fewer than 2 agents.
    """
    try:
        rags = read_rags(path)
    except ValueError as error:
        raise ValueError(f"rags: {path}: {error}") from None
    if rags.shape[0] < 2:
        raise ValueError(f"rags: {path}: the knowledge bases need at least 2 agents, got {rags.shape[0]}")
    return rags


def retrieve_topics(knowledge_bases: np.ndarray, embed: Embedder, query: str | None = None) -> np.ndarray:
    """Topic each agent retrieves: the key question with the largest inner product with the query.

    Parameters
    ----------
    knowledge_bases : ndarray of str, shape (n_agents, 2, n_topics)
    embed : Embedder
    query : str, optional
        Default the flower scenario's query.

    Returns
    -------
    ndarray of int64, shape (n_agents,)
    """
    questions = knowledge_bases[:, 0, :]
    query = default_scenario().query if query is None else query
    vectors = embed([query] + [str(q) for q in questions.ravel()])
    scores = (vectors[1:] @ vectors[0]).reshape(questions.shape)
    return np.argmax(scores, axis=1)


def chat_messages(context: str, scenario: Scenario | None = None) -> list[dict[str, str]]:
    """Messages of one request (:meth:`Scenario.messages`; default the flower scenario)."""
    return (scenario or default_scenario()).messages(context)


def request_seed(replicate: int, step: int, agent: int, attempt: int) -> int:
    """Sampling seed of one request (31 bits), rooted in 11 + replicate."""
    sequence = np.random.SeedSequence(SAMPLING_SEED_OFFSET + replicate, spawn_key=(step, agent, attempt))
    return int(sequence.generate_state(1)[0] & 0x7FFFFFFF)


def has_phrase(text: str, phrase: str | None = _DEFAULT_PHRASE) -> bool:
    """True when the answer contains ``phrase`` (any case); always True when ``phrase`` is None.

    The default phrase is the flower scenario's "The prettiest flower is".
    """
    phrase = default_scenario().required_phrase if phrase is _DEFAULT_PHRASE else phrase
    return phrase is None or phrase.lower() in text.lower()


def update_knowledge(answers: list[str], distances: np.ndarray, p: float, k: int,
                     rng: np.random.Generator) -> list[str]:
    """One round's overwrite of every agent's retrieved entry.

    Every entry is overwritten each round, by the agent's own answer
    (mirroring) or by a partner's, so the new entries depend only on the
    answers, the distances and the draws.

    Parameters
    ----------
    answers : list of str, length n_agents
    distances : ndarray of float, shape (n_agents, n_agents)
    p : float
        Mirroring probability.
    k : int
        Partners are drawn uniformly among the k nearest other agents
        (ties broken by agent index).
    rng : numpy.random.Generator
        Draws exactly 2 * n_agents numbers per call, whatever the outcome,
        so replaying the same answers replays the same choices.

    Returns
    -------
    list of str, length n_agents
        The new retrieved entry of every agent.
    """
    from igmm.llm.measures import answer_neighbours

    n_agents = len(answers)
    mirror = rng.random(n_agents) < p
    pick = rng.integers(0, k, size=n_agents)
    nearest = answer_neighbours(np.asarray(distances, dtype=np.float64)[None], k)[0]  # never oneself
    source = np.where(mirror, np.arange(n_agents), nearest[np.arange(n_agents), pick])
    return [answers[j] for j in source]


class AnswerLog:
    """Append-only JSONL log of every answer, read back on resume."""

    def __init__(self, path: Path, n_steps: int, n_agents: int, max_attempts: int,
                 phrase: str | None = _DEFAULT_PHRASE, secrets: Sequence[str | None] = ()):
        self.path = path
        self.phrase = phrase
        self.secrets = tuple(secrets)
        self.attempts: dict[tuple[int, int], list[str]] = {}
        self.n_ignored = 0
        self._read(n_steps, n_agents, max_attempts)
        self._handle = open(path, "a", encoding="utf-8")

    def _read(self, n_steps: int, n_agents: int, max_attempts: int) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            # The last write was cut off: drop the partial line so appends start clean.
            data = data[: data.rfind(b"\n") + 1]
            with open(self.path, "r+b") as handle:
                handle.truncate(len(data))
            self.n_ignored += 1
        for line in data.decode("utf-8", errors="replace").splitlines():
            record = self._parse(line, n_agents, max_attempts)
            if record is None:
                self.n_ignored += 1
                continue
            step, agent, attempt, text = record
            known = self.attempts.setdefault((step, agent), [])
            if attempt == len(known):  # attempts are logged in order; duplicates are ignored
                known.append(text)

    @staticmethod
    def _parse(line: str, n_agents: int, max_attempts: int) -> tuple[int, int, int, str] | None:
        try:
            record = json.loads(line)
            step, agent, attempt, text = record["step"], record["agent"], record["attempt"], record["text"]
        except (ValueError, KeyError, TypeError):
            return None
        valid = (all(isinstance(v, int) for v in (step, agent, attempt)) and isinstance(text, str)
                 and step >= 0 and 0 <= agent < n_agents and 0 <= attempt < max_attempts)
        return (step, agent, attempt, text) if valid else None

    def append(self, step: int, agent: int, attempt: int, text: str) -> None:
        text = redact(text, self.secrets)
        record = {"step": step, "agent": agent, "attempt": attempt, "text": text,
                  "has_phrase": has_phrase(text, self.phrase)}
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.attempts.setdefault((step, agent), []).append(text)

    def close(self) -> None:
        self._handle.close()


def kept_answer(attempts: Sequence[str], max_attempts: int, phrase: str | None = _DEFAULT_PHRASE) -> str | None:
    """The answer kept from the attempts so far, or None while another attempt is due.

    The first attempt with the phrase (:func:`has_phrase`); after
    ``max_attempts`` attempts without it, the last one.
    """
    for text in attempts:
        if has_phrase(text, phrase):
            return text
    return attempts[-1] if len(attempts) >= max_attempts else None


class ChatClient:
    """Chat-completions requests with a concurrency limit, timeouts and retries with backoff.

    Every text it returns or raises has the API key redacted.
    """

    def __init__(self, config: LiveConfig, scenario: Scenario | None = None):
        require_httpx()
        import httpx

        self.config = config
        self.scenario = scenario or default_scenario()
        self.url = f"{config.base_url}/chat/completions"
        headers = {"Content-Type": "application/json"}
        key = api_key()
        self.secrets = (key,)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._httpx = httpx
        self._client = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(config.timeout))
        self._slots = asyncio.Semaphore(config.concurrency)
        self.n_requests = 0

    async def close(self) -> None:
        await self._client.aclose()

    def _payload(self, context: str, seed: int) -> dict[str, Any]:
        config = self.config
        return {"model": config.model, "messages": self.scenario.messages(context), "temperature": config.temperature,
                "top_p": config.top_p, "max_tokens": config.max_tokens, "seed": seed}

    async def complete(self, context: str, seed: int) -> str:
        """Text of one completion; retries what may pass on a second try.

        Raises
        ------
        LiveRunError
            On a status that will not change (400, 401, 404, ...) or when
            every retry failed.
        """
        payload = self._payload(context, seed)
        last_error = ""
        for retry in range(self.config.retries + 1):
            if retry:
                await asyncio.sleep(min(self.config.backoff * 2 ** (retry - 1), MAX_BACKOFF_S))
            async with self._slots:
                try:
                    response = await self._client.post(self.url, json=payload)
                except self._httpx.InvalidURL:
                    raise LiveRunError(self._redact(f"{self.url} is not a usable URL; check --base-url")) from None
                except self._httpx.HTTPError as error:  # timeouts and connection trouble
                    last_error = f"{type(error).__name__}: {error}"
                    continue
            if response.status_code == 200:
                text = _completion_text(response)
                if text is not None:
                    self.n_requests += 1
                    return self._redact(text)
                last_error = f"malformed response body: {self._quoted(response)}"
            elif response.status_code in RETRYABLE_STATUSES:
                last_error = f"HTTP {response.status_code}: {self._quoted(response)}"
            else:
                raise LiveRunError(self._redact(
                    f"{self.url} answered HTTP {response.status_code}: {self._quoted(response)} "
                    "(not retried; check --base-url, --model and the API key variable)"))
        raise LiveRunError(self._redact(
            f"{self.url}: no answer after {self.config.retries + 1} tries; last error: {last_error}"))

    def _redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def _quoted(self, response) -> str:
        """The start of a reply's body, for messages; redacted before it is cut, so no key survives in part."""
        return repr(self._redact(response.text)[:200])


def _completion_text(response) -> str | None:
    """``choices[0].message.content`` of a chat-completions body, or None when it has none."""
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    # Some servers send null content (e.g. only reasoning): an answer without the phrase.
    return content if isinstance(content, str) else ("" if content is None else None)


def _identity(config: LiveConfig, rags_sha256: str, embedder: str, n_agents: int,
              scenario: Scenario) -> dict[str, Any]:
    identity = {name: getattr(config, name) for name in IDENTITY_FIELDS}
    return identity | {"rags_sha256": rags_sha256, "embedder": embedder, "n_agents": n_agents,
                       "prompt_sha256": scenario.prompt_sha256()}


def knowledge_sha256(rags: np.ndarray) -> str:
    """Hash of the knowledge bases' content (dtype, shape, text), whatever file or scenario they came from."""
    digest = hashlib.sha256(f"{rags.dtype.str}{rags.shape}".encode())
    digest.update(np.ascontiguousarray(rags).tobytes())
    return digest.hexdigest()


def _check_resume(files: RunFiles, identity: dict[str, Any]) -> None:
    """Refuse to extend a log written with other settings."""
    if not files.state.exists():
        if files.log.exists() and files.log.stat().st_size:
            raise LiveRunError(f"{files.log} exists without {files.state.name}; use another --out")
        return
    stored = _read_state_identity(files)
    for name, value in identity.items():
        if stored.get(name) != value:
            raise LiveRunError(f"cannot resume {files.log.name}: {name} was {stored.get(name)!r}, now {value!r}; "
                               "use another --out for a different run")


def _read_state_identity(files: RunFiles) -> dict[str, Any]:
    """The identity stored in a run record; an unreadable record is an error naming the file, not its content."""
    try:
        return json.loads(files.state.read_text(encoding="utf-8")).get("identity", {})
    except (OSError, ValueError, AttributeError):
        raise LiveRunError(f"{files.state} is not a readable run record; use another --out") from None


def _write_state(files: RunFiles, identity: dict[str, Any], status: str, extra: dict[str, Any]) -> Path:
    from igmm import storage

    document = {"identity": identity, "status": status} | extra
    return storage.write_text(redact(json.dumps(document, indent=2), [api_key()]) + "\n", files.state)


def transcript_csv(texts: np.ndarray) -> str:
    """Transcript CSV text of answer rounds (the released format).

    Parameters
    ----------
    texts : ndarray of str, shape (n_rounds, n_agents)
        ``n_rounds`` may be 0 (header only).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([""] + [str(agent) for agent in range(texts.shape[1])])
    for step, row in enumerate(texts):
        writer.writerow([step] + [repr([str(text)]) for text in row])
    return buffer.getvalue()


def write_transcripts(texts: np.ndarray, files: RunFiles, secrets: Sequence[str | None] = ()) -> list[Path]:
    """Write rounds 0-39 and 40 onward as ``output{P}_{K}_{V}.csv`` and ``..._2nd.csv`` (secrets redacted)."""
    from igmm import storage

    return [storage.write_text(redact(transcript_csv(texts[:ROUNDS_PER_FILE]), secrets), files.first_csv),
            storage.write_text(redact(transcript_csv(texts[ROUNDS_PER_FILE:]), secrets), files.second_csv)]


def _write_knowledge_bases(rags: np.ndarray, out_dir: Path) -> Path:
    """``RAGs.npz`` of the run in the output folder (kept when it already holds these knowledge bases)."""
    from igmm import storage

    target = out_dir / RAGS_FILE
    try:
        if np.array_equal(read_rags(target), rags):
            return target
    except (OSError, ValueError):
        pass  # absent or unusable: write it
    with storage.atomic_path(target) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, arr_0=rags)
    return target


async def _answer_round(client: ChatClient, log: AnswerLog, config: LiveConfig, step: int,
                        contexts: list[str]) -> list[str]:
    """Every agent's kept answer in one round, asking only for what the log lacks."""
    max_attempts = config.max_regenerations + 1

    async def answer(agent: int) -> str:
        attempts = log.attempts.setdefault((step, agent), [])
        while (kept := kept_answer(attempts, max_attempts, client.scenario.required_phrase)) is None:
            attempt = len(attempts)
            text = await client.complete(contexts[agent], request_seed(config.replicate, step, agent, attempt))
            log.append(step, agent, attempt, text)
        return kept

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(answer(agent)) for agent in range(len(contexts))]
    except* LiveRunError as errors:
        raise errors.exceptions[0] from None
    return [task.result() for task in tasks]


async def _run_rounds(config: LiveConfig, log: AnswerLog, rags: np.ndarray, topics: np.ndarray,
                      embed: Embedder, on_step: Callable[[int], None] | None,
                      scenario: Scenario) -> tuple[np.ndarray, int]:
    n_agents = rags.shape[0]
    contexts = [str(rags[agent, 1, topics[agent]]) for agent in range(n_agents)]
    rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(config.replicate,)))
    texts = np.empty((config.n_steps, n_agents), dtype=object)
    client = ChatClient(config, scenario)
    try:
        for step in range(config.n_steps):
            texts[step] = answers = await _answer_round(client, log, config, step, contexts)
            distances = pairwise_distances(embed(answers))
            contexts = update_knowledge(answers, distances, config.p, config.k, rng)
            if on_step is not None:
                on_step(step + 1)
    finally:
        await client.close()
    return texts, client.n_requests


def simulate_live(config: LiveConfig, out_dir: str | os.PathLike, knowledge_bases: str | os.PathLike | np.ndarray,
                  embed: Embedder | None = None, on_step: Callable[[int], None] | None = None,
                  scenario: Scenario | None = None) -> LiveResult:
    """Run (or resume) one replicate of the language-model system.

    Parameters
    ----------
    config : LiveConfig
    out_dir : path-like
        Receives ``answers_{P}_{K}_{V}.jsonl``, ``run_{P}_{K}_{V}.json``,
        ``RAGs.npz`` (the knowledge bases, for t = 0 of the analysis) and the
        transcript CSVs ``output{P}_{K}_{V}.csv`` / ``_2nd.csv`` once all
        rounds are done.
    knowledge_bases : path-like or ndarray of str, shape (n_agents, 2, n_topics)
        Initial knowledge bases: an ``RAGs.npz`` or the array itself (e.g.
        :meth:`Scenario.knowledge_base_array`).
    embed : Embedder, optional
        For retrieval and the distances between answers; default
        all-MiniLM-L6-v2 (:func:`igmm.llm.embed.load_minilm`).
    on_step : callable, optional
        Called with the number of rounds done after each round.
    scenario : Scenario, optional
        Query, prompts and required phrase; default the flowers.

    Returns
    -------
    LiveResult

    Raises
    ------
    LiveRunError
        When the server refuses, retries run out or the log belongs to other
        settings; what was answered so far stays in the log. Messages never
        hold the API key.
    ValueError
        For knowledge bases that are unusable or do not fit ``k``.
    ImportError
        When the ``llm`` extra is missing (before anything is written).
    """
    from igmm.llm.embed import load_minilm

    scenario = scenario or default_scenario()
    rags = knowledge_bases if isinstance(knowledge_bases, np.ndarray) else load_knowledge_bases(knowledge_bases)
    n_agents = rags.shape[0]
    if config.k > n_agents - 1:
        raise ValueError(f"k: {config.k} is not allowed: must satisfy 1 <= k <= n_agents - 1 = {n_agents - 1}")
    require_httpx()
    embed = embed or load_minilm()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = RunFiles(out_dir, config.run_tag)
    identity = _identity(config, knowledge_sha256(rags), embed.name, n_agents, scenario)
    _check_resume(files, identity)
    written = [_write_knowledge_bases(rags, out_dir), _write_state(files, identity, "running", {})]
    topics = retrieve_topics(rags, embed, scenario.query)
    secrets = (api_key(),)
    log = AnswerLog(files.log, config.n_steps, n_agents, config.max_regenerations + 1, scenario.required_phrase,
                    secrets)
    n_logged = sum(len(attempts) for attempts in log.attempts.values())
    try:
        texts, n_requests = asyncio.run(_run_rounds(config, log, rags, topics, embed, on_step, scenario))
    finally:
        log.close()
    n_missing = int(sum(not has_phrase(text, scenario.required_phrase) for text in texts.ravel()))
    written += write_transcripts(texts, files, secrets)
    summary = {"n_steps_done": config.n_steps, "retrieved_topics": topics.tolist(), "n_missing_phrase": n_missing,
               "n_log_lines_ignored": log.n_ignored}
    written.append(_write_state(files, identity, "complete", summary))
    return LiveResult(out_dir=out_dir, texts=texts, n_requests=n_requests, n_reused=n_logged,
                      n_missing_phrase=n_missing, retrieved_topics=topics, written=tuple(written + [files.log]))
