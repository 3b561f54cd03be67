"""One step of the whole population, and runs of many steps (core: numpy/scipy only).

The state of a batch of replicates is a :class:`PopulationState` of arrays
with the replicate axis first; :func:`paper_step` maps (state, parameters,
random draws) to the next state; :func:`run` iterates it, drawing each
replicate's random numbers from that replicate's own generator.
"""

from igmm.dynamics.partners import choose_partners, nearest_neighbours, weight_distances
from igmm.dynamics.run import Trajectory, initial_state, run
from igmm.dynamics.state import ModelParams, PopulationState, StepNoise
from igmm.dynamics.step import STEP_FUNCTIONS, paper_step
from igmm.dynamics.moving_variance import MOVING_VARIANCE_STEPS  # noqa: E402  (after step: it imports it)

# The variant lives in its own module; its step functions join the name -> function table here.
STEP_FUNCTIONS.update(MOVING_VARIANCE_STEPS)

__all__ = [
    "ModelParams",
    "PopulationState",
    "STEP_FUNCTIONS",
    "StepNoise",
    "Trajectory",
    "choose_partners",
    "initial_state",
    "nearest_neighbours",
    "paper_step",
    "run",
    "weight_distances",
]
