"""Scenario files: the topic, question, prompt, labels and knowledge bases of a language-model experiment.

``igmm llm simulate --scenario FILE`` runs the system on any topic. A scenario
is a YAML mapping with these keys (the flower setting of the released runs,
``scenarios/flowers.yaml`` in this package, is the default):

``topic``
    A short name of what the agents talk about (labels figures and the
    labeller).
``query``
    The question every agent answers every round; also the retrieval query.
``system_prompt``, ``user_prompt``
    Templates of the two chat messages. Placeholders: ``{context}`` (the
    retrieved knowledge-base answer; required in one of the two),
    ``{query}`` and ``{phrase}``; write ``{{`` and ``}}`` for literal braces.
``required_phrase`` (optional)
    An answer without it (any case) is asked for again, up to
    ``max_regenerations`` times; leave it out to keep every answer.
``labels``
    How answers become IDs for the analysis: a named list (``flowers``), a
    list of names (each a string, or ``{name: ..., aliases: [...]}``), or
    ``{clustering: {threshold: 0.8}}`` / ``{clustering: {n_clusters: 8}}``
    with optional ``method`` (average, complete, single, ward) and
    ``embedder`` (minilm, hashing).
``plurals`` (optional, default true)
    Whether plural forms of listed names count.
``knowledge_bases`` (optional)
    Either a path to an ``.npz`` in the released layout (key ``arr_0``, text
    of shape (n_agents, 2, n_topics)), relative to the scenario file, or
    inline: one list per agent of ``{question: ..., answer: ...}`` entries,
    the same number for every agent. Without it, ``--rags`` (or the
    transcripts folder's ``RAGs.npz``) is used.

:func:`load_scenario` validates everything before any request and reports
each bad value on its own line: file, key, value and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
import os
import string
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

#: Placeholders a prompt template may use.
PLACEHOLDERS = ("context", "query", "phrase")
#: Largest scenario file read (bytes); inline knowledge bases of many agents fit easily.
MAX_SCENARIO_BYTES = 10_000_000
#: Longest value quoted in an error message (characters).
MAX_SHOWN_VALUE = 60


class KnowledgeEntry(BaseModel):
    """One knowledge-base entry: a key question and its answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)


class LabelName(BaseModel):
    """One label of a list, with further spellings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()


class Clustering(BaseModel):
    """Labels from clustering the answers' embeddings (:class:`igmm.llm.labels.ClusterLabeller`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float | None = Field(None, gt=0, allow_inf_nan=False, description="cut the tree at this distance")
    n_clusters: int | None = Field(None, ge=1, le=32766, description="cut the tree into at most this many clusters")
    method: Literal["average", "complete", "single", "ward"] = "average"
    embedder: Literal["minilm", "hashing"] = "minilm"

    @model_validator(mode="after")
    def _one_cut(self) -> "Clustering":
        if (self.threshold is None) == (self.n_clusters is None):
            raise ValueError("give exactly one of threshold and n_clusters")
        return self


class Labels(BaseModel):
    """Exactly one of a named list, a list of names, or clustering."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    preset: Literal["flowers"] | None = None
    names: tuple[LabelName, ...] | None = Field(None, min_length=1)
    clustering: Clustering | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "Labels":
        if sum(value is not None for value in (self.preset, self.names, self.clustering)) != 1:
            raise ValueError("give a named list (flowers), a list of names, or {clustering: {...}}")
        return self


def _template_fields(template: str) -> list[str]:
    """Placeholder names of a template; ValueError for bad braces or anything but a plain name."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        raise ValueError("unbalanced braces; write {{ and }} for literal braces") from None
    fields = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            raise ValueError(f"placeholders are {', '.join('{' + p + '}' for p in PLACEHOLDERS)} only "
                             "(no attributes, indices or formats); write {{ and }} for literal braces")
        fields.append(name)
    return fields


