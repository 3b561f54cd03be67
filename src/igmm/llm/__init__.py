"""The language-model system: targets, labellers, transcripts, measures, scenarios, live runs, embedder.

Importing this package is light: pandas, httpx, torch and sentence-transformers
load only inside the modules and functions that need them. The target API is
re-exported lazily (``from igmm.llm import load_target`` imports
:mod:`igmm.llm.targets` on first use).
"""

from igmm.llm.flowers import FLOWERS, N_LABELS, UNLABELED, label_answer, label_answers
from igmm.llm.labels import ClusterLabeller, Labeller, ListLabeller

_LAZY = {"TargetRun": "igmm.llm.targets", "TargetSet": "igmm.llm.targets", "load_target": "igmm.llm.targets",
         "Scenario": "igmm.llm.scenario", "load_scenario": "igmm.llm.scenario"}

__all__ = ["FLOWERS", "N_LABELS", "UNLABELED", "ClusterLabeller", "Labeller", "ListLabeller", "label_answer",
           "label_answers", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
