"""Core objects of one agent: component geometry, the one-step EM, database (RAG) policies.

Core module: imports only numpy and scipy.
"""

from igmm.model.em import clip_renormalise, em_step, em_step_batch, sample_components, scaled_densities
from igmm.model.geometry import Geometry, circle, custom, line, simplex
from igmm.model.rag import choose_slot, farthest_slot, oldest_slot, random_slot, write_point

__all__ = [
    "Geometry",
    "choose_slot",
    "circle",
    "clip_renormalise",
    "custom",
    "em_step",
    "em_step_batch",
    "farthest_slot",
    "line",
    "oldest_slot",
    "random_slot",
    "sample_components",
    "scaled_densities",
    "simplex",
    "write_point",
]
