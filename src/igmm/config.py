"""Simulation configuration: validated once, at the edge (pydantic).

YAML keys and command-line flags use the short names of the paper where it
has them (``r``, ``T``, ``p``, ``k``); the Python attributes use descriptive
names (``rag_size``, ``n_steps``). Unknown keys are refused. Every number
must be finite and usable in the arithmetic it feeds (a variance that
squares to 0, a covariance that is not positive definite, a delta/sigma
whose square underflows are refused here, never turned into NaN later).
Names of dynamics, database policies, networks, initial-opinion rules,
modifiers and measures are looked up in :mod:`igmm.registry`, and each
one's options are checked against the keyword-only parameters it declares.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from igmm.dynamics import ModelParams
from igmm.model import geometry as geometries
from igmm.registry import DYNAMICS, INITIAL_OPINIONS, MEASURES, MODIFIERS, NETWORKS, RAG_POLICIES, keyword_options, load_plugins

#: Largest YAML document read (bytes), and most nodes after expanding aliases: a config is a few lines.
MAX_YAML_BYTES = 10 * 1024**2
MAX_YAML_NODES = 1_000_000


class LinesError(Exception):
    """An error that is one message per line: ``lines``, shown one per line to the user."""

    def __init__(self, lines: list[str]):
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))

    def __reduce__(self):
        # A process pool pickles the error back to the parent: rebuild it from its lines,
        # not from the joined message (which __init__ would split into characters).
        return type(self), (self.lines,)


class ConfigError(LinesError, ValueError):
    """A configuration value is not allowed; ``lines`` holds one message per bad value."""


def _no_bool_or_text(value: Any) -> Any:
    """Numbers must be numbers: ``k: true`` or ``p: "0.4"`` is refused, not converted."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError("a number is required, not a true/false value")
    if isinstance(value, (str, bytes)):
        raise ValueError("a number is required, not text")
    if isinstance(value, np.generic):
        return value.item()
    return value


#: Integers and floats as configuration values: no booleans, no text, floats finite.
Int = Annotated[int, BeforeValidator(_no_bool_or_text)]
Float = Annotated[float, BeforeValidator(_no_bool_or_text), Field(allow_inf_nan=False)]

#: The smallest positive normal float64: variances below it lose precision or vanish.
_TINY = float(np.finfo(np.float64).tiny)


class NamedOptions(BaseModel):
    """``{kind: NAME, ...options}``: an entry of a registry and its options (initial opinions, modifiers)."""

    model_config = ConfigDict(extra="allow", frozen=True, arbitrary_types_allowed=True)

    kind: str

    def options(self) -> dict[str, Any]:
        """The entry's options (every field but the declared ones)."""
        return dict(self.__pydantic_extra__ or {})

    def as_dict(self) -> dict[str, Any]:
        """``{kind: ..., **options}``, as written in YAML."""
        return {"kind": self.kind, **self.options()}


class NetworkConfig(NamedOptions):
    """A static network: ``kind`` (a name of :data:`igmm.registry.NETWORKS`) and its options.

    YAML example: ``network: {kind: watts-strogatz, degree: 4, rewire: 0.1}``.
    ``seed`` fixes a random graph (default: derived from the run's root seed).
    """

    seed: Int | None = Field(None, ge=0)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        NETWORKS.get(kind)
        return kind

    @model_validator(mode="after")
    def _check_options(self) -> "NetworkConfig":
        validated = validate_options(NETWORKS.get(self.kind), self.options(), "network")
        for name, value in validated.items():
            object.__setattr__(self, name, value)
        return self

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "seed": self.seed, **self.options()}


