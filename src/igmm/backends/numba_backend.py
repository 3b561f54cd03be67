"""The paper dynamics as one compiled loop (numba): replicates and agents looped inside machine code.

Same random draws as the numpy engine (each replicate's numbers come from its
own numpy Generator, in the same chunks; the kernel reads the columns of
:class:`igmm.dynamics.state.StepNoise` exactly as :func:`igmm.dynamics.fast.paper_step_inplace`
does) and the same formulas. The kernels are compiled with limited fastmath
(:data:`igmm.backends._numba_kernels.FASTMATH`: sums may be reassociated and
vectorised, multiply-adds fuse; divisions stay divisions, so exact
responsibilities of 1 and the ties they make are kept) and their own
branch-free ``exp`` (within 1 ulp of numpy's), so one step
agrees with numpy's to ~1e-15 and, after rare draw flips, runs agree in
distribution (tested both ways).

Supported: diagonal (isotropic or per-dimension) covariances of any dimension,
the "farthest", "oldest" and "random" database policies, any number of EM
iterations, the complete graph (k = n - 1), the dynamic k-nearest graph and
static networks. The k-nearest search is compiled too for populations up to
:data:`igmm.dynamics.partners.DENSE_MAX_AGENTS` agents and gives exactly the
numpy search's indices: both sum the squared differences in component order
(:func:`igmm.dynamics.partners.pair_distances`) without fastmath, so every
distance, and hence every tie, is the same; larger populations use numpy's
grouped search. Full covariances raise ``ValueError``.

Each replicate is computed from its own state and draws only, so a batch
gives the same bits as its replicates run one by one; ``parallel=True``
spreads the replicates over cores with ``prange`` (same bits, deterministic).
Kernels are compiled on first use and cached on disk (``cache=True``).
"""

from __future__ import annotations

import numpy as np

from igmm.dynamics.partners import DENSE_MAX_AGENTS, k_nearest
from igmm.dynamics.state import ModelParams, PopulationState, StepNoise

_POLICIES = {"farthest": 0, "oldest": 1, "random": 2}
#: Partner modes of the kernel.
_COMPLETE, _NEAREST, _LISTS = 0, 1, 2


def _numba():
    try:
        import numba
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError("backend \"numba\" needs numba: pip install 'interacting-gmm[numba]'") from err
    return numba


def _kernels(parallel: bool):
    """The compiled batch step and dense k-nearest search (serial, or over the replicates in parallel)."""
    _numba()
    from igmm.backends import _numba_kernels as kernels

    if parallel:
        return kernels.step_batch_parallel, kernels.k_nearest_parallel
    return kernels.step_batch, kernels.k_nearest


