"""The sweep SPEC: base configuration, grid, replicates and root seed, validated once.

A SPEC file is YAML::

    base: {n_agents: 30, r: 5, T: 200}      # any SimulationConfig key (YAML names)
    grid:                                   # product of lists, last axis fastest
      p: [0.0, 0.1, 0.2]
      k: [1, 5, 29]
    zip:                                    # optional: lists walked together
      sigma: [0.1, 0.2]
      delta: [0.5, 1.0]
    replicates: 50
    seed: 2024
    chunk_size: 25                          # replicates per task

Grid points are the product of the ``grid`` axes (in the order written) and,
when ``zip`` is given, of the zipped rows as one more (last) axis. Point ``g``
(its position in that order) and replicate ``i`` run with
``SeedSequence(seed, spawn_key=(g, i))``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from igmm.config import ConfigError, SimulationConfig, config_keys, format_validation_error, load_yaml, make_config

#: Grid points checked one by one; more bad points are summarised in one line.
MAX_REPORTED_POINTS = 5


class SweepSpec(BaseModel):
    """A validated sweep specification (see the module docstring for the YAML form).

    Attributes
    ----------
    base : dict
        Configuration values shared by every grid point (YAML key names).
    grid : dict of str -> list
        Axes whose Cartesian product gives the grid points.
    zip : dict of str -> list
        Axes walked together (equal lengths), one more grid axis.
    replicates : int
        Replicates per grid point, >= 1.
    seed : int
        Root seed, >= 0.
    chunk_size : int
        Replicates per task (one vectorised batch), >= 1.
    save_ids : bool
        Also store the ID trajectories (``ids/``, int16 npz), for re-analysis.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    base: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    zipped: dict[str, list[Any]] = Field(default_factory=dict, alias="zip")
    replicates: int = Field(ge=1)
    seed: int = Field(0, ge=0)
    chunk_size: int = Field(25, ge=1)
    save_ids: bool = False

    @field_validator("grid", "zipped")
    @classmethod
    def _non_empty_axes(cls, axes: dict[str, list[Any]]) -> dict[str, list[Any]]:
        empty = [name for name, values in axes.items() if not values]
        if empty:
            raise ValueError(f"axis {empty[0]!r} has no values: give a non-empty list")
        return axes

    @model_validator(mode="after")
    def _check_axes(self) -> "SweepSpec":
        lengths = {name: len(values) for name, values in self.zipped.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"zip: lists must have equal lengths; got {lengths}")
        shared = set(self.grid) & set(self.zipped)
        if shared:
            raise ValueError(f"grid/zip: axis {sorted(shared)[0]!r} appears in both")
        for name, values in {**self.grid, **self.zipped}.items():
            if len(set(map(_canonical, values))) != len(values):
                raise ValueError(f"axis {name!r}: values must be distinct; got {values}")
        return self

    @property
    def axes(self) -> list[str]:
        """Names of the swept parameters, grid axes first, then zipped ones."""
        return [*self.grid, *self.zipped]

    def points(self) -> list[dict[str, Any]]:
        """The grid points in index order: a list of ``{axis: value}``, length n_points."""
        zipped_rows = [dict(zip(self.zipped, row)) for row in zip(*self.zipped.values())] or [{}]
        grid_rows = [dict(zip(self.grid, row)) for row in itertools.product(*self.grid.values())]
        return [{**grid_row, **zipped_row} for grid_row in grid_rows for zipped_row in zipped_rows]

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

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`to_dict`: equal specs, equal digest."""
        return hashlib.sha256(_canonical(self.to_dict()).encode()).hexdigest()


def _canonical(value: Any) -> str:
    """Canonical JSON text (sorted keys), so 0.1 and 0.10 or key order do not change a hash."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def make_spec(values: dict[str, Any], **overrides: Any) -> SweepSpec:
    """Validate a SPEC mapping (and non-None overrides, e.g. ``chunk_size``).

    Every grid point's configuration is validated too, so a bad value fails
    here, before any work starts.

    Raises
    ------
    ConfigError
        One line per bad value, naming it.
    """
    merged = {**values, **{key: value for key, value in overrides.items() if value is not None}}
    try:
        spec = SweepSpec.model_validate(merged)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, config_keys(SweepSpec), root="spec")) from None
    spec.configs()
    return spec


def load_spec(path: str | Path, **overrides: Any) -> SweepSpec:
    """Read and validate a SPEC YAML file (see :func:`make_spec`)."""
    return make_spec(load_yaml(path), **overrides)
