"""Imports go one way: the core (model, dynamics, metrics) uses only numpy and scipy."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "igmm"
CORE = ("model", "dynamics", "metrics", "proxies")
ALLOWED_TOP = {"numpy", "scipy", "igmm", "__future__", "dataclasses", "typing", "collections", "math",
               "functools", "itertools", "abc", "enum", "importlib", "inspect", "time"}
#: Shell-free modules outside the core folders that the core may use (the registries: standard library only).
CORE_HELPERS = {"registry"}


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
            assert name.split(".")[1] in set(CORE) | CORE_HELPERS, f"{path.name} imports shell module {name}"


def test_the_registry_module_uses_the_standard_library_only():
    for name in _imports(PACKAGE / "registry.py"):
        assert name.split(".")[0] in {"__future__", "importlib", "inspect", "os", "dataclasses", "typing"}, name


def test_importing_igmm_loads_no_heavy_extras():
    import subprocess
    import sys

    code = "import sys, igmm, igmm.cli; print(','.join(m for m in ('torch', 'dask', 'sentence_transformers', 'httpx') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def _public_names(module) -> list[str]:
    return list(getattr(module, "__all__", []))


@pytest.mark.parametrize("package", ["igmm", "igmm.dynamics", "igmm.model", "igmm.metrics"])
def test_no_public_name_is_also_a_submodule(package):
    """A public function named like a submodule is replaced by the module once the module is imported."""
    import importlib
    import pkgutil

    module = importlib.import_module(package)
    submodules = {info.name for info in pkgutil.iter_modules(module.__path__)}
    clashes = sorted(set(_public_names(module)) & submodules)
    assert not clashes, f"{package}: {clashes} are both public names and submodules"


def test_public_api_names_stay_what_they_are_however_often_used():
    import subprocess
    import sys

    code = """
import igmm
first = igmm.simulate({"p": 0.4, "k": 29, "T": 5}, replicates=2, seed=1)
import igmm.api, igmm.dynamics.loop, igmm.cli            # whatever was imported in between
second = igmm.simulate({"p": 0.4, "k": 29, "T": 5}, replicates=2, seed=1)
from igmm import simulate, iterate
assert callable(simulate) and simulate is igmm.simulate and callable(iterate)
assert (first.ids == second.ids).all()
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr


def test_the_readme_python_snippet_runs_verbatim_twice():
    import re

    readme = (PACKAGE.parents[1] / "README.md").read_text()
    snippets = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert snippets, "the README has a Python snippet"
    for snippet in snippets:
        namespace: dict = {}
        exec(compile(snippet, "README.md", "exec"), namespace)
        exec(compile(snippet, "README.md", "exec"), namespace)  # the second time too (the old lazy-name bug)
