"""The experiment registry: every experiment is declared, loads, and unknown names are refused."""

import pytest
from typer.testing import CliRunner

from igmm.cli import app
from igmm.experiments import UnknownExperiment, experiment_names, load_spec, top_level_names
from igmm.experiments.reads import STATISTICS
from igmm.metrics.patterns import PATTERN_NAMES

REQUIRED = {
    "unstable-silo", "stable-vs-unstable", "silos-vs-k", "p-k-grid", "bigger-rag", "consensus-vs-separation",
    "consensus-vs-separation-line", "consensus-vs-separation-circle", "consensus-vs-separation-simplex",
    "moving-variance", "llm-comparison",
}


def test_every_experiment_is_declared():
    assert REQUIRED <= set(experiment_names())


def test_all_runs_group_members_once():
    names = top_level_names()
    assert "consensus-vs-separation" in names
    assert "consensus-vs-separation-line" not in names
    assert set(names) | set(load_spec("consensus-vs-separation").members) == set(experiment_names())


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_spec_reads_refer_to_variant_keys_and_known_measures(name):
    spec = load_spec(name)
    keys = set(spec.variant_keys())
    for read in spec.reads:
        assert set(read.where) <= keys, f"{name}: read {read.where} uses a key that does not vary"
        stat, _, target = read.measure.partition(":")
        assert stat in STATISTICS or stat == "example" or (stat == "share" and target in PATTERN_NAMES)
        matching = [v for v in spec.variant_overrides() if all(abs(v[k] - x) < 1e-9 if isinstance(x, float) else v[k] == x
                                                             for k, x in read.where.items())]
        assert read.where == {} or matching, f"{name}: no variant matches read {read.where}"


def test_linspace_grid_expands_to_the_papers_values():
    line = load_spec("consensus-vs-separation-line").variant_overrides()
    deltas = [v["delta"] for v in line]
    assert len(deltas) == 23 and deltas[0] == 0.5 and deltas[-1] == 6.0 and 0.75 in deltas and 2.75 in deltas
    assert len(load_spec("p-k-grid").variant_overrides()) == 12


def test_quick_version_is_smaller():
    spec = load_spec("silos-vs-k")
    quick = spec.resolved(quick=True)
    assert quick.replicates < spec.replicates
    assert len(quick.variant_overrides()) < len(spec.variant_overrides())
    assert quick.base["T"] < spec.base["T"]


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(UnknownExperiment, match="valid names are: .*silos-vs-k.*all"):
        load_spec("silos-vs-j")
    result = CliRunner().invoke(app, ["reproduce", "silos-vs-j"])
    assert result.exit_code == 2
    assert "silos-vs-k" in result.output and "unstable-silo" in result.output


def test_cli_list_names_every_experiment():
    result = CliRunner().invoke(app, ["reproduce", "--list"])
    assert result.exit_code == 0
    for name in REQUIRED:
        assert name in result.output


def test_cli_runs_a_quick_experiment(tmp_path):
    result = CliRunner().invoke(app, ["reproduce", "moving-variance", "--quick", "--out", str(tmp_path / "mv"), "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "moving-variance:" in result.output
    assert (tmp_path / "mv" / "figure.pdf").exists() and (tmp_path / "mv" / "summary.md").exists()
    summary = (tmp_path / "mv" / "summary.md").read_text()
    assert "root seed 3" in summary and "quick (reduced, for tests): 2 replicate(s)" in summary
    # Running it again resumes: nothing is simulated twice, the folder stays one experiment's.
    again = CliRunner().invoke(app, ["reproduce", "moving-variance", "--quick", "--out", str(tmp_path / "mv"), "--seed", "3"])
    assert again.exit_code == 0, again.output
    assert (tmp_path / "mv" / "sweep.log").read_text().count("\tdone\t") == 1


def test_quick_results_go_to_their_own_folder():
    from igmm.experiments.runner import default_folder

    assert default_folder("silos-vs-k", quick=True).name == "silos-vs-k-quick"
    assert default_folder("silos-vs-k", quick=False).name == "silos-vs-k"


def test_an_experiment_resumes_after_a_kill_with_the_same_tables(tmp_path):
    """`igmm reproduce` runs on the one pipeline: kill it mid-sweep, run it again, get the uninterrupted tables."""
    import sys

    import pandas as pd

    from igmm.pipeline import store
    from pipeline.sweep_helpers import kill_after_tasks

    out = tmp_path / "killed"
    command = [sys.executable, "-m", "igmm", "reproduce", "p-k-grid", "--quick", "--serial", "--out", str(out)]
    finished_before = kill_after_tasks(command, out, 2)
    assert 2 <= finished_before < 12, "the kill came too late to test anything"
    resumed = CliRunner().invoke(app, ["reproduce", "p-k-grid", "--quick", "--serial", "--out", str(out)])
    assert resumed.exit_code == 0, resumed.output
    whole = CliRunner().invoke(app, ["reproduce", "p-k-grid", "--quick", "--serial", "--out", str(tmp_path / "whole")])
    assert whole.exit_code == 0, whole.output
    pd.testing.assert_frame_equal(store.read_runs(out), store.read_runs(tmp_path / "whole"))
    # Every task finished exactly once over both invocations (the kill may land between a task's journal line
    # and its log line, so the log can miss one "done"; it never holds more than one per task).
    assert len(store.read_journal(out)) == 12
    assert (out / "sweep.log").read_text().count("\tdone\t") <= 12


def test_texts_say_the_real_size_of_the_version_run():
    full, quick = load_spec("silos-vs-k").resolved(False), load_spec("silos-vs-k").resolved(True)
    assert "T = 80" in full.title and "S(80)" in full.ylabel and "50 replicates" in full.description
    assert "T = 60" in quick.title and "S(60)" in quick.ylabel and "8 replicates" in quick.description
