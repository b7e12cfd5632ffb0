"""`metamat bench ...` end to end through the real entry point (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "metamat", "bench", *args], capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.mark.parametrize("command", [[], ["fewshot"], ["cv"], ["matbench"]])
def test_help(command):
    result = run(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


@pytest.mark.slow  # over 5 s (measured with --durations)
def test_tiny_fewshot_run(tmp_path, shared_data_dir):
    out = tmp_path / "fs"
    result = run("fewshot", "--models", "rf,ridge", "--tasks", "matbench_steels,matbench_jdft2d", "--shots", "5",
                 "--episodes", "3", "--n-jobs", "1", "--rf-trees", "20", "--out", str(out))
    assert result.returncode == 0, result.stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["config"]["models"] == ["rf", "ridge"] and doc["config"]["episodes"] == 3
    assert set(doc["results"]) == {"matbench_steels", "matbench_jdft2d"}
    for task in doc["results"]:
        for model in ("rf", "ridge"):
            cell = doc["results"][task][model]["5"]
            assert cell["smae"]["n"] == 3 and cell["coverage90"]["n"] == 3
    assert doc["summary"]["rf"]["5"]["smae"]["n_tasks"] == 2
    assert (out / "fewshot_smae.png").stat().st_size > 0 and (out / "fewshot_coverage90.png").exists()
    assert "## matbench_steels" in (out / "summary.md").read_text()  # as the README promises
    assert "scale-free MAE" in result.stdout and "episodes x models" in result.stderr
    again = run("fewshot", "--models", "rf,ridge", "--tasks", "matbench_steels,matbench_jdft2d", "--shots", "5",
                "--episodes", "3", "--n-jobs", "1", "--rf-trees", "20", "--out", str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "again" / "results.json").read_text())["results"] == doc["results"]


@pytest.mark.parametrize(("args", "needle"), [
    (["fewshot", "--models", "rf,bogus", "--out", "X"], "--models"),
    (["fewshot", "--tasks", "no_such_task", "--out", "X"], "no_such_task"),
    (["fewshot", "--shots", "5,ten", "--out", "X"], "--shots"),
    (["matbench", "--task", "matbench_nothing"], "--task"),
])
def test_bad_options_exit_2_with_the_field(args, needle, tmp_path):
    args = [str(tmp_path / "o") if a == "X" else a for a in args]
    result = run(*args)
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr and "Traceback" not in result.stderr


def test_missing_data_dir_is_named(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "METAMAT_DATA_DIR"}
    result = run("fewshot", "--tasks", "matbench_steels", "--episodes", "1", "--out", str(tmp_path / "o"), env=env)
    assert result.returncode == 2 and "METAMAT_DATA_DIR" in result.stderr


@pytest.mark.slow  # over 5 s (measured with --durations)
def test_matbench_one_fold(tmp_path, shared_data_dir):
    from metamat.errors import DataSourceError
    from metamat.evaluate.matbench_runner import INSTALL_HINT, validation_path

    try:
        validation_path()
    except DataSourceError:
        pytest.skip(f"matbench package not installed ({INSTALL_HINT})")
    out = tmp_path / "mb"
    result = run("matbench", "--task", "matbench_steels", "--model", "rf", "--n-estimators", "20", "--folds", "0",
                 "--n-jobs", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["task"] == "matbench_steels" and doc["model"] == "rf" and len(doc["mae"]) == 1
    assert doc["mean_mae"] == pytest.approx(doc["mae"][0])
    assert (out / "matbench_steels.png").exists() and "RF-SCM/Magpie" in result.stdout


def lab_table(path: Path, n: int = 16) -> None:
    rng = np.random.default_rng(0)
    cations = ["Li", "Na", "K", "Mg", "Ca", "Sr", "Fe", "Co"]
    pd.DataFrame({"formula": [f"{cations[i % 8]}{1 + i // 8}O" for i in range(n)],
                  "hardness": rng.uniform(1, 10, n), "lab": [f"L{i % 3}" for i in range(n)]}).to_csv(path, index=False)


@pytest.mark.slow  # over 5 s (measured with --durations)
def test_cv_loo_of_the_mean_model(tmp_path):
    src = tmp_path / "lab.csv"
    lab_table(src)
    out = tmp_path / "cv"
    result = run("cv", "--data", str(src), "--target", "hardness", "--model", "dummy", "--cv", "loo", "--out", str(out))
    assert result.returncode == 0, result.stderr
    doc = json.loads((out / "results.json").read_text())
    n = doc["data"]["n"]
    assert n == 16 and doc["metrics"]["smae"] == pytest.approx(n / (n - 1))
    y = np.array([p["y"] for p in doc["predictions"]])
    assert np.allclose([p["pred"] for p in doc["predictions"]], (y.sum() - y) / (n - 1))
    assert (out / "cv_parity.png").exists() and (out / "predictions.csv").exists()


@pytest.mark.parametrize(("extra", "needle"), [
    (["--target", "nope"], "nope"),
    (["--target", "hardness", "--cv", "group", "--group-column", "plant"], "plant"),
    (["--target", "hardness", "--cv", "jackknife"], "--cv"),
    (["--target", "hardness", "--model", "xgb"], "--models"),
])
def test_cv_bad_input_exits_2_naming_the_field(tmp_path, extra, needle):
    src = tmp_path / "lab.csv"
    lab_table(src)
    result = run("cv", "--data", str(src), *extra, "--out", str(tmp_path / "o"))
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr and "Traceback" not in result.stderr


def test_cv_missing_file_is_named(tmp_path):
    missing = tmp_path / "absent.csv"
    result = run("cv", "--data", str(missing), "--target", "y", "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and str(missing) in result.stderr


def test_pretrained_meta_model_is_accepted_by_name() -> None:
    from metamat.evaluate.model_specs import check_models, model_specs

    assert check_models(["rf", "pretrained", "pretrained:some/path"]) == ["rf", "pretrained", "pretrained:some/path"]
    spec = model_specs(["pretrained"])[0]
    model = spec.build("regression", 0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 148))
    y = X[:, 0] * 2.0 + 1.0
    mean, std = model.fit(X[:8], y[:8]).predict(X[8:], return_std=True)
    assert mean.shape == (4,) and (std > 0).all()
