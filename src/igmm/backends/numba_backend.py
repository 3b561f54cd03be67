"""The paper dynamics as one compiled loop (numba): replicates and agents looped inside machine code.

Same random draws as the numpy engine (each replicate's numbers come from its
own numpy Generator, in the same chunks; the kernel reads the columns of
:class:`igmm.dynamics.state.StepNoise` exactly as :func:`igmm.dynamics.paper.paper_step`
does) and the same formulas. The kernels are compiled with limited fastmath
(:data:`igmm.backends._numba_kernels.FASTMATH`: multiply-adds fuse; sums keep
their order, so a cold compile and a cache load give the same bits; divisions
stay divisions, so exact responsibilities of 1 and the ties they make are kept) and their own
branch-free ``exp`` (within 1 ulp of numpy's), so one step
agrees with numpy's to ~1e-15 and, after rare draw flips, runs agree in
distribution (tested both ways).

Supported: diagonal (isotropic or per-dimension) covariances of any dimension,
the "farthest", "oldest" and "random" database policies, any number of EM
iterations, the complete graph (k = n - 1), the dynamic k-nearest graph and
static networks, per-agent mirroring probabilities and stubborn (frozen) agents. The k-nearest search is compiled too for populations up to
:data:`igmm.dynamics.partners.DENSE_MAX_AGENTS` agents and gives exactly the
numpy search's indices: both sum the squared differences in component order
(:func:`igmm.dynamics.partners.pair_distances`) without fastmath, so every
distance, and hence every tie, is the same; larger populations use numpy's
grouped search. Full covariances and database policies other than the three compiled ones raise ``ValueError``.

Each replicate is computed from its own state and draws only, so a batch
gives the same bits as its replicates run one by one; ``parallel=True``
spreads the replicates over cores with ``prange`` (same bits, deterministic).
Kernels are compiled on first use and cached on disk (``cache=True``).
"""

from __future__ import annotations

from typing import Sequence

import numba  # a missing numba fails here, named by stepper_factory
import numpy as np

from igmm.backends import diagonal_builtin_policies_only, unsupported_reason
from igmm.dynamics.initial import initial_state
from igmm.dynamics.partners import DENSE_MAX_AGENTS, k_nearest
from igmm.dynamics.protocol import register_dynamics
from igmm.dynamics.state import HostNoise, ModelParams, PopulationState

#: The database policies compiled into the kernel (a researcher's own policy needs backend numpy).
_POLICIES = {"farthest": 0, "oldest": 1, "random": 2}
#: Partner modes of the kernel.
_COMPLETE, _NEAREST, _LISTS = 0, 1, 2
#: numba-parallel with fewer replicates than cores spreads each replicate's agents over the cores from this size.
_AGENTS_PARALLEL_MIN = 20_000


def _kernels(parallel: bool):
    """The compiled batch step and dense k-nearest search (serial, or over the replicates in parallel)."""
    from igmm.backends import _numba_kernels as kernels

    if parallel:
        return kernels.step_batch_parallel, kernels.k_nearest_parallel
    return kernels.step_batch, kernels.k_nearest


#: Agents per block when numba-parallel spreads one replicate's agents over the cores.
AGENT_BLOCK = 4096


def _agents_kernel():
    """The step with each replicate's agents spread over the cores, in blocks of :data:`AGENT_BLOCK` (read per call)."""
    from igmm.backends import _numba_kernels as kernels

    def step_agents(*arguments):
        kernels.step_agents_parallel(*arguments, AGENT_BLOCK)

    step_agents.blocks_of_agents = True
    return step_agents


