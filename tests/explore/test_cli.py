"""``igmm explore``: prints its address and serves the page; refuses a bad port before starting."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import pytest
from typer.testing import CliRunner

from igmm.cli import app

pytest.importorskip("uvicorn", reason="the explore extra: pip install -e '.[explore]'")


def test_a_bad_port_is_refused_in_one_line():
    result = CliRunner().invoke(app, ["explore", "--port", "70000"])
    assert result.exit_code == 2
    assert "--port: 70000 is not allowed" in result.output


def test_explore_prints_its_address_and_serves_the_page():
    command = [sys.executable, "-c", "from igmm.cli import main; main()", "explore", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=os.environ | {"PYTHONUNBUFFERED": "1"})
    try:
        line = process.stdout.readline()
        assert line.startswith("igmm explore: open http://127.0.0.1:"), line
        address = line.split("open ", 1)[1].split()[0]
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(address, timeout=5) as response:
                    assert b"igmm explore" in response.read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=10)
