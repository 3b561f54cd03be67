"""Language-model runs for the explorer: read with :func:`igmm.llm.targets.load_target`, replayed beside a GMM run."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np


@functools.lru_cache(maxsize=4)
def _target(source: str, stamp: float):
    from igmm.llm.targets import load_target

    return load_target(source or None)


def load(source: str):
    """The target set of ``source`` ('' = the released transcripts), cached while the source is unchanged."""
    from igmm.llm.transcripts import default_transcripts_dir

    path = Path(source).expanduser() if source else default_transcripts_dir()
    if not path.exists():
        raise FileNotFoundError(f"transcript source: {path} does not exist")
    return _target(str(path), path.stat().st_mtime)


def gmm_settings(run) -> dict[str, Any]:
    """The GMM run shown beside a transcript run: the same p, k (at most n - 1), n and T."""
    return {"p": float(run.p), "k": int(min(run.k, run.n_agents - 1)), "n": int(run.n_agents), "T": int(run.n_steps)}


def transcript_runs(source: str) -> dict[str, Any]:
    """The runs a source holds: label, p, k, replicate, n_agents, n_steps (and how many problems were skipped)."""
    target = load(source)
    runs = [{"label": run.label, "p": run.p, "k": run.k, "replicate": run.replicate, "n_agents": run.n_agents,
             "n_steps": run.n_steps} for run in target.runs]
    return {"source": target.source, "runs": runs, "problems": len(target.problems)}


def transcript_run(source: str, label: str) -> dict[str, Any]:
    """One run's IDs, label names, colours, the classifier's verdict at every step, and the matching GMM settings.

    Raises
    ------
    ValueError
        When the source has no run ``label``.
    """
    from igmm.explore.session import palette
    from igmm.metrics import classify_patterns

    target = load(source)
    found = [run for run in target.runs if run.label == label]
    if not found:
        raise ValueError(f"run: {label!r} is not a run of {target.source}")
    run = found[0]
    ids = np.asarray(run.ids)
    n_labels = max(target.n_labels, int(ids.max()) + 1)
    verdicts = [""] + [str(classify_patterns(ids[None, : t + 1])[0]) for t in range(1, len(ids))]
    return {"label": run.label, "p": run.p, "k": run.k, "n_agents": run.n_agents, "n_steps": run.n_steps,
            "ids": ids.tolist(), "names": list(target.label_names), "n_labels": n_labels,
            "palette": palette(n_labels), "verdicts": verdicts, "gmm": gmm_settings(run)}
