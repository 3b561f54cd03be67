"""The experiments of EXPERIMENTS.md as data (``specs/*.yaml``) and one generic runner (`igmm reproduce`)."""

from igmm.experiments.runner import ExperimentResult, reproduce
from igmm.experiments.spec import ExperimentSpec, UnknownExperiment, experiment_names, load_spec, top_level_names

__all__ = [
    "ExperimentResult",
    "ExperimentSpec",
    "UnknownExperiment",
    "experiment_names",
    "load_spec",
    "reproduce",
    "top_level_names",
]
