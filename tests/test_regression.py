"""The bit-regression cases of benchmarks/regression.py: the same seeds give the same IDs as recorded."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _regression_module():
    spec = importlib.util.spec_from_file_location("regression", ROOT / "benchmarks" / "regression.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_recorded_case_reproduces():
    regression = _regression_module()
    recorded = json.loads(regression.HASH_FILE.read_text())
    assert set(recorded) == set(regression.CASES)
    for name, case in regression.CASES.items():
        current = regression.case_hashes(*case)
        for what, value in current.items():
            assert regression.same(what, recorded[name][what], value), f"{name}: {what} changed"
