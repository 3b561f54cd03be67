"""One explorer run: the model stepped through :func:`igmm.api.iterate`, each step turned into a small frame.

A frame carries only what changed (agents whose ID moved, silo sizes, the
step's measures) plus two panels whose cost is capped: perspective space for
at most :data:`MAX_PERSPECTIVE_AGENTS` agents and the partner graph with at
most :data:`MAX_EDGES` edges. The IDs are recorded at every step, so the
run's tables are those of ``igmm run`` with the same configuration and seed.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from typing import Any

import numpy as np

from igmm.config import SimulationConfig

#: Agents placed in perspective space (a fixed, evenly spaced subset beyond this).
MAX_PERSPECTIVE_AGENTS = 150
#: Partner-graph edges sent per frame (each agent's nearest partners first).
MAX_EDGES = 1500


def palette(n_labels: int) -> list[str]:
    """The colour of every ID as ``#rrggbb``: the same map as the figures (:func:`igmm.plots.style.id_colours`)."""
    from igmm.plots.style import id_colours

    return ["#%02x%02x%02x" % tuple(int(round(255 * c)) for c in rgba[:3]) for rgba in id_colours(n_labels)]


def shown_agents(n_agents: int, cap: int = MAX_PERSPECTIVE_AGENTS) -> np.ndarray:
    """Indices of the agents drawn in perspective space: all, or ``cap`` evenly spaced ones; shape (m,), int64."""
    if n_agents <= cap:
        return np.arange(n_agents)
    return np.unique(np.linspace(0, n_agents - 1, cap).round().astype(np.int64))


#: Agents above which perspective space is computed on one BLAS thread.
ONE_THREAD_FROM = 64


@functools.lru_cache(maxsize=1)
def _blas_controller():
    """threadpoolctl's view of the loaded BLAS libraries (finding them costs milliseconds: done once)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover (threadpoolctl comes with the explore extra)
        return None
    return ThreadpoolController()


def _one_blas_thread(n_shown: int):
    """Small linear algebra on one BLAS thread: on a busy 2-core machine a threaded eigh of 150 x 150 took 270 ms, not 3."""
    controller = _blas_controller() if n_shown > ONE_THREAD_FROM else None
    if controller is None:
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


class PerspectiveTracker:
    """CMDS of the shown agents' weights, each frame rotated onto the previous one (orthogonal Procrustes)."""

    def __init__(self, agents: np.ndarray):
        self.agents = agents
        self.previous: np.ndarray | None = None

    def update(self, weights: np.ndarray) -> np.ndarray:
        """Coordinates of shape (m, 2) for weights of shape (n_agents, n_components)."""
        from scipy.linalg import orthogonal_procrustes
        from scipy.spatial.distance import pdist, squareform

        from igmm.metrics import cmds

        chosen = weights[self.agents]
        coordinates = cmds(squareform(pdist(chosen)), n_dims=min(2, len(chosen)))
        if coordinates.shape[1] < 2:
            coordinates = np.pad(coordinates, ((0, 0), (0, 2 - coordinates.shape[1])))
        if self.previous is not None:
            rotation, _ = orthogonal_procrustes(coordinates, self.previous)
            coordinates = coordinates @ rotation
        self.previous = coordinates
        return coordinates


