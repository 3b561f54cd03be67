"""The declared schemas of the project's tables, and the builders every writer uses.

Two tables describe any set of runs, whatever produced them (a GMM run, a
sweep, an experiment, language-model transcripts, a classical opinion model):

``steps``
    One row per run and step: :data:`STEP_SCHEMA` plus one float64 column per
    extra per-step measure that was recorded.
``runs``
    One row per run: :data:`RUN_SCHEMA`.

A run is identified by ``point`` (the key of its configuration: a sweep's
grid point, a transcript cell; empty for a single ``igmm run``) and
``replicate``. What a point stands for (its parameter values) lives in the
``points`` table of the same folder (:data:`POINT_KEY_COLUMN` plus one
column per parameter), so the run tables keep one schema everywhere and
every folder reads in one call with pandas, pyarrow or DuckDB.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from igmm.metrics import run_measures, largest_silo, n_silos, stability

#: Column holding a run's configuration key in every table.
POINT_KEY_COLUMN = "point"

#: Columns of the ``steps`` table (per-step measures beyond these are appended as float64).
STEP_SCHEMA = pa.schema([
    pa.field("point", pa.string(), nullable=False),
    pa.field("replicate", pa.int32(), nullable=False),
    pa.field("t", pa.int32(), nullable=False),
    pa.field("n_silos", pa.int32(), nullable=False),
    pa.field("stability", pa.float32()),  # null at t = 0 (undefined there)
    pa.field("largest_silo", pa.int32(), nullable=False),
    pa.field("polarized", pa.bool_()),  # null where it cannot be known (transcripts without embeddings)
])

#: Columns of the ``runs`` table.
RUN_SCHEMA = pa.schema([
    pa.field("point", pa.string(), nullable=False),
    pa.field("replicate", pa.int32(), nullable=False),
    pa.field("seed", pa.string(), nullable=False),  # root entropy of the replicate's SeedSequence ("" if none)
    pa.field("spawn_key", pa.string(), nullable=False),  # its spawn key as "g,i"
    pa.field("n_steps", pa.int32(), nullable=False),
    pa.field("n_silos_final", pa.int32(), nullable=False),
    pa.field("largest_silo_final", pa.int32(), nullable=False),
    pa.field("second_silo_final", pa.int32(), nullable=False),
    pa.field("mean_stability", pa.float64()),
    pa.field("min_stability", pa.float64()),
    pa.field("last_change", pa.int32(), nullable=False),
    pa.field("converged", pa.bool_(), nullable=False),
    pa.field("t_star", pa.int32(), nullable=False),  # censored at T where converged is false
    pa.field("polarized_final", pa.bool_()),
    pa.field("t_polarized", pa.int32()),  # -1: never polarized by T; null: unknown
    pa.field("max_silos_polarized", pa.int32()),
    pa.field("pattern", pa.string(), nullable=False),
])


def steps_schema(measures: Sequence[str] = ()) -> pa.Schema:
    """:data:`STEP_SCHEMA` with one float64 column per extra per-step measure."""
    schema = STEP_SCHEMA
    for name in measures:
        if name not in schema.names:
            schema = schema.append(pa.field(name, pa.float64()))
    return schema


def steps_table(ids: np.ndarray, series: Mapping[str, np.ndarray] | None = None, replicates: Sequence[int] | None = None,
                point: str = "") -> pd.DataFrame:
    """One row per run and step.

    Parameters
    ----------
    ids : ndarray of int, shape (n_reps, n_steps + 1, n_agents)
    series : mapping of name -> ndarray of shape (n_reps, n_steps + 1), optional
        Recorded per-step measures (``polarized`` and any extra ones).
    replicates : sequence of int, optional
        Replicate number of each row of ``ids`` (default 0 .. n_reps - 1).
    point : str
        The runs' configuration key.

    Returns
    -------
    DataFrame
        Columns of :func:`steps_schema` of the extra measures, in that order.
    """
    ids = np.asarray(ids)
    n_reps, n_times, _ = ids.shape
    series = dict(series or {})
    replicates = np.arange(n_reps) if replicates is None else np.asarray(replicates)
    stab = np.concatenate([np.full((n_reps, 1), np.nan), stability(ids)], axis=1)
    polarized = series.pop("polarized", None)
    frame = pd.DataFrame({
        "point": np.full(n_reps * n_times, point, dtype=object),
        "replicate": np.repeat(replicates, n_times).astype(np.int32),
        "t": np.tile(np.arange(n_times), n_reps).astype(np.int32),
        "n_silos": n_silos(ids).ravel().astype(np.int32),
        "stability": stab.ravel().astype(np.float32),
        "largest_silo": largest_silo(ids).ravel().astype(np.int32),
        "polarized": (pd.array([None] * (n_reps * n_times), dtype="boolean") if polarized is None
                      else np.asarray(polarized, dtype=bool).ravel()),
    })
    for name, values in series.items():
        frame[name] = np.asarray(values, dtype=np.float64).ravel()
    return frame


def runs_table(ids: np.ndarray, series: Mapping[str, np.ndarray] | None = None, seeds: Sequence[np.random.SeedSequence] | None = None,
               replicates: Sequence[int] | None = None, point: str = "") -> pd.DataFrame:
    """One row per run: final silos, consensus, polarization, silo pattern and provenance.

    Parameters
    ----------
    ids : ndarray of int, shape (n_reps, n_steps + 1, n_agents)
    series : mapping, optional
        Recorded per-step measures; ``polarized`` (bool, (n_reps, n_steps + 1)) gives the polarization columns.
    seeds : sequence of numpy.random.SeedSequence, optional
        Each run's seed (entropy and spawn key are stored); none for transcripts.
    replicates : sequence of int, optional
    point : str

    Returns
    -------
    DataFrame
        The columns of :data:`RUN_SCHEMA`. ``t_star`` of a run with
        ``converged == False`` is censored at T.
    """
    ids = np.asarray(ids)
    n_reps = ids.shape[0]
    replicates = np.arange(n_reps) if replicates is None else np.asarray(replicates)
    polarized = None if series is None else series.get("polarized")
    measures = run_measures(ids, polarized)
    frame = pd.DataFrame({
        "point": [point] * n_reps,
        "replicate": replicates.astype(np.int32),
        "seed": [str(seq.entropy) for seq in seeds] if seeds is not None else [""] * n_reps,
        "spawn_key": [",".join(str(v) for v in seq.spawn_key) for seq in seeds] if seeds is not None else [""] * n_reps,
        "n_steps": np.full(n_reps, ids.shape[1] - 1, dtype=np.int32),
    })
    for name in RUN_SCHEMA.names[5:]:
        frame[name] = measures[name]
    return frame


def to_arrow(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """``frame`` as an Arrow table of exactly ``schema`` (columns in order, types cast; a missing column is an error)."""
    missing = [name for name in schema.names if name not in frame.columns]
    extra = [name for name in frame.columns if name not in schema.names]
    if missing or extra:
        raise ValueError(f"table does not match its schema: missing {missing}, unexpected {extra}")
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
