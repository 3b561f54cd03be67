"""numba-parallel with fewer replicates than cores spreads each replicate's agents over the cores: same bits."""

import numpy as np
import pytest

from igmm.api import replicate_seeds
from igmm.config import make_config
from igmm.dynamics import run

numba = pytest.importorskip("numba")
from igmm.backends import numba_backend  # noqa: E402

CASES = {
    "complete-dirichlet": {"p": 0.3, "initial": {"kind": "dirichlet", "alpha": 0.5}},
    "k-nearest": {"p": 0.1, "k": 10},
    "small-world": {"p": 0.0, "initial": {"kind": "dirichlet", "alpha": 0.5},
                    "network": {"kind": "watts-strogatz", "degree": 6, "rewire": 0.2, "seed": 3}},
    "em2-oldest-stubborn": {"p": 0.2, "em_iterations": 2, "rag_policy": "oldest",
                            "modifiers": [{"kind": "stubborn", "share": 0.1}]},
}


@pytest.mark.parametrize("name", list(CASES))
def test_agents_over_the_cores_equal_the_serial_kernel(name, monkeypatch):
    # 700 agents in blocks of 64 (11 blocks, the last one short): blocks run in parallel, each pass after
    # the one before; the thresholds are lowered so that numba-parallel takes this path at this size.
    monkeypatch.setattr(numba_backend, "_AGENTS_PARALLEL_MIN", 100)
    monkeypatch.setattr(numba_backend, "AGENT_BLOCK", 64)
    params = make_config({"n_agents": 700, "n_components": 30, **CASES[name]}).to_params()
    arrays = {}
    for backend in ("numba", "numba-parallel"):
        rngs = [np.random.default_rng(s) for s in replicate_seeds(2, 1)]
        trajectory = run(params, rngs, 8, backend=backend)
        arrays[backend] = (trajectory.ids, trajectory.final.weights, trajectory.final.rag, trajectory.final.rag_dens)
    kernel = numba_backend.ParallelNumbaStepper(params, [np.random.default_rng(0)]).kernel
    assert getattr(kernel, "blocks_of_agents", False)  # the agents kernel ran
    for serial, parallel in zip(arrays["numba"], arrays["numba-parallel"]):
        np.testing.assert_array_equal(parallel, serial)