class SimulationConfig(BaseModel):
    """Every parameter of one simulated population (docs/model.md).

    Defaults are the paper's: n = K = 30 agents and components on a line with
    unit spacing, sigma = 0.2, r = 5, and the headline unstable-silo run
    (p = 0.4, k = n - 1, T = 400).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, arbitrary_types_allowed=True)

    plugins: list[str] = Field(default_factory=list, description="modules to import first (your own dynamics, measures, ...)")
    n_agents: Int = Field(30, ge=2, le=10**8, description="n, number of agents")
    n_components: Int | None = Field(None, ge=1, le=10**6, description="K, number of Gaussian components (default: n_agents)")
    p: Float = Field(0.4, ge=0.0, le=1.0, description="mirroring probability")
    k: Int | None = Field(None, ge=1, description="communication range, 1 <= k <= n_agents - 1 (default: n_agents - 1)")
    rag_size: Int = Field(5, ge=1, le=10**5, alias="r", description="r, points in each database")
    n_steps: Int = Field(400, ge=1, le=10**8, alias="T", description="T, number of steps")
    sigma: Float = Field(0.2, gt=0.0, description="component standard deviation")
    delta: Float = Field(1.0, gt=0.0, description="spacing between neighbouring means")
    geometry: Literal["line", "circle", "simplex", "custom"] = "line"
    means: list[list[Float]] | None = Field(None, description="custom geometry: means, shape (K, d)")
    covariances: Float | list[Any] | None = Field(None, description="custom geometry: scalar, (K,), (K, d) or (K, d, d)")
    assignment: list[Int] | None = Field(None, description="component each agent starts on (default: i mod K)")
    eps: Float = Field(1e-12, gt=0.0, lt=0.5, description="weight floor")
    dynamics: str = Field("paper", description="a registered dynamics (igmm.registry.DYNAMICS)")
    dynamics_options: dict[str, Any] = Field(default_factory=dict, description="options of the dynamics")
    rag_policy: str = Field("farthest", description="a registered database policy: farthest | oldest | random | ...")
    em_iterations: Int = Field(1, ge=1, le=10_000, description="EM iterations per refit")
    network: NetworkConfig | None = Field(None, description="static network instead of the dynamic k-nearest graph")
    initial: NamedOptions = Field(default_factory=lambda: NamedOptions(kind="one-hot"),
                                  description="initial opinions: one-hot | dirichlet | mixture | file")
    modifiers: list[NamedOptions] = Field(default_factory=list, description="population modifiers, e.g. stubborn agents")
    measures: list[str] = Field(default_factory=list, description="extra per-step measures to record")
    backend: str = Field("numpy", description="numpy | numba | numba-parallel | torch | torch-batched | auto (the "
                         "fastest installed backend whose runs are tested equal in distribution)")
    neighbour_search: Literal["exact", "hnsw"] = Field(
        "exact", description="dynamic k-nearest graph: exact, or hnsw (approximate, faiss-cpu; large populations)")

    @model_validator(mode="before")
    @classmethod
    def _load_plugins_first(cls, values: Any) -> Any:
        if isinstance(values, dict) and values.get("plugins"):
            load_plugins(tuple(values["plugins"]))
        return values

    @field_validator("dynamics")
    @classmethod
    def _known_dynamics(cls, name: str) -> str:
        DYNAMICS.get(name)
        return name

    @field_validator("rag_policy")
    @classmethod
    def _known_policy(cls, name: str) -> str:
        RAG_POLICIES.get(name)
        return name

    @field_validator("measures")
    @classmethod
    def _known_measures(cls, names: list[str]) -> list[str]:
        for name in names:
            MEASURES.get(name)
        return names

    @field_validator("means")
    @classmethod
    def _rectangular_means(cls, means: list[list[float]] | None) -> list[list[float]] | None:
        if means is None:
            return means
        if not means or not means[0]:
            raise ValueError("give at least one mean of at least one dimension, e.g. [[0.0], [1.0]]")
        if len({len(row) for row in means}) != 1:
            raise ValueError("every mean must have the same number of dimensions")
        return means

    @model_validator(mode="after")
    def _check_across_fields(self) -> "SimulationConfig":
        n_agents = self.n_agents
        if self.k is not None and self.k > n_agents - 1:
            raise ValueError(f"k: {self.k} is not allowed: must satisfy 1 <= k <= n_agents - 1 = {n_agents - 1}")
        _check_geometry(self)
        n_components = self.resolved_n_components
        if self.eps * n_components >= 1.0:
            raise ValueError(f"eps: {self.eps} is not allowed: eps * n_components must be < 1 (n_components = {n_components})")
        if self.assignment is not None:
            if len(self.assignment) != n_agents:
                raise ValueError(f"assignment: has {len(self.assignment)} entries; must have one per agent (n_agents = {n_agents})")
            bad = [c for c in self.assignment if not 0 <= c < n_components]
            if bad:
                raise ValueError(f"assignment: {bad[0]} is not allowed: components are 0 .. {n_components - 1}")
        dynamics = DYNAMICS.get(self.dynamics)
        object.__setattr__(self, "dynamics_options", _dynamics_options(dynamics, self.dynamics_options))
        object.__setattr__(self, "initial", _named(self.initial, INITIAL_OPINIONS, "initial", exclude=("weights",)))
        object.__setattr__(self, "modifiers", [_named(m, MODIFIERS, f"modifiers[{i}]") for i, m in enumerate(self.modifiers)])
        if self.network is not None:
            _check_network(self.network, n_agents)
        _check_rules(self)
        _check_backend(self)
        return self

    @property
    def resolved_n_components(self) -> int:
        if self.geometry == "custom" and self.means is not None:
            return len(self.means)
        return self.n_components if self.n_components is not None else self.n_agents

    @property
    def resolved_backend(self) -> str:
        """The backend that runs: ``backend``, or what "auto" picks on this machine (:func:`igmm.dynamics.protocol.resolve_backend`)."""
        from igmm.dynamics.protocol import resolve_backend

        return resolve_backend(self.dynamics, self, self.backend)

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

    def to_params(self, root_seed: int = 0) -> ModelParams:
        """The core's parameter object (numpy arrays, no pydantic).

        Parameters
        ----------
        root_seed : int
            The run's root seed: a random network without its own seed and
            the modifiers' draws are derived from it (the same for every
            replicate of the run).
        """
        from igmm.networks import build_graph, network_seed, padded_neighbours

        neighbours = None
        if self.network is not None:
            seed = self.network.seed if self.network.seed is not None else network_seed(root_seed)
            neighbours = padded_neighbours(build_graph(self.network.kind, self.network.options(), self.n_agents, seed),
                                           self.n_agents)
        params = ModelParams(
            geometry=self.build_geometry(),
            p=self.p,
            k=self.resolved_k,
            rag_size=self.rag_size,
            eps=self.eps,
            assignment=self.assignment_array(),
            dynamics=self.dynamics,
            rag_policy=self.rag_policy,
            em_iterations=self.em_iterations,
            neighbours=neighbours,
            initial=_initial_rule(self.initial),
            options=dict(self.dynamics_options),
            neighbour_search=self.neighbour_search,
        )
        for index, modifier in enumerate(self.modifiers):
            rng = np.random.default_rng(modifier_seed(root_seed, index))
            params = MODIFIERS.get(modifier.kind)(params, rng, **modifier.options())
        return params

    def to_dict(self) -> dict[str, Any]:
        """Plain dict with the YAML key names (aliases), defaults resolved, ready for YAML."""
        data = self.model_dump(by_alias=True, exclude={"network", "initial", "modifiers"})
        data["n_components"] = self.resolved_n_components
        data["k"] = self.resolved_k
        data["network"] = None if self.network is None else self.network.as_dict()
        data["initial"] = self.initial.as_dict()
        data["modifiers"] = [modifier.as_dict() for modifier in self.modifiers]
        return plain_values(data)

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`to_dict`: equal configurations, equal digest."""
        return hashlib.sha256(canonical_json(self.to_dict()).encode()).hexdigest()


