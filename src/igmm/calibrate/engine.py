"""The target's statistics, and candidates simulated through the sweep pipeline and summarised at every time scale.

A *candidate* is one set of searched values (a trial's parameters). Its
simulations are one sweep (:func:`igmm.pipeline.runner.run_sweep`) in
``CACHE/sims/<key>/``, keyed by value: the configuration (base + searched
values, without the maps' coefficients), T, replicates and seed. Its grid is
the proxy (p, k) of each target cell it is asked for (a zipped axis, grown
when more cells are needed), with ``save_ids`` so the trajectories can be
read at every time scale. Anything finished is found again by a later
calibration with the same cache: a resumed calibration repeats no
simulation (:attr:`Simulator.tasks_run` counts what did run).

Summaries (values and SEs of every measure at every scale, per proxy point)
are cached beside, in ``CACHE/stats/``. A configuration whose candidates
differ only in their maps' coefficients asks for new points in later
batches; each batch is a sweep of its own (``sims/<key>+<batch>``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from igmm.calibrate.measures import LOSSES, Measure, measure_list, read_at_scale, summarise, target_statistics, z_scores
from igmm.calibrate.space import CalibrationSpace
from igmm.config import canonical_json


@dataclass(frozen=True, eq=False)
class Target:
    """A target's cells and their statistics.

    Attributes
    ----------
    cells : dict of (p, k) -> ndarray of int, shape (n_runs, T + 1, n_agents)
    measures : list of Measure
    values, ses : ndarray of float64, shape (n_cells, n_measures)
    source : str
    """

    cells: dict
    measures: list
    values: np.ndarray
    ses: np.ndarray
    source: str = ""

    @property
    def keys(self) -> list[tuple[float, int]]:
        return list(self.cells)

    @property
    def n_steps(self) -> int:
        return next(iter(self.cells.values())).shape[1] - 1

    @property
    def n_agents(self) -> int:
        return next(iter(self.cells.values())).shape[2]

    @property
    def weights(self) -> np.ndarray:
        """Weight of every measure, shape (n_measures,)."""
        return np.array([m.weight for m in self.measures])


def make_target(cells: dict, space: CalibrationSpace, source: str = "", n_boot: int = 400) -> Target:
    """The target's statistics under the space's measures (cells sorted by (p, k))."""
    cells = {key: np.asarray(cells[key]) for key in sorted(cells)}
    shapes = {ids.shape[1:] for ids in cells.values()}
    if len(shapes) != 1:
        raise ValueError(f"target cells differ in (T + 1, n_agents): {sorted(shapes)}")
    n_steps = next(iter(shapes))[0] - 1
    measures = measure_list(n_steps, space.measures.times, space.measures.weights)
    values, ses = target_statistics(cells, measures, n_boot=n_boot, seed=space.seed)
    return Target(cells=cells, measures=measures, values=values, ses=ses, source=source)


def resampled_target(target: Target, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Values and SEs of the target with its runs resampled within every cell (one bootstrap draw).

    The log median's SE stays the original bootstrap's (refitting needs only the values to move).
    """
    values, ses = [], []
    for index, ids in enumerate(target.cells.values()):
        pick = rng.integers(0, len(ids), size=len(ids))
        value, se = summarise(ids[pick], target.measures)
        se = np.where([m.kind == "time" for m in target.measures], target.ses[index], se)
        values.append(value)
        ses.append(se)
    return np.array(values), np.array(ses)


@dataclass
class Candidate:
    """A candidate's summaries: values and SEs per scale, target cell and measure (NaN: not simulated)."""

    key: str
    params: dict[str, Any]
    values: np.ndarray  # (n_scales, n_cells, n_measures)
    ses: np.ndarray


def loss_table(values: np.ndarray, ses: np.ndarray, target_values: np.ndarray, target_ses: np.ndarray,
               weights: np.ndarray, cells: Sequence[int], loss: str = "huber") -> np.ndarray:
    """Mean loss over ``cells`` of each candidate at each scale.

    Parameters
    ----------
    values, ses : ndarray, shape (..., n_scales, n_cells, n_measures)
    target_values, target_ses : ndarray, shape (n_cells, n_measures) (or with leading bootstrap axes
        that broadcast against the candidates')
    weights : ndarray, shape (n_measures,)
    cells : sequence of int
        The cells fitted.

    Returns
    -------
    ndarray, shape (..., n_scales)
    """
    cells = list(cells)
    z = z_scores((target_values[..., cells, :], target_ses[..., cells, :]),
                 (values[..., cells, :], ses[..., cells, :]))
    return np.sum(LOSSES[loss](z) * weights, axis=-1).mean(axis=-1)


