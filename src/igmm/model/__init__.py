"""Core objects of one agent: component geometry, the one-step EM, database (RAG) policies.

Core module: imports only numpy and scipy.
"""

from igmm.model.em import clip_renormalise, em_step, responsibilities, scaled_densities
from igmm.model.geometry import Geometry, circle, custom, line, simplex
from igmm.model.rag import RAG_POLICIES, insert_point

__all__ = [
    "Geometry",
    "RAG_POLICIES",
    "circle",
    "clip_renormalise",
    "custom",
    "em_step",
    "insert_point",
    "line",
    "responsibilities",
    "scaled_densities",
    "simplex",
]
