"""The proxies' steppers use numpy, scipy and the core (their option declarations may use pydantic's Field)."""

import ast
from pathlib import Path

import pytest

PROXIES = Path(__file__).resolve().parents[2] / "src" / "igmm" / "proxies"
ALLOWED = {"numpy", "scipy", "igmm", "__future__", "dataclasses", "typing", "inspect", "pydantic"}
ALLOWED_IGMM = {"dynamics", "model", "metrics", "registry", "proxies"}


@pytest.mark.parametrize("path", sorted(PROXIES.glob("*.py")), ids=lambda p: p.name)
def test_proxies_import_only_the_core(path):
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
            [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
        for name in names:
            assert name.split(".")[0] in ALLOWED, f"{path.name} imports {name}"
            if name.startswith("igmm."):
                assert name.split(".")[1] in ALLOWED_IGMM, f"{path.name} imports {name}"
