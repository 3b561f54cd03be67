"""One registry per kind of thing: the project's extension point.

Every dynamics, database policy, network, initial-opinion rule, modifier and
per-step measure is looked up by name in one of the registries below. The
project's own entries register themselves exactly as a researcher's do, so an
entry added with one decorator works from ``igmm run``, ``igmm sweep``, YAML
and the Python API::

    import igmm

    @igmm.register_measure("share_in_largest")
    def share_in_largest(view):
        ...

A plugin module (the researcher's own file) is loaded by name with
``--plugin MODULE`` on the command line, ``plugins: [MODULE]`` in a YAML
configuration, the environment variable ``IGMM_PLUGINS=MODULE,...``, or
installed packages declaring an entry point in the group ``igmm.plugins``.

Core module: the standard library only (no numpy, no pydantic).
"""

from __future__ import annotations

import importlib
import inspect
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, TypeVar

T = TypeVar("T")

#: Entry-point group of installed plugins: each entry point names a module to import.
ENTRY_POINT_GROUP = "igmm.plugins"
#: Environment variable naming plugin modules, comma-separated.
PLUGINS_ENV = "IGMM_PLUGINS"


class UnknownName(ValueError):
    """A name is not registered; the message lists the registered ones."""


@dataclass
class Entry(Generic[T]):
    """One registered thing.

    Attributes
    ----------
    name : str
    value : T
        The registered function or class.
    meta : dict
        Kind-specific facts (e.g. the backends a dynamics supports).
    """

    name: str
    value: T
    meta: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """Name -> thing, for one kind of thing.

    Parameters
    ----------
    kind : str
        What the entries are, used in messages ("dynamics", "network", ...).
    builtins : tuple of str
        Modules holding the project's own entries, imported on first use (so
        ``import igmm.registry`` stays light and the import order never matters).
    """

    def __init__(self, kind: str, builtins: tuple[str, ...] = ()):
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        self._builtins = builtins
        self._builtins_loaded = False

    def _load_builtins(self) -> None:
        if not self._builtins_loaded:
            self._builtins_loaded = True
            for module in self._builtins:
                importlib.import_module(module)

    def register(self, name: str, value: T | None = None, *, replace: bool = False, **meta: Any):
        """Register ``value`` under ``name``; without ``value``, a decorator.

        Raises
        ------
        ValueError
            When ``name`` is taken and ``replace`` is false (two plugins must
            not silently shadow each other).
        """
        if not name or not isinstance(name, str):
            raise ValueError(f"{self.kind}: a name must be a non-empty string; got {name!r}")

        def add(thing: T) -> T:
            if name in self._entries and not replace:
                raise ValueError(f"{self.kind} {name!r} is already registered; pass replace=True to override it")
            self._entries[name] = Entry(name, thing, dict(meta))
            return thing

        return add if value is None else add(value)

    def entry(self, name: str) -> Entry[T]:
        """The entry of ``name``, loading plugins first if it is unknown.

        Raises
        ------
        UnknownName
            Naming the registered names.
        """
        self._load_builtins()
        if name not in self._entries:
            load_plugins()
        if name not in self._entries:
            raise UnknownName(f"{name!r} is not a known {self.kind}; choose one of: {', '.join(self.names())}")
        return self._entries[name]

    def get(self, name: str) -> T:
        """The registered thing of ``name`` (see :meth:`entry`)."""
        return self.entry(name).value

    def names(self) -> list[str]:
        """Registered names, sorted."""
        self._load_builtins()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load_builtins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests and notebooks that redefine an entry)."""
        self._entries.pop(name, None)


#: Population dynamics: name -> :class:`igmm.dynamics.protocol.Dynamics` (one stepper per backend).
DYNAMICS: Registry = Registry("dynamics", ("igmm.dynamics", "igmm.proxies"))
#: Database (RAG) policies: name -> slot function ``(rag, ages, point, uniforms) -> slot``.
RAG_POLICIES: Registry = Registry("database policy", ("igmm.model.rag",))
#: Static networks: name -> builder ``(n_agents, seed, **options) -> networkx.Graph``.
NETWORKS: Registry = Registry("network", ("igmm.networks",))
#: Initial opinions: name -> ``(params, rng, **options) -> weights (n_agents, n_components)``.
INITIAL_OPINIONS: Registry = Registry("initial-opinion rule", ("igmm.dynamics.initial",))
#: Modifiers of a population's parameters: name -> ``(params, rng, **options) -> params``.
MODIFIERS: Registry = Registry("modifier", ("igmm.extensions",))
#: Per-step measures (reporters): name -> ``(view) -> ndarray of shape (n_reps,)``.
MEASURES: Registry = Registry("measure", ("igmm.dynamics",))

_loaded: set[str] = set()


def load_plugins(modules: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Import plugin modules so that their entries register themselves.

    Parameters
    ----------
    modules : sequence of str
        Module names (``mypackage.myplugin``) to import, besides those named
        by ``$IGMM_PLUGINS`` and the ``igmm.plugins`` entry points. Each is
        imported once per process.

    Returns
    -------
    list of str
        The modules imported by this call.

    Raises
    ------
    ValueError
        When a module cannot be imported (naming it and the reason).
    """
    wanted = list(modules) + [name.strip() for name in os.environ.get(PLUGINS_ENV, "").split(",") if name.strip()]
    imported = []
    for module in wanted:
        if module in _loaded:
            continue
        try:
            importlib.import_module(module)
        except Exception as error:  # a plugin's own bug must name the plugin, not crash the caller
            raise ValueError(f"plugin {module!r} could not be imported: {type(error).__name__}: {error}") from None
        _loaded.add(module)
        imported.append(module)
    imported += _load_entry_points()
    return imported


