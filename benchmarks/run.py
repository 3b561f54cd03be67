"""`make bench`: engine speed against the plain per-agent loop, and the scale targets of issue 6.

Every case runs in its own subprocess (so its peak memory is its own) and
reports wall-clock and CPU seconds. Ratios are taken between measurements of
the same run, engine and plain loop interleaved, so a loaded machine slows
both. Writes ``benchmarks/results.json``, prints a table and draws
``docs/figures/scaling.png`` (time per step against n, log-log).

Usage: ``python benchmarks/run.py [--quick] [--full] [--case NAME]``.
``--quick`` shortens the large runs (T = 10, extrapolated to T = 100 and
marked so); ``--full`` runs target 3 (n = K = 3000) and the n = 10^6 small
world for all T = 100 steps instead of extrapolating from 5 and 10 (their
steps cost alike), and extends the search scaling to n = 10^5. The n = 10^5
dynamic-graph cases always run all 100 steps (their first ~15 steps hold
nearly all the cost). ``make bench`` takes ~25 minutes on 2 cores, ``--full``
~35.

Workloads of the scale cases are populations that move: heterogeneous starts
(``initial: dirichlet, alpha = 0.5``: every agent's weights differ), p = 0,
K = 30, r = 5. Each reports how many IDs changed per step and when the
population first became polarized (closed), beside its time and memory.
Also draws ``docs/figures/scaling_search.png`` (cost of one exact k-nearest
search on all-distinct weights against n, log-log).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).with_name("results.json")
FIGURE = ROOT / "docs" / "figures" / "scaling.png"
SEARCH_FIGURE = ROOT / "docs" / "figures" / "scaling_search.png"
sys.path.insert(0, str(ROOT / "tests"))  # the plain loop lives with the tests (executable spec)

PAPER = {"n_agents": 30, "rag_size": 5, "p": 0.4}
PAPER_REPS, PAPER_STEPS = 50, 100
SCALING_N = [30, 100, 300, 1000, 3000, 10000]
SEARCH_N = [1000, 3000, 10000, 30000]
SEARCH_N_FULL = SEARCH_N + [100000]
#: Heterogeneous start of the scale cases (every agent's weights differ at t = 0).
HETEROGENEOUS = {"initial": {"kind": "dirichlet", "alpha": 0.5}, "p": 0.0, "n_components": 30}
#: Arithmetic limit of one agent-step at paper defaults (two one-step EMs on 5 x 30 numbers plus two draws).
ARITHMETIC_LIMIT_US = 0.25


def _first_polarized(polarized: np.ndarray) -> list[int | None]:
    """Each run's first polarized step (None: never), from flags of shape (n_reps, n_steps + 1)."""
    from igmm.metrics.polarization import first_hitting_time

    return [None if t < 0 else int(t) for t in first_hitting_time(polarized)]


def _distinct_weights(n_agents: int, seed: int) -> np.ndarray:
    """All-distinct Dirichlet(0.5) weights over K = 30 (clipped as the engine does), shape (1, n_agents, 30)."""
    from igmm.model.em import clip_renormalise

    rng = np.random.default_rng(seed)
    return clip_renormalise(rng.dirichlet(np.full(30, 0.5), n_agents), 1e-12, axis=1)[None]


def _engine(values: dict, n_reps: int, n_steps: int, seed: int = 1, backend: str = "numpy") -> dict:
    """Wall and CPU seconds of one engine run (initial state and network included), and how much it moved."""
    from igmm.api import replicate_seeds
    from igmm.config import make_config
    from igmm.dynamics import run
    from igmm.metrics import n_silos

    wall, cpu = time.perf_counter(), time.process_time()
    params = make_config(values).to_params()
    network_s = time.perf_counter() - wall
    rngs = [np.random.default_rng(s) for s in replicate_seeds(seed, n_reps)]
    first_step = {}

    def on_step(t: int) -> None:
        if t == 1:
            first_step["wall"], first_step["cpu"] = time.perf_counter(), time.process_time()

    trajectory = run(params, rngs, n_steps, on_step=on_step, backend=backend)
    end_wall, end_cpu = time.perf_counter(), time.process_time()
    ids, polarized = trajectory.ids, trajectory.polarized
    changed = (ids[:, 1:] != ids[:, :-1]).mean(axis=(0, 2)) if n_steps else np.zeros(0)
    result = {"wall_s": end_wall - wall, "cpu_s": end_cpu - cpu, "agent_steps": n_reps * n_steps * params.n_agents,
              "backend": backend, "network_and_params_s": network_s,
              "final_silos": float(n_silos(ids[:, -1]).mean()),
              "id_changes_per_step": changed.round(5).tolist(),
              "first_polarized_step": _first_polarized(polarized)}
    if n_steps > 1:  # initial state + first step, then the steady per-step cost
        result["setup_and_first_step_wall_s"] = first_step["wall"] - wall
        result["later_step_wall_s"] = (end_wall - first_step["wall"]) / (n_steps - 1)
        result["later_step_cpu_s"] = (end_cpu - first_step["cpu"]) / (n_steps - 1)
    return result


