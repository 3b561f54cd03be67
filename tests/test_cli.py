"""The `igmm run` command: files written, flags over YAML, clean errors."""

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from igmm.cli import app

runner = CliRunner()


def test_run_writes_the_output_contract(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", "--p", "0.4", "--k", "29", "--r", "5", "--T", "30",
                                 "--replicates", "3", "--seed", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("config.yaml", "metrics.parquet", "runs.parquet", "ids.npz", "ids.png", "silo_sizes.png",
                 "stability.png"):
        assert (out / name).is_file(), name
    ids = np.load(out / "ids.npz")["ids"]
    assert ids.shape == (3, 31, 30)
    metrics = pd.read_parquet(out / "metrics.parquet")
    assert {"replicate", "t", "n_silos", "stability", "largest_silo"} <= set(metrics.columns)
    assert len(metrics) == 3 * 31
    runs = pd.read_parquet(out / "runs.parquet")
    assert {"replicate", "seed", "spawn_key", "n_silos_final", "converged", "t_star"} <= set(runs.columns)
    np.testing.assert_array_equal(runs["n_silos_final"], [len(set(row)) for row in ids[:, -1]])
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["seed"] == 4 and config["T"] == 30 and config["p"] == 0.4


def test_flags_override_yaml_and_rerun_from_config_reproduces(tmp_path):
    (tmp_path / "c.yaml").write_text("p: 0.9\nT: 10\nk: 3\n")
    first = runner.invoke(app, ["run", "--config", str(tmp_path / "c.yaml"), "--p", "0.2", "--out", str(tmp_path / "a")])
    assert first.exit_code == 0, first.output
    written = yaml.safe_load((tmp_path / "a" / "config.yaml").read_text())
    assert written["p"] == 0.2 and written["k"] == 3 and written["T"] == 10
    again = runner.invoke(app, ["run", "--config", str(tmp_path / "a" / "config.yaml"), "--out", str(tmp_path / "b")])
    assert again.exit_code == 0, again.output
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "ids.npz")["ids"], np.load(tmp_path / "b" / "ids.npz")["ids"])


