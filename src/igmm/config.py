"""Simulation configuration: validated once, at the edge (pydantic).

YAML keys and command-line flags use the short names of the paper where it
has them (``r``, ``T``, ``p``, ``k``); the Python attributes use descriptive
names (``rag_size``, ``n_steps``). Unknown keys are rejected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from igmm.dynamics import ModelParams
from igmm.model import geometry as geometries
from igmm.networks import NetworkConfig, build_neighbours


class ConfigError(ValueError):
    """A configuration value is not allowed; ``lines`` holds one message per bad value."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__("\n".join(lines))


class SimulationConfig(BaseModel):
    """Every parameter of one simulated population (MODEL.md sections 1, 5, 6).

    Defaults are the paper's: n = K = 30 agents and components on a line with
    unit spacing, sigma = 0.2, r = 5, and the headline unstable-silo run
    (p = 0.4, k = n - 1, T = 400).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    n_agents: int = Field(30, ge=2, description="n, number of agents")
    n_components: int | None = Field(
        None, ge=1, description="K, number of Gaussian components (default: n_agents)"
    )
    p: float = Field(0.4, ge=0.0, le=1.0, description="mirroring probability")
    k: int | None = Field(
        None, ge=1, description="communication range, 1 <= k <= n_agents - 1 (default: n_agents - 1)"
    )
    rag_size: int = Field(5, ge=1, alias="r", description="r, points in each database")
    n_steps: int = Field(400, ge=0, alias="T", description="T, number of steps")
    sigma: float = Field(0.2, gt=0.0, description="component standard deviation")
    delta: float = Field(1.0, gt=0.0, description="spacing between neighbouring means")
    geometry: Literal["line", "circle", "simplex", "custom"] = "line"
    means: list[list[float]] | None = Field(None, description="custom geometry: means, shape (K, d)")
    covariances: float | list[Any] | None = Field(
        None, description="custom geometry: scalar, (K,), (K, d) or (K, d, d)"
    )
    assignment: list[int] | None = Field(
        None, description="component each agent starts on (default: i mod K)"
    )
    eps: float = Field(1e-12, gt=0.0, lt=0.5, description="weight floor")
    dynamics: Literal["paper", "early-draft", "moving-variance", "moving-variance-means"] = "paper"
    rag_policy: Literal["farthest", "oldest", "random"] = "farthest"
    em_iterations: int = Field(1, ge=1, description="EM iterations per refit")
    network: NetworkConfig | None = Field(
        None, description="static network instead of the dynamic k-nearest graph (igmm.networks)"
    )
    backend: Literal["numpy", "torch", "numba", "numba-parallel"] = Field(
        "numpy", description="compute backend of the paper dynamics (torch: CUDA when available, else CPU; "
        "numba: compiled CPU loop, diagonal covariances; numba-parallel: the same over all cores)"
    )

    @model_validator(mode="after")
    def _check_across_fields(self) -> "SimulationConfig":
        n_agents = self.n_agents
        if self.k is not None and self.k > n_agents - 1:
            raise ValueError(f"k: {self.k} is not allowed: must satisfy 1 <= k <= n_agents - 1 = {n_agents - 1}")
        n_components = self.resolved_n_components
        if self.geometry == "custom":
            if self.means is None or self.covariances is None:
                raise ValueError("geometry: 'custom' needs both 'means' and 'covariances'")
        elif self.means is not None or self.covariances is not None:
            raise ValueError(f"means/covariances: only allowed with geometry 'custom' (geometry is '{self.geometry}')")
        if self.geometry == "circle" and n_components < 2:
            raise ValueError(f"n_components: {n_components} is not allowed for geometry 'circle': must be >= 2")
        if self.assignment is not None:
            if len(self.assignment) != n_agents:
                raise ValueError(
                    f"assignment: has {len(self.assignment)} entries; must have one per agent (n_agents = {n_agents})"
                )
            bad = [c for c in self.assignment if not 0 <= c < n_components]
            if bad:
                raise ValueError(f"assignment: {bad[0]} is not allowed: components are 0 .. {n_components - 1}")
        if self.geometry == "custom":
            self.build_geometry()  # raises ValueError naming the inconsistency
        if self.network is not None:
            build_neighbours(self.network, n_agents, seed=0)  # raises ValueError naming the bad network value
        if self.backend != "numpy" and self.dynamics != "paper":
            raise ValueError(f"backend: {self.backend!r} is only available for dynamics 'paper' (got '{self.dynamics}')")
        if self.backend.startswith("numba") and self.geometry == "custom" and np.ndim(self.covariances) == 3:
            raise ValueError(f"backend: '{self.backend}' supports diagonal covariances only (got full covariance matrices)")
        return self

    @property
    def resolved_n_components(self) -> int:
        if self.geometry == "custom" and self.means is not None:
            return len(self.means)
        return self.n_components if self.n_components is not None else self.n_agents

    @property
    def resolved_k(self) -> int:
        return self.k if self.k is not None else self.n_agents - 1

    def build_geometry(self) -> geometries.Geometry:
        """The component geometry this configuration describes."""
        if self.geometry == "custom":
            try:
                return geometries.custom(self.means, self.covariances)
            except ValueError as err:
                raise ValueError(f"means/covariances: {err}") from None
        build = {"line": geometries.line, "circle": geometries.circle, "simplex": geometries.simplex}[self.geometry]
        return build(self.resolved_n_components, delta=self.delta, sigma=self.sigma)

    def assignment_array(self) -> np.ndarray:
        """c(i) for every agent, shape (n_agents,), int64."""
        if self.assignment is not None:
            return np.asarray(self.assignment, dtype=np.int64)
        return np.arange(self.n_agents, dtype=np.int64) % self.resolved_n_components

    def to_params(self) -> ModelParams:
        """The core's parameter object (numpy arrays, no pydantic)."""
        return ModelParams(
            geometry=self.build_geometry(),
            p=self.p,
            k=self.resolved_k,
            rag_size=self.rag_size,
            eps=self.eps,
            assignment=self.assignment_array(),
            dynamics=self.dynamics,
            rag_policy=self.rag_policy,
            em_iterations=self.em_iterations,
            neighbours=build_neighbours(self.network, self.n_agents) if self.network else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain dict with the YAML key names (aliases), defaults resolved."""
        data = self.model_dump(by_alias=True)
        data["n_components"] = self.resolved_n_components
        data["k"] = self.resolved_k
        return data


def format_validation_error(
    error: ValidationError, allowed_keys: list[str] | None = None, root: str = "config"
) -> list[str]:
    """One line per bad value: parameter, value given, what is allowed.

    Parameters
    ----------
    error : pydantic.ValidationError
    allowed_keys : list of str, optional
        Named in the message for an unknown key (default: the SimulationConfig keys).
    root : str
        Name used for errors that concern the whole mapping.
    """
    lines = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]) or root
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            allowed = ", ".join(sorted(allowed_keys or config_keys(SimulationConfig)))
            lines.append(f"{name}: unknown key; allowed are: {allowed}")
        elif item["type"] == "missing":
            lines.append(f"{name}: missing; it must be given")
        elif item["loc"]:
            lines.append(f"{name}: {item.get('input')!r} is not allowed: {message}")
        else:
            lines.append(message)
    return lines


def config_keys(model: type[BaseModel]) -> list[str]:
    """The keys a YAML mapping may use for ``model`` (aliases where they exist)."""
    return [field.alias or name for name, field in model.model_fields.items()]


def make_config(values: dict[str, Any] | None = None, **overrides: Any) -> SimulationConfig:
    """Build a validated configuration from a dict and keyword overrides.

    Raises
    ------
    ConfigError
        With one line per bad value.
    """
    merged = dict(values or {})
    merged.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return SimulationConfig.model_validate(merged)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err)) from None


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing file or non-mapping content raises ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError([f"config: file {str(path)!r} does not exist"])
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError([f"config: {str(path)!r} is not valid YAML: {err}"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"config: {str(path)!r} must hold a mapping of parameter: value"])
    return data
