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
#: Every backend name the configuration accepts.
BACKENDS: tuple[str, ...] = ("numpy", *BACKEND_MODULES)


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
    exact_one_hot : bool
        Its agents start exactly one-hot (weights 1 and 0) under the default
        initial rule (the early-draft variant), instead of 1 - eps and eps / K.
    options : callable, optional
        Declares the dynamics' options (``dynamics_options:`` of a
        configuration) as its keyword-only parameters with annotations and
        defaults, as every registered function does; None: no options.
    """

    name: str
    steppers: dict[str, StepperFactory] = field(default_factory=dict)
    exact_one_hot: bool = False
    options: Callable | None = None


def register_dynamics(name: str, backend: str = "numpy", *, exact_one_hot: bool | None = None,
                      options: Callable | None = None, replace: bool = False):
    """Decorator registering a stepper class (or a step function) as ``name`` on ``backend``.

    Parameters
    ----------
    name : str
        The dynamics' name, as written in ``dynamics:`` of a configuration.
    backend : str
        One of :data:`BACKENDS` (or a new backend name of the researcher's own).
    exact_one_hot : bool, optional
        See :class:`Dynamics`.
    options : callable, optional
        A function whose keyword-only parameters (annotated, with defaults)
        are the dynamics' options; the configuration validates
        ``dynamics_options`` against them. See :class:`Dynamics`.
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
        if exact_one_hot is not None:
            dynamics.exact_one_hot = exact_one_hot
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