def test_bad_values_exit_2_with_one_line_each_and_no_traceback(tmp_path):
    result = runner.invoke(app, ["run", "--p", "1.5", "--k", "40", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "error: p: 1.5 is not allowed" in result.output


@pytest.mark.parametrize("flag", ["--network", "--initial", "--modifier", "--dynamics-option"])
def test_an_empty_flag_value_is_refused_not_read_as_the_default(tmp_path, flag):
    """``--network ''`` once ran the default k-nearest graph with exit 0 (found by the fuzz pass)."""
    out = tmp_path / "o"
    result = runner.invoke(app, ["run", "--T", "3", flag, "", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.output.startswith(f"error: {flag}: '' is not allowed")
    assert not out.exists()


def test_unknown_yaml_key_and_missing_file(tmp_path):
    (tmp_path / "c.yaml").write_text("p: 0.2\nbogus: 1\n")
    result = runner.invoke(app, ["run", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "bogus: unknown key" in result.output
    missing = runner.invoke(app, ["run", "--config", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_a_run_repeats_bit_for_bit_from_its_own_config_with_seed_and_replicates(tmp_path):
    first = runner.invoke(app, ["run", "--T", "25", "--k", "5", "--replicates", "4", "--seed", "17",
                                "--initial", "dirichlet:alpha=0.5", "--modifier", "stubborn:share=0.1",
                                "--out", str(tmp_path / "a")])
    assert first.exit_code == 0, first.output
    written = yaml.safe_load((tmp_path / "a" / "config.yaml").read_text())
    assert written["seed"] == 17 and written["replicates"] == 4
    again = runner.invoke(app, ["run", "--config", str(tmp_path / "a" / "config.yaml"), "--out", str(tmp_path / "b")])
    assert again.exit_code == 0, again.output
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "ids.npz")["ids"], np.load(tmp_path / "b" / "ids.npz")["ids"])
    provenance = __import__("json").loads((tmp_path / "a" / "provenance.json").read_text())
    assert provenance["seed"] == 17 and provenance["config"]["initial"] == {"kind": "dirichlet", "alpha": 0.5, "own": 0.0}
    assert {"version", "git", "command", "config_sha256", "python", "libraries", "started", "ended"} <= set(provenance)


def test_keys_a_run_does_not_use_are_refused_naming_the_file(tmp_path):
    (tmp_path / "sweep.yaml").write_text("base: {p: 0.2}\ngrid: {k: [1, 2]}\nreplicates: 3\n")
    result = runner.invoke(app, ["run", "--config", str(tmp_path / "sweep.yaml"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert f"{tmp_path / 'sweep.yaml'}: base: unknown key" in result.output
    assert not (tmp_path / "o").exists()


def test_output_folder_rules(tmp_path):
    out = tmp_path / "o"
    assert runner.invoke(app, ["run", "--T", "3", "--out", str(out)]).exit_code == 0
    (out / "weights.npz").write_text("stale")
    refused = runner.invoke(app, ["run", "--T", "4", "--out", str(out)])
    assert refused.exit_code == 2 and "--overwrite" in refused.output
    replaced = runner.invoke(app, ["run", "--T", "4", "--out", str(out), "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert not (out / "weights.npz").exists()  # no stale file beside the new run's
    assert np.load(out / "ids.npz")["ids"].shape[1] == 5
    (tmp_path / "file").write_text("x")
    as_file = runner.invoke(app, ["run", "--T", "3", "--out", str(tmp_path / "file")])
    assert as_file.exit_code == 2 and "is a file" in as_file.output


import pytest  # noqa: E402


@pytest.mark.parametrize("errno, reason", [(28, "No space left on device"), (13, "Permission denied"),
                                           (30, "Read-only file system")])
def test_a_failed_write_keeps_the_old_folder_and_exits_4(tmp_path, monkeypatch, errno, reason):
    out = tmp_path / "o"
    assert runner.invoke(app, ["run", "--T", "3", "--out", str(out)]).exit_code == 0
    before = sorted(path.name for path in out.iterdir())

    def failing(*args, **kwargs):
        raise OSError(errno, reason)

    monkeypatch.setattr("igmm.storage.write_yaml", failing)
    result = runner.invoke(app, ["run", "--T", "4", "--out", str(out), "--overwrite"])
    assert result.exit_code == 4 and reason in result.output and "Traceback" not in result.output
    assert sorted(path.name for path in out.iterdir()) == before
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]


def test_a_read_only_parent_is_refused_before_any_work(tmp_path):
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            import pytest

            pytest.skip("running as a user who can write anywhere (root ignores permissions)")
        result = runner.invoke(app, ["run", "--T", "3", "--out", str(locked / "o")])
        assert result.exit_code == 2 and "not writable" in result.output
    finally:
        locked.chmod(0o700)


def test_help_shows_the_defaults_and_version_works():
    help_text = runner.invoke(app, ["run", "--help"]).output
    for fragment in ("(default 30)", "(default 0.4)", "(default 5)", "(default 400)", "(default 0.2)", "(default 1)"):
        assert fragment in help_text, fragment
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.startswith("igmm 0.")


def test_example_pattern_draws_the_first_run_of_that_pattern(tmp_path):
    result = runner.invoke(app, ["run", "--T", "100", "--replicates", "30", "--seed", "3", "--example", "unstable",
                                 "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    runs = pd.read_parquet(tmp_path / "o" / "runs.parquet")
    chosen = __import__("json").loads((tmp_path / "o" / "provenance.json").read_text())["example_replicate"]
    unstable = runs.index[runs["pattern"] == "unstable"]
    assert (chosen == unstable[0]) if len(unstable) else chosen == 0
    assert "unstable:" in result.output and "95% interval" in result.output


@pytest.mark.parametrize("module, backend, install", [
    ("numba", "numba", "pip install 'interacting-gmm[numba]'"),
    ("torch", "torch", "pip install torch==2.13.0"),
])
def test_a_missing_extra_is_one_line_naming_its_install_command(tmp_path, module, backend, install):
    import subprocess
    import sys

    code = (f"import sys; sys.modules[{module!r}] = None\n"
            "from igmm.cli import main; sys.argv = ['igmm', 'run', '--T', '2', '--backend', "
            f"{backend!r}, '--out', {str(tmp_path / 'o')!r}]; main()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: backend") and install in lines[0], result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "o").exists()


def test_dynamics_options_from_flags(tmp_path):
    result = runner.invoke(app, ["run", "--dynamics", "deffuant", "--dynamics-option", "epsilon=0.3", "--T", "10",
                                 "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load((tmp_path / "o" / "config.yaml").read_text())["dynamics_options"]["epsilon"] == 0.3
    bad = runner.invoke(app, ["run", "--dynamics", "deffuant", "--dynamics-option", "epsilon=3", "--T", "10",
                              "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "dynamics_options.epsilon: 3.0 is not allowed" in bad.output