def partner_edges(neighbourhoods: np.ndarray | None, cap: int = MAX_EDGES) -> list[list[int]] | None:
    """Undirected edges ``[i, j]`` (i < j) of who may hear whom next, at most ``cap``; None for the complete graph.

    Parameters
    ----------
    neighbourhoods : ndarray of int, shape (n_agents, m), or None
        Replicate 0's neighbourhoods (padded with -1), nearest first for the k-nearest graph.
    """
    if neighbourhoods is None:
        return None
    n_agents, width = neighbourhoods.shape
    per_agent = max(1, min(width, cap // max(n_agents, 1)))
    partners = neighbourhoods[:, :per_agent]
    rows = np.repeat(np.arange(n_agents), per_agent)
    cols = partners.ravel()
    keep = cols >= 0
    pairs = np.sort(np.stack([rows[keep], cols[keep]], axis=1), axis=1)
    pairs = np.unique(pairs[pairs[:, 0] != pairs[:, 1]], axis=0)
    return pairs[:cap].tolist()


class ExploreSession:
    """A GMM run stepped on demand.

    Parameters
    ----------
    config : SimulationConfig
    seed : int
        Root seed: the session is replicate 0 of ``igmm.api.simulate(config, replicates=1, seed=seed)``.
    """

    def __init__(self, config: SimulationConfig, seed: int):
        from igmm.api import iterate

        self.config = config
        self.seed = int(seed)
        self.lock = threading.Lock()
        self.n_agents = config.n_agents
        self.n_labels = config.resolved_n_components
        self.n_steps = config.n_steps
        label_type = np.int16 if self.n_labels < 2**15 else np.int32
        self.ids = np.zeros((self.n_steps + 1, self.n_agents), dtype=label_type)
        self.polarized = np.zeros(self.n_steps + 1, dtype=bool)
        self.t = -1
        self._views = iterate(config, replicates=1, seed=self.seed)
        self._perspective = PerspectiveTracker(shown_agents(self.n_agents))

    @property
    def done(self) -> bool:
        return self.t >= self.n_steps

    def info(self) -> dict[str, Any]:
        """What the page needs before the first frame."""
        return {"n_agents": self.n_agents, "n_labels": self.n_labels, "n_steps": self.n_steps, "seed": self.seed,
                "palette": palette(self.n_labels), "shown": self._perspective.agents.tolist(),
                "geometry": self.config.geometry}

    def advance(self, count: int = 1, perspective: bool = True, graph: bool = True) -> list[dict[str, Any]]:
        """Take up to ``count`` steps (t = 0 is the first); one frame per step, panels only on the last.

        Parameters
        ----------
        count : int
            Steps to take (fewer at the end of the run).
        perspective, graph : bool
            Compute those panels (a hidden panel costs nothing).
        """
        frames = []
        with self.lock:
            for index in range(count):
                if self.done:
                    break
                view = next(self._views)
                last = index == count - 1 or self.t + 1 >= self.n_steps
                frames.append(self._frame(view, perspective and last, graph and last))
        return frames

    def _frame(self, view, perspective: bool, graph: bool) -> dict[str, Any]:
        from igmm.dynamics.loop import polarized
        from igmm.metrics import silo_sizes, stability

        self.t = t = view.t
        ids = view.ids()[0]
        weights = view.weights()
        if not np.all(np.isfinite(weights)):
            raise ArithmeticError(f"the weights hold NaN or infinity at step {t}")
        self.ids[t] = ids
        self.polarized[t] = bool(polarized(view)[0])
        if t == 0:
            moved = np.arange(self.n_agents)
        else:
            moved = np.flatnonzero(self.ids[t] != self.ids[t - 1])
        sizes = silo_sizes(ids, self.n_labels)
        alive = np.flatnonzero(sizes)
        frame: dict[str, Any] = {
            "t": t,
            "moved": moved.tolist(),
            "to": ids[moved].tolist(),
            "silos": int(alive.size),
            "sizes": [alive.tolist(), sizes[alive].tolist()],
            "stability": None if t == 0 else float(stability(self.ids[t - 1: t + 1])[0]),
            "polarized": bool(self.polarized[t]),
            "verdict": self.verdict(),
        }
        if perspective:
            with _one_blas_thread(len(self._perspective.agents)):
                frame["xy"] = np.round(self._perspective.update(weights[0]), 4).tolist()
        if graph:
            neighbourhoods = view.neighbourhoods()
            edges = partner_edges(None if neighbourhoods is None else np.asarray(neighbourhoods)[0])
            frame["edges"] = "complete" if edges is None else edges
        return frame

    def verdict(self) -> str:
        """The silo-pattern classifier's verdict on the run so far (steps 0 .. t); '' before step 1."""
        from igmm.metrics import classify_patterns

        if self.t < 1:
            return ""
        return str(classify_patterns(self.ids[None, : self.t + 1])[0])

    def tables(self) -> tuple[Any, Any]:
        """The per-step and per-run tables of the steps taken so far (the schemas of ``igmm run``)."""
        from igmm.api import replicate_seeds
        from igmm.tables import runs_table, steps_table

        last = max(self.t, 0)
        ids = self.ids[None, : last + 1]
        series = {"polarized": self.polarized[None, : last + 1]}
        return (steps_table(ids, series, [0]),
                runs_table(ids, series, replicate_seeds(self.seed, 1), [0]))

    def ids_table(self):
        """Every agent's ID at every step taken so far: columns t, agent, id (one row each)."""
        import pandas as pd

        last = max(self.t, 0)
        steps, agents = np.meshgrid(np.arange(last + 1), np.arange(self.n_agents), indexing="ij")
        return pd.DataFrame({"t": steps.ravel(), "agent": agents.ravel(), "id": self.ids[: last + 1].ravel()})
