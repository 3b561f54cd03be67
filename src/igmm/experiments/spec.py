"""Experiment specs: one YAML file per experiment in ``specs/``, validated by pydantic.

A spec says what to simulate (``base`` config, ``variants`` and/or a
cartesian ``grid`` of overrides, ``replicates``), how to draw it (``plot``)
and what the paper shows (``reads``). ``quick`` overrides make the reduced
version used by tests.
"""

from __future__ import annotations

import itertools
from importlib import resources
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SPEC_PACKAGE = "igmm.experiments.specs"


class Read(BaseModel):
    """A value read off the authors' figure (EXPERIMENTS.md), to compare with ours.

    ``measure`` is ``stat:column``: stat one of mean, median, min, max, example
    (replicate 0) or ``share:PATTERN``; column a column of ``runs.parquet``.
    ``value`` None means the read is only words (``text``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    where: dict[str, Any] = Field(default_factory=dict)
    measure: str
    value: float | None = None
    text: str = ""


class QuickSettings(BaseModel):
    """Overrides of the reduced (``--quick``) version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    replicates: int | None = Field(None, ge=1)
    base: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, Any] | None = None


class ExampleRule(BaseModel):
    """How a variant's example run (the one drawn) is chosen, openly.

    The first replicate whose silo pattern at T is ``pattern``, searching all
    the variant's replicates; when none has it, the replicate that stayed
    split longest (largest t*), labelled as such.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: Literal["consensus", "stable", "unstable", "decaying"]


class ExperimentSpec(BaseModel):
    """One experiment of docs/experiments.md, as data: a sweep spec plus reads plus a figure."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str
    description: str = ""
    runner: Literal["gmm", "group", "llm-comparison"] = "gmm"
    base: dict[str, Any] = Field(default_factory=dict)
    variants: list[dict[str, Any]] = Field(default_factory=lambda: [{}])
    grid: dict[str, Any] = Field(default_factory=dict)
    replicates: int = Field(1, ge=1)
    plot: Literal["trajectory-panels", "trajectory-grid", "replicate-summary", "moving-variance",
                  "group-summary", "none"] = "none"
    x: str | None = None
    y: str | None = None
    xlabel: str | None = None
    ylabel: str | None = None
    members: list[str] = Field(default_factory=list)
    perspective_steps: list[int] = Field(default_factory=list, description="steps of the perspective-space figure")
    example: ExampleRule | None = None
    reads: list[Read] = Field(default_factory=list)
    quick: QuickSettings = Field(default_factory=QuickSettings)

    @model_validator(mode="after")
    def _variants_share_keys(self) -> "ExperimentSpec":
        keys = {tuple(sorted(variant)) for variant in self.variants}
        if len(keys) > 1:
            raise ValueError(f"variants: every variant must set the same keys; got {sorted(keys)}")
        return self

    def resolved(self, quick: bool) -> "ExperimentSpec":
        """This spec with the quick overrides applied when ``quick``, and its texts saying its real size.

        ``{T}`` and ``{replicates}`` in the title, description and axis labels
        become the values of this version, so a quick run never claims the
        full run's size.
        """
        spec = self
        if quick:
            update: dict[str, Any] = {"base": self.base | self.quick.base}
            if self.quick.replicates is not None:
                update["replicates"] = self.quick.replicates
            if self.quick.grid is not None:
                update["grid"] = self.quick.grid
            spec = self.model_copy(update=update)
        sizes = {"{T}": str(spec.base.get("T", "T")), "{replicates}": str(spec.replicates)}
        texts = {}
        for name in ("title", "description", "xlabel", "ylabel"):
            text = getattr(spec, name)
            for placeholder, value in sizes.items() if text else ():
                text = text.replace(placeholder, value)
            if text:
                texts[name] = text
        return spec.model_copy(update=texts)

    def variant_overrides(self) -> list[dict[str, Any]]:
        """Every variant's overrides of ``base``, in the sweep's point order (grid outer, variants inner)."""
        axes = {name: _grid_values(values) for name, values in self.grid.items()}
        points = [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]
        return [point | variant for point in points for variant in self.variants]

    def variant_keys(self) -> list[str]:
        """Names of the parameters that vary between variants (the key columns of the tables)."""
        names: list[str] = []
        for overrides in self.variant_overrides():
            names += [name for name in overrides if name not in names]
        return names

    def sweep_values(self, seed: int) -> dict[str, Any]:
        """The sweep SPEC of this experiment: the grid as grid axes, the variants as zipped axes."""
        zipped = {key: [variant[key] for variant in self.variants] for key in self.variants[0]}
        return {"base": self.base, "grid": {name: _grid_values(values) for name, values in self.grid.items()},
                "zip": zipped, "replicates": self.replicates, "seed": seed, "chunk_size": min(self.replicates, 50),
                "save_ids": True}


def _grid_values(values: Any) -> list[Any]:
    """A grid axis: a list, or ``{linspace: [start, stop, num]}`` (rounded to 10 digits)."""
    if isinstance(values, dict) and set(values) == {"linspace"}:
        start, stop, num = values["linspace"]
        return [round(float(v), 10) for v in np.linspace(start, stop, int(num))]
    if isinstance(values, list):
        return values
    raise ValueError(f"grid values: {values!r} is not allowed: give a list or {{linspace: [start, stop, num]}}")


def experiment_names() -> list[str]:
    """Names of every declared experiment, sorted."""
    files = resources.files(SPEC_PACKAGE).iterdir()
    return sorted(entry.name.removesuffix(".yaml") for entry in files if entry.name.endswith(".yaml"))


class UnknownExperiment(ValueError):
    """No spec of that name; the message lists the valid ones."""


def load_spec(name: str) -> ExperimentSpec:
    """The validated spec of experiment ``name``.

    Raises
    ------
    UnknownExperiment
        When ``name`` is not declared; the message lists the valid names.
    """
    names = experiment_names()
    if name not in names:
        raise UnknownExperiment(f"experiment: {name!r} is not known; valid names are: {', '.join(names)}, all")
    text = resources.files(SPEC_PACKAGE).joinpath(f"{name}.yaml").read_text()
    try:
        return ExperimentSpec.model_validate(yaml.safe_load(text))
    except ValidationError as err:
        raise ValueError(f"spec {name}.yaml is invalid: {err}") from None


def top_level_names() -> list[str]:
    """Experiments that ``reproduce all`` runs: every one not already run as a member of a group."""
    specs = [load_spec(name) for name in experiment_names()]
    members = {member for spec in specs for member in spec.members}
    return [spec.name for spec in specs if spec.name not in members]
