"""The search space of a calibration: a YAML file, validated once (pydantic), before any work.

Example (``examples/calibration/paper.yaml``)::

    name: paper GMM                 # the proxy's name in the leaderboard
    base:                           # fixed simulation values (any key of igmm run's YAML)
      dynamics: paper
      n_agents: 30
    params:                         # searched values; a dotted key sets a dynamics option
      sigma: {low: 0.1, high: 0.6, log: true}    # or {low: 0.1, high: 0.6, step: 0.05}: a grid
      r: {low: 1, high: 10}                      # integers when both bounds are
      rag_policy: {choices: [farthest, oldest]}
      # dynamics_options.epsilon: {low: 0.02, high: 0.3}
    time_scale: {low: 1.0, high: 8.0, n: 29}    # proxy steps per target round (or a number)
    maps:                           # target (p, k) -> proxy (p, k); default identity
      k: {kind: linear, a: {low: 0.5, high: 2.0}, b: 0}     # k' = round(a k + b), clipped to 1 .. n - 1
      p: {kind: identity}                                   # linear: p' = a p + b, clipped to [0, 1]
    replicates: 16                  # proxy runs per cell and candidate
    seed: 0
    search: {design: 64, refine: 16, bootstrap: 200}
    measures: {times: [1, 2, 5, 10, 20, 40, 80], weights: {S: 0.5}, loss: huber}

The time scale is not simulated: every candidate runs to
ceil(T x the largest scale) steps and is read at every scale of the grid
(``n`` values, geometric when ``low > 0``), so the scale is fitted by
profiling, for free, at each configuration Optuna proposes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from igmm.calibrate.measures import DEFAULT_TIMES, DEFAULT_WEIGHTS
from igmm.config import ConfigError, Float, Int, config_keys, format_validation_error, load_yaml, make_config

#: Search keys a space may not set: the maps and the time scale own them.
RESERVED = ("p", "k", "T", "seed", "replicates", "plugins", "measures")


class Range(BaseModel):
    """A searched value: ``{low, high, log}`` (integers when both bounds are) or ``{choices: [...]}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    low: Float | None = None
    high: Float | None = None
    log: bool = False
    step: Float | None = Field(None, gt=0.0)
    choices: list[Any] | None = None
    integer: bool | None = None

    @model_validator(mode="after")
    def _check(self) -> "Range":
        if self.choices is not None:
            if self.low is not None or self.high is not None:
                raise ValueError("give either choices or low and high, not both")
            if not self.choices:
                raise ValueError("choices: give at least one value")
            return self
        if self.low is None or self.high is None:
            raise ValueError("give low and high (or choices)")
        if not self.low < self.high:
            raise ValueError(f"low {self.low} must be below high {self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"log: needs low > 0; got {self.low}")
        if self.step is not None and self.log:
            raise ValueError("step: not allowed with log (Optuna steps a linear scale)")
        return self

    @property
    def is_int(self) -> bool:
        if self.integer is not None:
            return self.integer
        return self.choices is None and float(self.low).is_integer() and float(self.high).is_integer() and not self.log

    def distribution(self):
        """The Optuna distribution of this range."""
        from igmm.calibrate.search import require_optuna

        optuna = require_optuna()

        if self.choices is not None:
            return optuna.distributions.CategoricalDistribution(self.choices)
        if self.is_int:
            return optuna.distributions.IntDistribution(int(self.low), int(self.high), log=self.log,
                                                        step=int(self.step or 1))
        return optuna.distributions.FloatDistribution(self.low, self.high, log=self.log, step=self.step)


class MapSpec(BaseModel):
    """A map from the target's p or k to the proxy's: ``identity`` or ``linear`` (a x + b)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["identity", "linear"] = "identity"
    a: Float | Range = 1.0
    b: Float | Range = 0.0


class TimeScale(BaseModel):
    """Proxy steps per target round: a grid of ``n`` values from ``low`` to ``high`` (geometric)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    low: Float = Field(gt=0.0)
    high: Float = Field(gt=0.0)
    n: Int = Field(25, ge=1, le=1000)

    @model_validator(mode="after")
    def _check(self) -> "TimeScale":
        if self.high < self.low:
            raise ValueError(f"high {self.high} must be at least low {self.low}")
        return self

    def grid(self) -> np.ndarray:
        """The scales tried, shape (n,), float64."""
        if self.n == 1 or self.low == self.high:
            return np.array([self.low])
        return np.geomspace(self.low, self.high, self.n)


class SearchSpec(BaseModel):
    """How hard to search: Sobol design trials (shared by every fold), TPE refinement trials, bootstrap."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    design: Int = Field(64, ge=1, le=100_000)
    refine: Int = Field(16, ge=0, le=100_000)
    bootstrap: Int = Field(200, ge=0, le=100_000)


class MeasureSpec(BaseModel):
    """Which measures, their weights and the loss."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    times: list[Int] = Field(default_factory=lambda: list(DEFAULT_TIMES))
    weights: dict[str, Float] = Field(default_factory=dict)
    loss: Literal["huber", "squared"] = "huber"

    @field_validator("weights")
    @classmethod
    def _known(cls, weights: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(weights) - set(DEFAULT_WEIGHTS))
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not a measure family; choose from {', '.join(DEFAULT_WEIGHTS)}")
        if any(w < 0 for w in weights.values()):
            raise ValueError("weights must be >= 0")
        return weights


def steps_at_scale(target_steps: int, scale: float) -> int:
    """Proxy steps that cover ``target_steps`` rounds at ``scale`` steps per round: ceil(T x scale), ignoring
    rounding noise below 1e-9 (so 80 x 1.25 is 100 steps, not 101)."""
    return int(math.ceil(target_steps * scale - 1e-9))


class CalibrationSpace(BaseModel):
    """A validated calibration space (module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "proxy"
    base: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Range] = Field(default_factory=dict)
    time_scale: TimeScale | Float = 1.0
    maps: dict[Literal["p", "k"], MapSpec] = Field(default_factory=dict)
    replicates: Int = Field(16, ge=2, le=100_000)
    seed: Int = Field(0, ge=0)
    search: SearchSpec = Field(default_factory=SearchSpec)
    measures: MeasureSpec = Field(default_factory=MeasureSpec)

    @field_validator("base", "params")
    @classmethod
    def _no_reserved(cls, values: dict) -> dict:
        taken = sorted(set(values) & set(RESERVED))
        if taken:
            raise ValueError(f"{taken[0]!r} cannot be set here: p and k come from the target's cells through maps, "
                             "T from the time scale, seed and replicates are keys of the space")
        return values

    @field_validator("time_scale")
    @classmethod
    def _positive(cls, scale):
        if isinstance(scale, float) and scale <= 0:
            raise ValueError(f"{scale} is not allowed: proxy steps per target round must be > 0")
        return scale

    def scales(self) -> np.ndarray:
        """The time scales tried, shape (n_scales,)."""
        if isinstance(self.time_scale, TimeScale):
            return self.time_scale.grid()
        return np.array([float(self.time_scale)])

    def distributions(self) -> dict[str, Any]:
        """Optuna distributions of every searched name: configuration values, then ``map.<x>.<a|b>``."""
        found = {name: spec.distribution() for name, spec in self.params.items()}
        for axis, spec in sorted(self.maps.items()):
            for coefficient in ("a", "b"):
                value = getattr(spec, coefficient)
                if isinstance(value, Range) and spec.kind != "identity":
                    found[f"map.{axis}.{coefficient}"] = value.distribution()
        return found

    def n_steps(self, target_steps: int) -> int:
        """Steps every candidate is simulated for: ceil(target T x the largest scale)."""
        return steps_at_scale(target_steps, float(self.scales().max()))

    def config_values(self, trial: dict[str, Any]) -> dict[str, Any]:
        """Base plus the trial's configuration values (dotted keys nested), without p and k."""
        values = _deep_copy(self.base)
        for name, value in trial.items():
            if name.startswith("map."):
                continue
            section, _, option = name.partition(".")
            if option:
                values.setdefault(section, {})
                values[section] = dict(values[section]) | {option: value}
            else:
                values[name] = value
        return values

    def mapped(self, trial: dict[str, Any], p: float, k: int, n_agents: int) -> tuple[float, int]:
        """The proxy's (p, k) for the target's (p, k) under the trial's maps."""
        def coefficient(axis: str, name: str) -> float:
            spec = self.maps[axis]
            value = getattr(spec, name)
            return float(trial[f"map.{axis}.{name}"]) if isinstance(value, Range) else float(value)

        p_new, k_new = float(p), int(k)
        if "p" in self.maps and self.maps["p"].kind == "linear":
            p_new = float(np.clip(coefficient("p", "a") * p + coefficient("p", "b"), 0.0, 1.0))
        if "k" in self.maps and self.maps["k"].kind == "linear":
            k_new = int(np.clip(np.rint(coefficient("k", "a") * k + coefficient("k", "b")), 1, n_agents - 1))
        return round(p_new, 12), k_new


def _deep_copy(values: dict) -> dict:
    return {key: _deep_copy(value) if isinstance(value, dict) else value for key, value in values.items()}


def make_space(values: dict[str, Any], source: str | None = None) -> CalibrationSpace:
    """Validate a space mapping; also every corner of it as a simulation configuration.

    Raises
    ------
    ConfigError
        One line per bad value, naming the file and key.
    """
    if not isinstance(values, dict):
        raise ConfigError([f"{source or 'space'}: must be a mapping, not a {type(values).__name__}"])
    try:
        space = CalibrationSpace.model_validate(values)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, config_keys(CalibrationSpace), root="space", source=source)) from None
    for label, trial in _corners(space):
        try:
            make_config(space.config_values(trial) | {"T": 1})
        except ConfigError as err:
            prefix = f"{source}: " if source else ""
            raise ConfigError([f"{prefix}{label}: {line}" for line in err.lines]) from None
    return space


def _corners(space: CalibrationSpace) -> list[tuple[str, dict[str, Any]]]:
    """The lowest and highest (first and last choice) of every searched value, for validation."""
    corners = []
    for end in (0, 1):
        trial = {}
        for name, spec in space.params.items():
            if spec.choices is not None:
                trial[name] = spec.choices[-end]
            else:
                bound = spec.high if end else spec.low
                trial[name] = int(bound) if spec.is_int else float(bound)
        corners.append(("params at their " + ("upper" if end else "lower") + " bounds", trial))
    for name, spec in space.params.items():  # every choice at least once
        for choice in spec.choices or []:
            corners.append((f"params.{name} = {choice!r}", {**corners[0][1], name: choice}))
    return corners


def load_space(path: str | Path) -> CalibrationSpace:
    """Read and validate a space YAML file (:func:`make_space`)."""
    return make_space(load_yaml(path, what="space"), source=str(path))
