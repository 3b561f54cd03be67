"""Atomic writes: every file, and every output folder, appears whole or not at all.

A file is written under a temporary name and renamed into place, so a reader
never sees a half-written file. An output folder is filled under a
temporary name beside its final place and renamed into place when complete
(:func:`output_folder`), so a command never mixes its files with another
run's, and a kill leaves either the old folder or the new one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import yaml


class OutputError(OSError):
    """An output folder or file cannot be used (a file in the way, another run's files, no permission, full disk)."""


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_table(frame: pd.DataFrame, path: str | os.PathLike, schema) -> Path:
    """Write a DataFrame as Parquet with its declared schema (:mod:`igmm.tables`), atomically."""
    import pyarrow.parquet as pq

    from igmm.tables import to_arrow

    table = to_arrow(frame, schema)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return Path(path)


def write_parquet(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a DataFrame as Parquet (a summary or other table without a declared schema), atomically."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return Path(path)


def write_npz(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """Write compressed arrays, atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    return Path(path)


def write_yaml(data: Any, path: str | os.PathLike) -> Path:
    """Write YAML, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    return Path(path)


def write_text(text: str, path: str | os.PathLike) -> Path:
    """Write text, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_output_folder(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Refuse an unusable output folder before any work starts.

    Refused: a path that is a file; a folder that already holds files unless
    ``overwrite`` (they are replaced as a whole when the new run is complete);
    a place where no folder can be created.

    Raises
    ------
    OutputError
        One line saying what is wrong and what to do.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"--out: {str(path)!r} is a file, not a folder; choose another --out")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise OutputError(f"--out: {str(path)!r} already holds files of another run; pass --overwrite to replace "
                          "them as a whole, or choose another --out")
    parent = _existing_parent(path)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"--out: cannot create {str(path)!r}: {str(parent)!r} is not writable")
    return path


def _existing_parent(path: Path) -> Path:
    parent = path.parent if not path.exists() else path
    while not parent.exists():
        parent = parent.parent
    return parent


@contextmanager
def output_folder(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Fill a new output folder under a temporary name; put it in place when the block succeeds.

    The folder the block writes into is empty and private. On success it
    replaces ``path`` (whose old contents, allowed by ``overwrite``, are
    removed only after the new folder is in place); on failure it is deleted
    and ``path`` is untouched.

    Raises
    ------
    OutputError
        As :func:`check_output_folder`; and when writing fails for lack of
        space or permission (the message says which).
    """
    path = check_output_folder(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
        replace_folder(staging, path)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, OutputError):
            raise
        raise OutputError(f"--out: writing {str(path)!r} failed: {describe_os_error(error)}; nothing was replaced") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def replace_folder(new: Path, path: Path) -> None:
    """Put folder ``new`` at ``path``; an old folder there is moved aside first and deleted last."""
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.{os.getpid()}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
    os.replace(new, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def describe_os_error(error: OSError) -> str:
    """A short reason for a write failure: no space left, permission denied, read-only file system, ..."""
    return os.strerror(error.errno) if error.errno else str(error)
