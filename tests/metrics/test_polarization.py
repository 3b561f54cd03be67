"""Polarization flag and hitting time against hand-made configurations."""

import numpy as np

from igmm.metrics import first_hitting_time, is_polarized, max_polarized_silos
from igmm.api import simulate


def test_closed_two_silo_configuration_is_polarized():
    ids = np.array([0, 0, 1, 1])
    closed = np.array([[1], [0], [3], [2]])
    leaky = np.array([[1], [2], [3], [2]])  # agent 1 hears agent 2 of the other silo
    assert is_polarized(ids, closed)
    assert not is_polarized(ids, leaky)
    assert not is_polarized(np.zeros(4, dtype=int), closed)  # one silo is consensus, not polarization


def test_padded_static_lists_ignore_padding():
    ids = np.array([0, 0, 1])
    assert is_polarized(ids, np.array([[1, -1], [0, -1], [-1, -1]]))


def test_first_hitting_time():
    flags = np.array([[False, False, True, True], [False, False, False, False]])
    np.testing.assert_array_equal(first_hitting_time(flags), [2, -1])


def test_polarized_runs_respect_the_silo_bound():
    result = simulate({"p": 0.0, "k": 4, "T": 80}, replicates=10, seed=7)
    polarized = result.runs["polarized_final"].to_numpy()
    assert polarized.any()
    assert result.runs.loc[polarized, "n_silos_final"].max() <= max_polarized_silos(30, 4)
    # A complete graph can never be polarized.
    complete = simulate({"p": 0.0, "k": 29, "T": 30}, replicates=3, seed=7)
    assert not complete.steps["polarized"].any()


def test_the_bound_is_not_claimed_for_static_networks(tmp_path):
    # On a static network floor(n/(k+1)) means nothing: summaries leave the bound empty there.
    import pandas as pd

    from igmm.pipeline.runner import run_sweep
    from igmm.pipeline.executors import SerialExecutor
    from igmm.pipeline.spec import make_spec
    from igmm.pipeline.summarize import summarize_runs
    from igmm.pipeline import store

    spec = make_spec({"base": {"n_agents": 12, "T": 30, "p": 0.0, "k": 3},
                      "grid": {"network": [None, {"kind": "ring", "degree": 2}]}, "replicates": 3, "seed": 1})
    run_sweep(spec, tmp_path, executor=SerialExecutor(), progress=False)
    summary = summarize_runs(store.read_runs(tmp_path, with_values=False), store.read_points(tmp_path))
    static = summary[summary["network"] == "ring"]
    dynamic = summary[summary["network"] == ""]
    assert static["polarization_bound"].isna().all() and pd.isna(static["bound_holds"]).all()
    assert (dynamic["polarization_bound"] == max_polarized_silos(12, 3)).all()