class NumbaStepper:
    """Steps the paper dynamics with compiled kernels; same interface as the steppers of igmm.dynamics.run.

    Parameters
    ----------
    state : PopulationState
    params : ModelParams
    parallel : bool
        Spread the replicates over the cores (numba ``prange``); off by default.
    """

    def __init__(self, state: PopulationState, params: ModelParams, parallel: bool = False):
        geometry = params.geometry
        if geometry.variances is None:
            raise ValueError("backend numba: full covariances are not supported; use backend numpy")
        if params.rag_policy not in _POLICIES:
            raise ValueError(f"backend numba: rag_policy {params.rag_policy!r} is not supported")
        self.params = params
        self.kernel, self.nearest_kernel = _kernels(parallel)
        self.weights = np.ascontiguousarray(state.weights, dtype=np.float64).copy()
        self.rag = np.ascontiguousarray(state.rag, dtype=np.float64).copy()
        self.dens = np.ascontiguousarray(state.rag_dens, dtype=np.float64).copy()
        self.ages = np.ascontiguousarray(state.rag_ages, dtype=np.int64).copy()
        # Support of every stored point's scaled densities (the EM skips the exact zeros outside it).
        nonzero = self.dens != 0.0
        n_components = nonzero.shape[-1]
        self.lo = np.argmax(nonzero, axis=-1).astype(np.int64)
        self.hi = (n_components - np.argmax(nonzero[..., ::-1], axis=-1)).astype(np.int64)
        self.time = state.time
        self.means = np.ascontiguousarray(geometry.means, dtype=np.float64)
        self.variances = np.ascontiguousarray(geometry.variances, dtype=np.float64)
        self.std = np.sqrt(self.variances)
        self.log_det = np.ascontiguousarray(geometry._log_det, dtype=np.float64)
        n_reps, n_agents = self.weights.shape[:2]
        if params.neighbours is not None:
            self.mode = _LISTS
            self.neighbours = np.ascontiguousarray(params.neighbours, dtype=np.int64)
            self.degree = np.sum(self.neighbours >= 0, axis=-1).astype(np.int64)
        else:
            self.mode = _COMPLETE if params.k >= n_agents - 1 else _NEAREST
            self.neighbours = np.zeros((1, 1), dtype=np.int64)
            self.degree = np.zeros(1, dtype=np.int64)
        self._no_nearest = np.zeros((n_reps, 1, 1), dtype=np.int64)
        self._nearest: np.ndarray | None = None
        self._ids: np.ndarray | None = None

    # -- the interface run() uses ------------------------------------------------
    @property
    def n_reps(self) -> int:
        return self.weights.shape[0]

    @property
    def n_agents(self) -> int:
        return self.weights.shape[1]

    def batch_weights(self) -> np.ndarray:
        return self.weights

    def ids(self) -> np.ndarray:
        if self._ids is None:
            self._ids = np.argmax(self.weights, axis=-1)
        return self._ids

    def nearest(self) -> np.ndarray | None:
        if self.mode != _NEAREST:
            return None
        if self._nearest is None:
            k = self.params.k
            if self.n_agents <= DENSE_MAX_AGENTS:  # compiled dense search: same indices as numpy's
                self._nearest = np.empty((self.n_reps, self.n_agents, k), dtype=np.int64)
                self.nearest_kernel(self.weights, k, self._nearest)
            else:  # the grouped search over distinct weight vectors (numpy) scales better
                self._nearest = np.ascontiguousarray(k_nearest(self.weights, k), dtype=np.int64)
        return self._nearest

    def polarization_flags(self) -> np.ndarray:
        from igmm.metrics.polarization import is_polarized

        if self.mode == _LISTS:
            return is_polarized(self.ids(), self.params.neighbours)
        if self.mode == _COMPLETE:
            return np.zeros(self.n_reps, dtype=bool)
        return is_polarized(self.ids(), self.nearest())

    def final(self) -> PopulationState:
        return PopulationState(weights=self.weights.copy(), rag=self.rag.copy(), rag_dens=self.dens.copy(),
                               rag_ages=self.ages.copy(), time=self.time)

    # -- one step -------------------------------------------------------------------
    def step(self, noise: StepNoise) -> None:
        params = self.params
        nearest = self.nearest()
        time = self.time + 1
        self.kernel(
            self.weights, self.rag, self.dens, self.lo, self.hi, self.ages,
            np.ascontiguousarray(noise.uniforms, dtype=np.float64), np.ascontiguousarray(noise.normals, dtype=np.float64),
            self._no_nearest if nearest is None else nearest, self.neighbours, self.degree, self.mode,
            float(params.p), int(params.k), self.means, self.variances, self.std, self.log_det, float(params.eps),
            int(params.em_iterations), _POLICIES[params.rag_policy], time,
        )
        self.time, self._nearest, self._ids = time, None, None


class ParallelNumbaStepper(NumbaStepper):
    """:class:`NumbaStepper` with the replicates spread over the cores (same bits)."""

    def __init__(self, state: PopulationState, params: ModelParams):
        super().__init__(state, params, parallel=True)
