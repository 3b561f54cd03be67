"""interacting-gmm: interacting Gaussian mixture models as a fast proxy for interacting language models.

Quick start::

    import igmm
    result = igmm.simulate({"p": 0.4, "k": 29, "T": 100}, replicates=8, seed=1)
    result.ids.shape      # (8, 101, 30): ID of every agent at every step
    result.runs           # one row per replicate: final silos, t*, converged, seed

Extend it (docs/extending.md): ``igmm.register_dynamics``, ``igmm.register_measure``,
``igmm.register_network``, ``igmm.register_rag_policy``, ``igmm.register_initial``,
``igmm.register_modifier``.

The top-level names load lazily, so ``import igmm.model`` stays numpy-only. No
submodule shares a name with them, so each stays what it is however often it
is used.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.2.0"

_LAZY = {
    "simulate": "igmm.api",
    "simulate_seeds": "igmm.api",
    "iterate": "igmm.api",
    "replicate_seeds": "igmm.api",
    "SimulationResult": "igmm.api",
    "SimulationConfig": "igmm.config",
    "make_config": "igmm.config",
    "ConfigError": "igmm.config",
    "register_dynamics": "igmm.dynamics.protocol",
    "register_measure": "igmm.registry",
    "register_network": "igmm.registry",
    "register_rag_policy": "igmm.registry",
    "register_initial": "igmm.registry",
    "register_modifier": "igmm.registry",
    "load_plugins": "igmm.registry",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # cached: later lookups never reach this function
        return value
    raise AttributeError(f"module 'igmm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
