"""The sweep SPEC: base configuration, grid, replicates and root seed, validated once.

A SPEC file is YAML::

    base: {n_agents: 30, r: 5, T: 200}      # any simulation key (YAML names)
    grid:                                   # product of lists, last axis fastest
      p: [0.0, 0.1, 0.2]
      k: [1, 5, 29]
    zip:                                    # optional: lists walked together
      sigma: [0.1, 0.2]
      delta: [0.5, 1.0]
    replicates: 50
    seed: 2024
    chunk_size: 25                          # replicates per task
    save_ids: false                         # also keep every ID trajectory (re-analysis, figures)
    task_timeout: 600                       # seconds; a task past it is recorded as failed

Grid points are the product of the ``grid`` axes (in the order written) and,
when ``zip`` is given, of the zipped rows as one more (last) axis.

**Seeds are keyed by value, not position.** A point's key is the SHA-256 of
the canonical JSON of its swept values (:func:`point_key`); replicate ``i``
of the point runs with ``SeedSequence(seed, spawn_key=(*key_words(key), i))``.
Adding grid values, reordering an axis or adding replicates therefore leaves
every finished run's seed, and so its result, unchanged, and a grown sweep
reuses them.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from igmm.config import (
    ConfigError,
    Float,
    Int,
    SimulationConfig,
    canonical_json,
    config_keys,
    format_validation_error,
    load_yaml,
    make_config,
    resolve_relative_paths,
)

#: Grid points checked one by one; more bad points are summarised in one line.
MAX_REPORTED_POINTS = 5
#: Largest grid accepted (points): checked from the axis lengths before any point is built.
MAX_POINTS = 1_000_000
#: Hex digits of a point's key (64 bits: collisions need ~4 billion points).
POINT_KEY_HEX = 16


def point_key(values: dict[str, Any]) -> str:
    """The key of a grid point: the first 16 hex digits of the SHA-256 of its canonical JSON.

    Examples
    --------
    >>> point_key({"p": 0.2, "k": 5}) == point_key({"k": 5, "p": 0.2})
    True
    """
    return hashlib.sha256(canonical_json(values).encode()).hexdigest()[:POINT_KEY_HEX]


def key_words(key: str) -> tuple[int, ...]:
    """A point key as 32-bit words, the prefix of its replicates' spawn keys."""
    return tuple(int(key[start:start + 8], 16) for start in range(0, len(key), 8))


def point_seeds(seed: int, key: str, start: int, n_reps: int) -> list[np.random.SeedSequence]:
    """SeedSequences of replicates ``start .. start + n_reps - 1`` of the point with this key."""
    from igmm.api import replicate_seeds

    return replicate_seeds(seed, n_reps, start=start, prefix=key_words(key))


