"""The paper dynamics as one compiled loop (numba): replicates and agents looped inside machine code.

Same random draws as the numpy engine (each replicate's numbers come from its
own numpy Generator, in the same chunks; the kernel reads the columns of
:class:`igmm.dynamics.state.StepNoise` exactly as :func:`igmm.dynamics.fast.paper_step_inplace`
does), and the same arithmetic in the same order: every sum over components
or points runs sequentially, as numpy's reductions over a non-contiguous axis
do in the agents-last layout. Only ``exp`` may round differently in the last
bit (libm against numpy's vectorised exp), so trajectories agree with numpy
step by step to ~1e-15 and, after rare draw flips, in distribution.

Supported: diagonal (isotropic or per-dimension) covariances of any dimension,
the "farthest", "oldest" and "random" database policies, any number of EM
iterations, the complete graph (k = n - 1), the dynamic k-nearest graph (the
exact numpy search, :func:`igmm.dynamics.partners.k_nearest`, on the host: same
tie rule) and static networks. Full covariances raise ``ValueError``.

Each replicate is computed from its own state and draws only, so a batch
gives the same bits as its replicates run one by one; ``parallel=True``
spreads the replicates over cores with ``prange`` (same bits, deterministic).
Kernels are compiled on first use and cached on disk (``cache=True``).
"""

from __future__ import annotations

import numpy as np

from igmm.dynamics.partners import k_nearest
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
    """The compiled batch step (serial, or over the replicates in parallel)."""
    _numba()
    from igmm.backends import _numba_kernels

    return _numba_kernels.step_batch_parallel if parallel else _numba_kernels.step_batch


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
        self.kernel = _kernels(parallel)
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
            self._nearest = np.ascontiguousarray(k_nearest(self.weights, self.params.k), dtype=np.int64)
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
