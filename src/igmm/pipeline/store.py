"""Layout of a sweep folder, its manifest and journal of checksummed shards, and readers that sort by key.

::

    DIR/
      spec.yaml                      the sweep spec: `igmm sweep DIR/spec.yaml --out NEW` repeats the sweep
      sweep.yaml                     manifest: spec identity and hash, package version, each point's backend
                                     and the revision of that backend's arithmetic
      points.parquet                 one row per grid point: key, swept values, resolved configuration
      runs/<point>-r00000-00024.parquet    one row per replicate (igmm.tables.RUN_SCHEMA)
      steps/<point>-r00000-00024.parquet   one row per replicate and step
      ids/<point>-r00000-00024.npz          ID trajectories (only with save_ids)
      shards.jsonl                   journal: one line per finished task (files, bytes, rows, SHA-256)
      provenance.json                versions, git commit, command, times
      sweep.log                      one line per task attempt: time, task, status, seconds, pid
      failures.yaml                  tasks that failed in the last invocation
      summary/                       written by ``igmm summarize`` (replaced as a whole)
      .lock                          flock of the sweep process working in DIR

A task is *finished* when the journal records it and its files still match
the recorded sizes, row counts and SHA-256. Its shards are written
atomically (temporary name, then rename), then the journal line is appended
and flushed: a crash at any moment leaves each task finished or unfinished
(re-run in full, overwriting whatever it left). A truncated, emptied,
deleted, swapped or bit-flipped shard fails verification, so resume runs
its task again and ``igmm sweep --verify DIR`` reports it. Every table
folder is plain Parquet files of one schema (no partition folders), so
``pandas.read_parquet("DIR/runs")``, pyarrow datasets and DuckDB's
``read_parquet('DIR/runs/*.parquet')`` read it as it is; hidden files
(``.*.tmp``) are skipped by all three.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import numpy as np
import pandas as pd
import yaml

from igmm.config import LinesError
from igmm.storage import file_sha256, write_npz, write_parquet, write_table, write_yaml
from igmm.pipeline.tasks import parse_shard_name

if TYPE_CHECKING:
    from igmm.pipeline.spec import SweepSpec

SPEC = "spec.yaml"
MANIFEST = "sweep.yaml"
POINTS = "points.parquet"
JOURNAL = "shards.jsonl"
LOG = "sweep.log"
LOCK = ".lock"
FAILURES = "failures.yaml"
TABLES = ("runs", "steps", "ids")
#: Folders and files a sweep owns; ``--force`` removes exactly these.
OWNED = (*TABLES, "summary", SPEC, MANIFEST, POINTS, JOURNAL, FAILURES, LOG, "provenance.json")
#: Sort keys of the tables: completion order never leaks into results.
RUN_KEYS = ["point", "replicate"]
STEP_KEYS = ["point", "replicate", "t"]


class SpecMismatchError(LinesError, RuntimeError):
    """DIR holds a sweep of another spec; ``lines`` says what differs."""


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


def shard_path(out_dir: Path, table: str, name: str) -> Path:
    """Path of a task's shard in one table folder."""
    return Path(out_dir) / table / f"{name}.{'npz' if table == 'ids' else 'parquet'}"


def write_shards(out_dir: Path, name: str, runs: pd.DataFrame, steps: pd.DataFrame, steps_schema,
                 ids: np.ndarray | None = None) -> dict[str, Any]:
    """Write one task's shards atomically, then record them in the journal (the completion mark).

    Returns
    -------
    dict
        The journal entry: ``{"task": name, "files": {table: {"bytes", "rows", "sha256"}}}``.
    """
    from igmm.tables import RUN_SCHEMA

    files = {}
    write_table(steps, shard_path(out_dir, "steps", name), steps_schema)
    files["steps"] = len(steps)
    if ids is not None:
        write_npz(shard_path(out_dir, "ids", name), ids=ids)
        files["ids"] = len(ids)
    write_table(runs, shard_path(out_dir, "runs", name), RUN_SCHEMA)
    files["runs"] = len(runs)
    entry = {"task": name, "files": {table: _describe_file(shard_path(out_dir, table, name), rows)
                                     for table, rows in files.items()}}
    with open(Path(out_dir) / JOURNAL, "a") as journal:
        journal.write(json.dumps(entry, sort_keys=True) + "\n")
        journal.flush()
        os.fsync(journal.fileno())
    return entry


