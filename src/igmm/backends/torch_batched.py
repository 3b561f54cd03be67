"""The paper dynamics for thousands of replicates in lock-step on an accelerator (PyTorch, CUDA or CPU).

Backend ``torch-batched``. The difference from ``torch`` (:mod:`igmm.backends.torch_backend`),
which copies each step's random numbers from the replicates' numpy generators
and runs the numpy engine's layout on tensors: here **everything stays on
the device**:

* the random numbers are drawn on the device, from one ``torch.Generator``
  per batch seeded from the replicates' own generators (after the initial
  state is drawn). A batch is reproducible (same seeds, same batch, same
  device and torch version), but a replicate's numbers depend on the batch it
  runs in and on the device: runs agree with the numpy engine **in
  distribution**, not draw for draw (tested on CPU:
  ``tests/backends/test_torch_batched.py``);
* the k-nearest table is computed on the device: squared differences summed
  in component order, as :func:`igmm.dynamics.partners.pair_distances` does,
  then a stable sort, so ties go to the lowest index as in the numpy search
  (dense n x n per replicate: meant for the paper's sizes, n up to a few hundred);
* the run loop receives only what it records: IDs (int16) every step, the
  polarization flags computed on the device (:meth:`TorchBatchedStepper.polarized`),
  a finiteness check reduced on the device (:meth:`TorchBatchedStepper.all_finite`);
  full weights only when asked for.

The initial state is drawn on the host by :func:`igmm.dynamics.initial.initial_state`
(each replicate from its own generator), so a replicate starts exactly where
the numpy engine's starts.

Layout: batch first, ``weights (R, n, K)``, ``rag (R, n, r, d)``, ``dens (R, n, r, K)``
(scaled densities), ``ages (R, n, r)``. One step is :func:`paper_step`, a
pure function of tensors (the same arithmetic as :func:`igmm.dynamics.paper.paper_step`:
clipped weights, query, the partner's database with the query in the slot
the policy picks, EM1, answer, own slot, EM1), which ``torch.compile`` can
fuse (``IGMM_TORCH_COMPILE=1``).

Settings (environment variables, read when a stepper is built):

``IGMM_TORCH_DEVICE``
    ``cuda``, ``cuda:1``, ``cpu``... (default: ``cuda`` when available, else ``cpu``).
``IGMM_TORCH_DTYPE``
    ``float64`` (default) or ``float32`` (twice the memory bandwidth on a GPU;
    weights near the floor eps and last-bit ties round differently, so
    float32 runs are a variant whose statistics are checked, not assumed).
``IGMM_TORCH_COMPILE``
    ``1`` to compile the step with ``torch.compile`` (falls back to eager
    with a warning if compilation fails).

Supported: the paper dynamics, diagonal covariances, the "farthest",
"oldest" and "random" database policies, any number of EM iterations, the
complete graph, the dynamic k-nearest graph, static networks, per-agent p and
stubborn (frozen) agents. Other dynamics and full covariances are refused
with a message naming the backends that run them.
"""

from __future__ import annotations

import os
import warnings
from typing import Sequence

import numpy as np
import torch

from igmm.backends import diagonal_builtin_policies_only, unsupported_reason
from igmm.dynamics.initial import initial_state
from igmm.dynamics.protocol import register_dynamics
from igmm.dynamics.state import (
    U_ANSWER, U_MIRROR, U_PARTNER, U_QUERY, U_SLOT_OWN, U_SLOT_PARTNER, ModelParams, PopulationState,
)
from igmm.model.em import EXP_UNDERFLOW

_LOG_2PI = float(np.log(2.0 * np.pi))


