"""Runs as a generator of states, and reporters that record them (Mesa's data-collector idea).

:func:`iterate` yields a :class:`StepView` of the batch after every step
(t = 0 first); it knows nothing about what is recorded. Reporters are the
per-step measures of :data:`igmm.registry.MEASURES` (functions of a view,
one value per replicate); :func:`run` attaches them, records the ID of every
agent at every step (the trajectory every measure is computed from) and
stops with a clear error when the state stops being numbers.
"""

from __future__ import annotations

import time as clock
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np

from igmm.dynamics.protocol import Stepper, make_stepper
from igmm.dynamics.state import ModelParams, PopulationState
from igmm.registry import MEASURES


class NumericalError(ArithmeticError):
    """The population's state holds NaN or infinity: no result is reported from it."""


class StepTimeout(TimeoutError):
    """A run passed its deadline (a sweep task's time limit)."""


@dataclass(eq=False)
class StepView:
    """The batch after step ``t``, as reporters see it (values computed on first use).

    Attributes
    ----------
    t : int
    stepper : Stepper
        The backend's stepper (reporters of a dynamics may read its own extras, e.g. sigmas).
    params : ModelParams
    """

    t: int
    stepper: Stepper
    params: ModelParams
    _cache: dict = field(default_factory=dict)

    def _cached(self, name: str, compute: Callable):
        if name not in self._cache:
            self._cache[name] = compute()
        return self._cache[name]

    def ids(self) -> np.ndarray:
        """ID of every agent, shape (n_reps, n_agents)."""
        return self._cached("ids", self.stepper.ids)

    def weights(self) -> np.ndarray:
        """Opinion vectors, shape (n_reps, n_agents, n_components)."""
        return self._cached("weights", self.stepper.weights)

    def neighbourhoods(self) -> np.ndarray | None:
        """Who may send each agent an opinion next (see the Stepper protocol)."""
        return self._cached("neighbourhoods", self.stepper.neighbourhoods)


def iterate(params: ModelParams, rngs: Sequence[np.random.Generator], n_steps: int, backend: str = "numpy",
            state: PopulationState | None = None) -> Iterator[StepView]:
    """The states of a run: t = 0, 1, ..., n_steps.

    Parameters
    ----------
    params : ModelParams
    rngs : sequence of numpy.random.Generator
        One per replicate (spawned from one SeedSequence by the shell).
    n_steps : int
        T.
    backend : str
        Any backend that implements ``params.dynamics`` (:data:`igmm.dynamics.protocol.BACKENDS`).
    state : PopulationState, optional
        Start here instead of the initial state drawn from ``rngs``.

    Yields
    ------
    StepView
        Valid until the next step (the stepper updates its state in place).
    """
    stepper = make_stepper(params, rngs, backend, state)
    yield StepView(stepper.time, stepper, params)
    for _ in range(n_steps):
        stepper.step()
        yield StepView(stepper.time, stepper, params)


@dataclass(frozen=True, eq=False)
class Trajectory:
    """What a run records.

    Attributes
    ----------
    ids : ndarray of int16 (int32 beyond 32767 labels), shape (n_reps, n_steps + 1, n_agents)
        ID_i(t) = argmax_k pi_ik(t); row 0 is the initial state.
    series : dict of name -> ndarray of shape (n_reps, n_steps + 1)
        Every recorded per-step measure (``polarized`` always).
    weights : ndarray of float64, shape (n_reps, n_steps + 1, n_agents, n_components) or None
        Full weights, only when asked for.
    final : PopulationState
        The state after the last step.
    """

    ids: np.ndarray
    series: dict[str, np.ndarray]
    weights: np.ndarray | None
    final: PopulationState

    @property
    def polarized(self) -> np.ndarray:
        """Polarization flag of every state, shape (n_reps, n_steps + 1), bool."""
        return self.series["polarized"]


#: Measures every run records.
DEFAULT_MEASURES: tuple[str, ...] = ("polarized",)