def modifier_seed(root_seed: int, index: int) -> np.random.SeedSequence:
    """The seed of modifier ``index``'s draws: a child of the root seed no replicate or sweep point uses."""
    return np.random.SeedSequence(root_seed, spawn_key=(2**32 - 1, 0xC0FF1C, index))


def canonical_json(value: Any) -> str:
    """Canonical JSON text (sorted keys, no spaces), so key order does not change a hash."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def plain_values(value: Any) -> Any:
    """Values YAML can write and read back: numpy scalars to Python, tuples to lists."""
    if isinstance(value, dict):
        return {key: plain_values(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_values(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _check_geometry(config: SimulationConfig) -> None:
    """Geometry fields agree and every value is usable in the arithmetic."""
    if config.geometry == "custom":
        if config.means is None or config.covariances is None:
            raise ValueError("geometry: 'custom' needs both 'means' and 'covariances'")
        if config.n_components is not None and config.n_components != len(config.means):
            raise ValueError(f"n_components: {config.n_components} is not allowed with custom means: they give "
                             f"{len(config.means)} components (leave n_components out)")
        covariances = np.asarray(config.covariances, dtype=object)
        try:
            values = np.asarray(config.covariances, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"covariances: {config.covariances!r} is not allowed: give numbers "
                             f"(a scalar, (K,), (K, d) or (K, d, d))") from None
        if covariances.size and not np.all(np.isfinite(values)):
            raise ValueError("covariances: every entry must be a finite number (no NaN, inf or null)")
        if np.any(np.abs(np.asarray(config.means)) > 1e150):
            raise ValueError("means: entries beyond 1e150 in magnitude are not allowed (their squares overflow)")
        geometry = config.build_geometry()  # raises ValueError naming the inconsistency
        variances = geometry.variances if geometry.variances is not None else np.diagonal(
            geometry.cholesky, axis1=-2, axis2=-1) ** 2
        if np.any(variances < _TINY) or np.any(~np.isfinite(1.0 / variances)):
            raise ValueError("covariances: variances must be at least 2.2e-308 (smaller ones vanish in the arithmetic)")
        return
    if config.means is not None or config.covariances is not None:
        raise ValueError(f"means/covariances: only allowed with geometry 'custom' (geometry is '{config.geometry}')")
    sigma2 = config.sigma * config.sigma
    if not (sigma2 >= _TINY and np.isfinite(sigma2)):
        raise ValueError(f"sigma: {config.sigma!r} is not allowed: sigma^2 must be a normal positive float "
                         "(about 1.5e-154 < sigma < 1.3e154)")
    ratio = (config.delta / config.sigma) ** 2
    if not (np.isfinite(config.delta * config.resolved_n_components) and ratio >= _TINY and np.isfinite(ratio)):
        raise ValueError(f"delta: {config.delta!r} is not allowed with sigma = {config.sigma!r}: (delta / sigma)^2 "
                         "and delta * n_components must be finite positive numbers")
    if config.geometry == "circle" and config.resolved_n_components < 2:
        raise ValueError(f"n_components: {config.resolved_n_components} is not allowed for geometry 'circle': must be >= 2")


def _check_network(network: NetworkConfig, n_agents: int) -> None:
    """Options that depend on n_agents, and edge lists read now (before any work)."""
    from igmm.networks import build_graph

    entry = NETWORKS.entry(network.kind)
    if not entry.meta.get("random", False):
        build_graph(network.kind, network.options(), n_agents, network.seed)  # raises ValueError naming the value
    elif network.kind == "sbm" and sum(network.options()["blocks"]) != n_agents:
        blocks = network.options()["blocks"]
        raise ValueError(f"network.blocks: sizes {blocks} sum to {sum(blocks)}; must sum to n_agents = {n_agents}")
    elif "degree" in network.options():
        degree = network.options()["degree"]
        if degree % 2 or degree >= n_agents:
            raise ValueError(f"network.degree: {degree} is not allowed: must be even and < n_agents = {n_agents}")


def _check_rules(config: SimulationConfig) -> None:
    """Apply the initial-opinion rule and every modifier once (without a network) so their own checks run now."""
    params = ModelParams(geometry=config.build_geometry(), p=config.p, k=config.resolved_k, rag_size=config.rag_size,
                         eps=config.eps, assignment=config.assignment_array(), dynamics=config.dynamics,
                         initial=_initial_rule(config.initial))
    if config.initial.kind != "one-hot":
        INITIAL_OPINIONS.get(params.initial[0])(params, np.random.default_rng(0), **params.initial[1])
    for index, modifier in enumerate(config.modifiers):
        params = MODIFIERS.get(modifier.kind)(params, np.random.default_rng(modifier_seed(0, index)), **modifier.options())


def _check_backend(config: SimulationConfig) -> None:
    """The backend implements the dynamics (importing it, so a missing extra is named now)."""
    from igmm.dynamics.protocol import stepper_factory

    if config.neighbour_search == "hnsw":
        import importlib.util

        if importlib.util.find_spec("faiss") is None:
            raise ValueError("neighbour_search: 'hnsw' needs faiss: pip install 'interacting-gmm[ann]' (faiss-cpu)")
    factory = stepper_factory(config.dynamics, config.resolved_backend)
    unsupported = getattr(factory, "unsupported", None)
    if unsupported is not None:
        reason = unsupported(config)
        if reason:
            raise ValueError(f"backend: {config.backend!r} is not allowed here: {reason}")


def _dynamics_options(dynamics, options: dict[str, Any]) -> dict[str, Any]:
    declared = getattr(dynamics, "options", None)
    if declared is None:
        if options:
            raise ValueError(f"dynamics_options: dynamics {dynamics.name!r} takes no options (got {sorted(options)})")
        return {}
    validated = validate_options(declared, options, "dynamics_options")
    declared(**validated)  # the declaration may check its values too (raising ValueError naming them)
    return validated


def _named(named: NamedOptions, registry, where: str, exclude: tuple[str, ...] = ()) -> NamedOptions:
    """Check ``named.kind`` and its options against the registered function; the options typed."""
    if named.kind == "file" and registry is INITIAL_OPINIONS:
        _file_options(named.options())
        return named
    if registry is INITIAL_OPINIONS and named.kind == "given":
        raise ValueError("initial: kind 'given' is for the Python API; in a configuration use {kind: file, path: ...}")
    function = registry.get(named.kind)
    validated = validate_options(function, named.options(), where, exclude=exclude)
    return NamedOptions(kind=named.kind, **validated)


def _file_options(options: dict[str, Any]) -> None:
    if set(options) != {"path"} or not isinstance(options["path"], str):
        raise ValueError("initial: kind 'file' takes exactly one option, path: a .npy file of shape (n_agents, n_components)")


def _initial_rule(initial: NamedOptions) -> tuple[str, dict[str, Any]]:
    """The core's initial rule and options; ``file`` becomes ``given`` with the loaded weights."""
    if initial.kind != "file":
        return initial.kind, initial.options()
    return "given", {"weights": load_initial_weights(initial.options()["path"])}


