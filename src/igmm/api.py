"""The Python API of one configuration: simulate a batch of replicates, iterate a run, write its output folder.

:func:`simulate_seeds` is the one unit of work every executor calls (the
command line, sweeps, experiments, calibration): a configuration and one
SeedSequence per replicate in, arrays and tidy tables out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import pandas as pd

from igmm.config import SimulationConfig, make_config
from igmm.dynamics import StepView, iterate as iterate_states, run
from igmm.tables import runs_table, steps_table


def replicate_seeds(seed: int, n_reps: int, start: int = 0, prefix: Sequence[int] = ()) -> list[np.random.SeedSequence]:
    """SeedSequences of replicates ``start .. start + n_reps - 1``.

    Replicate i gets ``SeedSequence(seed, spawn_key=(*prefix, i))``, the same
    child that ``SeedSequence(seed).spawn(...)[i]`` gives for an empty prefix,
    without spawning the ones before it (so any chunk of replicates can be
    run anywhere).
    """
    return [np.random.SeedSequence(seed, spawn_key=(*prefix, i)) for i in range(start, start + n_reps)]


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Everything one batch of replicates produced.

    Attributes
    ----------
    config : SimulationConfig
    seed : int
        Root seed.
    ids : ndarray of int16, shape (n_reps, n_steps + 1, n_agents)
    series : dict of name -> ndarray of shape (n_reps, n_steps + 1)
        Recorded per-step measures (``polarized`` always).
    weights : ndarray of float64, shape (n_reps, n_steps + 1, n_agents, n_components) or None
    steps : DataFrame
        One row per replicate and step (:func:`igmm.tables.steps_table`).
    runs : DataFrame
        One row per replicate (:func:`igmm.tables.runs_table`).
    spawn_keys : list of tuple of int
    """

    config: SimulationConfig
    seed: int
    ids: np.ndarray
    series: dict[str, np.ndarray]
    weights: np.ndarray | None
    steps: pd.DataFrame
    runs: pd.DataFrame
    spawn_keys: list[tuple[int, ...]] = field(default_factory=list)

    @property
    def metrics(self) -> pd.DataFrame:
        """The per-step table (the name ``igmm run`` gives its file: ``metrics.parquet``)."""
        return self.steps

    def example(self, pattern: str) -> int | None:
        """Index of the first replicate whose silo pattern is ``pattern``, or None when no run has it.

        Parameters
        ----------
        pattern : str
            One of :data:`igmm.metrics.PATTERN_NAMES`.
        """
        from igmm.metrics import PATTERN_NAMES

        if pattern not in PATTERN_NAMES:
            raise ValueError(f"pattern: {pattern!r} is not allowed: choose one of {', '.join(PATTERN_NAMES)}")
        found = np.flatnonzero(self.runs["pattern"].to_numpy() == pattern)
        return int(found[0]) if found.size else None


def simulate_seeds(
    config: SimulationConfig,
    seeds: Sequence[np.random.SeedSequence],
    replicates: Sequence[int] | None = None,
    keep_weights: bool = False,
    on_step: Callable[[int], None] | None = None,
    point: str = "",
    deadline: float | None = None,
) -> SimulationResult:
    """Run one replicate per SeedSequence, as one vectorised batch.

    Parameters
    ----------
    config : SimulationConfig
    seeds : sequence of numpy.random.SeedSequence
        One per replicate; replicate i's random numbers come from ``seeds[i]`` alone.
        The population's structure (a random network, modifiers' draws) comes
        from their common root entropy.
    replicates : sequence of int, optional
        Replicate number stored in the tables (default: the last entry of each spawn key).
    keep_weights : bool
        Also return the full weight trajectory.
    on_step : callable, optional
        Progress callback, called with the number of steps done.
    point : str
        Key of the configuration, stored on every row.
    deadline : float, optional
        ``time.monotonic()`` after which the run stops (:class:`igmm.dynamics.StepTimeout`).
    """
    if replicates is None:
        replicates = [seq.spawn_key[-1] if seq.spawn_key else i for i, seq in enumerate(seeds)]
    root_seed = int(seeds[0].entropy) if seeds else 0
    rngs = [np.random.default_rng(seq) for seq in seeds]
    trajectory = run(config.to_params(root_seed), rngs, config.n_steps, backend=config.resolved_backend,
                     measures=config.measures, keep_weights=keep_weights, on_step=on_step, deadline=deadline)
    return SimulationResult(
        config=config,
        seed=root_seed,
        ids=trajectory.ids,
        series=trajectory.series,
        weights=trajectory.weights,
        steps=steps_table(trajectory.ids, trajectory.series, replicates, point),
        runs=runs_table(trajectory.ids, trajectory.series, seeds, replicates, point),
        spawn_keys=[tuple(seq.spawn_key) for seq in seeds],
    )


def _checked(config: SimulationConfig | dict | None, replicates: int, seed: int) -> SimulationConfig:
    if not isinstance(config, SimulationConfig):
        config = make_config(config or {})
    if isinstance(replicates, bool) or not isinstance(replicates, (int, np.integer)) or replicates < 1:
        raise ValueError(f"replicates: {replicates!r} is not allowed: must be an integer >= 1")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: {seed!r} is not allowed: must be an integer >= 0")
    return config