def case_torch() -> dict:
    """Paper defaults, batch of 50: the torch backend (CPU here) against numpy, interleaved."""
    from igmm.api import replicate_seeds
    from igmm.config import make_config
    from igmm.dynamics import run as backend_run

    params = make_config(PAPER | {"T": PAPER_STEPS}).to_params()
    best = {}
    for repeat in range(3):
        for backend in ("numpy", "torch"):
            rngs = [np.random.default_rng(s) for s in replicate_seeds(repeat + 1, PAPER_REPS)]
            wall = time.perf_counter()
            backend_run(params, rngs, PAPER_STEPS, backend=backend)
            rate = PAPER_REPS * PAPER_STEPS * 30 / (time.perf_counter() - wall)
            best[backend] = max(best.get(backend, 0.0), rate)
    import torch

    return {"device": "cuda" if torch.cuda.is_available() else "cpu", "numpy_agent_steps_per_s": best["numpy"],
            "torch_agent_steps_per_s": best["torch"], "torch_over_numpy": best["torch"] / best["numpy"]}


def case_numba(k: int = 29) -> dict:
    """Paper defaults, batch of 50: the numba backend (serial and parallel over replicates) against the
    plain loop and the numpy engine, interleaved three times. Compile time is measured separately."""
    from igmm.api import replicate_seeds
    from igmm.config import make_config
    from igmm.dynamics import run as core_run

    params = make_config(PAPER | {"k": k, "T": PAPER_STEPS}).to_params()
    compile_s = {}
    for name, backend in (("serial", "numba"), ("parallel", "numba-parallel")):
        wall = time.perf_counter()  # first call: compile, or load from numba's on-disk cache
        core_run(params, [np.random.default_rng(0)], 1, backend=backend)
        compile_s[name] = time.perf_counter() - wall
    engines = {"numba": "numba", "numba_parallel": "numba-parallel", "numpy": "numpy"}
    best = {name: {"wall_s": 0.0, "cpu_s": 0.0} for name in list(engines) + ["plain"]}
    agent_steps = PAPER_REPS * PAPER_STEPS * 30
    for repeat in range(3):
        for name, stepper in engines.items():
            rngs = [np.random.default_rng(s) for s in replicate_seeds(repeat + 1, PAPER_REPS)]
            wall, cpu = time.perf_counter(), time.process_time()
            core_run(params, rngs, PAPER_STEPS, backend=stepper)
            elapsed = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}
            for clock in elapsed:
                best[name][clock] = max(best[name][clock], agent_steps / elapsed[clock])
        plain = _plain_loop(k, 10, seed=repeat + 1)
        for clock in ("wall_s", "cpu_s"):
            best["plain"][clock] = max(best["plain"][clock], plain["agent_steps"] / plain[clock])
    result = {"k": k, "n_reps": PAPER_REPS, "n_steps": PAPER_STEPS, "compile_or_cache_load_s": compile_s,
              "agent_steps_per_s": best}
    for clock in ("wall_s", "cpu_s"):
        result[f"ratio_{clock}"] = {name: best[name][clock] / best["plain"][clock] for name in engines}
    return result


def _plain_loop(k: int, n_steps: int, seed: int = 1) -> dict:
    """Wall and CPU seconds of the plain per-agent loop (tests/reference_model.py), one replicate."""
    import reference_model

    rng = np.random.default_rng(seed)
    wall, cpu = time.perf_counter(), time.process_time()
    reference_model.simulate_reference(30, 30, PAPER["p"], k, 5, n_steps, 0.2, 1.0, 1e-12, rng)
    return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu, "agent_steps": 30 * n_steps}