def load_initial_weights(path: str) -> np.ndarray:
    """Initial weights from a ``.npy`` file: finite, non-negative rows with positive sums.

    Raises
    ------
    ValueError
        Naming the file and what is wrong.
    """
    try:
        weights = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"initial.path: file {path!r} does not exist") from None
    except (OSError, ValueError) as error:
        raise ValueError(f"initial.path: {path!r} is not a .npy array file ({type(error).__name__})") from None
    if weights.ndim != 2 or weights.dtype.kind not in "fiu":
        raise ValueError(f"initial.path: {path!r} must hold numbers of shape (n_agents, n_components); "
                         f"got {weights.dtype} {weights.shape}")
    weights = weights.astype(np.float64)
    if not np.all(np.isfinite(weights)) or np.any(weights < 0) or np.any(weights.sum(axis=1) <= 0):
        raise ValueError(f"initial.path: {path!r} must hold finite, non-negative weights with a positive sum per agent")
    return weights


def validate_options(function, options: dict[str, Any], where: str, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """Check user options against a registered function's keyword-only parameters; return them typed.

    Parameters
    ----------
    function : callable
        Declares its options as keyword-only parameters with annotations
        (and defaults where optional).
    options : dict
        What the user wrote.
    where : str
        Name used in messages, e.g. ``"network (ring)"``.
    exclude : tuple of str
        Parameters a user may not set (filled in by the shell).

    Raises
    ------
    ValueError
        One line naming the option, the value and what is allowed.
    """
    declared = {name: parameter for name, parameter in keyword_options(function).items() if name not in exclude}
    unknown = sorted(set(options) - set(declared))
    if unknown:
        allowed = ", ".join(declared) or "none"
        raise ValueError(f"{where}: option {unknown[0]!r} is not known{_kind_note(function)}; allowed: {allowed}")
    fields = {}
    for name, parameter in declared.items():
        annotation = Any if parameter.annotation is inspect.Parameter.empty else parameter.annotation
        if isinstance(annotation, str):  # postponed annotations: resolve in the function's module
            annotation = eval(annotation, function.__globals__)  # noqa: S307 (our own and plugin source, not input)
        annotation = _strict_numbers(annotation)
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[name] = (annotation, default)
    model = create_model(f"Options_{where}", __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True),
                         **fields)
    try:
        validated = model.model_validate(options)
    except ValidationError as error:
        item = error.errors()[0]
        name = ".".join(str(part) for part in item["loc"])
        if item["type"] == "missing":
            raise ValueError(f"{where}: option {name!r} is missing{_kind_note(function)}; it must be given") from None
        message = item["msg"].removeprefix("Value error, ")
        raise ValueError(f"{where}.{name}: {_short(item.get('input'))} is not allowed: {message}") from None
    # Every declared option, defaults filled in: the resolved configuration says everything that was used.
    return {name: getattr(validated, name) for name in declared}


