"""The numba backend: step-by-step agreement with the numpy engine, batch == singles, same distribution."""

import dataclasses

import numpy as np
import pytest

from igmm.api import replicate_seeds
from igmm.config import make_config
from igmm.dynamics import make_stepper, run, stepper_factory
from igmm.dynamics.paper import PaperStepper
from igmm.metrics import n_silos

numba = pytest.importorskip("numba")
from igmm.backends.numba_backend import NumbaStepper, ParallelNumbaStepper  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def compiled():
    """Compile (or load from the on-disk cache) the kernel once per session."""
    params = make_config({"n_agents": 4, "T": 1}).to_params()
    run(params, [np.random.default_rng(0)], 1, backend="numba")


def _params(values, **replace):
    params = make_config(values).to_params()
    return dataclasses.replace(params, **replace) if replace else params


def _rngs(n_reps, seed):
    return [np.random.default_rng(s) for s in replicate_seeds(seed, n_reps)]


def _seeded_state(params, n_reps, seed, warm_steps=3):
    """A state a few numpy steps in (weights off the initial ties)."""
    stepper = PaperStepper(params, _rngs(n_reps, seed))
    for _ in range(warm_steps):
        stepper.step()
    return stepper.state()


CASES = {
    "complete": ({"p": 0.4}, {}),
    "k-nearest": ({"p": 0.2, "k": 5}, {}),
    "oldest": ({"p": 0.4, "rag_policy": "oldest"}, {}),
    "random-slot": ({"p": 0.4, "k": 7, "rag_policy": "random"}, {}),
    "em3": ({"p": 0.4, "em_iterations": 3}, {}),
    "circle": ({"geometry": "circle", "n_agents": 12, "p": 0.3, "k": 4}, {}),
    "simplex": ({"geometry": "simplex", "n_agents": 10, "sigma": 1.0, "delta": 4.0, "p": 0.3}, {}),
    "diagonal": ({"geometry": "custom", "n_agents": 8, "means": [[0, 0, 0], [1, 0, 2], [0, 3, 1], [2, 2, 2]],
                  "covariances": [[0.2, 0.5, 0.3], [0.4, 0.1, 0.2], [0.3, 0.3, 0.3], [1.0, 0.2, 0.6]],
                  "assignment": [0, 1, 2, 3, 0, 1, 2, 3], "p": 0.3, "k": 3}, {}),
    "ring": ({"n_agents": 12, "p": 0.2}, {"neighbours": np.array([[(i - 1) % 12, (i + 1) % 12, -1]
                                                                  for i in range(12)])}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_numba_step_matches_numpy_step(name):
    values, replace = CASES[name]
    params = _params({"n_agents": 16, "rag_size": 5} | values, **replace)
    state = _seeded_state(params, 3, seed=7)
    # Generators from the same seeds: both steppers draw the same numbers.
    reference = PaperStepper(params, _rngs(3, 70), state)
    compiled = NumbaStepper(params, _rngs(3, 70), state)
    for _ in range(4):
        reference.step()
        compiled.step()
        expected, got = reference.state(), compiled.state()
        np.testing.assert_allclose(got.weights, expected.weights, rtol=0, atol=1e-10)
        np.testing.assert_allclose(got.rag, expected.rag, rtol=0, atol=1e-10)
        np.testing.assert_allclose(got.rag_dens, expected.rag_dens, rtol=1e-12, atol=1e-300)
        np.testing.assert_array_equal(got.rag_ages, expected.rag_ages)
        np.testing.assert_array_equal(compiled.ids(), reference.ids())
        expected_neighbours, got_neighbours = reference.neighbourhoods(), compiled.neighbourhoods()
        assert (expected_neighbours is None) == (got_neighbours is None)
        if expected_neighbours is not None:
            np.testing.assert_array_equal(got_neighbours, expected_neighbours)
        assert got.time == expected.time


@pytest.mark.parametrize("backend", ["numba", "numba-parallel"])
def test_numba_batch_equals_singles_bit_for_bit(backend):
    params = _params({"n_agents": 20, "p": 0.4, "k": 6})
    seeds = replicate_seeds(5, 4)
    batch = run(params, [np.random.default_rng(s) for s in seeds], 30, backend=backend)
    for i, seed in enumerate(seeds):
        single = run(params, [np.random.default_rng(seed)], 30, backend="numba")
        np.testing.assert_array_equal(batch.ids[i], single.ids[0])
        np.testing.assert_array_equal(batch.polarized[i], single.polarized[0])
        np.testing.assert_array_equal(batch.final.weights[i], single.final.weights[0])
        np.testing.assert_array_equal(batch.final.rag[i], single.final.rag[0])


def test_numba_follows_numpy_draw_for_draw_over_a_run():
    # Same random numbers; exp may round differently in the last bit, which flips (almost) no draw.
    values = {"p": 0.4, "T": 40}
    params = _params(values)
    runs = {b: run(params, [np.random.default_rng(s) for s in replicate_seeds(3, 6)], 40, backend=b)
            for b in ("numpy", "numba")}
    assert np.mean(runs["numpy"].ids == runs["numba"].ids) > 0.99


@pytest.mark.parametrize("values", [{"p": 0.0, "k": 5}, {"p": 0.4, "k": 10}, {"p": 0.4}])
def test_numba_and_numpy_agree_in_distribution(values):
    # Independent seeds on the two sides, 80 runs each: the SE of the difference is about 0.16 sd, so at 4 SE a
    # bias of 0.65 sd in mean S(T) fails with power ~0.5 and of 0.9 sd with power ~0.95. (The step-by-step test
    # above catches any bias of mechanism directly; this one guards the draws and the run loop.)
    params = _params({"n_agents": 30} | values)
    samples = []
    for backend, seed in (("numpy", 21), ("numba", 22)):
        ids = run(params, [np.random.default_rng(s) for s in replicate_seeds(seed, 80)], 40, backend=backend).ids
        samples.append(np.asarray(n_silos(ids[:, -1]), float))
    a, b = samples
    se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    assert abs(a.mean() - b.mean()) <= 4 * max(se, 0.05), (a.mean(), b.mean(), se)


def test_numba_exp_is_within_an_ulp_of_numpy():
    from igmm.backends._numba_kernels import _exp

    @numba.njit
    def apply(x, out):
        for i in range(x.shape[0]):
            out[i] = _exp(x[i])

    x = np.concatenate([np.random.default_rng(0).uniform(-746.0, 0.0, 100_000), [0.0, -1e-300, -708.5, -745.1]])
    out = np.empty_like(x)
    apply(x, out)
    expected = np.exp(x)
    normal = expected > 1e-300
    assert out[-4] == 1.0
    assert np.all(np.abs(out[normal] - expected[normal]) <= 1.0 * np.spacing(expected[normal]))
    assert np.all(np.abs(out[~normal] - expected[~normal]) <= 1e-315)


def test_numba_backend_rejects_what_it_does_not_support():
    with pytest.raises(ValueError, match="backend"):
        make_config({"dynamics": "early-draft", "backend": "numba", "n_agents": 5})
    full = {"geometry": "custom", "n_agents": 2, "means": [[0, 0], [1, 1]], "assignment": [0, 1],
            "covariances": [[[1, 0], [0, 1]], [[1, 0.5], [0.5, 1]]]}
    with pytest.raises(Exception, match="diagonal"):
        make_config(full | {"backend": "numba"})
    params = make_config(full).to_params()
    with pytest.raises(ValueError, match="full covariances"):
        run(params, [np.random.default_rng(0)], 1, backend="numba")
    from igmm.registry import RAG_POLICIES

    RAG_POLICIES.register("newest", lambda rag, ages, point, uniforms: np.argmax(ages, axis=-1))
    try:
        make_config({"rag_policy": "newest"})  # fine on numpy
        with pytest.raises(Exception, match="not compiled"):
            make_config({"rag_policy": "newest", "backend": "numba"})
    finally:
        RAG_POLICIES.unregister("newest")
    assert stepper_factory("paper", "numba") is NumbaStepper


def test_numba_sampler_and_densities_match_numpy_bits():
    """Kernel pieces against their numpy counterparts: CDF inversion (early exit) and scaled densities."""
    from igmm.backends._numba_kernels import sample_component, scaled_densities
    from igmm.model.em import sample_components
    from igmm.model.em import scaled_densities as numpy_scaled

    rng = np.random.default_rng(3)
    weights = rng.dirichlet(np.full(30, 0.3), size=200)
    weights[:50, 10:20] = 0.0
    uniforms = np.concatenate([[0.0, 1.0 - 1e-16], rng.uniform(size=198)])
    cdf = np.empty(30)
    got = [sample_component(w, u, cdf) for w, u in zip(weights, uniforms)]
    np.testing.assert_array_equal(got, sample_components(weights, uniforms, axis=-1))
    for values in ({"n_components": 30}, {"geometry": "simplex", "n_agents": 10, "sigma": 1.0, "delta": 4.0}):
        geometry = make_config(values).to_params().geometry
        points = geometry.sample(rng.integers(0, geometry.n_components, 50), rng.normal(size=(50, geometry.n_dims)))
        expected = numpy_scaled(geometry.log_density(points), axis=-1)
        means_t = np.ascontiguousarray(geometry.means.T, dtype=np.float64)
        variances_t = np.ascontiguousarray(geometry.variances.T, dtype=np.float64)
        out = np.empty(geometry.n_components)
        for point, row in zip(points, expected):
            lo, hi = scaled_densities(np.ascontiguousarray(point), means_t, variances_t, geometry._log_det, out)
            assert np.all(row[:lo] == 0.0) and np.all(row[hi:] == 0.0)
            np.testing.assert_allclose(out, row, rtol=1e-12, atol=1e-315)  # exp and sum order: ulps


def _tie_heavy_weights(rng, n_reps, n_agents, n_components):
    """Weights that are multiples of 1/5 (as with separated components), with exact duplicates and permutations."""
    counts = rng.multinomial(5, np.full(n_components, 1 / n_components), size=(n_reps, n_agents)).astype(float)
    weights = counts / 5.0
    weights[:, 1::3] = weights[:, 0:1]  # exact duplicates of agent 0
    return weights


@pytest.mark.parametrize("parallel", [False, True])
def test_compiled_k_nearest_gives_the_numpy_indices(parallel):
    """Same indices as igmm.dynamics.partners.k_nearest, ties included (same distances, same rule)."""
    from igmm.backends import _numba_kernels
    from igmm.dynamics.partners import k_nearest

    search = _numba_kernels.k_nearest_parallel if parallel else _numba_kernels.k_nearest
    from igmm.dynamics.partners import weight_distances

    rng = np.random.default_rng(11)
    trials_with_ties = 0
    for trial in range(40):
        n_agents, n_components = int(rng.integers(2, 45)), int(rng.integers(1, 40))
        k = int(rng.integers(1, n_agents))
        if trial % 2:
            weights = _tie_heavy_weights(rng, 3, n_agents, n_components)
        else:
            weights = rng.dirichlet(np.full(n_components, 0.3), size=(3, n_agents))
        got = np.full((3, n_agents, k), -1, dtype=np.int64)
        search(weights, k, got)
        expected = k_nearest(weights, k)
        np.testing.assert_array_equal(got, expected, err_msg=f"trial {trial}: n={n_agents} K={n_components} k={k}")
        first, second = np.triu_indices(n_agents, 1)
        upper = weight_distances(weights)[:, first, second]
        trials_with_ties += any(len(np.unique(row)) < len(row) for row in upper)
    assert trials_with_ties >= 15  # the tie rule was exercised, not only distinct distances


def test_numba_stepper_uses_the_compiled_search_with_numpy_ties():
    """The stepper's partner table at k < n - 1 is the numpy search's, on a tie-heavy state."""
    from igmm.dynamics.partners import k_nearest

    params = _params({"n_agents": 30, "p": 0.2, "k": 6})
    state = _seeded_state(params, 4, seed=2)
    weights = _tie_heavy_weights(np.random.default_rng(5), 4, 30, 30)
    state = dataclasses.replace(state, weights=weights)
    stepper = NumbaStepper(params, _rngs(4, 2), state)
    np.testing.assert_array_equal(stepper.nearest(), k_nearest(weights, 6))
    # exact duplicates tie at distance 0: each agent's nearest are its duplicates, lowest index first
    duplicates = np.arange(1, 30, 3)
    assert np.all(stepper.nearest()[:, 0, :6] == duplicates[:6])


def _digest(values):
    import hashlib

    from igmm.api import simulate

    result = simulate(values, replicates=4, seed=3, keep_weights=True)
    return hashlib.sha256(result.ids.tobytes() + np.ascontiguousarray(result.weights).tobytes()).hexdigest()


_COLD_OR_CACHED = """
import hashlib, json, sys
import numpy as np
from igmm.api import simulate
from igmm.backends import _numba_kernels as kernels
result = simulate(json.loads(sys.argv[1]), replicates=4, seed=3, keep_weights=True)
digest = hashlib.sha256(result.ids.tobytes() + np.ascontiguousarray(result.weights).tobytes()).hexdigest()
stats = kernels.step_batch.stats
print(json.dumps({"digest": digest, "misses": sum(stats.cache_misses.values()), "hits": sum(stats.cache_hits.values())}))
"""


def test_a_cold_compile_and_a_cache_load_give_the_same_bits(tmp_path):
    """A seeded numba run has the same bits whether its process compiled the kernels or loaded numba's cache.

    With "reassoc" in FASTMATH they differed: a cold compile re-optimises the callees' IR inside each caller,
    a cache load links bitcode already optimised, and reassociation made the rounding depend on that path
    (this 40-agent ring, run alone in its process, differed in its final weights on the development machine).
    """
    import json
    import os
    import subprocess
    import sys

    from igmm.backends._numba_kernels import FASTMATH

    assert FASTMATH <= {"contract"}  # no flag whose result depends on how often the optimiser ran
    values = {"n_agents": 40, "T": 60, "p": 0.2, "network": {"kind": "ring", "degree": 4}, "backend": "numba"}
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}

    def run_in_new_process():
        done = subprocess.run([sys.executable, "-c", _COLD_OR_CACHED, json.dumps(values)], capture_output=True,
                              text=True, env=env, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    cold, cached = run_in_new_process(), run_in_new_process()
    assert cold["misses"] > 0 and cold["hits"] == 0, cold  # the first process compiled
    assert cached["hits"] > 0 and cached["misses"] == 0, cached  # the second loaded what the first wrote
    assert cached["digest"] == cold["digest"]
    assert _digest(values) == cold["digest"]  # and this process, whichever way it got its kernels


def test_numba_keeps_exact_responsibilities_of_one_component_points():
    """A point whose density is non-zero under one component only has responsibility exactly 1 (no x * (1/x)),
    so agents that absorbed the same points keep bitwise-equal weights, as in exact arithmetic."""
    from igmm.backends._numba_kernels import FASTMATH, point_responsibilities

    assert "arcp" not in FASTMATH and "nnan" not in FASTMATH
    rng = np.random.default_rng(6)
    joint, out = np.empty(30), np.empty(30)
    for _ in range(2000):
        row = np.zeros(30)
        component = rng.integers(30)
        row[component] = 1.0
        point_responsibilities(row, rng.dirichlet(np.ones(30)), component, component + 1, joint, out)
        assert out[component] == 1.0 and np.count_nonzero(out) == 1


def test_cli_numba_parallel_gives_the_numba_ids(tmp_path):
    """`igmm run --backend numba-parallel` end to end: the same IDs as `--backend numba` (same bits per replicate)."""
    from typer.testing import CliRunner

    from igmm.cli import app

    ids = {}
    for backend in ("numba", "numba-parallel"):
        out = tmp_path / backend
        result = CliRunner().invoke(app, ["run", "--p", "0.3", "--k", "6", "--T", "25", "--replicates", "5",
                                          "--seed", "9", "--backend", backend, "--out", str(out)])
        assert result.exit_code == 0, result.output
        ids[backend] = np.load(out / "ids.npz")["ids"]
    assert ids["numba"].shape == (5, 26, 30)
    np.testing.assert_array_equal(ids["numba-parallel"], ids["numba"])
    assert stepper_factory("paper", "numba-parallel") is ParallelNumbaStepper
