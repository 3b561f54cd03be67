"""Fixtures of the language-model tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm.llm_helpers import ChatServer, write_rags


@pytest.fixture
def chat_server():
    """A running deterministic chat server (stopped after the test)."""
    with ChatServer() as server:
        yield server


@pytest.fixture
def small_rags(tmp_path) -> Path:
    """``RAGs.npz`` with 6 agents and 3 topics (flower first)."""
    return write_rags(tmp_path / "RAGs.npz")
