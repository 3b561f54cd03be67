"""No process outlives its sweep: killing only the main `igmm sweep` process ends its workers too."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from igmm.pipeline import store

SLOW = {"base": {"n_agents": 30, "T": 300}, "grid": {"p": [0.0, 0.2, 0.4], "k": [1, 5, 29]},
        "replicates": 12, "seed": 1, "chunk_size": 1}


def _marked(mark: str) -> set[int]:
    """Processes whose environment carries the marker (the sweep and everything it started)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if f"IGMM_TEST_MARK={mark}".encode() in (entry / "environ").read_bytes():
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to list processes (Linux)")
@pytest.mark.parametrize("executor_flags", [["--workers", "2"], ["--dask-local", "2"]], ids=["pool", "dask"])
def test_killing_the_sweep_process_ends_every_worker(tmp_path, executor_flags):
    if executor_flags[0] == "--dask-local":
        pytest.importorskip("distributed")
    mark = uuid.uuid4().hex
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(SLOW))
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "igmm", "sweep", str(tmp_path / "spec.yaml"), "--out", str(out),
                                *executor_flags], env=os.environ | {"IGMM_TEST_MARK": mark},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while len(store.read_journal(out)) < 2 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
        assert process.poll() is None, "the sweep ended before the kill"
        assert len(_marked(mark)) >= 3, "the workers had not started"
        os.kill(process.pid, signal.SIGKILL)  # the main process only, as a user's `kill -9 PID` would
        process.wait()
        deadline = time.monotonic() + 30
        while _marked(mark) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = _marked(mark)
    finally:
        for pid in _marked(mark):
            os.kill(pid, signal.SIGKILL)
    assert not left, f"{len(left)} process(es) outlived the sweep"
