"""Fuzzing the edges: configurations, sweep specs, command lines and transcript files.

Every generated input must end in one of two ways: refused with one line per
bad value naming it (exit 2 on the command line), or a valid run whose
outputs hold no NaN. Never a traceback, never a hang (each case runs under an
alarm), never a number computed from NaN.
"""

from __future__ import annotations

import math
import signal
from contextlib import contextmanager

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from igmm.api import simulate
from igmm.cli import app
from igmm.config import ConfigError, make_config
from igmm.pipeline.spec import make_spec

#: Seconds any one generated case may take (validation plus a tiny run).
CASE_SECONDS = 20


@contextmanager
def no_hang(seconds: float = CASE_SECONDS):
    def expire(signum, frame):
        raise AssertionError(f"hung for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


odd_floats = st.sampled_from([0.0, -0.0, 1e-320, 1e-170, 1e-12, 0.2, 1.0, 1.5, -1.0, 1e150, 1e308,
                              float("nan"), float("inf"), float("-inf")])
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 60), st.sampled_from([0, 1, 2, 10**12, -2**63]),
                    odd_floats, st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=8), st.sampled_from(["", "paper", "line", "ring", "farthest", "1e-3"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=8)
KEYS = ["n_agents", "n_components", "p", "k", "r", "T", "sigma", "delta", "geometry", "means", "covariances",
        "assignment", "eps", "dynamics", "rag_policy", "em_iterations", "network", "initial", "modifiers",
        "measures", "backend", "dynamics_options", "colour"]
configs = st.dictionaries(st.sampled_from(KEYS), values, max_size=5)


def _built_or_refused(build, values):
    """``build(values)``, or None when it is refused with one line per bad value (asserted)."""
    try:
        return build(values)
    except ConfigError as error:
        assert error.lines and all(line and "\n" not in line for line in error.lines)
        return None


def _small(config) -> bool:
    return config.n_agents * max(config.n_steps, 1) <= 3000 and config.resolved_n_components <= 200 \
        and config.rag_size <= 20 and config.em_iterations <= 5


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=configs)
def test_any_configuration_is_refused_clearly_or_runs_without_nan(values):
    with no_hang():
        config = _built_or_refused(make_config, values)
        if config is None or not _small(config):
            return
        result = simulate(config.model_copy(update={"backend": "numpy"}), replicates=2, seed=1)
    assert np.isfinite(result.ids).all() and result.ids.min() >= 0
    numeric = result.runs.select_dtypes("number")
    assert not numeric.drop(columns=["mean_stability", "min_stability"], errors="ignore").isna().any().any()


spec_values = st.fixed_dictionaries({}, optional={
    "base": st.one_of(configs, values), "grid": st.dictionaries(st.sampled_from(KEYS[:8]), st.lists(scalars, max_size=3),
                                                                max_size=2),
    "zip": values, "replicates": scalars, "seed": scalars, "chunk_size": scalars, "save_ids": scalars,
    "task_timeout": scalars, "junk": scalars})


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=spec_values)
def test_any_sweep_spec_is_refused_clearly_or_valid(values):
    with no_hang():
        spec = _built_or_refused(make_spec, values)
    if spec is None:
        return
    assert spec.replicates >= 1 and spec.n_points() >= 1


FLAGS = ["--p", "--k", "--r", "--T", "--sigma", "--delta", "--n-agents", "--n-components", "--geometry", "--dynamics",
         "--network", "--initial", "--modifier", "--backend", "--replicates", "--seed", "--rag-policy"]
flag_values = st.one_of(st.sampled_from(["0", "-1", "1e-320", "nan", "inf", "true", "", ":", "ring:", "ring:degree",
                                         "ring:degree=2,degree=2", "stubborn:share=2", "dirichlet:alpha=-1",
                                         "x" * 300, "3", "0.5", "29", "paper", "numba"]),
                        st.text(max_size=10))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(arguments=st.lists(st.tuples(st.sampled_from(FLAGS), flag_values), max_size=4))
def test_any_command_line_exits_0_or_2_without_a_traceback(tmp_path_factory, arguments):
    out = tmp_path_factory.mktemp("fuzz") / "out"
    command = ["run", "--T", "5", "--n-agents", "6", "--out", str(out)]
    for flag, value in arguments:
        command += [flag, value]
    with no_hang():
        result = CliRunner().invoke(app, command)
    assert result.exit_code in (0, 2), (command, result.output, result.exception)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if result.exit_code == 2:
        assert not out.exists()
        assert all(line.startswith(("error:", "Error:", "Usage:", "Try")) or not line.strip()
                   for line in result.output.splitlines() if "warning" not in line)


cells = st.one_of(st.sampled_from(["['The prettiest flower is the rose.']", "[]", "['a', 1]", "[" * 200,
                                   "__import__('os')", "'unterminated", "['" + "x" * 5000 + "']", "None", "{}"]),
                  st.text(max_size=30))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(cells, min_size=0, max_size=4), max_size=4), name=st.sampled_from(
    ["output2_5_0.csv", "output2_5_0_2nd.csv", "output99999999999999999999_5_0.csv", "output2_5_0.csv.bak",
     "output2.0_5_0.csv"]), raw=st.binary(max_size=64))
def test_any_transcript_folder_is_read_or_reported_never_crashes(tmp_path_factory, rows, name, raw):
    import csv

    from igmm.llm.targets import load_target

    folder = tmp_path_factory.mktemp("transcripts")
    with open(folder / name, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["", "0", "1", "2"])
        for step, row in enumerate(rows):
            writer.writerow([step, *row])
    (folder / "output2_5_1.csv").write_bytes(raw)
    (folder / "RAGs.npz").write_bytes(raw)
    with no_hang():
        target = load_target(folder, format="transcripts")
    for problem in target.problems:
        assert problem.file and "__import__" not in str(problem)
    for run in target.runs:
        assert run.ids.min() >= 0


def test_fuzz_strategies_reach_both_outcomes():
    """Both outcomes the fuzz tests allow exist: a valid configuration is built, a NaN one refused (fixed inputs)."""
    valid = make_config({"p": 0.3, "k": 4, "T": 5})
    assert valid.p == 0.3
    with pytest.raises(ConfigError):
        make_config({"p": math.nan})
