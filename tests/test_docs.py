"""The repository stands alone: docs point nowhere outside it, citation and license are in place."""

import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
#: Paths a clone from a public host does not have (the project's private inputs).
PRIVATE_PATHS = ("shared/spec", "shared/seed")
DOC_FILES = sorted(p for p in (ROOT / "docs").rglob("*") if p.is_file()) + [ROOT / "README.md"]
ARXIV_IDS = ("2506.00077", "2412.06834")


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_do_not_point_outside_the_repository(path):
    text = path.read_bytes().decode("utf-8", errors="replace")
    for private in PRIVATE_PATHS:
        lines = [n for n, line in enumerate(text.splitlines(), 1) if private in line]
        assert not lines, f"{path.relative_to(ROOT)} mentions {private!r} on line(s) {lines}"


def test_citation_cff_parses_and_cites_both_papers():
    path = ROOT / "CITATION.cff"
    citation = yaml.safe_load(path.read_text())
    assert isinstance(citation, dict)
    assert str(citation.get("cff-version")) == "1.2.0"
    for key in ("message", "title", "authors"):
        assert citation.get(key), f"CITATION.cff lacks {key!r}"
    references = yaml.safe_dump(citation.get("references", []))
    for arxiv_id in ARXIV_IDS:
        assert arxiv_id in references, f"CITATION.cff references do not cite arXiv:{arxiv_id}"


def test_license_file_matches_pyproject():
    license_file = ROOT / "LICENSE"
    assert license_file.is_file(), "LICENSE is missing"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["license"]
    declared = declared if isinstance(declared, str) else declared.get("text", "")
    assert declared.strip() == "MIT"
    text = license_file.read_text()
    assert text.splitlines()[0].strip() == "MIT License"
    assert "Permission is hereby granted, free of charge" in text
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation.get("license") == declared.strip()


#: Dotted names in the docs that are not Python objects (an entry-point group).
NOT_PYTHON_NAMES = {"igmm.plugins"}


def _resolves(dotted: str) -> bool:
    """Whether ``igmm.a.b.c`` is a module or an attribute reachable from the longest importable module prefix."""
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(obj, attribute):
                return False
            obj = getattr(obj, attribute)
        return True
    return False


def test_every_igmm_name_the_docs_mention_exists():
    """Docs that name ``igmm.x.y`` in code spans must not outlive a rename."""
    import re

    missing = []
    for path in DOC_FILES:
        if path.suffix != ".md":
            continue
        for dotted in set(re.findall(r"`(igmm(?:\.[A-Za-z_]\w*)+)", path.read_text())):
            if dotted not in NOT_PYTHON_NAMES and not _resolves(dotted):
                missing.append(f"{path.relative_to(ROOT)}: {dotted}")
    assert not missing, missing
