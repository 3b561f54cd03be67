# Two commands for a new machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH_PIN := torch==2.13.0

.PHONY: demo test test-slow bench bench-sweep bench-explore install install-all browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Core install: no torch, no embedder, no dask.
$(VENV)/.core: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

# Every extra, so the tests exercise every path. torch is pinned and installed
# first: an unpinned torch pulls a multi-GB CUDA build.
$(VENV)/.all: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q $(TORCH_PIN)
	$(BIN)/pip install -q -e ".[all]" $(TORCH_PIN)
	touch $@

install: $(VENV)/.core
install-all: $(VENV)/.all

demo: $(VENV)/.core
	$(BIN)/igmm reproduce unstable-silo --out results/demo

# Headless Chromium and its driver from Debian's packages, for the explorer's browser tests
# (tests/explore/test_browser.py). Installed when missing and running as root; as root the
# tests are then required to run (IGMM_REQUIRE_BROWSER=1), otherwise they skip, naming what is missing.
IS_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo 1 || echo 0)
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$(IS_ROOT)" = 1 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium and chromium-driver for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "no chromium/chromedriver and not root: the browser tests will skip"; fi

# The whole suite, with the explorer's browser tests and the tutorial notebook (tests/explore/).
test: $(VENV)/.all browser
	HF_HUB_OFFLINE=1 IGMM_REQUIRE_BROWSER=$(IS_ROOT) $(BIN)/python -m pytest -q

test-slow: $(VENV)/.all
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m slow

bench: $(VENV)/.all
	$(BIN)/python benchmarks/run.py

# The full p x k grid of issue 4 (14,500 runs); minutes on 2 cores.
bench-sweep: $(VENV)/.all
	$(BIN)/python benchmarks/sweep_grid.py --workers 2

# The explorer's update rate at n = 30 and n = 1,000 in headless Chromium.
bench-explore: $(VENV)/.all browser
	$(BIN)/python benchmarks/explore_rate.py

clean:
	rm -rf $(VENV) results .pytest_cache
