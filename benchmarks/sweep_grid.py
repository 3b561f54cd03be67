"""Time the full p x k sweep (examples/sweep-pk.yaml: 290 points x 50 replicates, T = 200, n = K = 30).

Usage (from the repository root)::

    .venv/bin/python benchmarks/sweep_grid.py                     # all cores, fresh directory
    .venv/bin/python benchmarks/sweep_grid.py --workers 2 --figures docs/figures
    .venv/bin/python benchmarks/sweep_grid.py --replicates 5      # quick check (smaller grid run)

Prints the wall-clock time of the sweep and of the summary and the workers'
total CPU seconds (divide by the number of workers for the time on an
otherwise idle machine), and writes ``timing.json`` in the output folder. With ``--figures DIR`` the summary's
phase diagrams (PNG) are copied there under ``sweep-pk-<value>.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import time
from pathlib import Path

from igmm.pipeline.executors import ProcessPoolExecutor
from igmm.pipeline.runner import run_sweep
from igmm.pipeline.spec import load_spec
from igmm.pipeline.store import remove_owned
from igmm.pipeline.summarize import write_summary

SPEC = Path(__file__).resolve().parents[1] / "examples" / "sweep-pk.yaml"


def task_cpu_seconds(log: Path) -> float:
    """Sum of the workers' CPU seconds over the ``done`` lines of a sweep log.

    Divided by the number of cores it is the wall-clock time the sweep would
    take with the cores to itself: the machine may be shared while timing.
    """
    pattern = re.compile(r"\tdone\t.*cpu ([0-9.]+) s$")
    return sum(float(match.group(1)) for line in log.read_text().splitlines() if (match := pattern.search(line)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", type=Path, default=SPEC, help="a sweep spec with p and k axes [%(default)s]")
    parser.add_argument("--out", type=Path, default=Path("results/bench-sweep-pk"))
    parser.add_argument("--workers", type=int, default=None, help="process-pool size [all cores]")
    parser.add_argument("--replicates", type=int, default=None, help="override the spec's 50 (quick checks)")
    parser.add_argument("--figures", type=Path, default=None, help="copy the phase-diagram PNGs here")
    args = parser.parse_args()

    spec = load_spec(args.spec, replicates=args.replicates)
    remove_owned(args.out)  # a benchmark times a fresh sweep, never a resume
    # ... and its own timing.json goes too: the sweep refuses a folder holding files that are not a sweep's.
    (args.out / "timing.json").unlink(missing_ok=True)
    executor = ProcessPoolExecutor(args.workers)
    began = time.perf_counter()
    outcome = run_sweep(spec, args.out, executor=executor, progress=True)
    executor.close()
    sweep_seconds = time.perf_counter() - began
    began = time.perf_counter()
    summary, _ = write_summary(args.out, x="k", y="p")
    summary_seconds = time.perf_counter() - began
    timing = {
        "runs": int(summary["n_runs"].sum()),
        "tasks": outcome.n_tasks,
        "failed": len(outcome.failed),
        "workers": executor.n_workers,
        "cpu_count": os.cpu_count(),
        "sweep_seconds": round(sweep_seconds, 1),
        "summary_seconds": round(summary_seconds, 1),
        "runs_per_second": round(int(summary["n_runs"].sum()) / sweep_seconds, 2),
        "task_cpu_seconds": round(task_cpu_seconds(args.out / "sweep.log"), 1),
        "python": platform.python_version(),
    }
    (args.out / "timing.json").write_text(json.dumps(timing, indent=2))
    print(json.dumps(timing, indent=2))
    if args.figures:
        args.figures.mkdir(parents=True, exist_ok=True)
        for path in sorted((args.out / "summary").glob("phase-*.png")):
            shutil.copyfile(path, args.figures / f"sweep-pk-{path.stem.removeprefix('phase-')}.png")


if __name__ == "__main__":
    main()
