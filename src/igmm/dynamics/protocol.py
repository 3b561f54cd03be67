"""The one small protocol every dynamics implements on every backend, and its registry.

A **stepper** advances a batch of replicates of one dynamics, in place, one
step at a time; the run loop (:mod:`igmm.dynamics.loop`) asks it for what the
reporters record. A **dynamics** is a name with one stepper per backend, kept
in :data:`igmm.registry.DYNAMICS`::

    @register_dynamics("paper", backend="numpy")
    class PaperStepper: ...

A researcher's dynamics can also be a plain step function on
:class:`~igmm.dynamics.state.PopulationState` (slower, but one function)::

    @register_dynamics("my-rule")
    def my_step(state, params, noise):
        ...
        return new_state

Asking a backend that lacks an implementation is an error naming the
backends that have one.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

import numpy as np

from igmm.dynamics.state import HostNoise, ModelParams, PopulationState, StepNoise
from igmm.registry import DYNAMICS

#: Backend name -> module that registers its steppers when imported (optional extras).
BACKEND_MODULES: dict[str, str] = {
    "numba": "igmm.backends.numba_backend",
    "numba-parallel": "igmm.backends.numba_backend",
    "torch": "igmm.backends.torch_backend",
    "torch-batched": "igmm.backends.torch_batched",
}
#: Install command of the extra each optional backend needs.
BACKEND_EXTRAS: dict[str, str] = {
    "numba": "pip install 'interacting-gmm[numba]'",
    "numba-parallel": "pip install 'interacting-gmm[numba]'",
    "torch": "pip install torch==2.13.0 (the CPU build; a GPU machine: the matching CUDA build)",
    "torch-batched": "pip install torch==2.13.0 (the CPU build; a GPU machine: the matching CUDA build)",
}
#: Revision of each backend's arithmetic (absent: 1). Bumped when a change gives seeded runs on that
#: backend other bits, so that a sweep never mixes runs of two revisions at one point
#: (:func:`igmm.pipeline.store.refuse_other_revisions`) and a calibration cache never reuses them.
#: numba 2 (2026-11-29): its kernels dropped fastmath "reassoc", whose rounding depended on whether the
#: process compiled the kernels or loaded numba's cache.
BITS_REVISIONS: dict[str, int] = {"numba": 2, "numba-parallel": 2}
#: Every backend name the configuration accepts ("auto": :func:`resolve_backend`).
BACKENDS: tuple[str, ...] = ("numpy", *BACKEND_MODULES, "auto")
#: What "auto" tries, fastest first: backends whose runs are tested equal in distribution to numpy's
#: (tests/dynamics/test_numba_backend.py, tests/backends/test_torch_batched.py). torch-batched only on a
#: CUDA device (on a CPU it is slower than numpy); numba serial, because a sweep's process pool already
#: keeps every core busy.
AUTO_ORDER: tuple[str, ...] = ("torch-batched", "numba", "numpy")


#: Least work (agent-steps per process) for which "auto" considers a compiled or device backend: numba
#: loads its kernels once per process (~0.5 s from its cache, ~8 s cold) and a CUDA context takes ~1 s,
#: which is what the numpy engine (~3 us per agent-step) spends on a few hundred thousand agent-steps.
AUTO_MIN_WORK = 2_000_000


def resolve_backend(dynamics: str, config=None, backend: str = "auto", work: float | None = None) -> str:
    """The backend "auto" means here: the first of :data:`AUTO_ORDER` that is installed, implements
    ``dynamics`` and does not refuse ``config`` (its ``unsupported(config)``); other names are returned as given.

    Parameters
    ----------
    dynamics : str
    config : igmm.config.SimulationConfig, optional
        Checked against each candidate's ``unsupported`` (full covariances, database policies...).
    backend : str
    work : float, optional
        Agent-steps one process will run; below :data:`AUTO_MIN_WORK` "auto" is numpy (start-up costs
        of the others would exceed their savings).
    """
    if backend != "auto":
        return backend
    if work is not None and work < AUTO_MIN_WORK:
        return "numpy"
    for candidate in AUTO_ORDER:
        if candidate in ("torch", "torch-batched") and importlib.util.find_spec("torch") is None:
            continue  # not installed: skip without importing anything
        try:
            factory = stepper_factory(dynamics, candidate)
        except ValueError:
            continue
        available = getattr(factory, "available", None)  # e.g. "a CUDA device is there"
        if available is not None and not available():
            continue
        unsupported = getattr(factory, "unsupported", None)
        if config is not None and unsupported is not None and unsupported(config):
            continue
        return candidate
    return "numpy"


class Stepper(Protocol):
    """Advances a batch of ``n_reps`` replicates of one dynamics on one backend.

    Built by a factory ``(params, rngs, state=None) -> Stepper``: with no
    ``state`` it draws the initial state from ``rngs`` (one generator per
    replicate), and it draws every later step's random numbers from them too.
    """

    time: int

    def step(self) -> None:
        """Advance every replicate by one synchronous step."""

    def ids(self) -> np.ndarray:
        """Opinion label of every agent, shape (n_reps, n_agents), int."""

    def weights(self) -> np.ndarray:
        """Every agent's opinion as a vector (GMM: the mixture weights), shape (n_reps, n_agents, n_components)."""

    def neighbourhoods(self) -> np.ndarray | None:
        """Who may send each agent an opinion next step, shape (n_reps or 1, n_agents, m), -1 pads.

        None means everyone (the complete graph), where a closed multi-silo
        configuration cannot exist.
        """

    def state(self) -> PopulationState:
        """A snapshot of the full state (batch axes first)."""