@dataclass
class Simulator:
    """Simulates candidates through the sweep pipeline (module docstring) and summarises them.

    Attributes
    ----------
    space : CalibrationSpace
    target : Target
    cache : Path
    executor : igmm.pipeline.executors.Executor or None
        Shared by every sweep (default: a process pool, opened on first use).
    tasks_run : int
        Sweep tasks this simulator ran (0 when everything was cached).
    """

    space: CalibrationSpace
    target: Target
    cache: Path
    executor: Any = None
    tasks_run: int = 0
    runs_simulated: int = 0
    _stats: dict = field(default_factory=dict)
    _folders: dict = field(default_factory=dict)

    def __post_init__(self):
        self.cache = Path(self.cache)
        self.scales = self.space.scales()
        self.n_steps = self.space.n_steps(self.target.n_steps)

    # --- keys -----------------------------------------------------------------------------------

    def config_values(self, params: dict[str, Any]) -> dict[str, Any]:
        """The candidate's simulation values (base + searched values, n_agents of the target, T)."""
        values = self.space.config_values(params)
        values.setdefault("n_agents", self.target.n_agents)
        return values | {"T": self.n_steps}

    def key(self, params: dict[str, Any]) -> str:
        """The sweep folder of a candidate: hash of what fixes its runs (not the maps' coefficients).

        The revisions of the backends that implement its dynamics are part of it: a cache filled before
        such a backend's arithmetic changed is not reused (its runs would have other bits than a fresh
        run's); the caches of dynamics no changed backend implements stay valid.
        """
        values = self.config_values(params)
        identity = {"config": values, "replicates": self.space.replicates, "seed": self.space.seed}
        if revisions := _changed_revisions(values.get("dynamics", "paper")):
            identity["bits"] = revisions
        return hashlib.sha256(canonical_json(identity).encode()).hexdigest()[:16]

    def proxy_points(self, params: dict[str, Any], cells: Sequence[int]) -> list[tuple[float, int]]:
        """The proxy (p, k) of each requested target cell."""
        n_agents = self.config_values(params)["n_agents"]
        return [self.space.mapped(params, *self.target.keys[c], n_agents) for c in cells]

    # --- simulation -----------------------------------------------------------------------------

    def _executor(self):
        if self.executor is None:
            from igmm.pipeline.executors import ProcessPoolExecutor

            self.executor = ProcessPoolExecutor()
        return self.executor

    def simulate(self, params: dict[str, Any], points: Sequence[tuple[float, int]]) -> None:
        """Simulate the points of a candidate that no sweep of its configuration holds yet, as one sweep.

        The first batch of a configuration is the sweep ``sims/<key>``, later
        batches ``sims/<key>+<hash of their points>``: each sweep stays the
        size of one request (a grown sweep re-verifies every shard it holds
        at every call, which costs O(points) per call).
        """
        from igmm.pipeline.runner import run_sweep
        from igmm.pipeline.spec import make_spec

        key = self.key(params)
        held = self._held_points(key)
        missing = sorted(set(points) - set(held))
        if not missing:
            return
        folder = self.cache / "sims" / key
        if folder.exists() and set(missing) - _stored_points(folder):
            batch = hashlib.sha256(canonical_json([list(point) for point in missing]).encode()).hexdigest()[:10]
            folder = self.cache / "sims" / f"{key}+{batch}"
        spec = make_spec({"base": self.config_values(params), "zip": {"p": [p for p, _ in missing],
                                                                       "k": [k for _, k in missing]},
                          "replicates": self.space.replicates, "seed": self.space.seed,
                          "chunk_size": self.space.replicates, "save_ids": True})
        outcome = run_sweep(spec, folder, executor=self._executor(), progress=False)
        self.tasks_run += outcome.n_done
        self.runs_simulated += outcome.n_done * self.space.replicates
        if outcome.failed:
            raise RuntimeError(f"{len(outcome.failed)} simulation task(s) failed in {folder}; see its failures.yaml "
                               f"(first: {outcome.failed[0]['error']})")
        self._folders.pop(key, None)

    def _held_points(self, key: str) -> dict[tuple[float, int], Path]:
        """Every point a finished sweep of this configuration holds, and its folder."""
        if key not in self._folders:
            found = {}
            for folder in sorted((self.cache / "sims").glob(f"{key}*")):
                if folder.name == key or folder.name.startswith(key + "+"):
                    if _complete(folder):
                        found |= {point: folder for point in _stored_points(folder)}
            self._folders[key] = found
        return self._folders[key]

    def ids(self, params: dict[str, Any], point: tuple[float, int]) -> np.ndarray:
        """The candidate's trajectories at one proxy point (simulated if needed), (n_reps, n_steps + 1, n_agents)."""
        from igmm.pipeline import store
        from igmm.pipeline.spec import point_key

        key = self.key(params)
        if point not in self._held_points(key):
            self.simulate(params, [point])
        return store.read_ids(self._held_points(key)[point], point_key({"p": point[0], "k": point[1]}))

    def point_statistics(self, params: dict[str, Any], point: tuple[float, int]) -> tuple[np.ndarray, np.ndarray]:
        """Values and SEs of every measure at every scale for one proxy point, shape (n_scales, n_measures)."""
        key = (self.key(params), point)
        if key in self._stats:
            return self._stats[key]
        path = self._stats_path(params, point)
        if path.is_file():
            stored = np.load(path)
        else:
            ids = self.ids(params, point)
            read = np.stack([read_at_scale(ids, scale, self.target.n_steps) for scale in self.scales])
            stored = np.stack(summarise(read, self.target.measures))
            _save_array(path, stored)
        self._stats[key] = (stored[0], stored[1])
        return self._stats[key]

    def _has_statistics(self, params: dict[str, Any], point: tuple[float, int]) -> bool:
        if (self.key(params), point) in self._stats:
            return True
        return self._stats_path(params, point).is_file()

    def _stats_path(self, params: dict[str, Any], point: tuple[float, int]) -> Path:
        """Where one proxy point's summaries are cached (per configuration, measures, scales and rounds)."""
        return self.cache / "stats" / f"{self.key(params)}-{self._stats_tag()}" / f"{point[0]!r}_{point[1]}.npy"

    def _stats_tag(self) -> str:
        identity = {"measures": [m.name for m in self.target.measures], "scales": self.scales.tolist(),
                    "rounds": self.target.n_steps}
        return hashlib.sha256(canonical_json(identity).encode()).hexdigest()[:10]

    def candidate(self, params: dict[str, Any], cells: Sequence[int]) -> Candidate:
        """The candidate's summaries on ``cells`` (simulating what is missing in one sweep)."""
        points = self.proxy_points(params, cells)
        missing = [point for point in points if not self._has_statistics(params, point)]
        if missing:
            self.simulate(params, missing)
        n_cells, n_measures = len(self.target.keys), len(self.target.measures)
        values = np.full((len(self.scales), n_cells, n_measures), np.nan)
        ses = np.full_like(values, np.nan)
        for cell, point in zip(cells, points):
            values[:, cell], ses[:, cell] = self.point_statistics(params, point)
        return Candidate(self.key(params), dict(params), values, ses)

    def close(self) -> None:
        if self.executor is not None and hasattr(self.executor, "close"):
            self.executor.close()