def _describe_file(path: Path, rows: int) -> dict[str, Any]:
    return {"bytes": path.stat().st_size, "rows": int(rows), "sha256": file_sha256(path)}


def repair_journal(out_dir: Path) -> int:
    """Drop a torn last line (a kill during the append) so the next entry starts on its own line; returns bytes dropped."""
    path = Path(out_dir) / JOURNAL
    if not path.is_file():
        return 0
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return 0
    keep = data[: data.rfind(b"\n") + 1]
    with open(path, "r+b") as handle:
        handle.truncate(len(keep))
    return len(data) - len(keep)


def read_journal(out_dir: Path) -> dict[str, dict]:
    """The journal's entries by task name (the last entry of a task wins; a torn last line is ignored)."""
    path = Path(out_dir) / JOURNAL
    entries: dict[str, dict] = {}
    if not path.is_file():
        return entries
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
            entries[str(entry["task"])] = entry
        except (ValueError, KeyError, TypeError):
            continue
    return entries


@dataclass(frozen=True)
class ShardProblem:
    """A recorded task whose files no longer match the journal."""

    task: str
    table: str
    problem: str

    def __str__(self) -> str:
        return f"{self.task} ({self.table}): {self.problem}"


def verify_shards(out_dir: Path) -> tuple[set[str], list[ShardProblem]]:
    """Check every journalled task's files against their recorded size, row count and SHA-256.

    Returns
    -------
    good : set of str
        Tasks whose every file verifies.
    problems : list of ShardProblem
        What is wrong with the others; also every shard file no journal line covers.
    """
    out_dir = Path(out_dir)
    good, problems = set(), []
    journal = read_journal(out_dir)
    for name, entry in journal.items():
        task_problems = []
        for table, record in entry["files"].items():
            reason = _check_file(shard_path(out_dir, table, name), record)
            if reason is not None:
                task_problems.append(ShardProblem(name, table, reason))
        problems += task_problems
        if not task_problems:
            good.add(name)
    for table in TABLES:
        for path in sorted((out_dir / table).glob("*.*")):
            if path.name.startswith("."):
                continue
            name = path.name.rsplit(".", 1)[0]
            if name not in journal:
                problems.append(ShardProblem(name, table, "not recorded in the journal (an interrupted write)"))
    return good, problems


def _check_file(path: Path, record: dict) -> str | None:
    if not path.is_file():
        return "missing"
    size = path.stat().st_size
    if size != record["bytes"]:
        return f"{size} bytes, recorded {record['bytes']} (truncated or replaced)"
    if file_sha256(path) != record["sha256"]:
        return "content differs from its recorded SHA-256 (damaged or swapped)"
    return None


def finished_runs(out_dir: Path, good: set[str]) -> dict[str, set[int]]:
    """Replicates stored per point key, from the verified tasks' names."""
    runs: dict[str, set[int]] = {}
    for name in good:
        point, start, n_reps = parse_shard_name(name)
        runs.setdefault(point, set()).update(range(start, start + n_reps))
    return runs


def remove_unverified(out_dir: Path, good: set[str]) -> int:
    """Delete shard files of tasks that did not verify, and stray temporaries; returns how many files."""
    removed = 0
    for table in TABLES:
        for path in (Path(out_dir) / table).glob("*"):
            name = path.name.rsplit(".", 1)[0]
            if path.name.startswith(".") or name not in good:
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def read_manifest(out_dir: Path) -> dict[str, Any] | None:
    """The manifest of DIR, or None when DIR holds no sweep."""
    path = Path(out_dir) / MANIFEST
    return yaml.safe_load(path.read_text()) if path.is_file() else None


def is_sweep_folder(out_dir: Path) -> bool:
    """True when DIR holds a sweep (its manifest)."""
    return (Path(out_dir) / MANIFEST).is_file()


