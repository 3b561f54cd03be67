"""Parameter sweeps at scale: grid specs, tasks, executors, resumable shards, summaries.

Pipeline stages, one module each:

- :mod:`igmm.sweep.spec`: the SPEC file (base configuration, grid, replicates,
  root seed), validated once; its grid points and hash.
- :mod:`igmm.sweep.tasks`: one task = one grid point x a chunk of replicates;
  a pure function of (configuration, seeds) plus the atomic write of its shards.
- :mod:`igmm.sweep.executors`: serial, local process pool, Dask.
- :mod:`igmm.sweep.runner`: plan, skip finished tasks, execute with one retry,
  progress and log.
- :mod:`igmm.sweep.store`: directory layout, manifest, reading shards sorted by key.
- :mod:`igmm.sweep.summarize`: per-point statistics (Wilson intervals,
  Kaplan-Meier median of t*), pattern shares, polarization bound check.

Nothing is imported here eagerly: ``import igmm.sweep`` stays cheap.
"""
