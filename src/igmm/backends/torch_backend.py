"""The paper dynamics on PyTorch tensors (CPU or CUDA): the agents-last step of igmm.dynamics.paper.

Same layout, same random draws (each replicate's numbers still come from its
own numpy Generator, drawn in the same chunks, then copied to the device), same
arithmetic in the same order; torch's kernels may round differently in the
last bit (exp, reductions), so trajectories agree with numpy in distribution
(and usually step by step), not bit for bit. Diagonal covariances only. The
k-nearest search reuses the exact numpy one on a host copy of the weights.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch  # a missing torch fails here, named by stepper_factory

from igmm.backends import diagonal_builtin_policies_only, unsupported_reason
from igmm.dynamics.initial import initial_state
from igmm.dynamics.paper import LayoutState, absorbing_mask, flat_indices, from_layout, to_layout
from igmm.dynamics.partners import NearestPartners
from igmm.dynamics.protocol import register_dynamics
from igmm.dynamics.state import (
    U_ANSWER, U_QUERY, U_SLOT_OWN, U_SLOT_PARTNER, HostNoise, ModelParams, PopulationState,
)
from igmm.model.em import EXP_UNDERFLOW


@register_dynamics("paper", backend="torch")
class TorchStepper(NearestPartners):
    """Steps the paper dynamics on tensors (the :class:`~igmm.dynamics.protocol.Stepper` protocol)."""

    unsupported = staticmethod(diagonal_builtin_policies_only)

    def __init__(self, params: ModelParams, rngs: Sequence[np.random.Generator], state: PopulationState | None = None,
                 device: str | None = None):
        if (reason := unsupported_reason(params.geometry, params.rag_policy)) is not None:
            raise ValueError(f"backend torch: {reason}")
        state = state if state is not None else initial_state(params, rngs)
        self.params = params
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.noise = HostNoise(rngs, state.n_agents, normal_shape=(2, params.geometry.n_dims))
        layout = to_layout(state)
        self.n_reps, self.time = layout.n_reps, layout.time
        as_tensor = lambda array: torch.as_tensor(array, device=self.device)  # noqa: E731
        self.weights_, self.rag, self.dens, self.ages = map(as_tensor, (layout.weights, layout.rag, layout.dens,
                                                                        layout.ages))
        geometry = params.geometry
        self.means = as_tensor(geometry.means)  # (K, d)
        self.variances = as_tensor(geometry.variances)  # (K, d)
        self.log_det = as_tensor(geometry._log_det)
        absorbing = absorbing_mask(params, self.n_reps)
        self.absorb = None if absorbing is None else as_tensor(absorbing)
        self._nearest = None

    @property
    def n_agents(self) -> int:
        return self.weights_.shape[1] // self.n_reps

    def weights(self) -> np.ndarray:
        return self.weights_.T.reshape(self.n_reps, self.n_agents, -1).cpu().numpy()

    def ids(self) -> np.ndarray:
        return torch.argmax(self.weights_, dim=0).reshape(self.n_reps, self.n_agents).cpu().numpy()

    def all_finite(self) -> bool:
        """Every weight is a finite number (reduced on the device: one bool comes back, not the weights)."""
        return bool(torch.isfinite(self.weights_).all())

    def partner_vectors(self) -> np.ndarray:
        return self.weights()

    def state(self) -> PopulationState:
        host = lambda tensor: tensor.cpu().numpy()  # noqa: E731
        return from_layout(LayoutState(weights=host(self.weights_), rag=host(self.rag), dens=host(self.dens),
                                       ages=host(self.ages), n_reps=self.n_reps, time=self.time))

    def step(self) -> None:
        noise = self.noise.next()
        n_batch = self.weights_.shape[1]
        partners = torch.as_tensor(flat_indices(self.partners(noise)), device=self.device)
        uniforms = torch.as_tensor(noise.uniforms.reshape(n_batch, -1), device=self.device)
        normals = torch.as_tensor(noise.normals.reshape(n_batch, 2, -1), device=self.device)
        batch = torch.arange(n_batch, device=self.device)
        time = self.time + 1
        query = self._sample_points(self._sample_components(self.weights_, uniforms[:, U_QUERY]), normals[:, 0])
        partner_rag = self.rag.index_select(-1, partners)
        partner_dens = self.dens.index_select(-1, partners)
        partner_ages = self.ages.index_select(-1, partners)
        slot = self._slot(partner_rag, partner_ages, query, uniforms[:, U_SLOT_PARTNER])
        partner_dens[slot, :, batch] = self._scaled_densities(query).T
        answer_weights = self._em(self.weights_.index_select(-1, partners), partner_dens)
        answer = self._sample_points(self._sample_components(answer_weights, uniforms[:, U_ANSWER]), normals[:, 1])
        slot = self._slot(self.rag, self.ages, answer, uniforms[:, U_SLOT_OWN])
        rows = batch if self.absorb is None else batch[self.absorb]
        self.rag[slot[rows], :, rows] = answer.T[rows]
        self.dens[slot[rows], :, rows] = self._scaled_densities(answer).T[rows]
        self.ages[slot[rows], rows] = time
        new_weights = self._em(self.weights_, self.dens)
        self.weights_ = new_weights if self.absorb is None else torch.where(self.absorb, new_weights, self.weights_)
        self.time, self._nearest = time, None

    def _clip_renormalise(self, weights):
        eps = self.params.eps
        clipped = weights.clamp(eps, 1.0 - eps)
        return clipped / clipped.sum(dim=0)

    def _em(self, weights, dens):
        for _ in range(self.params.em_iterations):
            start = self._clip_renormalise(weights)
            joint = dens * start
            joint = joint / joint.sum(dim=1, keepdim=True)
            weights = self._clip_renormalise(joint.sum(dim=0) / dens.shape[0])
        return weights

    def _sample_components(self, weights, uniforms):
        cdf = torch.cumsum(weights, dim=0)
        index = (cdf < uniforms * cdf[-1]).sum(dim=0)
        return index.clamp(max=weights.shape[0] - 1)

    def _sample_points(self, components, normals):
        """Points of shape (n_dims, n_batch) from components (n_batch,) and normals (n_batch, n_dims)."""
        return (self.means[components] + self.variances[components].sqrt() * normals).T.contiguous()

    def _scaled_densities(self, points):
        diff = points[None, :, :] - self.means[:, :, None]  # (K, d, B)
        log_dens = -0.5 * ((diff * diff / self.variances[:, :, None]).sum(dim=1) + self.log_det[:, None]
                           + self.means.shape[1] * float(np.log(2.0 * np.pi)))
        log_dens = log_dens - log_dens.max(dim=0).values
        return torch.where(log_dens > EXP_UNDERFLOW, log_dens.exp(), torch.zeros_like(log_dens))

    def _slot(self, rag, ages, point, uniforms):
        policy, rag_size = self.params.rag_policy, rag.shape[0]
        if policy == "farthest":
            return ((rag - point) ** 2).sum(dim=1).argmax(dim=0)
        if policy == "oldest":
            return ages.argmin(dim=0)
        return (uniforms * rag_size).long().clamp(max=rag_size - 1)