def case_paper(k: int) -> dict:
    """Agent-steps per second, engine (batch of 50) vs plain loop, interleaved three times."""
    values = PAPER | {"k": k, "T": PAPER_STEPS}
    _engine(values, 4, 5)  # warm-up: imports, caches
    engine, plain = [], []
    for repeat in range(3):
        engine.append(_engine(values, PAPER_REPS, PAPER_STEPS, seed=repeat + 1))
        plain.append(_plain_loop(k, 10, seed=repeat + 1))
    best = {}
    for clock in ("wall_s", "cpu_s"):
        e = max(r["agent_steps"] / r[clock] for r in engine)
        p = max(r["agent_steps"] / r[clock] for r in plain)
        best[clock] = {"engine_agent_steps_per_s": e, "plain_agent_steps_per_s": p, "ratio": e / p}
    return {"k": k, "n_reps": PAPER_REPS, "n_steps": PAPER_STEPS, **best}


def case_scaling(n_agents: int, n_steps: int) -> dict:
    """One replicate, K = 30, k = 10, line geometry, heterogeneous start: seconds per step (steps 2 .. n_steps)."""
    result = _engine({"n_agents": n_agents, "k": 10, **HETEROGENEOUS}, 1, n_steps)
    return result | {"n_agents": n_agents, "n_steps": n_steps, "wall_s_per_step": result["later_step_wall_s"]}


def case_target(values: dict, n_reps: int, n_steps: int, run_steps: int, backend: str = "numpy") -> dict:
    """A scale target: run ``run_steps`` of ``n_steps`` and extrapolate linearly when fewer.

    For heterogeneous starts the first steps are the dearest (every weight vector distinct; they
    coalesce within ~10-15 steps), so extrapolating from them overestimates.
    """
    result = _engine(values, n_reps, run_steps, backend=backend)
    if run_steps < n_steps:  # setup and first step as measured, later steps at their measured rate
        wall = result["setup_and_first_step_wall_s"] + (n_steps - 1) * result["later_step_wall_s"]
        cpu = result["cpu_s"] + (n_steps - run_steps) * result["later_step_cpu_s"]
    else:
        wall, cpu = result["wall_s"], result["cpu_s"]
    return result | {
        "values": values, "n_reps": n_reps, "n_steps": n_steps, "steps_run": run_steps,
        "extrapolated": run_steps < n_steps, "wall_s_for_all_steps": wall, "cpu_s_for_all_steps": cpu,
    }


def case_search(n_agents: int) -> dict:
    """One exact k-nearest search (k = 10, K = 30) on all-distinct Dirichlet(0.5) weights: the worst case per step."""
    from igmm.dynamics.partners import k_nearest

    weights = _distinct_weights(n_agents, seed=n_agents)
    best = np.inf
    for _ in range(3 if n_agents <= 30000 else 1):
        wall = time.perf_counter()
        k_nearest(weights, 10)
        best = min(best, time.perf_counter() - wall)
    return {"n_agents": n_agents, "search_s": best}


def case_ann_recall(n_agents: int, n_reps: int) -> dict:
    """hnsw against exact at a size where both run: recall@10 on all-distinct weights, and S(T), t*,
    polarization of the same seeds run both ways (heterogeneous start, k = 10, T = 100, numba)."""
    from igmm.api import replicate_seeds
    from igmm.config import make_config
    from igmm.dynamics import partners, run
    from igmm.metrics import consensus_time, n_silos

    weights = _distinct_weights(n_agents, seed=0)
    searched = {}
    for search in ("exact", "hnsw"):
        wall = time.perf_counter()
        searched[search] = partners.k_nearest(weights, 10, search)[0]
        searched[search + "_s"] = time.perf_counter() - wall
    recall = float(np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(searched["hnsw"], searched["exact"])]))
    result = {"n_agents": n_agents, "n_reps": n_reps, "recall_at_10": recall,
              "search_s": {"exact": searched["exact_s"], "hnsw": searched["hnsw_s"]}}
    for search in ("exact", "hnsw"):
        config = make_config({"n_agents": n_agents, "k": 10, "neighbour_search": search, **HETEROGENEOUS})
        rngs = [np.random.default_rng(s) for s in replicate_seeds(7, n_reps)]
        wall = time.perf_counter()
        trajectory = run(config.to_params(), rngs, 100, backend="numba")
        polarized = trajectory.polarized
        result[search] = {"wall_s": time.perf_counter() - wall,
                          "S_T": n_silos(trajectory.ids[:, -1]).tolist(),
                          "t_star": consensus_time(trajectory.ids).t_star.tolist(),
                          "polarized_at_T": polarized[:, -1].tolist(),
                          "first_polarized_step": _first_polarized(polarized)}
    return result


