"""The `igmm run` command: files written, flags over YAML, clean errors."""

import numpy as np
import pandas as pd
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


def test_unknown_yaml_key_and_missing_file(tmp_path):
    (tmp_path / "c.yaml").write_text("p: 0.2\nbogus: 1\n")
    result = runner.invoke(app, ["run", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "bogus: unknown key" in result.output
    missing = runner.invoke(app, ["run", "--config", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
