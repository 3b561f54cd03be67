"""Run a configuration for a batch of replicates: seeds in, arrays and tidy tables out.

This is the one top-level unit of work every executor calls (the CLI, the
experiment registry, the sweep runner).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from igmm.config import SimulationConfig, make_config
from igmm.dynamics import run
from igmm.metrics import first_hitting_time
from igmm.tables import metrics_table, runs_table


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
    weights : ndarray of float64, shape (n_reps, n_steps + 1, n_agents, n_components) or None
    metrics : DataFrame
        One row per replicate and step (``igmm.tables.METRICS_COLUMNS``).
    runs : DataFrame
        One row per replicate (``igmm.tables.RUNS_COLUMNS``).
    spawn_keys : list of tuple of int
    """

    config: SimulationConfig
    seed: int
    ids: np.ndarray
    weights: np.ndarray | None
    metrics: pd.DataFrame
    runs: pd.DataFrame
    spawn_keys: list[tuple[int, ...]] = field(default_factory=list)


def with_network_seed(config: SimulationConfig, root_seed: int) -> SimulationConfig:
    """The config with a random static network's seed fixed from the root seed (stored in config.yaml)."""
    from igmm.networks import network_seed

    if config.network is None or config.network.seed is not None:
        return config
    network = config.network.model_copy(update={"seed": network_seed(root_seed)})
    return config.model_copy(update={"network": network})


def simulate_seeds(
    config: SimulationConfig,
    seeds: Sequence[np.random.SeedSequence],
    replicates: Sequence[int] | None = None,
    keep_weights: bool = False,
    on_step: Callable[[int], None] | None = None,
    keys: dict | None = None,
) -> SimulationResult:
    """Run one replicate per SeedSequence, as one vectorised batch.

    Parameters
    ----------
    config : SimulationConfig
    seeds : sequence of numpy.random.SeedSequence
        One per replicate; replicate i's random numbers come from ``seeds[i]`` alone.
    replicates : sequence of int, optional
        Replicate index stored in the tables (default: the last entry of each spawn key).
    keep_weights : bool
        Also return the full weight trajectory.
    on_step : callable, optional
        Progress callback, called with the number of steps done.
    keys : dict, optional
        Constant key columns for the tables.
    """
    if replicates is None:
        replicates = [seq.spawn_key[-1] if seq.spawn_key else i for i, seq in enumerate(seeds)]
    config = with_network_seed(config, int(seeds[0].entropy) if seeds else 0)
    rngs = [np.random.default_rng(seq) for seq in seeds]
    from igmm.backends import stepper_for

    trajectory = run(config.to_params(), rngs, config.n_steps, keep_weights=keep_weights, on_step=on_step,
                     backend=stepper_for(getattr(config, "backend", "numpy")))
    spawn_keys = [tuple(seq.spawn_key) for seq in seeds]
    entropy = [seq.entropy for seq in seeds]
    return SimulationResult(
        config=config,
        seed=int(seeds[0].entropy) if seeds else 0,
        ids=trajectory.ids,
        weights=trajectory.weights,
        metrics=metrics_table(trajectory.ids, replicates, keys, extra={"polarized": trajectory.polarized}),
        runs=runs_table(
            trajectory.ids, entropy, spawn_keys, replicates, keys,
            extra={
                "polarized_final": trajectory.polarized[:, -1],
                "t_polarized": first_hitting_time(trajectory.polarized),
            },
        ),
        spawn_keys=spawn_keys,
    )


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
    if not isinstance(config, SimulationConfig):
        config = make_config(config or {})
    if not isinstance(replicates, (int, np.integer)) or replicates < 1:
        raise ValueError(f"replicates: {replicates!r} is not allowed: must be an integer >= 1")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: {seed!r} is not allowed: must be an integer >= 0")
    return simulate_seeds(config, replicate_seeds(int(seed), int(replicates)), keep_weights=keep_weights, on_step=on_step)


def write_result(result: SimulationResult, out_dir: str | Path, figures: bool = True) -> list[Path]:
    """Write the output contract of ``igmm run`` to ``out_dir``.

    Files: ``config.yaml`` (resolved configuration, seed included),
    ``metrics.parquet``, ``runs.parquet``, ``ids.npz`` (array ``ids``), and for
    replicate 0 ``ids.png``, ``silo_sizes.png``, ``stability.png``.
    """
    from igmm.plots import write_run_figures
    from igmm.storage import write_npz, write_parquet, write_yaml

    out_dir = Path(out_dir)
    config = result.config.to_dict() | {"seed": result.seed, "replicates": len(result.ids)}
    written = [
        write_yaml(config, out_dir / "config.yaml"),
        write_parquet(result.metrics, out_dir / "metrics.parquet"),
        write_parquet(result.runs, out_dir / "runs.parquet"),
        write_npz(out_dir / "ids.npz", ids=result.ids),
    ]
    if result.weights is not None:
        written.append(write_npz(out_dir / "weights.npz", weights=result.weights))
    if figures:
        title = f"p = {result.config.p}, k = {result.config.resolved_k}, r = {result.config.rag_size}"
        written += write_run_figures(result.ids[0], out_dir, n_labels=result.config.resolved_n_components, title=title)
    return written
