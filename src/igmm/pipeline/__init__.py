"""One pipeline for grid x replicates under ``igmm sweep``, ``igmm reproduce`` and ``igmm calibrate``.

Stages, one module each:

- :mod:`igmm.pipeline.spec`: the SPEC (base configuration, grid, replicates,
  root seed), validated once; points keyed by their values.
- :mod:`igmm.pipeline.tasks`: one task = one grid point x a chunk of
  replicates; planning what a folder still lacks; a pure task function.
- :mod:`igmm.pipeline.executors`: serial, local process pool, Dask.
- :mod:`igmm.pipeline.runner`: plan, verify and skip finished runs, execute
  with one retry, write shards, log, progress, provenance.
- :mod:`igmm.pipeline.store`: folder layout, manifest, journal of
  checksummed shards, readers that sort by key.
- :mod:`igmm.pipeline.summarize`: per-point statistics (:mod:`igmm.stats`) and figures.

Nothing is imported here eagerly: ``import igmm.pipeline`` stays cheap.
"""
