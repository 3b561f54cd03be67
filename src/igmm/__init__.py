"""interacting-gmm: interacting Gaussian mixture models as a fast proxy for interacting language models.

Quick start::

    import igmm
    result = igmm.simulate({"p": 0.4, "k": 29, "T": 100}, replicates=8, seed=1)
    result.ids.shape      # (8, 101, 30): ID of every agent at every step
    result.runs           # one row per replicate: final silos, t*, converged, seed

The top-level names load lazily, so ``import igmm.model`` stays numpy-only.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "simulate": "igmm.simulate",
    "simulate_seeds": "igmm.simulate",
    "SimulationResult": "igmm.simulate",
    "SimulationConfig": "igmm.config",
    "make_config": "igmm.config",
    "ConfigError": "igmm.config",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'igmm' has no attribute {name!r}")