def _load_entry_points() -> list[str]:
    from importlib.metadata import entry_points

    imported = []
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.value in _loaded:
            continue
        _loaded.add(point.value)
        try:
            point.load()
        except Exception as error:
            raise ValueError(f"plugin {point.value!r} (entry point {point.name!r}) could not be imported: "
                             f"{type(error).__name__}: {error}") from None
        imported.append(point.value)
    return imported


def keyword_options(function: Callable) -> dict[str, inspect.Parameter]:
    """The keyword-only parameters of a registered function: the options a user may set.

    Registered builders declare their options as keyword-only parameters with
    type annotations and defaults; the configuration validates user input
    against them (:func:`igmm.config.validate_options`).
    """
    signature = inspect.signature(function)
    return {name: parameter for name, parameter in signature.parameters.items()
            if parameter.kind is inspect.Parameter.KEYWORD_ONLY}


def register_measure(name: str, *, dtype: str = "float64", replace: bool = False):
    """Decorator registering a per-step measure ``(view) -> ndarray of shape (n_reps,)``.

    ``view`` is an :class:`igmm.dynamics.StepView` (``view.t``, ``view.ids()``,
    ``view.weights()``, ``view.neighbourhoods()``, ``view.stepper``). Name it
    in ``measures: [...]`` of a configuration (or ``--measure``) and it becomes
    a column of the per-step table.
    """
    return MEASURES.register(name, dtype=dtype, replace=replace)


def register_network(name: str, *, random: bool = True, replace: bool = False):
    """Decorator registering a network builder ``(n_agents, seed, *, option=...) -> networkx.Graph``.

    Its keyword-only parameters are the options ``network: {kind: NAME, ...}``
    may set (type annotations are checked). ``random`` says whether the graph
    depends on the seed.
    """
    return NETWORKS.register(name, random=random, replace=replace)


def register_rag_policy(name: str, *, replace: bool = False):
    """Decorator registering a database policy ``(rag, ages, point, uniforms) -> slot`` (batch-first arrays)."""
    return RAG_POLICIES.register(name, replace=replace)


def register_initial(name: str, *, replace: bool = False):
    """Decorator registering an initial-opinion rule ``(params, rng, *, option=...) -> weights (n_agents, K)``."""
    return INITIAL_OPINIONS.register(name, replace=replace)


def register_modifier(name: str, *, replace: bool = False):
    """Decorator registering a modifier ``(params, rng, *, option=...) -> params`` of the population's parameters."""
    return MODIFIERS.register(name, replace=replace)
