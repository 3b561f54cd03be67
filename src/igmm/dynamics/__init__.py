"""Population dynamics (core: numpy/scipy only): state, the stepper protocol, one step per dynamics, runs.

The state of a batch of replicates is a :class:`PopulationState` of arrays
with the replicate axis first. Each dynamics is registered in
:data:`igmm.registry.DYNAMICS` with one stepper per backend
(:mod:`igmm.dynamics.protocol`); :func:`iterate` yields the states of a run
and :func:`run` records them with reporters (:mod:`igmm.dynamics.loop`).
"""

from igmm.dynamics.state import ModelParams, PopulationState, StepNoise
from igmm.dynamics.partners import choose_partners, k_nearest, nearest_neighbours, weight_distances
from igmm.dynamics.initial import initial_state
from igmm.dynamics.protocol import Stepper, make_stepper, register_dynamics, stepper_factory
from igmm.dynamics.loop import NumericalError, StepTimeout, StepView, Trajectory, iterate, run

# The project's own dynamics register themselves on import, as a researcher's do.
from igmm.dynamics import moving_variance as _moving_variance  # noqa: F401,E402
from igmm.dynamics import paper as _paper  # noqa: F401,E402

__all__ = [
    "ModelParams",
    "NumericalError",
    "PopulationState",
    "StepNoise",
    "StepTimeout",
    "StepView",
    "Stepper",
    "Trajectory",
    "choose_partners",
    "initial_state",
    "iterate",
    "k_nearest",
    "make_stepper",
    "nearest_neighbours",
    "register_dynamics",
    "run",
    "stepper_factory",
    "weight_distances",
]
