"""Provenance: what every output folder records so its numbers can be traced and reproduced.

``provenance.json`` holds the package version, the git commit of the source
(when it runs from a git checkout, with a flag for uncommitted changes), the
resolved configuration and its SHA-256, the root seed, the command line, the
Python, numpy and other library versions, the machine, and the start and end
times (UTC).
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

#: Libraries whose versions change numbers or files; recorded when importable.
LIBRARIES = ("numpy", "scipy", "pandas", "pyarrow", "networkx", "numba", "torch", "pydantic")


def now() -> str:
    """The current UTC time, ISO 8601 with seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def git_commit() -> dict[str, Any] | None:
    """The commit of the source tree this package runs from, or None outside a git checkout.

    Returns
    -------
    dict or None
        ``{"commit": sha, "dirty": bool}``; ``dirty`` when tracked files differ from the commit.
    """
    source = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=5, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())}


def library_versions() -> dict[str, str]:
    """Versions of the libraries of :data:`LIBRARIES` that are installed."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


def record(config: dict[str, Any], config_sha256: str, seed: int | None, started: str, extra: dict | None = None) -> dict:
    """The provenance record of one output folder.

    Parameters
    ----------
    config : dict
        The resolved configuration (YAML names), as written beside the results.
    config_sha256 : str
        Its SHA-256 (of the canonical JSON).
    seed : int or None
        The root seed.
    started : str
        Start time (:func:`now` when the command began).
    extra : dict, optional
        Anything else the command wants recorded (executor, backend chosen, ...).
    """
    from igmm import __version__

    return {
        "package": "interacting-gmm",
        "version": __version__,
        "git": git_commit(),
        "command": sys.argv,
        "config_sha256": config_sha256,
        "seed": seed,
        "config": config,
        "python": sys.version.split()[0],
        "libraries": library_versions(),
        "machine": {"platform": platform.platform(), "processor": platform.machine(), "cpus": _cpus()},
        "started": started,
        "ended": now(),
        **(extra or {}),
    }


def _cpus() -> int | None:
    import os

    return os.cpu_count()


def write(record_: dict, folder: str | Path) -> Path:
    """Write ``provenance.json`` into ``folder`` (atomically)."""
    from igmm import storage

    return storage.write_text(json.dumps(record_, indent=2, default=str) + "\n", Path(folder) / "provenance.json")
