"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def transcripts_dir() -> Path:
    """The released language-model transcripts; tests needing them skip when absent."""
    path = Path(os.environ.get("IGMM_TRANSCRIPTS", REPO_ROOT.parent / "shared" / "llm-transcripts"))
    if not path.is_dir():
        pytest.skip(f"transcripts not found at {path}; set IGMM_TRANSCRIPTS to their folder")
    return path