def case_torch_batched(n_reps: int = 1000) -> dict:
    """Paper defaults, k = 29, a batch of ``n_reps``: torch-batched on this machine's device against numpy."""
    from igmm.api import replicate_seeds
    from igmm.config import make_config
    from igmm.dynamics import run as core_run

    params = make_config(PAPER | {"T": 20}).to_params()
    best = {}
    for repeat in range(2):
        for backend in ("numpy", "torch-batched"):
            rngs = [np.random.default_rng(s) for s in replicate_seeds(repeat + 1, n_reps)]
            wall = time.perf_counter()
            core_run(params, rngs, 20, backend=backend)
            best[backend] = max(best.get(backend, 0.0), n_reps * 20 * 30 / (time.perf_counter() - wall))
    import torch

    return {"device": "cuda" if torch.cuda.is_available() else "cpu", "n_reps": n_reps,
            "agent_steps_per_s": best, "batched_over_numpy": best["torch-batched"] / best["numpy"]}


def cases(quick: bool, full: bool) -> dict[str, tuple]:
    big_steps = 10 if quick else 100
    return {
        "paper_complete": (case_paper, 29),
        "paper_k10": (case_paper, 10),
        "torch_backend": (case_torch,),
        "numba_backend": (case_numba, 29),
        "numba_backend_k10": (case_numba, 10),
        **{f"scaling_n{n}": (case_scaling, n, 5 if n >= 3000 else 20) for n in SCALING_N},
        "target2_n10000_K30": (case_target, {"n_agents": 10000, "n_components": 30, "k": 10, "p": 0.0}, 1, 100,
                               big_steps),
        "target3_n3000_K3000": (case_target, {"n_agents": 3000, "k": 10, "p": 0.0}, 1, 100, 100 if full else 5),
        "target4_simplex": (case_target, {"geometry": "simplex", "n_agents": 30, "sigma": 1.0, "delta": 4.0,
                                          "p": 0.0, "k": 29}, 50, 400, 400),
        "torch_batched": (case_torch_batched,),
        # Issue "scale for real": populations that move (heterogeneous start).
        **{f"search_n{n}": (case_search, n) for n in (SEARCH_N_FULL if full else SEARCH_N)},
        "scale1_dynamic_n10000": (case_target, {"n_agents": 10000, "k": 10, **HETEROGENEOUS}, 1, 100,
                                  10 if quick else 100),
        "scale1_dynamic_n10000_numba": (case_target, {"n_agents": 10000, "k": 10, **HETEROGENEOUS}, 1, 100,
                                        10 if quick else 100, "numba"),
        "scale2_ann_recall_n10000": (case_ann_recall, 10000, 2 if quick else 6),
        "scale2_hnsw_n100000": (case_target, {"n_agents": 100000, "k": 10, "neighbour_search": "hnsw",
                                              **HETEROGENEOUS}, 1, 100, 100, "numba-parallel"),
        # All 100 steps even without --full: on the dynamic graph the first ~15 steps hold nearly all the
        # cost (every weight vector distinct), so extrapolating from them would overstate the run tenfold.
        "scale2_exact_n100000": (case_target, {"n_agents": 100000, "k": 10, **HETEROGENEOUS}, 1, 100, 100,
                                 "numba-parallel"),
        "scale3_small_world_n1000000": (case_target, {"n_agents": 1000000, **HETEROGENEOUS, "network": {
            "kind": "watts-strogatz", "degree": 10, "rewire": 0.1, "seed": 1}}, 1, 100, 100 if full else 10,
                                        "numba-parallel"),
    }