StepperFactory = Callable[[ModelParams, Sequence[np.random.Generator], "PopulationState | None"], Stepper]


@dataclass
class Dynamics:
    """A registered dynamics: one stepper factory per backend.

    Attributes
    ----------
    name : str
    steppers : dict of backend name -> stepper factory
    options : callable or None
        A function whose keyword-only parameters are the dynamics' options
        (``dynamics_options`` in a configuration, checked against them and
        passed to the stepper as ``params.options``); None: no options.
    """

    name: str
    steppers: dict[str, StepperFactory] = field(default_factory=dict)
    options: Callable | None = None


def register_dynamics(name: str, backend: str = "numpy", *, options: Callable | None = None, replace: bool = False):
    """Decorator registering a stepper class (or a step function) as ``name`` on ``backend``.

    Parameters
    ----------
    name : str
        The dynamics' name, as written in ``dynamics:`` of a configuration.
    backend : str
        One of :data:`BACKENDS` (or a new backend name of the researcher's own).
    options : callable, optional
        See :class:`Dynamics`: its keyword-only parameters declare the options.
    replace : bool
        Override an existing implementation of ``name`` on ``backend``.

    Examples
    --------
    >>> @register_dynamics("frozen-in-time")
    ... def frozen_in_time(state, params, noise):
    ...     return state            # nobody ever changes
    >>> "frozen-in-time" in DYNAMICS
    True
    >>> DYNAMICS.unregister("frozen-in-time")
    """
    def add(implementation):
        if name not in DYNAMICS:
            DYNAMICS.register(name, Dynamics(name))
        dynamics: Dynamics = DYNAMICS.get(name)
        if backend in dynamics.steppers and not replace:
            raise ValueError(f"dynamics {name!r} already has a {backend!r} implementation; pass replace=True")
        factory = implementation
        if not isinstance(implementation, type) and _is_step_function(implementation):
            factory = _function_stepper(implementation)
        dynamics.steppers[backend] = factory
        if options is not None:
            dynamics.options = options
        return implementation

    return add


def _is_step_function(implementation) -> bool:
    import inspect

    try:
        parameters = list(inspect.signature(implementation).parameters)
    except (TypeError, ValueError):
        return False
    return parameters[:3] == ["state", "params", "noise"]


def bits_revision(backend: str) -> int:
    """The revision of ``backend``'s arithmetic (:data:`BITS_REVISIONS`; 1 when never bumped)."""
    return BITS_REVISIONS.get(backend, 1)