def settings() -> dict:
    """Device, dtype and compile flag from the environment (module docstring)."""
    device = os.environ.get("IGMM_TORCH_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype_name = os.environ.get("IGMM_TORCH_DTYPE", "float64")
    if dtype_name not in ("float64", "float32"):
        raise ValueError(f"IGMM_TORCH_DTYPE: {dtype_name!r} is not allowed: float64 or float32")
    return {"device": torch.device(device), "dtype": getattr(torch, dtype_name),
            "compile": os.environ.get("IGMM_TORCH_COMPILE", "0") == "1"}


# -- the step, as pure functions of tensors --------------------------------------------------------------


def clip_renormalise(weights, eps: float):
    """Clip to [eps, 1 - eps] and renormalise over the last axis."""
    clipped = weights.clamp(eps, 1.0 - eps)
    return clipped / clipped.sum(dim=-1, keepdim=True)


def sample_components(weights, uniforms):
    """Components drawn by inverting the CDF (cumulative sum in component order, u scaled by the total)."""
    cdf = weights.cumsum(dim=-1)
    index = (cdf < (uniforms * cdf[..., -1]).unsqueeze(-1)).sum(dim=-1)
    return index.clamp(max=weights.shape[-1] - 1)


def scaled_densities(points, means, variances, log_det):
    """Scaled densities exp(log N - max) of points (..., d) under every component: (..., K)."""
    diff = points.unsqueeze(-2) - means  # (..., K, d)
    log_dens = -0.5 * ((diff * diff / variances).sum(dim=-1) + log_det + means.shape[-1] * _LOG_2PI)
    shifted = log_dens - log_dens.amax(dim=-1, keepdim=True)
    return shifted.exp().masked_fill(shifted <= EXP_UNDERFLOW, 0.0)


def em(weights, dens, eps: float, n_iterations: int, start):
    """EM1 (``n_iterations`` warm-started iterations on the weights): weights (..., K), dens (..., r, K)."""
    for iteration in range(n_iterations):
        if iteration:
            start = clip_renormalise(weights, eps)
        joint = dens * start.unsqueeze(-2)
        joint = joint / joint.sum(dim=-1, keepdim=True)
        weights = clip_renormalise(joint.sum(dim=-2) / dens.shape[-2], eps)
    return weights


def choose_slot(policy: str, rag, ages, point, uniforms):
    """Slot each newcomer takes: rag (..., r, d), ages (..., r), point (..., d), uniforms (...)."""
    if policy == "farthest":  # first maximum, as numpy's argmax
        return ((rag - point.unsqueeze(-2)) ** 2).sum(dim=-1).argmax(dim=-1)
    if policy == "oldest":
        return ages.argmin(dim=-1)
    rag_size = rag.shape[-2]
    return (uniforms * rag_size).long().clamp(max=rag_size - 1)


def gather_agents(array, flat_partners):
    """``array`` (R, n, ...) at each agent's partner: flat indices (R * n,) into the (R * n, ...) view."""
    shape = array.shape
    return array.reshape((shape[0] * shape[1],) + shape[2:]).index_select(0, flat_partners).reshape(shape)


def paper_step(weights, rag, dens, ages, uniforms, normals, partners, absorb, time: int, *, means, std, variances,
               log_det, eps: float, n_em: int, policy: str):
    """One synchronous step of the paper dynamics for a batch of replicates (returns the new state).

    Parameters
    ----------
    weights : (R, n, K); rag : (R, n, r, d); dens : (R, n, r, K); ages : (R, n, r)
    uniforms : (R, n, 6); normals : (R, n, 2, d)
        The step's draws, columns as :class:`igmm.dynamics.state.StepNoise`.
    partners : (R, n) int64
        Each agent's partner within its replicate (itself when it mirrors).
    absorb : (n,) bool or None
        Agents that absorb their answer (None: all).
    time : int or 0-d int64 tensor
        The step's number (ages of the new points); a tensor, so that a compiled step is not
        specialised (and recompiled) for every value.

    Returns
    -------
    weights, rag, dens, ages : the state after the step.
    """
    n_reps, n_agents, rag_size = dens.shape[:3]
    flat = (partners + (torch.arange(n_reps, device=partners.device) * n_agents).unsqueeze(-1)).reshape(-1)
    start = clip_renormalise(weights, eps)
    # 3. Query x_i ~ f_i(t - 1).
    component = sample_components(weights, uniforms[..., U_QUERY])
    query = means[component] + std[component] * normals[..., 0, :]
    # 4. The partner answers from its database holding the query (a temporary copy).
    partner_rag, partner_ages = gather_agents(rag, flat), gather_agents(ages, flat)
    slot = choose_slot(policy, partner_rag, partner_ages, query, uniforms[..., U_SLOT_PARTNER])
    into = _one_hot(slot, rag_size).unsqueeze(-1)  # (R, n, r, 1)
    partner_dens = gather_agents(dens, flat)
    partner_dens = partner_dens.where(~into, scaled_densities(query, means, variances, log_det).unsqueeze(-2))
    answer_weights = em(gather_agents(weights, flat), partner_dens, eps, n_em, gather_agents(start, flat))
    # 5. Answer y_i ~ the partner's refit.
    component = sample_components(answer_weights, uniforms[..., U_ANSWER])
    answer = means[component] + std[component] * normals[..., 1, :]
    # 6. The agent absorbs the answer into the slot its policy picks, and refits.
    slot = choose_slot(policy, rag, ages, answer, uniforms[..., U_SLOT_OWN])
    into = _one_hot(slot, rag_size)
    if absorb is not None:
        into = into & absorb.unsqueeze(-1)
    rag = rag.where(~into.unsqueeze(-1), answer.unsqueeze(-2))
    dens = dens.where(~into.unsqueeze(-1), scaled_densities(answer, means, variances, log_det).unsqueeze(-2))
    ages = ages.masked_fill(into, time)
    new_weights = em(weights, dens, eps, n_em, start)
    if absorb is not None:
        new_weights = new_weights.where(absorb.unsqueeze(-1), weights)
    return new_weights, rag, dens, ages


def _one_hot(slot, rag_size: int):
    """(..., r) bool: True at each entry's slot."""
    return slot.unsqueeze(-1) == torch.arange(rag_size, device=slot.device)


def pair_distances(weights):
    """Distances between the agents of every replicate, (R, n, n): squares summed in component order, then sqrt."""
    squared = None
    for c in range(weights.shape[-1]):
        column = weights[..., c]
        diff = column.unsqueeze(-1) - column.unsqueeze(-2)
        squared = diff * diff if squared is None else squared + diff * diff
    if squared.device.type == "cpu":
        # torch's vectorised CPU sqrt is not always correctly rounded (1 ulp off, measured), which would move
        # ties that the numpy search sees; numpy's is, and on the CPU the tensor is already host memory.
        return torch.from_numpy(np.sqrt(squared.numpy()))
    return squared.sqrt()  # CUDA's double sqrt is IEEE round-to-nearest


def k_nearest(weights, k: int, chunk: int | None = None):
    """The k nearest agents of every agent, ties to the lowest index (a stable sort), (R, n, k) int64.

    ``chunk`` replicates at a time (memory chunk * n^2 per temporary; default 4,096 on a CPU,
    65,536 on a GPU, where fewer, larger kernels pay).
    """
    n_agents = weights.shape[1]
    if chunk is None:
        chunk = 4096 if weights.device.type == "cpu" else 65536
    eye = torch.eye(n_agents, dtype=torch.bool, device=weights.device)
    pieces = []
    for begin in range(0, weights.shape[0], chunk):  # bounded memory: chunk * n^2 distances at a time
        distances = pair_distances(weights[begin:begin + chunk]).masked_fill(eye, float("inf"))
        pieces.append(torch.sort(distances, dim=-1, stable=True).indices[..., :k])
    return torch.cat(pieces)


# -- the stepper ------------------------------------------------------------------------------------------


@register_dynamics("paper", backend="torch-batched")
class TorchBatchedStepper:
    """Steps a batch of replicates of the paper dynamics on one device (the Stepper protocol).

    Parameters
    ----------
    params : ModelParams
    rngs : sequence of numpy.random.Generator, one per replicate
        Draw the initial state (exactly as the numpy engine does), then one
        64-bit seed each: the batch's device generator is seeded from all of them.
    state : PopulationState, optional
    device, dtype, compile : optional
        Override :func:`settings`.
    """

    @staticmethod
    def available() -> bool:
        """Worth choosing automatically (``backend: auto``): only with a CUDA device (on a CPU numpy is faster)."""
        return bool(torch.cuda.is_available())

    unsupported = staticmethod(diagonal_builtin_policies_only)

    def __init__(self, params: ModelParams, rngs: Sequence[np.random.Generator], state: PopulationState | None = None,
                 device=None, dtype=None, compile: bool | None = None):
        chosen = settings()
        device = torch.device(device) if device is not None else chosen["device"]
        dtype = dtype if dtype is not None else chosen["dtype"]
        compile = chosen["compile"] if compile is None else compile
        geometry = params.geometry
        if (reason := unsupported_reason(geometry, params.rag_policy)) is not None:
            raise ValueError(f"backend torch-batched: {reason}")
        state = state if state is not None else initial_state(params, rngs)
        self.params, self.device, self.dtype = params, device, dtype
        self.time = state.time
        as_float = lambda array: torch.tensor(np.asarray(array), dtype=dtype, device=device)  # noqa: E731 (a copy)
        self.weights_, self.rag, self.dens = as_float(state.weights), as_float(state.rag), as_float(state.rag_dens)
        self.ages = torch.as_tensor(state.rag_ages, dtype=torch.int64, device=device)
        self.constants = {"means": as_float(geometry.means), "std": as_float(np.sqrt(geometry.variances)),
                          "variances": as_float(geometry.variances), "log_det": as_float(geometry._log_det),
                          "eps": float(params.eps), "n_em": int(params.em_iterations), "policy": params.rag_policy}
        self.n_reps, self.n_agents = state.weights.shape[:2]
        self.n_dims = geometry.n_dims
        self.p = as_float(params.p_per_agent())
        frozen = params.frozen_mask()
        self.absorb = None if frozen is None else torch.as_tensor(~frozen, device=device)
        if params.neighbours is not None:
            self.mode = "lists"
            neighbours = np.asarray(params.neighbours, dtype=np.int64)
            self.degree = torch.as_tensor((neighbours >= 0).sum(axis=1), device=device)
            self.neighbours = torch.as_tensor(np.where(neighbours >= 0, neighbours, 0), device=device)
        else:
            self.mode = "complete" if params.k >= self.n_agents - 1 else "nearest"
        # The batch's device generator, seeded from every replicate's own generator (after the initial state).
        entropy = [int(rng.integers(0, 2**63)) for rng in rngs]
        seed = int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0] >> np.uint64(1))
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)
        self.agents = torch.arange(self.n_agents, device=device)
        self._step = paper_step
        if compile:
            try:
                self._step = torch.compile(paper_step, dynamic=False)
            except Exception as error:  # pragma: no cover - depends on the install
                warnings.warn(f"torch.compile failed ({error}); running eagerly", stacklevel=2)
        self._nearest = None
        self.noise_source = self.device_noise

    def device_noise(self):
        """This step's draws on the device: uniforms (R, n, 6) and normals (R, n, 2, d)."""
        shape = (self.n_reps, self.n_agents)
        uniforms = torch.rand(shape + (6,), generator=self.generator, device=self.device, dtype=self.dtype)
        normals = torch.randn(shape + (2, self.n_dims), generator=self.generator, device=self.device, dtype=self.dtype)
        return uniforms, normals

    def nearest_tensor(self):
        """The k-nearest table of the current weights on the device, (R, n, k), or None off the dynamic graph."""
        if self.mode != "nearest":
            return None
        if self._nearest is None:
            self._nearest = k_nearest(self.weights_, self.params.k)
        return self._nearest

    def partners(self, uniforms):
        """Each agent's partner this step, (R, n) int64 on the device."""
        n_agents, agents = self.n_agents, self.agents
        u = uniforms[..., U_PARTNER]
        if self.mode == "complete":
            draw = (u * (n_agents - 1)).long().clamp(max=n_agents - 2)
            chosen = draw + (draw >= agents).long()
        elif self.mode == "nearest":
            k = self.params.k
            pick = (u * k).long().clamp(max=k - 1)
            chosen = self.nearest_tensor().gather(-1, pick.unsqueeze(-1)).squeeze(-1)
        else:
            degree = self.degree
            pick = (u * degree).long().minimum((degree - 1).clamp(min=0))
            chosen = torch.where(degree > 0, self.neighbours[agents, pick], agents)
        return torch.where(uniforms[..., U_MIRROR] < self.p, agents, chosen)

    def step(self) -> None:
        uniforms, normals = self.noise_source()
        partners = self.partners(uniforms)
        time = self.time + 1
        stamp = torch.tensor(time, dtype=torch.int64, device=self.device)
        arguments = (self.weights_, self.rag, self.dens, self.ages, uniforms, normals, partners, self.absorb, stamp)
        try:
            self.weights_, self.rag, self.dens, self.ages = self._step(*arguments, **self.constants)
        except Exception as error:
            if self._step is paper_step:
                raise
            warnings.warn(f"the compiled step failed ({type(error).__name__}: {error}); running eagerly", stacklevel=2)
            self._step = paper_step
            self.weights_, self.rag, self.dens, self.ages = paper_step(*arguments, **self.constants)
        self.time, self._nearest = time, None

    # -- what the run loop reads ---------------------------------------------------------------------------

    def ids_tensor(self):
        return self.weights_.argmax(dim=-1)

    def ids(self) -> np.ndarray:
        label = torch.int16 if self.weights_.shape[-1] < 2**15 else torch.int32
        return self.ids_tensor().to(label).cpu().numpy()

    def weights(self) -> np.ndarray:
        return self.weights_.to(torch.float64).cpu().numpy()

    def neighbourhoods(self) -> np.ndarray | None:
        if self.mode == "lists":
            return self.params.neighbours[None]
        nearest = self.nearest_tensor()
        return None if nearest is None else nearest.cpu().numpy()

    def polarized(self) -> np.ndarray:
        """The polarization flag of every replicate, computed on the device, (R,) bool.

        Two or more silos, and every agent's neighbourhood (k nearest or
        network neighbours) inside its own silo (:func:`igmm.metrics.polarization.is_polarized`).
        """
        ids = self.ids_tensor()
        if self.mode == "complete":
            return np.zeros(self.n_reps, dtype=bool)
        if self.mode == "nearest":
            neighbour_ids = ids.gather(-1, self.nearest_tensor().reshape(self.n_reps, -1)).reshape(
                self.n_reps, self.n_agents, -1)
            closed = (neighbour_ids == ids.unsqueeze(-1)).all(dim=-1).all(dim=-1)
        else:
            valid = self.neighbours_valid()
            neighbour_ids = ids[:, self.neighbours]  # (R, n, m)
            closed = ((neighbour_ids == ids.unsqueeze(-1)) | ~valid).all(dim=-1).all(dim=-1)
        first = ids[:, :1]
        several = (ids != first).any(dim=-1)
        return (closed & several).cpu().numpy()

    def neighbours_valid(self):
        if not hasattr(self, "_valid"):
            m = self.neighbours.shape[1]
            self._valid = torch.arange(m, device=self.device) < self.degree.unsqueeze(-1)
        return self._valid

    def all_finite(self) -> bool:
        """Every weight is a finite number (reduced on the device; one bool comes back)."""
        return bool(torch.isfinite(self.weights_).all())

    def state(self) -> PopulationState:
        host = lambda tensor: tensor.to(torch.float64).cpu().numpy()  # noqa: E731
        return PopulationState(weights=host(self.weights_), rag=host(self.rag), rag_dens=host(self.dens),
                               rag_ages=self.ages.cpu().numpy(), time=self.time)

    def synchronize(self) -> None:
        """Wait for the device (for timing)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