def simulate(
    config: SimulationConfig | dict | None = None,
    replicates: int = 1,
    seed: int = 0,
    keep_weights: bool = False,
    on_step: Callable[[int], None] | None = None,
) -> SimulationResult:
    """Simulate ``replicates`` independent populations.

    Parameters
    ----------
    config : SimulationConfig or dict, optional
        Default: the paper's defaults (the headline unstable-silo run).
    replicates : int
        Number of replicates, >= 1.
    seed : int
        Root seed; replicate i uses ``SeedSequence(seed).spawn(replicates)[i]``.
    keep_weights : bool
        Also return weights of shape (replicates, T + 1, n_agents, n_components).

    Returns
    -------
    SimulationResult

    Examples
    --------
    >>> result = simulate({"p": 0.0, "k": 29, "T": 20}, replicates=2, seed=1)
    >>> result.ids.shape
    (2, 21, 30)
    """
    config = _checked(config, replicates, seed)
    return simulate_seeds(config, replicate_seeds(int(seed), int(replicates)), keep_weights=keep_weights,
                          on_step=on_step)


def iterate(config: SimulationConfig | dict | None = None, replicates: int = 1, seed: int = 0) -> Iterator[StepView]:
    """The states of a run, t = 0 .. T, as the same replicates :func:`simulate` gives.

    Each :class:`~igmm.dynamics.StepView` offers ``ids()``, ``weights()`` and
    ``neighbourhoods()`` of the batch after step ``t``; it is valid until the
    next step.

    Examples
    --------
    >>> for view in iterate({"p": 0.4, "T": 3}, seed=1):
    ...     print(view.t, view.ids().shape)
    0 (1, 30)
    1 (1, 30)
    2 (1, 30)
    3 (1, 30)
    """
    config = _checked(config, replicates, seed)
    seeds = replicate_seeds(int(seed), int(replicates))
    rngs = [np.random.default_rng(seq) for seq in seeds]
    return iterate_states(config.to_params(int(seed)), rngs, config.n_steps, backend=config.resolved_backend)


def write_result(result: SimulationResult, out_dir: str | Path, figures: bool = True, example: int = 0,
                 example_note: str = "") -> list[Path]:
    """Write the output contract of ``igmm run`` into ``out_dir`` (an empty folder the caller owns).

    Files: ``config.yaml`` (the resolved configuration with ``seed`` and
    ``replicates``: ``igmm run --config OUT/config.yaml`` repeats the run bit
    for bit), ``metrics.parquet`` (steps), ``runs.parquet``, ``ids.npz``
    (array ``ids``), ``weights.npz`` when kept, ``network.edgelist`` when the
    network was a graph passed from Python, and for replicate ``example`` the
    figures ``ids``, ``silo_sizes``, ``stability`` (PNG) and an
    across-replicate summary ``replicates.png``.
    """
    from igmm import storage
    from igmm.tables import RUN_SCHEMA, steps_schema

    out_dir = Path(out_dir)
    config = run_config_dict(result.config, result.seed, len(result.ids))
    written = []
    if result.config.network is not None and result.config.network.kind == "graph":
        written.append(write_edge_list(result.config.network.options()["graph"], out_dir / "network.edgelist"))
        config["network"] = {"kind": "edge-list", "path": "network.edgelist"}
    written += [
        storage.write_yaml(config, out_dir / "config.yaml"),
        storage.write_table(result.steps, out_dir / "metrics.parquet", steps_schema(result.config.measures)),
        storage.write_table(result.runs, out_dir / "runs.parquet", RUN_SCHEMA),
        storage.write_npz(out_dir / "ids.npz", ids=result.ids),
    ]
    if result.weights is not None:
        written.append(storage.write_npz(out_dir / "weights.npz", weights=result.weights))
    if figures:
        from igmm.plots import write_run_figures

        cfg = result.config
        title = (f"p = {cfg.p}, k = {cfg.resolved_k}, r = {cfg.rag_size}, {cfg.dynamics}: replicate {example} "
                 f"of {len(result.ids)}{example_note}")
        written += write_run_figures(result.ids[example], out_dir, n_labels=cfg.resolved_n_components, title=title,
                                     all_ids=result.ids)
    return written


def run_config_dict(config: SimulationConfig, seed: int, replicates: int) -> dict[str, Any]:
    """What ``config.yaml`` holds: the resolved configuration, its root seed and replicates (YAML-ready)."""
    values = config.to_dict()
    if config.network is not None and config.network.seed is None and _network_is_random(config):
        from igmm.networks import network_seed

        values["network"]["seed"] = network_seed(seed)
    return values | {"seed": int(seed), "replicates": int(replicates)}


def _network_is_random(config: SimulationConfig) -> bool:
    from igmm.registry import NETWORKS

    return bool(NETWORKS.entry(config.network.kind).meta.get("random", False))


def write_edge_list(graph, path: Path) -> Path:
    """A graph's edges as ``i j`` lines (the ``edge-list`` network kind reads them back)."""
    from igmm import storage

    lines = "".join(f"{int(i)} {int(j)}\n" for i, j in sorted(tuple(sorted(edge)) for edge in graph.edges))
    return storage.write_text(f"# {graph.number_of_nodes()} agents\n" + lines, path)
