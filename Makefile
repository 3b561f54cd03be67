# Two commands for a new machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH_PIN := torch==2.13.0

.PHONY: demo test test-slow bench bench-sweep install install-all clean

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

test: $(VENV)/.all
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

test-slow: $(VENV)/.all
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m slow

bench: $(VENV)/.all
	$(BIN)/python benchmarks/run.py

# The full p x k grid of issue 4 (14,500 runs); minutes on 2 cores.
bench-sweep: $(VENV)/.all
	$(BIN)/python benchmarks/sweep_grid.py --workers 2

clean:
	rm -rf $(VENV) results .pytest_cache