def _kind_note(function) -> str:
    name = getattr(function, "__name__", "")
    return f" (for {name.replace('_', '-')})" if name else ""


def _strict_numbers(annotation: Any) -> Any:
    """``int`` and ``float`` (also inside Annotated, list, tuple, Optional) refuse booleans and text; floats are finite."""
    import types
    import typing

    if annotation is int:
        return Int
    if annotation is float:
        return Float
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return typing.Annotated[(_strict_numbers(args[0]), *args[1:])]
    if origin in (list, tuple) and args:
        return origin[tuple(_strict_numbers(arg) for arg in args)] if origin is tuple else list[_strict_numbers(args[0])]
    if origin in (typing.Union, types.UnionType):
        return typing.Union[tuple(_strict_numbers(arg) for arg in args)]
    return annotation


def format_validation_error(
    error: ValidationError, allowed_keys: list[str] | None = None, root: str = "config", source: str | None = None
) -> list[str]:
    """One line per bad value: (file,) parameter, value given, what is allowed.

    Parameters
    ----------
    error : pydantic.ValidationError
    allowed_keys : list of str, optional
        Named in the message for an unknown key (default: the SimulationConfig keys).
    root : str
        Name used for errors that concern the whole mapping.
    source : str, optional
        File the values came from, put first on every line.
    """
    lines = []
    prefix = f"{source}: " if source else ""
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]) or root
        message = item["msg"].removeprefix("Value error, ")
        shown = _short(item.get("input"))
        if item["type"] == "extra_forbidden":
            allowed = ", ".join(sorted(allowed_keys or config_keys(SimulationConfig)))
            lines.append(f"{prefix}{name}: unknown key; allowed are: {allowed}")
        elif item["type"] == "missing":
            lines.append(f"{prefix}{name}: missing; it must be given")
        elif item["loc"] and not _names_itself(message):
            lines.append(f"{prefix}{name}: {shown} is not allowed: {message}")
        else:
            lines.append(f"{prefix}{message}")
    return lines