def prepare_directory(out_dir: Path, spec: SweepSpec, force: bool = False) -> bool:
    """Make DIR ready for ``spec``: new, resumed or grown, or (with ``force``) wiped and restarted.

    A folder holding a sweep with the same identity (base, seed and swept
    axes) is resumed or grown: new grid values and replicates are added to
    the finished runs. Any other sweep there is refused unless ``force``; a
    folder holding other files is refused.

    Returns
    -------
    bool
        True when an existing sweep is resumed or grown.

    Raises
    ------
    SpecMismatchError
        DIR holds a sweep of another identity and ``force`` is false, or files that are not a sweep's.
    """
    from igmm import __version__

    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir)
    if manifest is None and any(entry.name not in (LOCK,) for entry in out_dir.iterdir()):
        raise SpecMismatchError([f"{out_dir} holds files that are not a sweep's; use another --out"])
    resumed = manifest is not None and manifest.get("identity") == _plain(spec.identity())
    if manifest is not None and not resumed:
        if not force:
            raise SpecMismatchError(_mismatch_lines(out_dir, manifest.get("identity", {}), _plain(spec.identity())))
        remove_owned(out_dir)
    write_yaml(spec.to_dict(), out_dir / SPEC)
    write_parquet(points_table(spec, out_dir if resumed else None), out_dir / POINTS)
    recorded = {name: manifest[name] for name in ("backends", "revisions") if resumed and manifest.get(name)}
    write_yaml({"identity": _plain(spec.identity()), "spec_sha256": spec.digest(), "igmm_version": __version__}
               | recorded, out_dir / MANIFEST)
    return resumed


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def sweep_backends_of(out_dir: Path, spec: SweepSpec) -> dict[str, str]:
    """The backend each point of DIR runs on: the one recorded when its first runs were made, else chosen now
    (:func:`igmm.pipeline.tasks.point_backends`) and recorded in the manifest.

    A point keeps one backend, so its runs are bit-for-bit what ``spec.yaml``
    and that backend give (backends agree in distribution, not bit for bit).

    Returns
    -------
    dict of point key -> backend name, for every point of ``spec``.

    Raises
    ------
    SpecMismatchError
        A point of DIR was run on a backend this machine cannot run.
    """
    from igmm.dynamics.protocol import stepper_factory
    from igmm.pipeline.tasks import point_backends

    manifest = read_manifest(out_dir)
    keyed = dict(spec.keyed_points())
    recorded = {key: name for key, name in (manifest.get("backends") or {}).items() if key in keyed}
    new = point_backends(spec, keys=set(keyed) - set(recorded))
    for key, name in recorded.items():
        dynamics = {**spec.base, **keyed[key]}.get("dynamics", "paper")
        try:
            stepper_factory(dynamics, name)
        except ValueError as error:
            raise SpecMismatchError([f"{out_dir}: point {key} was run on backend {name!r}, which cannot run here "
                                     f"({error}); install it to continue the sweep bit for bit, or use --force "
                                     "to start again"]) from None
    if new:
        write_yaml(manifest | {"backends": (manifest.get("backends") or {}) | new}, Path(out_dir) / MANIFEST)
    return recorded | new


def refuse_other_revisions(out_dir: Path, backends: dict[str, str], todo: Iterable[str],
                           finished: dict[str, set[int]]) -> None:
    """Refuse to add runs to a point whose runs so far were made by another revision of its backend's arithmetic;
    record this install's revision for every point about to get its first runs.

    A point with runs but no recorded revision (a manifest from before revisions were recorded) counts
    as revision 1.

    Parameters
    ----------
    out_dir : Path
    backends : dict of point key -> backend name (:func:`sweep_backends_of`)
    todo : iterable of str
        Keys of the points that are to get new runs.
    finished : dict of point key -> finished replicate indices

    Raises
    ------
    SpecMismatchError
        Such a point exists (nothing has been run).
    """
    from igmm.dynamics.protocol import bits_revision

    manifest = read_manifest(out_dir) or {}
    recorded = manifest.get("revisions") or {}
    updated = dict(recorded)
    for key in sorted(set(todo)):
        now = bits_revision(backends[key])
        if not finished.get(key):
            updated[key] = now
        elif (was := recorded.get(key, 1)) != now:
            raise SpecMismatchError([f"{out_dir}: the runs of point {key} were made by revision {was} of backend "
                                     f"{backends[key]!r}, this install has revision {now} (seeded runs differ in "
                                     "their bits); use another --out, or --force to start again"])
    if updated != recorded:
        write_yaml(manifest | {"revisions": updated}, Path(out_dir) / MANIFEST)


def _mismatch_lines(out_dir: Path, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    changed = sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))
    lines = [f"{out_dir} holds a sweep of a different spec (changed: {', '.join(changed)}); only grid values and "
             "replicates may be added to a sweep."]
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


