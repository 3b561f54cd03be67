"""The optional PyTorch backend against numpy: same draws, same dynamics in distribution."""

import numpy as np
import pytest

from igmm.api import replicate_seeds
from igmm.config import make_config
from igmm.dynamics import run
from igmm.metrics import consensus_time, n_silos

torch = pytest.importorskip("torch")


def _run(values, n_reps, seed, backend):
    params = make_config(values).to_params()
    rngs = [np.random.default_rng(s) for s in replicate_seeds(seed, n_reps)]
    return run(params, rngs, values["T"], backend=backend)


def test_torch_follows_numpy_draw_for_draw_on_the_complete_graph():
    # Same random numbers; only last-bit rounding differs, which here flips no draw.
    values = {"p": 0.4, "T": 40}
    numpy_ids = _run(values, 6, seed=3, backend="numpy").ids
    torch_ids = _run(values, 6, seed=3, backend="torch").ids
    assert np.mean(numpy_ids == torch_ids) > 0.99


@pytest.mark.parametrize("values, statistic", [
    ({"p": 0.0, "k": 5, "T": 40}, "silos"),
    ({"p": 0.4, "T": 60}, "t_star"),
])
def test_torch_and_numpy_agree_in_distribution(values, statistic):
    # Independent seeds on the two sides, 60 runs each: the SE of the difference is about 0.18 sd, so at 4 SE a
    # bias of 0.75 sd (about 0.6 silos at k = 5, 15 steps of t* at k = 29) fails with power ~0.6, 1 sd with ~0.95.
    samples = []
    for backend, seed in (("numpy", 11), ("torch", 12)):
        ids = _run(values, 60, seed, backend).ids
        samples.append(n_silos(ids[:, -1]) if statistic == "silos" else consensus_time(ids).t_star)
    a, b = (np.asarray(x, float) for x in samples)
    se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    assert abs(a.mean() - b.mean()) <= 4 * max(se, 0.05), (a.mean(), b.mean(), se)


def test_torch_backend_rejects_other_dynamics_and_unknown_backends():
    with pytest.raises(ValueError, match="backend"):
        _run({"dynamics": "early-draft", "T": 2, "n_agents": 5}, 1, 0, "torch")
    with pytest.raises(ValueError, match="backend"):
        _run({"T": 2, "n_agents": 5}, 1, 0, "jax")


def test_torch_honours_stubborn_agents_and_per_agent_p():
    values = {"n_agents": 12, "k": 4, "T": 30, "modifiers": [
        {"kind": "stubborn", "agents": [0, 5]}, {"kind": "per-agent-p", "values": [1.0] * 6 + [0.0] * 6}]}
    ids = _run(values, 3, seed=4, backend="torch").ids
    np.testing.assert_array_equal(ids[:, :, [0, 5]], np.broadcast_to(ids[:, :1, [0, 5]], ids[:, :, [0, 5]].shape))
    # p = 1 for agents 1..4: they only ever talk to themselves, so they keep their opinion too.
    np.testing.assert_array_equal(ids[:, :, 1:5], np.broadcast_to(ids[:, :1, 1:5], ids[:, :, 1:5].shape))