def _names_itself(message: str) -> bool:
    """Messages raised by our validators already start with the parameter name."""
    head = message.split(":", 1)[0]
    return ":" in message and " " not in head.strip()


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def config_keys(model: type[BaseModel]) -> list[str]:
    """The keys a YAML mapping may use for ``model`` (aliases where they exist)."""
    return [field.alias or name for name, field in model.model_fields.items()]


def make_config(values: dict[str, Any] | None = None, source: str | None = None, **overrides: Any) -> SimulationConfig:
    """Build a validated configuration from a dict and keyword overrides (None overrides are ignored).

    Raises
    ------
    ConfigError
        With one line per bad value.
    """
    if values is not None and not isinstance(values, dict):
        raise ConfigError([f"{source or 'config'}: must be a mapping of parameter: value, not a {type(values).__name__}"])
    merged = dict(values or {})
    merged.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return SimulationConfig.model_validate(merged)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source=source)) from None
    except ValueError as err:  # a plugin that cannot be imported, raised before field validation
        raise ConfigError([f"{source + ': ' if source else ''}{err}"]) from None


def load_yaml(path: str | Path, what: str = "config") -> dict[str, Any]:
    """Read a YAML mapping safely; anything unusable raises ConfigError naming the file.

    Refused before any work: a missing file, a file larger than
    :data:`MAX_YAML_BYTES`, bytes that are not UTF-8 text, invalid YAML, a
    document that is not a mapping, and alias bombs (more than
    :data:`MAX_YAML_NODES` nodes once aliases are expanded).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError([f"{what}: file {str(path)!r} does not exist"])
    if path.stat().st_size > MAX_YAML_BYTES:
        raise ConfigError([f"{what}: {str(path)!r} is larger than {MAX_YAML_BYTES // 1024**2} MiB; a {what} is a few lines"])
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError([f"{what}: {str(path)!r} is not UTF-8 text (is it a binary file?)"]) from None
    if "\x00" in text:
        raise ConfigError([f"{what}: {str(path)!r} is not text (it holds NUL bytes)"])
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is not None and _expanded_size(node, {}) > MAX_YAML_NODES:
            raise ConfigError([f"{what}: {str(path)!r} expands to more than {MAX_YAML_NODES} values through "
                               "YAML aliases; write the values out"])
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise ConfigError([f"{what}: {str(path)!r} is not valid YAML{line}"]) from None
    except RecursionError:
        raise ConfigError([f"{what}: {str(path)!r} nests too deeply"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{what}: {str(path)!r} must hold a mapping of key: value, not a {type(data).__name__}"])
    return data


def _expanded_size(node, memo: dict) -> int:
    """Number of values ``node`` stands for once every alias is expanded (memoised: aliases share nodes)."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # a cycle counts once (safe_load refuses recursive structures anyway)
    if isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    else:
        size = 1
    memo[key] = min(size, MAX_YAML_NODES + 1)
    return memo[key]


def resolve_relative_paths(values: dict[str, Any], base: Path) -> dict[str, Any]:
    """Paths inside a config file (edge lists, initial weights) are relative to the file's folder."""
    resolved = dict(values)
    for key in ("network", "initial"):
        section = resolved.get(key)
        if isinstance(section, dict) and isinstance(section.get("path"), str) and not Path(section["path"]).is_absolute():
            resolved[key] = section | {"path": str(base / section["path"])}
    return resolved