def _changed_revisions(dynamics: str) -> dict[str, int]:
    """The bumped arithmetic revisions (:data:`igmm.dynamics.protocol.BITS_REVISIONS`) of the backends that
    run ``dynamics`` on this machine."""
    from igmm.dynamics.protocol import BITS_REVISIONS, stepper_factory

    revisions = {}
    for backend, revision in sorted(BITS_REVISIONS.items()):
        try:
            stepper_factory(dynamics, backend)
        except ValueError:  # no implementation, or its extra is not installed: none of the runs use it
            continue
        revisions[backend] = revision
    return revisions


def _stored_points(folder: Path) -> set[tuple[float, int]]:
    import yaml

    spec_path = folder / "spec.yaml"
    if not spec_path.is_file():
        return set()
    spec = yaml.safe_load(spec_path.read_text())
    zipped = spec.get("zip") or {}
    return set(zip(zipped.get("p", []), zipped.get("k", [])))


def _complete(folder: Path) -> bool:
    """Every task of the folder's spec is journalled (no failed or missing one)."""
    from igmm.pipeline import store

    manifest = store.read_manifest(folder)
    if manifest is None or (folder / store.FAILURES).exists():
        return False
    import yaml

    spec = yaml.safe_load((folder / store.SPEC).read_text())
    n_points = len((spec.get("zip") or {}).get("p", [])) or 1
    return len(store.read_journal(folder)) >= n_points * int(np.ceil(spec["replicates"] / spec["chunk_size"]))


def _save_array(path: Path, array: np.ndarray) -> None:
    from igmm.storage import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, array)


def json_params(params: dict[str, Any]) -> str:
    """A trial's parameters as canonical JSON (a table column)."""
    return json.dumps(params, sort_keys=True, default=str)