def stepper_factory(dynamics: str, backend: str = "numpy") -> StepperFactory:
    """The factory of ``dynamics`` on ``backend``, importing the backend's module when needed.

    Raises
    ------
    igmm.registry.UnknownName
        Unknown dynamics.
    ValueError
        The backend is unknown, its extra is missing (naming the install
        command), or it has no implementation of this dynamics (naming the
        backends that have one).
    """
    entry: Dynamics = DYNAMICS.get(dynamics)
    if backend == "auto":
        backend = resolve_backend(dynamics)
    if backend not in entry.steppers and backend in BACKEND_MODULES:
        try:
            importlib.import_module(BACKEND_MODULES[backend])
        except ImportError as error:
            raise ValueError(f"backend {backend!r} needs an optional extra that is not installed ({error}): "
                             f"{BACKEND_EXTRAS[backend]}") from None
    if backend not in entry.steppers:
        if backend not in BACKENDS and not any(backend in DYNAMICS.get(n).steppers for n in DYNAMICS.names()):
            raise ValueError(f"backend {backend!r} is not known; choose one of: {', '.join(BACKENDS)}")
        available = ", ".join(sorted(entry.steppers)) or "none"
        raise ValueError(f"dynamics {dynamics!r} has no {backend!r} implementation; backends that have one: {available}")
    return entry.steppers[backend]


def make_stepper(params: ModelParams, rngs: Sequence[np.random.Generator], backend: str = "numpy",
                 state: PopulationState | None = None) -> Stepper:
    """A stepper of ``params.dynamics`` on ``backend``, starting from ``state`` or drawing it from ``rngs``."""
    return stepper_factory(params.dynamics, backend)(params, rngs, state)


def _function_stepper(step_function: Callable[[PopulationState, ModelParams, StepNoise], PopulationState]):
    """A stepper factory around a pure step function on batch-first states."""

    def factory(params: ModelParams, rngs: Sequence[np.random.Generator], state: PopulationState | None = None):
        return FunctionStepper(step_function, params, rngs, state)

    factory.__doc__ = step_function.__doc__
    return factory


class FunctionStepper:
    """Steps a pure function ``(state, params, noise) -> state`` on :class:`PopulationState`.

    The GMM's initial state, the GMM's random draws (6 uniforms and 2 normal
    vectors per agent and step) and the dynamic k-nearest graph or static
    network of ``params`` for polarization: what a researcher's variant of
    the GMM needs, in one function.
    """

    def __init__(self, step_function, params: ModelParams, rngs: Sequence[np.random.Generator],
                 state: PopulationState | None = None):
        from igmm.dynamics.initial import initial_state

        self.step_function, self.params = step_function, params
        self._state = state if state is not None else initial_state(params, rngs)
        self.noise = HostNoise(rngs, self._state.n_agents, normal_shape=(2, params.geometry.n_dims))
        self.time = self._state.time

    def step(self) -> None:
        before = self._state
        after = dataclasses.replace(self.step_function(before, self.params, self.noise.next()), time=before.time + 1)
        frozen = self.params.frozen_mask()
        self._state = after if frozen is None else _restore_rows(before, after, frozen)
        self.time = self._state.time

    def ids(self) -> np.ndarray:
        return self._state.ids()

    def weights(self) -> np.ndarray:
        return self._state.weights

    def neighbourhoods(self) -> np.ndarray | None:
        from igmm.dynamics.partners import communication_neighbourhoods

        return communication_neighbourhoods(self._state.weights, self.params)

    def state(self) -> PopulationState:
        return self._state


def _restore_rows(before: PopulationState, after: PopulationState, frozen: np.ndarray) -> PopulationState:
    """``after`` with the frozen agents' rows of ``before`` (every array of the state)."""
    arrays = {}
    for name in ("weights", "rag", "rag_dens", "rag_ages"):
        new, old = getattr(after, name).copy(), getattr(before, name)
        new[:, frozen] = old[:, frozen]
        arrays[name] = new
    return dataclasses.replace(after, **arrays)