@register_dynamics("paper", backend="numba")
class NumbaStepper:
    """Steps the paper dynamics with compiled kernels (the :class:`~igmm.dynamics.protocol.Stepper` protocol).

    Parameters
    ----------
    params : ModelParams
    rngs : sequence of numpy.random.Generator, one per replicate
    state : PopulationState, optional
        Start here instead of the initial state drawn from ``rngs``.
    parallel : bool
        Spread the replicates over the cores (numba ``prange``); off by default.
    """

    parallel = False

    unsupported = staticmethod(diagonal_builtin_policies_only)

    def __init__(self, params: ModelParams, rngs: Sequence[np.random.Generator], state: PopulationState | None = None):
        geometry = params.geometry
        if (reason := unsupported_reason(geometry, params.rag_policy)) is not None:
            raise ValueError(f"backend numba: {reason}")
        state = state if state is not None else initial_state(params, rngs)
        self.params = params
        self.kernel, self.nearest_kernel = _kernels(self.parallel)
        if self.parallel and state.n_reps < numba.get_num_threads() and state.n_agents >= _AGENTS_PARALLEL_MIN:
            self.kernel = _agents_kernel()  # fewer replicates than cores: spread each one's agents instead
        self.noise = HostNoise(rngs, state.n_agents, normal_shape=(2, geometry.n_dims))
        self.weights_ = np.ascontiguousarray(state.weights, dtype=np.float64).copy()
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
        n_reps, n_agents = self.weights_.shape[:2]
        self.p = np.ascontiguousarray(params.p_per_agent(), dtype=np.float64)
        frozen = params.frozen_mask()
        self.frozen = np.zeros(n_agents, dtype=np.bool_) if frozen is None else np.ascontiguousarray(frozen)
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

    @property
    def n_reps(self) -> int:
        return self.weights_.shape[0]

    @property
    def n_agents(self) -> int:
        return self.weights_.shape[1]

    def weights(self) -> np.ndarray:
        return self.weights_

    def ids(self) -> np.ndarray:
        if self._ids is None:
            self._ids = np.argmax(self.weights_, axis=-1)
        return self._ids

    def nearest(self) -> np.ndarray | None:
        """The k-nearest table of the current weights (n_reps, n_agents, k); None off the dynamic graph."""
        if self.mode != _NEAREST:
            return None
        if self._nearest is None:
            k = self.params.k
            if self.n_agents <= DENSE_MAX_AGENTS:  # compiled dense search: same indices as numpy's
                self._nearest = np.empty((self.n_reps, self.n_agents, k), dtype=np.int64)
                self.nearest_kernel(self.weights_, k, self._nearest)
            else:  # the grouped search over distinct weight vectors (numpy) scales better
                self._nearest = np.ascontiguousarray(k_nearest(self.weights_, k, self.params.neighbour_search),
                                                     dtype=np.int64)
        return self._nearest

    def neighbourhoods(self) -> np.ndarray | None:
        if self.mode == _LISTS:
            return self.params.neighbours[None]
        return self.nearest()

    def state(self) -> PopulationState:
        return PopulationState(weights=self.weights_.copy(), rag=self.rag.copy(), rag_dens=self.dens.copy(),
                               rag_ages=self.ages.copy(), time=self.time)

    def step(self) -> None:
        params, noise = self.params, self.noise.next()
        nearest = self.nearest()
        time = self.time + 1
        self.kernel(
            self.weights_, self.rag, self.dens, self.lo, self.hi, self.ages,
            np.ascontiguousarray(noise.uniforms, dtype=np.float64), np.ascontiguousarray(noise.normals, dtype=np.float64),
            self._no_nearest if nearest is None else nearest, self.neighbours, self.degree, self.mode,
            self.p, self.frozen, int(params.k), self.means, self.variances, self.std, self.log_det, float(params.eps),
            int(params.em_iterations), _POLICIES[params.rag_policy], time,
        )
        self.time, self._nearest, self._ids = time, None, None


@register_dynamics("paper", backend="numba-parallel")
class ParallelNumbaStepper(NumbaStepper):
    """:class:`NumbaStepper` with the replicates spread over the cores (same bits)."""

    parallel = True
