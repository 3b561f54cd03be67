"""The batched PyTorch backend (device-side random numbers) against the numpy engine, on CPU.

Its draws come from a device generator, so runs cannot match numpy's draw for
draw; what is tested: (1) one step from the same state with the *same* draws
injected gives numpy's step (IDs and slots identical, weights within 1e-12),
for every partner mode, policy and option; (2) independent samples agree in
distribution (mean S(T), mean t*, polarization); (3) the device-side
polarization flags equal the host's; (4) a batch is reproducible.
"""

import numpy as np
import pytest

from igmm.api import replicate_seeds
from igmm.config import make_config
from igmm.dynamics import run
from igmm.dynamics.paper import PaperStepper
from igmm.dynamics.partners import k_nearest
from igmm.dynamics.state import HostNoise
from igmm.metrics import consensus_time, n_silos
from igmm.metrics.polarization import is_polarized

torch = pytest.importorskip("torch")
from igmm.backends.torch_batched import TorchBatchedStepper  # noqa: E402

BACKEND = "torch-batched"


def _rngs(n_reps, seed):
    return [np.random.default_rng(s) for s in replicate_seeds(seed, n_reps)]


def _run(values, n_reps, seed, backend):
    params = make_config(values).to_params()
    return run(params, _rngs(n_reps, seed), values["T"], backend=backend)


CASES = {
    "complete": {"p": 0.4},
    "k-nearest": {"p": 0.2, "k": 5},
    "oldest": {"p": 0.4, "k": 7, "rag_policy": "oldest"},
    "random-slot": {"p": 0.3, "rag_policy": "random"},
    "em3": {"p": 0.4, "k": 10, "em_iterations": 3},
    "circle": {"geometry": "circle", "n_agents": 12, "p": 0.3, "k": 4},
    "diagonal": {"geometry": "custom", "n_agents": 8, "means": [[0, 0], [1, 0], [0, 3], [2, 2]],
                 "covariances": [[0.2, 0.5], [0.4, 0.1], [0.3, 0.3], [1.0, 0.2]], "p": 0.3, "k": 3},
    "network": {"n_agents": 16, "p": 0.2, "network": {"kind": "watts-strogatz", "degree": 4, "rewire": 0.3, "seed": 2}},
    "stubborn": {"n_agents": 12, "k": 4, "p": 0.1, "modifiers": [{"kind": "stubborn", "agents": [0, 5]}]},
    "dirichlet": {"n_agents": 40, "n_components": 10, "k": 6, "p": 0.0, "initial": {"kind": "dirichlet", "alpha": 0.5}},
}