def run(
    params: ModelParams,
    rngs: Sequence[np.random.Generator],
    n_steps: int,
    backend: str = "numpy",
    measures: Sequence[str] = (),
    keep_weights: bool = False,
    on_step: Callable[[int], None] | None = None,
    state: PopulationState | None = None,
    deadline: float | None = None,
) -> Trajectory:
    """Run ``n_steps`` steps of a batch of replicates and record IDs and measures.

    Parameters
    ----------
    params : ModelParams
    rngs : sequence of numpy.random.Generator
        One generator per replicate.
    n_steps : int
        T.
    backend : str
        See :func:`iterate`.
    measures : sequence of str
        Per-step measures to record besides :data:`DEFAULT_MEASURES` (names of
        :data:`igmm.registry.MEASURES`).
    keep_weights : bool
        Also record the full weights at every step (memory: n_reps * (T + 1) * n_agents * K * 8 bytes).
    on_step : callable, optional
        Called with the number of steps done after every step (progress bars).
    state : PopulationState, optional
        Start here instead of the initial state drawn from ``rngs``.
    deadline : float, optional
        ``time.monotonic()`` value after which the run stops with :class:`StepTimeout`.

    Returns
    -------
    Trajectory

    Raises
    ------
    NumericalError
        When the weights hold NaN or infinity (never reported as a result).
    StepTimeout
        Past ``deadline``.
    """
    names = list(dict.fromkeys([*DEFAULT_MEASURES, *measures]))
    reporters = {name: MEASURES.get(name) for name in names}
    ids = series = weights = None
    view = None
    # row: steps done in this run (a run started from a given state records from its own t = 0 row)
    for row, view in enumerate(iterate(params, rngs, n_steps, backend, state)):
        if not _all_finite(view):
            raise NumericalError(f"the weights hold NaN or infinity at step {view.t}: the parameters are outside "
                                 "what the arithmetic can represent (check sigma, delta, means and covariances)")
        if ids is None:
            shape = view.weights().shape  # (n_reps, n_agents, n_components), read once
            n_reps, n_agents = shape[:2]
            label_type = np.int16 if shape[-1] < 2**15 else np.int32
            ids = np.empty((n_reps, n_steps + 1, n_agents), dtype=label_type)
            series = {name: np.empty((n_reps, n_steps + 1), dtype=MEASURES.entry(name).meta.get("dtype", "float64"))
                      for name in names}
            weights = np.empty((n_reps, n_steps + 1) + shape[1:]) if keep_weights else None
        ids[:, row] = view.ids()
        for name, report in reporters.items():
            series[name][:, row] = report(view)
        if weights is not None:
            weights[:, row] = view.weights()
        if on_step is not None and row > 0:
            on_step(row)
        if deadline is not None and clock.monotonic() > deadline:
            raise StepTimeout(f"the run passed its time limit at step {view.t} of {n_steps}")
    return Trajectory(ids=ids, series=series, weights=weights, final=view.stepper.state())


def _all_finite(view: StepView) -> bool:
    """Every weight is a number; a stepper on a device may reduce this itself (``all_finite()``: one bool back)."""
    check = getattr(view.stepper, "all_finite", None)
    return bool(check()) if check is not None else bool(np.all(np.isfinite(view.weights())))


@MEASURES.register("polarized", dtype="bool")
def polarized(view: StepView) -> np.ndarray:
    """Is each replicate polarized now (two or more silos, every agent's neighbourhood inside its silo)? Shape (n_reps,).

    A stepper on a device may compute the flags itself (``polarized()``), so
    that its neighbourhoods need not come back to the host every step.
    """
    from igmm.metrics.polarization import is_polarized

    own = getattr(view.stepper, "polarized", None)
    if own is not None:
        return own()
    neighbourhoods = view.neighbourhoods()
    if neighbourhoods is None:  # the complete graph: a closed multi-silo state cannot exist
        return np.zeros(view.ids().shape[0], dtype=bool)
    return is_polarized(view.ids(), neighbourhoods)