def points_table(spec: SweepSpec, previous: Path | None = None) -> pd.DataFrame:
    """One row per grid point (this spec's, plus those of an earlier spec of the folder): key, values, resolved config.

    Columns: ``point`` (key), ``index`` (position in this spec's grid; -1
    for earlier points no longer in the grid), the swept values, and every
    scalar of the resolved configuration prefixed ``cfg_`` (e.g. ``cfg_k``).
    """
    rows = []
    for index, ((key, values), config) in enumerate(zip(spec.keyed_points(), spec.configs())):
        resolved = {f"cfg_{name}": value for name, value in config.to_dict().items() if _is_scalar(value)}
        resolved["cfg_network"] = config.network.kind if config.network is not None else ""
        rows.append({"point": key, "index": index, **values, **resolved})
    table = pd.DataFrame(rows)
    if previous is not None and (Path(previous) / POINTS).is_file():
        old = pd.read_parquet(Path(previous) / POINTS)
        kept = old[~old["point"].isin(table["point"])].assign(index=-1)
        table = pd.concat([table, kept], ignore_index=True)
    return table


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (int, float, str, bool))


def _read_shards(folder: Path, names: set[str] | None) -> pd.DataFrame:
    paths = sorted(folder.glob("*.parquet"))
    if names is not None:
        paths = [path for path in paths if path.stem in names]
    if not paths:
        return pd.DataFrame()
    return pd.concat([pd.read_parquet(path) for path in paths], ignore_index=True)


def read_runs(out_dir: str | Path, with_values: bool = True) -> pd.DataFrame:
    """Finished runs of the current grid, sorted by (grid order, replicate); with the swept values joined.

    Reads the journalled shards; callers that must not trust damaged files
    check :func:`verify_shards` first (``igmm summarize`` does).
    """
    return _read_table(Path(out_dir), "runs", RUN_KEYS, with_values)


def read_steps(out_dir: str | Path, with_values: bool = False) -> pd.DataFrame:
    """Per-step rows of the finished tasks of the current grid, sorted by (grid order, replicate, t)."""
    return _read_table(Path(out_dir), "steps", STEP_KEYS, with_values)


def _read_table(out_dir: Path, table: str, keys: list[str], with_values: bool) -> pd.DataFrame:
    """The journalled shards of ``table``: rows of the spec's current grid points and replicates only (a
    shrunk spec hides, never deletes, the rest), sorted by grid order then ``keys[1:]``."""
    frame = _read_shards(out_dir / table, set(read_journal(out_dir)))
    if frame.empty:
        return frame
    replicates = yaml.safe_load((out_dir / SPEC).read_text())["replicates"]
    points = read_points(out_dir)
    current = set(points.loc[points["index"] >= 0, "point"])
    frame = frame[frame["point"].isin(current) & (frame["replicate"] < replicates)]
    if frame.empty:
        return frame
    order = dict(zip(points["point"], points["index"]))
    frame = frame.assign(_order=frame["point"].map(order))
    frame = frame.sort_values(["_order", *keys[1:]], kind="stable", ignore_index=True).drop(columns="_order")
    if with_values:
        values = points[["point", *swept_axes(points)]]
        frame = frame.merge(values, on="point", how="left", sort=False)
    return frame


def read_points(out_dir: str | Path) -> pd.DataFrame:
    """The points table of DIR (see :func:`points_table`)."""
    return pd.read_parquet(Path(out_dir) / POINTS)


def swept_axes(points: pd.DataFrame) -> list[str]:
    """Names of the swept parameters (points-table columns that are not ``point``, ``index`` or ``cfg_*``)."""
    return [column for column in points.columns if column not in ("point", "index") and not column.startswith("cfg_")]


def read_ids(out_dir: str | Path, point: str) -> np.ndarray:
    """ID trajectories of one point (needs ``save_ids``), shape (n_reps, n_steps + 1, n_agents), int16, by replicate."""
    journal = read_journal(Path(out_dir))
    paths = sorted(shard_path(Path(out_dir), "ids", name) for name in journal
                   if name.startswith(point + "-r") and "ids" in journal[name]["files"])
    if not paths:
        raise FileNotFoundError(f"no ID trajectories for point {point} in {out_dir} (run the sweep with save_ids: true)")
    spec = yaml.safe_load((Path(out_dir) / SPEC).read_text())
    ids = np.concatenate([np.load(path)["ids"] for path in paths])
    return ids[: spec["replicates"]]