@pytest.mark.parametrize("name", list(CASES))
def test_one_step_with_the_same_draws_is_numpys_step(name):
    params = make_config(CASES[name]).to_params()
    numpy_stepper = PaperStepper(params, _rngs(5, 1))
    for _ in range(3):  # off the initial ties
        numpy_stepper.step()
    state = numpy_stepper.state()
    noise = HostNoise(_rngs(5, 7), params.n_agents, normal_shape=(2, params.geometry.n_dims))
    reference = PaperStepper(params, _rngs(5, 7), state=state)  # draws the same noise from the same seeds
    for _ in range(4):  # each step from numpy's state: a last-bit difference must not flip a later partner
        batched = TorchBatchedStepper(params, _rngs(5, 9), state=reference.state(), device="cpu",
                                      dtype=torch.float64)
        draws = noise.next()
        batched.noise_source = lambda: (torch.as_tensor(draws.uniforms), torch.as_tensor(draws.normals))
        reference.step()
        batched.step()
        after = reference.state()
        np.testing.assert_array_equal(batched.ids(), reference.ids())
        np.testing.assert_array_equal(batched.ages.numpy(), after.rag_ages)
        np.testing.assert_allclose(batched.weights(), after.weights, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(batched.rag.numpy(), after.rag, rtol=1e-12, atol=1e-15)
        # The device search on the device's weights: exactly numpy's search on the same weights, ties included
        # (weights differ from numpy's step in the last bits, which may reorder near-ties between the two).
        neighbourhoods = batched.neighbourhoods()
        if params.neighbours is None and params.k < params.n_agents - 1:
            np.testing.assert_array_equal(neighbourhoods, k_nearest(batched.weights(), params.k))
        expected = np.zeros(5, bool) if neighbourhoods is None else is_polarized(batched.ids(), neighbourhoods)
        np.testing.assert_array_equal(batched.polarized(), expected)


def test_a_batch_is_reproducible_and_starts_where_numpy_starts():
    values = {"p": 0.2, "k": 5, "T": 15}
    first, second = (_run(values, 8, 4, BACKEND) for _ in range(2))
    np.testing.assert_array_equal(first.ids, second.ids)
    np.testing.assert_array_equal(first.ids[:, 0], _run(values, 8, 4, "numpy").ids[:, 0])


def _statistics(values, n_reps, seed, backend):
    """Per-replicate S(T), polarization at T and t* (censored runs counted at T + 1)."""
    trajectory = _run(values, n_reps, seed, backend)
    t_star = consensus_time(trajectory.ids).t_star
    return {"silos": n_silos(trajectory.ids[:, -1]).astype(float),
            "polarized": trajectory.polarized[:, -1].astype(float),
            "t_star": np.where(t_star >= 0, t_star, values["T"] + 1).astype(float)}


def _assert_within_4_se(numpy_side, batched_side):
    for name in numpy_side:
        a, b = numpy_side[name], batched_side[name]
        se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
        assert abs(a.mean() - b.mean()) <= 4 * max(se, 0.02), (name, a.mean(), b.mean(), se)


# Independent samples (different seeds on the two sides): each difference of means must lie within 4
# standard errors. Power (two-sided, normal approximation): a true shift of 4 SE is caught half the time
# and one of 5.3 SE 90% of the time; a wrong failure has probability ~6e-5 per statistic.
# Fast test, 100 replicates per side, n = K = 12, p = 0, k = 4, T = 60 (the dynamic k-nearest graph, whose
# tie rule matters): on numpy S(T) has sd 0.50, the share polarized at T sd 0.50, t* sd 17 steps, so the
# SE of a difference is 0.071, 0.071 and 2.4 steps: shifts of 0.37 silos, 0.37 in the share polarized and
# 13 steps in mean t* are detected with 90% power.
def test_batched_and_numpy_agree_in_distribution_small():
    values = {"n_agents": 12, "p": 0.0, "k": 4, "T": 60}
    _assert_within_4_se(_statistics(values, 100, 21, "numpy"), _statistics(values, 100, 22, BACKEND))


# Slow test, 400 replicates per side (SE of a difference = sd * 0.071), paper-sized populations:
# p = 0, k = 5, T = 40: S(T) sd 0.94, polarized sd 0.50 -> shifts of 0.35 silos and 0.19 detected (90%);
# p = 0.4, k = 10, T = 60: S(T) sd 1.7, polarized sd 0.29 -> 0.64 silos and 0.11;
# n = K = 10, p = 0.4, complete graph, T = 100 (consensus in every run): t* sd 18 -> 6.6 steps.
@pytest.mark.slow
@pytest.mark.parametrize("values", [{"p": 0.0, "k": 5, "T": 40}, {"p": 0.4, "k": 10, "T": 60},
                                    {"n_agents": 10, "p": 0.4, "T": 100}])
def test_batched_and_numpy_agree_in_distribution(values):
    _assert_within_4_se(_statistics(values, 400, 31, "numpy"), _statistics(values, 400, 32, BACKEND))


def test_refuses_what_it_does_not_run():
    with pytest.raises(ValueError, match="backend"):
        make_config({"dynamics": "early-draft", "n_agents": 5, "backend": BACKEND})
    with pytest.raises(ValueError, match="diagonal"):
        make_config({"geometry": "custom", "n_agents": 4, "means": [[0, 0], [1, 1]],
                     "covariances": [[[0.1, 0.05], [0.05, 0.1]]] * 2, "backend": BACKEND})


def test_stubborn_agents_and_per_agent_p():
    values = {"n_agents": 12, "k": 4, "T": 30, "modifiers": [
        {"kind": "stubborn", "agents": [0, 5]}, {"kind": "per-agent-p", "values": [1.0] * 6 + [0.0] * 6}]}
    ids = _run(values, 3, seed=4, backend=BACKEND).ids
    np.testing.assert_array_equal(ids[:, :, [0, 5]], np.broadcast_to(ids[:, :1, [0, 5]], ids[:, :, [0, 5]].shape))
    np.testing.assert_array_equal(ids[:, :, 1:5], np.broadcast_to(ids[:, :1, 1:5], ids[:, :, 1:5].shape))


def test_float32_runs():
    params = make_config({"p": 0.2, "k": 5}).to_params()
    stepper = TorchBatchedStepper(params, _rngs(4, 3), device="cpu", dtype=torch.float32)
    for _ in range(10):
        stepper.step()
    assert stepper.all_finite()
    np.testing.assert_allclose(stepper.weights().sum(axis=-1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_compiled_step_equals_eager():
    # torch.compile (inductor; ~1 minute to compile on a 2-core CPU): the same device draws give the same IDs.
    params = make_config({"p": 0.4, "k": 10}).to_params()
    compiled = TorchBatchedStepper(params, _rngs(16, 3), device="cpu", compile=True)
    eager = TorchBatchedStepper(params, _rngs(16, 3), device="cpu", compile=False)
    for _ in range(4):
        compiled.step()
        eager.step()
    assert compiled._step is not eager._step  # still compiled: no fallback to eager
    # Fused kernels may round in the last bit (a rare draw may then flip), so IDs agree almost everywhere.
    assert np.mean(compiled.ids() == eager.ids()) > 0.99