class SweepSpec(BaseModel):
    """A validated sweep specification (see the module docstring for the YAML form).

    Attributes
    ----------
    base : dict
        Configuration values shared by every grid point (YAML key names).
    grid : dict of str -> list
        Axes whose Cartesian product gives the grid points.
    zipped : dict of str -> list
        Axes walked together (equal lengths), one more grid axis (YAML ``zip``).
    replicates : int
        Replicates per grid point, >= 1.
    seed : int
        Root seed, >= 0.
    chunk_size : int
        Replicates per task (one vectorised batch), >= 1.
    save_ids : bool
        Also store the ID trajectories (``ids/``, int16 npz), for re-analysis.
    task_timeout : float or None
        Seconds a task may run; past it the task is recorded as failed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    base: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    zipped: dict[str, list[Any]] = Field(default_factory=dict, alias="zip")
    replicates: Int = Field(ge=1, le=10**7)
    seed: Int = Field(0, ge=0)
    chunk_size: Int = Field(25, ge=1, le=10**6)
    save_ids: bool = False
    task_timeout: Float | None = Field(None, gt=0)

    @field_validator("grid", "zipped")
    @classmethod
    def _non_empty_axes(cls, axes: dict[str, list[Any]]) -> dict[str, list[Any]]:
        empty = [name for name, values in axes.items() if not values]
        if empty:
            raise ValueError(f"axis {empty[0]!r} has no values: give a non-empty list")
        known = set(config_keys(SimulationConfig)) | set(SimulationConfig.model_fields)
        unknown = [name for name in axes if name not in known]
        if unknown:
            raise ValueError(f"axis {unknown[0]!r} is not a simulation key; allowed: {', '.join(sorted(known))}")
        if "measures" in axes or "plugins" in axes:
            raise ValueError("measures and plugins cannot be swept: put them in base (every point records the same columns)")
        return axes

    @model_validator(mode="after")
    def _check_axes(self) -> "SweepSpec":
        lengths = {name: len(values) for name, values in self.zipped.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"zip: lists must have equal lengths; got {lengths}")
        shared = set(self.grid) & set(self.zipped)
        if shared:
            raise ValueError(f"grid/zip: axis {sorted(shared)[0]!r} appears in both")
        for name, values in self.grid.items():
            if len(set(map(canonical_json, values))) != len(values):
                raise ValueError(f"axis {name!r}: values must be distinct; got {values}")
        rows = [canonical_json(row) for row in zip(*self.zipped.values())]
        if len(set(rows)) != len(rows):
            raise ValueError(f"zip: rows must be distinct (two rows give the same point); got {self.zipped}")
        if self.n_points() > MAX_POINTS:
            raise ValueError(f"grid: {self.n_points()} points is not allowed: at most {MAX_POINTS} per sweep")
        return self

    @property
    def axes(self) -> list[str]:
        """Names of the swept parameters, grid axes first, then zipped ones."""
        return [*self.grid, *self.zipped]

    def n_points(self) -> int:
        """Number of grid points, from the axis lengths (nothing is built)."""
        zipped = len(next(iter(self.zipped.values()))) if self.zipped else 1
        return math.prod(len(values) for values in self.grid.values()) * zipped

    def points(self) -> list[dict[str, Any]]:
        """The grid points in order: a list of ``{axis: value}``, length n_points."""
        zipped_rows = [dict(zip(self.zipped, row)) for row in zip(*self.zipped.values())] or [{}]
        grid_rows = [dict(zip(self.grid, row)) for row in itertools.product(*self.grid.values())]
        return [{**grid_row, **zipped_row} for grid_row in grid_rows for zipped_row in zipped_rows]

    def keyed_points(self) -> list[tuple[str, dict[str, Any]]]:
        """``(point_key(values), values)`` of every grid point, in order."""
        return [(point_key(values), values) for values in self.points()]

    def configs(self) -> list[SimulationConfig]:
        """One validated configuration per grid point; ConfigError lists the bad ones."""
        configs, lines = [], []
        for index, point in enumerate(self.points()):
            try:
                configs.append(make_config({**self.base, **point}))
            except ConfigError as err:
                if len(lines) < MAX_REPORTED_POINTS:
                    where = ", ".join(f"{name}={value!r}" for name, value in point.items()) or "base"
                    lines += [f"grid point {index} ({where}): {line}" for line in err.lines]
                else:
                    lines.append("... further grid points are invalid too")
                    break
        if lines:
            raise ConfigError(lines)
        return configs

    def to_dict(self) -> dict[str, Any]:
        """Plain dict with the YAML key names (``zip``), JSON-serialisable."""
        return self.model_dump(by_alias=True)

    def identity(self) -> dict[str, Any]:
        """What fixes every run's result: base, seed and the swept axes' names (not their values or counts).

        Two specs with the same identity may share a folder: the second adds
        grid values or replicates to the first and reuses its finished runs.
        """
        return {"base": self.base, "seed": self.seed, "grid_axes": list(self.grid), "zip_axes": list(self.zipped)}

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`to_dict`: equal specs, equal digest."""
        return hashlib.sha256(canonical_json(self.to_dict()).encode()).hexdigest()


def make_spec(values: dict[str, Any], source: str | None = None, **overrides: Any) -> SweepSpec:
    """Validate a SPEC mapping (and non-None overrides, e.g. ``chunk_size``).

    Every grid point's configuration is validated too, so a bad value fails
    here, before any work starts.

    Raises
    ------
    ConfigError
        One line per bad value, naming it (and the file, when ``source`` is given).
    """
    if not isinstance(values, dict):
        raise ConfigError([f"{source or 'spec'}: must be a mapping, not a {type(values).__name__}"])
    merged = {**values, **{key: value for key, value in overrides.items() if value is not None}}
    try:
        spec = SweepSpec.model_validate(merged)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, config_keys(SweepSpec), root="spec", source=source)) from None
    try:
        spec.configs()
    except ConfigError as err:
        raise ConfigError([f"{source}: {line}" if source else line for line in err.lines]) from None
    return spec


def load_spec(path: str | Path, **overrides: Any) -> SweepSpec:
    """Read and validate a SPEC YAML file (see :func:`make_spec`); paths inside it are relative to it."""
    path = Path(path)
    values = load_yaml(path, what="spec")
    if isinstance(values.get("base"), dict):
        values["base"] = resolve_relative_paths(values["base"], path.resolve().parent)
    return make_spec(values, source=str(path), **overrides)
