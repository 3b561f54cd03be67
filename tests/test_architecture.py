"""Imports go one way: the core (model, dynamics, metrics) uses only numpy and scipy."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "igmm"
CORE = ("model", "dynamics", "metrics")
ALLOWED_TOP = {"numpy", "scipy", "igmm", "__future__", "dataclasses", "typing", "collections", "math",
               "functools", "itertools", "abc", "enum"}


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module


@pytest.mark.parametrize("path", [p for c in CORE for p in sorted((PACKAGE / c).rglob("*.py"))],
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_core_imports_only_numpy_scipy_and_core(path):
    for name in _imports(path):
        top = name.split(".")[0]
        assert top in ALLOWED_TOP, f"{path.name} imports {name}"
        if top == "igmm":
            assert name.split(".")[1] in CORE, f"{path.name} imports shell module {name}"


def test_importing_igmm_loads_no_heavy_extras():
    import subprocess
    import sys

    code = "import sys, igmm, igmm.cli; print(','.join(m for m in ('torch', 'dask', 'sentence_transformers', 'httpx') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
