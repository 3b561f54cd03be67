"""Layout of a sweep directory, its manifest, and readers that sort by key.

::

    DIR/
      sweep.yaml                     resolved spec, its SHA-256, chunk size, package version
      points.parquet                 one row per grid point: swept values + resolved configuration
      runs/point=00012/reps-00000-00024.parquet    one row per replicate (written last)
      steps/point=00012/reps-00000-00024.parquet   one row per replicate and step
      ids/point=00012/reps-00000-00024.npz          ID trajectories (only with save_ids)
      sweep.log                      one line per task attempt: time, task, status, seconds, pid
      failures.yaml                  tasks that failed twice in the last invocation
      summary/                       written by ``igmm summarize``
      .lock                          flock of the sweep process working in DIR

A task is *finished* when its runs shard exists. Every file is written under a
temporary name and renamed into place, and the runs shard is renamed last, so
a crash at any moment leaves each task either finished (all its files
complete) or unfinished (re-run in full, overwriting whatever it left).
Shard names depend only on (point, first replicate, number of replicates),
so a task's rows can exist at most once.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
import pandas as pd
import yaml

from igmm.storage import write_npz, write_parquet, write_yaml

if TYPE_CHECKING:
    from igmm.sweep.spec import SweepSpec

MANIFEST = "sweep.yaml"
POINTS = "points.parquet"
LOG = "sweep.log"
LOCK = ".lock"
FAILURES = "failures.yaml"
#: Folders and files a sweep owns; ``--force`` removes exactly these.
OWNED = ("runs", "steps", "ids", "summary", MANIFEST, POINTS, FAILURES, LOG)
#: Sort keys of the tables: completion order never leaks into results.
RUN_KEYS = ["point", "replicate"]
STEP_KEYS = ["point", "replicate", "t"]


class SpecMismatchError(RuntimeError):
    """DIR holds a sweep of another spec; ``lines`` says what differs."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__("\n".join(lines))


class DirectoryLockedError(RuntimeError):
    """Another ``igmm sweep`` process is working in the same directory."""


@contextmanager
def lock_directory(out_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on DIR for one sweep process (POSIX ``flock``).

    Two sweeps in one directory would delete each other's temporary files; the
    kernel drops the lock when its holder dies, even by SIGKILL, so it never
    goes stale. Where ``fcntl`` does not exist (Windows) nothing is locked.
    """
    try:
        import fcntl
    except ImportError:  # no flock: the user keeps to one sweep per directory
        yield
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / LOCK, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise DirectoryLockedError(f"{out_dir} is in use by another igmm sweep (pid {holder})") from None
        handle.seek(0), handle.truncate(), handle.write(str(os.getpid())), handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shard_name(point: int, start: int, n_reps: int) -> str:
    """Relative shard name of a task, e.g. ``point=00012/reps-00025-00049`` (no suffix)."""
    return f"point={point:05d}/reps-{start:05d}-{start + n_reps - 1:05d}"


def write_shards(
    out_dir: Path, name: str, runs: pd.DataFrame, steps: pd.DataFrame, ids: np.ndarray | None = None
) -> None:
    """Write one task's shards atomically; the runs shard last, as the completion mark."""
    write_parquet(steps, out_dir / "steps" / f"{name}.parquet")
    if ids is not None:
        write_npz(out_dir / "ids" / f"{name}.npz", ids=ids)
    write_parquet(runs, out_dir / "runs" / f"{name}.parquet")


def finished_tasks(out_dir: Path) -> set[str]:
    """Names of the tasks whose runs shard exists."""
    root = Path(out_dir) / "runs"
    return {str(path.relative_to(root).with_suffix("")) for path in root.glob("point=*/reps-*.parquet")}


def remove_stray_temporaries(out_dir: Path) -> int:
    """Delete ``.*.tmp`` files left by a killed writer; returns how many."""
    strays = [path for folder in ("runs", "steps", "ids") for path in (Path(out_dir) / folder).glob("point=*/.*.tmp")]
    for path in strays:
        path.unlink(missing_ok=True)
    return len(strays)


def read_manifest(out_dir: Path) -> dict[str, Any] | None:
    """The manifest of DIR, or None when DIR holds no sweep."""
    path = Path(out_dir) / MANIFEST
    return yaml.safe_load(path.read_text()) if path.is_file() else None


def prepare_directory(out_dir: Path, spec: SweepSpec, points: pd.DataFrame, force: bool = False) -> bool:
    """Make DIR ready for ``spec``: new, resumed, or (with ``force``) wiped and restarted.

    Parameters
    ----------
    out_dir : Path
    spec : SweepSpec
    points : DataFrame
        The points table to store (see :func:`points_table`).
    force : bool
        Remove a previous sweep of another spec from DIR instead of refusing.

    Returns
    -------
    bool
        True when an existing sweep of the same spec is resumed.

    Raises
    ------
    SpecMismatchError
        DIR holds a sweep of a different spec and ``force`` is false.
    """
    from igmm import __version__

    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir)
    if manifest is not None and manifest.get("spec_sha256") == spec.digest():
        return True
    if manifest is not None and not force:
        raise SpecMismatchError(_mismatch_lines(out_dir, manifest.get("spec", {}), spec.to_dict()))
    if manifest is not None:
        remove_owned(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_parquet(points, out_dir / POINTS)
    write_yaml({"spec_sha256": spec.digest(), "igmm_version": __version__, "spec": spec.to_dict()}, out_dir / MANIFEST)
    return False


def _mismatch_lines(out_dir: Path, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    changed = sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))
    lines = [f"{out_dir} holds a sweep of a different spec (changed: {', '.join(changed)})."]
    lines += [f"  {key}: was {old.get(key)!r}, now {new.get(key)!r}" for key in changed]
    lines.append("Use another --out, or --force to delete the previous results in it and start again.")
    return lines