def run_case(name: str, quick: bool, full: bool) -> dict:
    function, *args = cases(quick, full)[name]
    result = function(*args)
    result["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    return result


def machine() -> dict:
    return {"platform": platform.platform(), "python": platform.python_version(), "numpy": np.__version__,
            "cpu_count": os.cpu_count(), "load_average_at_start": os.getloadavg(),
            "processor": platform.processor() or platform.machine()}


TARGETS = {  # name -> (what, limit)
    "target2_n10000_K30": ("wall_s_for_all_steps", 120.0),
    "target3_n3000_K3000": ("wall_s_for_all_steps", 300.0),
    "target4_simplex": ("wall_s_for_all_steps", 60.0),
    "scale1_dynamic_n10000": ("wall_s_for_all_steps", 120.0),
    "scale1_dynamic_n10000_numba": ("wall_s_for_all_steps", 120.0),
    "scale2_hnsw_n100000": ("wall_s_for_all_steps", None),
    "scale2_exact_n100000": ("wall_s_for_all_steps", None),
    "scale3_small_world_n1000000": ("wall_s_for_all_steps", 600.0),
}
#: Memory limits (GB) of the scale targets.
MEMORY_LIMITS = {"scale1_dynamic_n10000": 4.0, "scale1_dynamic_n10000_numba": 4.0, "scale3_small_world_n1000000": 8.0}


def print_table(results: dict) -> None:
    print(f"\nmachine: {results['machine']['platform']}, {results['machine']['cpu_count']} cores, "
          f"load {results['machine']['load_average_at_start'][0]:.1f} at start")
    print(f"{'case':28s} {'engine a-s/s':>14s} {'plain a-s/s':>12s} {'ratio':>7s} (wall; cpu ratio)")
    for name in ("paper_complete", "paper_k10"):
        r = results["cases"].get(name)
        if r:
            w = r["wall_s"]
            print(f"{name:28s} {w['engine_agent_steps_per_s']:14,.0f} {w['plain_agent_steps_per_s']:12,.0f} "
                  f"{w['ratio']:7.0f} ({r['cpu_s']['ratio']:.0f})")
    for case_name, label in (("numba_backend", "complete"), ("numba_backend_k10", "k=10")):
        numba_case = results["cases"].get(case_name)
        if not numba_case:
            continue
        rates, ratios = numba_case["agent_steps_per_s"], numba_case["ratio_wall_s"]
        for name in ("numba", "numba_parallel", "numpy"):
            print(f"{name + ' (' + label + ')':28s} {rates[name]['wall_s']:14,.0f} {rates['plain']['wall_s']:12,.0f} "
                  f"{ratios[name]:7.0f} ({numba_case['ratio_cpu_s'][name]:.0f})")
        print(f"{'':28s} numba first call (compile or cache load): "
              + ", ".join(f"{k} {v:.1f} s" for k, v in numba_case["compile_or_cache_load_s"].items()))
    torch_case = results["cases"].get("torch_backend")
    if torch_case:
        print(f"{'torch backend (' + torch_case['device'] + ')':28s} {torch_case['torch_agent_steps_per_s']:14,.0f} "
              f"{'':>12s} {torch_case['torch_over_numpy']:7.2f} x numpy")
    print(f"\n{'case':28s} {'seconds':>9s} {'limit':>7s} {'peak GB':>8s}  note")
    for name, r in results["cases"].items():
        if name.startswith("scaling_"):
            print(f"{name:28s} {r['wall_s_per_step']:9.3f} {'':>7s} {r['peak_rss_gb']:8.2f}  s/step, one replicate")
        elif name.startswith("search_"):
            print(f"{name:28s} {r['search_s']:9.3f} {'':>7s} {r['peak_rss_gb']:8.2f}  one exact k-nearest search, "
                  f"all weights distinct")
        elif name in TARGETS:
            key, limit = TARGETS[name]
            note = f"extrapolated from {r['steps_run']} steps" if r["extrapolated"] else "full run"
            memory = MEMORY_LIMITS.get(name)
            verdict = "ok" if (limit is None or r[key] <= limit) and (memory is None or r["peak_rss_gb"] <= memory) \
                else "OVER"
            moved = r.get("id_changes_per_step")
            if moved:
                note += (f", {r.get('backend', 'numpy')}; IDs changed per step: {moved[0]:.3f} at t=1, "
                         f"{np.mean(moved[-5:]):.3f} last 5; first polarized {r['first_polarized_step']}")
            shown = f"{limit:7.0f}" if limit else f"{'-':>7s}"
            print(f"{name:28s} {r[key]:9.1f} {shown} {r['peak_rss_gb']:8.2f}  {verdict}, {note}")
    for case_name in ("numba_backend", "numba_backend_k10", "paper_complete", "paper_k10"):
        r = results["cases"].get(case_name)
        if not r:
            continue
        if "agent_steps_per_s" in r:
            rate = r["agent_steps_per_s"]["numba"]["cpu_s"]
            label = "numba, one core (CPU time)"
        else:
            rate = r["cpu_s"]["engine_agent_steps_per_s"]
            label = "numpy engine (CPU time)"
        print(f"{case_name:28s} {1e6 / rate:9.2f} us per agent-step, {label}: "
              f"{1e6 / rate / ARITHMETIC_LIMIT_US:.1f}x the arithmetic limit ({ARITHMETIC_LIMIT_US} us)")
    recall = results["cases"].get("scale2_ann_recall_n10000")
    if recall:
        exact, approx = recall["exact"], recall["hnsw"]
        print(f"hnsw at n = {recall['n_agents']}: recall@10 {recall['recall_at_10']:.3f}; search "
              f"{recall['search_s']['hnsw']:.2f} s vs exact {recall['search_s']['exact']:.2f} s; over "
              f"{recall['n_reps']} runs mean S(T) {np.mean(approx['S_T']):.2f} vs {np.mean(exact['S_T']):.2f}, "
              f"first polarized {approx['first_polarized_step']} vs {exact['first_polarized_step']}")
    batched = results["cases"].get("torch_batched")
    if batched:
        print(f"torch-batched ({batched['device']}, {batched['n_reps']} replicates): "
              f"{batched['agent_steps_per_s']['torch-batched']:,.0f} agent-steps/s, "
              f"{batched['batched_over_numpy']:.2f} x numpy")


def plot(results: dict) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    # Time per step against n, with a slope-1 guide through the smallest n.
    _plot_loglog(results, plt, "scaling_", "wall_s_per_step", "engine, K = 30, k = 10, Dirichlet start",
                 (1, 0, "slope 1 (linear in n)"), ("agents n", "seconds per step (one replicate)"), FIGURE)
    # One exact k-nearest search on all-distinct weights, with a slope-2 guide through the largest n.
    _plot_loglog(results, plt, "search_", "search_s", "exact k-nearest, K = 30, k = 10",
                 (2, -1, "slope 2 (n^2 K pairs)"), ("agents n (all weight vectors distinct)", "seconds per search"),
                 SEARCH_FIGURE)


def _plot_loglog(results: dict, plt, prefix: str, key: str, label: str, guide: tuple[int, int, str],
                 axis_labels: tuple[str, str], path: Path) -> None:
    """``key`` of the cases named ``prefix...`` against their n (log-log), with a guide line of slope
    ``guide[0]`` through the point ``guide[1]``; nothing when no such case ran."""
    rows = sorted((r["n_agents"], r[key]) for n, r in results["cases"].items() if n.startswith(prefix) and "error" not in r)
    if not rows:
        return
    n, seconds = np.array(rows).T
    slope, anchor, guide_label = guide
    fig, ax = plt.subplots(figsize=(4.5, 3.2), dpi=110)
    ax.loglog(n, seconds, "o-", label=label)
    ax.loglog(n, seconds[anchor] * (n / n[anchor]) ** slope, ":", color="grey", label=guide_label)
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="large runs for 10 steps, extrapolated")
    parser.add_argument("--full", action="store_true", help="run target 3 for all 100 steps")
    parser.add_argument("--case", help="run one case in this process and print its JSON")
    parser.add_argument("--only", nargs="*", help="run only these cases")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.quick, args.full)))
        return 0
    results = {"machine": machine(), "cases": {}}
    if args.only and RESULTS.exists():  # update the selected cases, keep the others
        results["cases"] = json.loads(RESULTS.read_text())["cases"]
    for name in args.only or cases(args.quick, args.full):
        command = [sys.executable, __file__, "--case", name] + ["--quick"] * args.quick + ["--full"] * args.full
        print(f"running {name} ...", flush=True)
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        if done.returncode != 0:
            print(done.stderr[-2000:])
            results["cases"][name] = {"error": done.stderr[-500:]}
            continue
        results["cases"][name] = json.loads(done.stdout.strip().splitlines()[-1])
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print_table({**results, "cases": {k: v for k, v in results["cases"].items() if "error" not in v}})
    plot(results)
    print(f"\nwrote {RESULTS.relative_to(ROOT)}, {FIGURE.relative_to(ROOT)} and {SEARCH_FIGURE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