class Scenario(BaseModel):
    """A validated scenario (see the module docstring for the keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Fields are validated in this order; a validator may look at the fields above its own.
    topic: str = Field(min_length=1)
    query: str = Field(min_length=1)
    system_prompt: str = ""
    user_prompt: str = Field(min_length=1)
    required_phrase: str | None = Field(None, min_length=1, validate_default=True)
    plurals: bool = True
    labels: Labels
    knowledge_bases: tuple[tuple[KnowledgeEntry, ...], ...] | None = None
    knowledge_bases_file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        """``labels: flowers`` / ``labels: [..]`` and ``knowledge_bases: path`` as the typed fields expect them."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        labels = data.get("labels")
        if isinstance(labels, str):
            data["labels"] = {"preset": labels}
        elif isinstance(labels, list):
            data["labels"] = {"names": [{"name": v} if isinstance(v, str) else v for v in labels]}
        if isinstance(data.get("knowledge_bases"), str) and "knowledge_bases_file" not in data:
            data["knowledge_bases_file"] = data.pop("knowledge_bases")
        return data

    @field_validator("system_prompt")
    @classmethod
    def _placeholders(cls, template: str) -> str:
        _template_fields(template)
        return template

    @field_validator("user_prompt")
    @classmethod
    def _has_context(cls, template: str, info: ValidationInfo) -> str:
        used = set(_template_fields(template)) | set(_template_fields(info.data.get("system_prompt", "")))
        if "context" not in used:
            raise ValueError("user_prompt or system_prompt must contain {context} (the retrieved answer)")
        return template

    @field_validator("required_phrase")
    @classmethod
    def _phrase_if_used(cls, phrase: str | None, info: ValidationInfo) -> str | None:
        if phrase is None and "user_prompt" in info.data:
            used = set(_template_fields(info.data["system_prompt"])) | set(_template_fields(info.data["user_prompt"]))
            if "phrase" in used:
                raise ValueError("a prompt uses {phrase}, so required_phrase must be given")
        return phrase

    @field_validator("labels")
    @classmethod
    def _usable_list(cls, labels: Labels, info: ValidationInfo) -> Labels:
        from igmm.llm.labels import ListLabeller

        if labels.names is not None:  # repeated names or a bad alias fail here, not during the analysis
            try:
                ListLabeller([label.name for label in labels.names], plurals=info.data.get("plurals", True),
                             aliases={label.name: label.aliases for label in labels.names if label.aliases})
            except ValueError as error:
                raise ValueError(str(error).removeprefix("labels: ")) from None
        return labels

    @field_validator("knowledge_bases")
    @classmethod
    def _rectangular(cls, agents):
        if agents is None:
            return agents
        if len(agents) < 2:
            raise ValueError("give at least 2 agents, each a list of {question, answer} entries")
        sizes = {len(entries) for entries in agents}
        if len(sizes) != 1 or 0 in sizes:
            raise ValueError("every agent needs the same number (>= 1) of {question, answer} entries")
        return agents

    @field_validator("knowledge_bases_file")
    @classmethod
    def _readable_file(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        from igmm.llm.transcripts import read_rags

        if path is None:
            return path
        if info.data.get("knowledge_bases") is not None:
            raise ValueError("give knowledge_bases once: a path or the inline lists")
        base = Path((info.context or {}).get("base_dir", "."))
        resolved = path if path.is_absolute() else base / path
        if not resolved.is_file():
            raise ValueError(f"no such file (looked for {resolved})")
        try:
            rags = read_rags(resolved)
        except (OSError, ValueError) as error:
            raise ValueError(f"{resolved.name}: {error}") from None
        if rags.shape[0] < 2:
            raise ValueError("the knowledge bases need at least 2 agents")
        return resolved

    # --- what the run and the analysis use ------------------------------------------------------

    def messages(self, context: str) -> list[dict[str, str]]:
        """The chat messages of one request, with ``context`` the retrieved answer."""
        values = {"context": context, "query": self.query, "phrase": self.required_phrase or ""}
        messages = [{"role": "user", "content": self.user_prompt.format(**values)}]
        if self.system_prompt:
            messages.insert(0, {"role": "system", "content": self.system_prompt.format(**values)})
        return messages

    def knowledge_base_array(self) -> np.ndarray | None:
        """Initial knowledge bases, text of shape (n_agents, 2, n_topics), or None when the scenario has none."""
        if self.knowledge_bases_file is not None:
            from igmm.llm.transcripts import read_rags

            return read_rags(self.knowledge_bases_file)
        if self.knowledge_bases is None:
            return None
        return np.array([[[entry.question for entry in agent], [entry.answer for entry in agent]]
                         for agent in self.knowledge_bases], dtype=str)

    def labeller(self):
        """The :class:`~igmm.llm.labels.Labeller` of :attr:`labels` (clustering loads its embedder)."""
        from igmm.llm.labels import ClusterLabeller, ListLabeller

        if self.labels.preset is not None:
            from igmm.llm.targets import resolve_labeller

            return resolve_labeller(self.labels.preset)
        if self.labels.names is not None:
            names = [label.name for label in self.labels.names]
            aliases = {label.name: label.aliases for label in self.labels.names if label.aliases}
            return ListLabeller(names, plurals=self.plurals, aliases=aliases, name=self.topic)
        from igmm.llm.embed import make_embedder

        spec = self.labels.clustering
        return ClusterLabeller(make_embedder(spec.embedder), threshold=spec.threshold, n_clusters=spec.n_clusters,
                               method=spec.method)

    def prompt_sha256(self) -> str:
        """Hash of what shapes the requests (query, prompts, phrase): a resumed run must match it."""
        fields = {"query": self.query, "system_prompt": self.system_prompt, "user_prompt": self.user_prompt,
                  "required_phrase": self.required_phrase}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def default_scenario_path() -> Path:
    """The packaged flower scenario (``igmm/llm/scenarios/flowers.yaml``)."""
    return Path(str(resources.files("igmm.llm") / "scenarios" / "flowers.yaml"))


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN_VALUE else text[: MAX_SHOWN_VALUE - 3] + "..."


def _error_lines(name: str, error: ValidationError, raw: dict) -> list[str]:
    """One line per error; a top-level key shows the value as written, not as the shorthands rewrote it."""
    lines = []
    for item in error.errors():
        top = item["loc"][0] if item["loc"] else None
        top = "knowledge_bases" if top == "knowledge_bases_file" else top
        if len(item["loc"]) == 1 and top in raw:
            item = item | {"input": raw[top]}
        key = ".".join(str(part) for part in item["loc"]) or "(scenario)"
        key = key.replace("knowledge_bases_file", "knowledge_bases")
        if item["type"] == "missing":
            lines.append(f"{name}: {key}: missing; this key is required")
            continue
        message = item["msg"].removeprefix("Value error, ")
        shown = "the scenario" if not item["loc"] else _shown(item.get("input"))
        lines.append(f"{name}: {key}: {shown} is not allowed: {message}")
    return lines


def parse_scenario(data: Any, name: str = "(scenario)", base_dir: str | os.PathLike = ".") -> Scenario:
    """Validate an already-parsed scenario mapping.

    Parameters
    ----------
    data : mapping
    name : str
        File name shown in errors.
    base_dir : path-like
        Folder that a relative ``knowledge_bases`` path starts from.

    Raises
    ------
    ValueError
        One line per bad value: ``{name}: {key}: {value} is not allowed: {rule}``.
    """
    if not isinstance(data, dict):
        raise ValueError(f"{name}: must be a mapping with keys topic, query, user_prompt, labels, ...")
    try:
        return Scenario.model_validate(data, context={"base_dir": Path(base_dir)})
    except ValidationError as error:
        raise ValueError("\n".join(_error_lines(name, error, data))) from None


def load_scenario(path: str | os.PathLike | None = None) -> Scenario:
    """Read and validate a scenario file.

    Parameters
    ----------
    path : path-like, optional
        YAML file; default :func:`default_scenario_path` (the flowers).

    Returns
    -------
    Scenario

    Raises
    ------
    ValueError
        One line per bad value (file, key, value, what is allowed), or one
        line when the file cannot be read or is not YAML.

    Examples
    --------
    >>> scenario = load_scenario()
    >>> scenario.topic, scenario.required_phrase
    ('prettiest flower', 'The prettiest flower is')
    """
    import yaml

    path = Path(path) if path is not None else default_scenario_path()
    try:
        if path.stat().st_size > MAX_SCENARIO_BYTES:
            raise ValueError(f"{path}: larger than {MAX_SCENARIO_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    except OSError as error:
        raise ValueError(f"scenario: cannot read {path} ({error.strerror or type(error).__name__})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValueError(f"{path}: not valid YAML{where}") from None
    return parse_scenario(data, str(path), path.parent)
