"""Measures of ID trajectories, shared by the GMM and the language-model systems.

Every function here is a pure function of an ID trajectory ``ids`` of shape
``(n_reps, n_steps + 1, n_agents)`` (integer labels; any non-negative labels,
e.g. a mixture component or a flower index). Nothing here knows which system
produced the trajectory.
"""

from igmm.metrics.perspective import aligned_cmds, cmds
from igmm.metrics.patterns import PATTERN_NAMES, classify_patterns, pattern_shares
from igmm.metrics.polarization import first_hitting_time, is_polarized, max_polarized_silos
from igmm.metrics.survival import kaplan_meier_median
from igmm.metrics.runs import run_measures
from igmm.metrics.silos import (
    ConsensusTime,
    consensus_time,
    largest_silo,
    n_silos,
    silo_sizes,
    stability,
)

__all__ = [
    "PATTERN_NAMES",
    "classify_patterns",
    "aligned_cmds",
    "cmds",
    "pattern_shares",
    "ConsensusTime",
    "consensus_time",
    "first_hitting_time",
    "is_polarized",
    "kaplan_meier_median",
    "max_polarized_silos",
    "largest_silo",
    "n_silos",
    "run_measures",
    "silo_sizes",
    "stability",
]