def remove_owned(out_dir: Path) -> None:
    """Delete the files and folders a sweep owns in DIR (nothing else)."""
    for name in OWNED:
        path = Path(out_dir) / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def points_table(spec: SweepSpec) -> pd.DataFrame:
    """One row per grid point: ``point``, the swept values, then every scalar of the resolved configuration.

    Resolved columns are prefixed ``cfg_`` (e.g. ``cfg_n_agents``, ``cfg_k``)
    so a swept axis and its resolved value never collide.
    """
    rows = []
    for index, (point, config) in enumerate(zip(spec.points(), spec.configs())):
        resolved = {f"cfg_{key}": value for key, value in config.to_dict().items() if _is_scalar(value)}
        rows.append({"point": index, **point, **resolved})
    return pd.DataFrame(rows)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (int, float, str, bool))


def _read_shards(folder: Path, names: set[str] | None) -> pd.DataFrame:
    paths = sorted(folder.glob("point=*/reps-*.parquet"))
    if names is not None:
        paths = [path for path in paths if str(path.relative_to(folder).with_suffix("")) in names]
    if not paths:
        return pd.DataFrame()
    return pd.concat([pd.read_parquet(path) for path in paths], ignore_index=True)


def read_runs(out_dir: str | Path) -> pd.DataFrame:
    """All finished runs rows, sorted by (point, replicate), index 0 .. n - 1."""
    frame = _read_shards(Path(out_dir) / "runs", None)
    return frame.sort_values(RUN_KEYS, kind="stable", ignore_index=True) if len(frame) else frame


def read_steps(out_dir: str | Path) -> pd.DataFrame:
    """Per-step rows of the finished tasks only, sorted by (point, replicate, t)."""
    out_dir = Path(out_dir)
    frame = _read_shards(out_dir / "steps", finished_tasks(out_dir))
    return frame.sort_values(STEP_KEYS, kind="stable", ignore_index=True) if len(frame) else frame


def read_points(out_dir: str | Path) -> pd.DataFrame:
    """The points table of DIR."""
    return pd.read_parquet(Path(out_dir) / POINTS)


def read_ids(out_dir: str | Path, point: int) -> np.ndarray:
    """ID trajectories of one point (needs ``save_ids``), shape (n_reps, n_steps + 1, n_agents), int16."""
    paths = sorted((Path(out_dir) / "ids" / f"point={point:05d}").glob("reps-*.npz"))
    if not paths:
        raise FileNotFoundError(f"no ID trajectories for point {point} in {out_dir} (run the sweep with save_ids: true)")
    return np.concatenate([np.load(path)["ids"] for path in paths])
