"""numba-parallel with fewer replicates than cores spreads each replicate's agents over the cores: same bits."""

import numpy as np
import pytest

from igmm.api import replicate_seeds
from igmm.config import make_config
from igmm.dynamics import run

numba = pytest.importorskip("numba")
from igmm.backends import _numba_kernels, numba_backend  # noqa: E402


@pytest.mark.parametrize("values", [
    {"n_agents": 9000, "n_components": 30, "p": 0.3, "initial": {"kind": "dirichlet", "alpha": 0.5}},
    {"n_agents": 9000, "n_components": 30, "p": 0.1, "k": 10},
    {"n_agents": 9000, "n_components": 30, "p": 0.0, "initial": {"kind": "dirichlet", "alpha": 0.5},
     "network": {"kind": "watts-strogatz", "degree": 6, "rewire": 0.2, "seed": 3}},
    {"n_agents": 9000, "n_components": 30, "p": 0.2, "em_iterations": 2, "rag_policy": "oldest",
     "modifiers": [{"kind": "stubborn", "share": 0.1}]},
])
def test_agents_over_the_cores_equal_the_serial_kernel(values, monkeypatch):
    # 9,000 agents = 3 blocks of AGENT_BLOCK (4,096): blocks run in parallel, each pass after the one before.
    assert values["n_agents"] > 2 * _numba_kernels.AGENT_BLOCK
    monkeypatch.setattr(numba_backend, "_AGENTS_PARALLEL_MIN", 1000)
    params = make_config(values).to_params()
    ids = {}
    for backend in ("numba", "numba-parallel"):
        rngs = [np.random.default_rng(s) for s in replicate_seeds(2, 1)]
        trajectory = run(params, rngs, 6, backend=backend)
        ids[backend] = (trajectory.ids, trajectory.final.weights, trajectory.final.rag)
    stepper_kernel = numba_backend.ParallelNumbaStepper(params, [np.random.default_rng(0)]).kernel
    assert stepper_kernel is _numba_kernels.step_agents_parallel  # the agents kernel ran
    for serial, parallel in zip(ids["numba"], ids["numba-parallel"]):
        np.testing.assert_array_equal(parallel, serial)
