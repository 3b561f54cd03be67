"""The benchmark scripts run twice in a row (a benchmark times fresh work, so its second run must start over)."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_sweep_benchmark_runs_again_in_its_own_folder(tmp_path):
    # Its first run leaves timing.json beside the sweep; the second run used to stop there, because a
    # sweep refuses a folder holding files that are not a sweep's. A 2 x 2 grid stands in for the p x k one.
    spec = tmp_path / "pk.yaml"
    spec.write_text("base: {n_agents: 8, T: 10}\ngrid: {p: [0.0, 0.5], k: [1, 3]}\nreplicates: 2\nseed: 1\n")
    command = [sys.executable, str(REPO / "benchmarks" / "sweep_grid.py"), "--spec", str(spec), "--workers", "1",
               "--out", str(tmp_path / "sweep")]
    for _ in range(2):
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
        assert done.returncode == 0, done.stderr[-2000:]
        timing = json.loads((tmp_path / "sweep" / "timing.json").read_text())
        assert timing["runs"] == 8 and timing["failed"] == 0
