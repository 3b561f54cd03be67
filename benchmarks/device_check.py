"""Device check of the torch-batched backend: agent-steps per second at paper defaults, pass/fail against 1e9.

Run by ``benchmarks/device_check.sh`` (see there). For each batch size, dtype
and compile setting it times (1) the stepper alone, ``step()`` in a loop with
the device synchronised, and (2) a whole ``igmm.dynamics.run`` (what a sweep
does: IDs and polarization recorded every step). Writes the numbers as JSON
to ``$OUT/device_check.json`` (or ``benchmarks/device_check.json``) and
prints a table. Exit status 0 whether or not the target is met; 1 when no
CUDA device is there (unless ``--allow-cpu``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

TARGET = 1e9  # agent-steps per second, batched paper-default sweeps on one data-centre GPU


def measure(k: int, n_reps: int, n_steps: int, dtype: str, compile_step: bool, device: str) -> dict:
    import torch

    from igmm.api import replicate_seeds
    from igmm.backends.torch_batched import TorchBatchedStepper
    from igmm.config import make_config
    from igmm.dynamics import run
    from igmm.metrics import n_silos

    params = make_config({"p": 0.4, "k": k}).to_params()  # paper defaults: n = K = 30, r = 5, sigma = 0.2
    rngs = [np.random.default_rng(s) for s in replicate_seeds(1, n_reps)]
    setup = time.perf_counter()
    stepper = TorchBatchedStepper(params, rngs, device=device, dtype=getattr(torch, dtype), compile=compile_step)
    for _ in range(3):  # warm-up (compilation, allocator)
        stepper.step()
    stepper.synchronize()
    setup = time.perf_counter() - setup
    wall = time.perf_counter()
    for _ in range(n_steps):
        stepper.step()
    stepper.synchronize()
    step_rate = n_reps * 30 * n_steps / (time.perf_counter() - wall)
    # A whole run as a sweep does it (IDs and polarization every step, initial state on the host).
    os.environ["IGMM_TORCH_DTYPE"], os.environ["IGMM_TORCH_COMPILE"] = dtype, "1" if compile_step else "0"
    os.environ["IGMM_TORCH_DEVICE"] = device
    rngs = [np.random.default_rng(s) for s in replicate_seeds(2, n_reps)]
    wall = time.perf_counter()
    trajectory = run(params, rngs, n_steps, backend="torch-batched")
    run_seconds = time.perf_counter() - wall
    return {"k": k, "n_reps": n_reps, "n_steps": n_steps, "dtype": dtype, "compile": compile_step,
            "setup_s": setup, "step_agent_steps_per_s": step_rate,
            "run_agent_steps_per_s": n_reps * 30 * n_steps / run_seconds,
            "mean_final_silos": float(n_silos(trajectory.ids[:, -1]).mean())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, nargs="*", default=[10_000, 50_000, 200_000])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--dtypes", nargs="*", default=["float64", "float32"])
    parser.add_argument("--compile", choices=["off", "on", "both"], default="both")
    parser.add_argument("--allow-cpu", action="store_true", help="run on the CPU when no GPU is there (a dry run)")
    args = parser.parse_args()
    import torch

    if torch.cuda.is_available():
        device, name = "cuda", torch.cuda.get_device_name(0)
    elif args.allow_cpu:
        device, name = "cpu", "cpu (dry run)"
    else:
        print("device_check: no CUDA device visible to torch; nothing measured (use --allow-cpu for a dry run)")
        return 1
    compiles = {"off": [False], "on": [True], "both": [False, True]}[args.compile]
    rows = []
    for k in (29, 10):
        for dtype in args.dtypes:
            for compile_step in compiles:
                for n_reps in args.reps:
                    try:
                        row = measure(k, n_reps, args.steps, dtype, compile_step, device)
                    except Exception as error:  # out of memory, a compile failure: report, go on
                        row = {"k": k, "n_reps": n_reps, "dtype": dtype, "compile": compile_step,
                               "error": f"{type(error).__name__}: {str(error)[:200]}"}
                        if device == "cuda":
                            torch.cuda.empty_cache()
                    rows.append(row)
                    shown = (f"{row['step_agent_steps_per_s']:.3e} step / {row['run_agent_steps_per_s']:.3e} run"
                             if "error" not in row else row["error"])
                    print(f"k={k:2d} {dtype} compile={'on ' if compile_step else 'off'} reps={n_reps:>7d}: {shown}",
                          flush=True)
    measured = [row for row in rows if "error" not in row]
    best = {k: max((row["run_agent_steps_per_s"] for row in measured if row["k"] == k), default=0.0) for k in (29, 10)}
    verdict = {k: "PASS" if rate >= TARGET else "FAIL" for k, rate in best.items()}
    out = Path(os.environ.get("OUT") or Path(__file__).parent) / "device_check.json"
    result = {"device": name, "torch": torch.__version__, "target_agent_steps_per_s": TARGET, "rows": rows,
              "best_run_agent_steps_per_s": best, "verdict": verdict}
    out.write_text(json.dumps(result, indent=1) + "\n")
    for k in (29, 10):
        print(f"paper defaults, k = {k}: best {best[k]:.3e} agent-steps/s (whole runs, IDs recorded) "
              f"against {TARGET:.0e}: {verdict[k]}")
    print(f"device: {name}; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
