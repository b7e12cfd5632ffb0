"""The command-line tool end to end, through its real entry point (a subprocess)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metamat.featurize.pipeline import featurize_formulas


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "metamat", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


@pytest.mark.parametrize("command", [[], ["featurize"], ["data"], ["data", "list"], ["data", "show"], ["demo"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_featurize_keeps_rows_and_columns_in_order(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    pd.DataFrame({"sample": ["a", "b", "c", "d"], "Composition": ["LiCoO2", "Fe2O3", "Ca(OH)2", "LiCoO2"],
                  "kappa": [1.0, 2.0, 3.0, 4.0]}).to_csv(src, index=False)
    for name in ("out.csv", "out.parquet"):
        result = run("featurize", str(src), "-o", str(tmp_path / name), "--features", "magpie,ionic")
        assert result.returncode == 0, result.stderr
        assert "Composition" in result.stderr  # the guessed column is reported
        out = pd.read_csv(tmp_path / name) if name.endswith(".csv") else pd.read_parquet(tmp_path / name)
        assert list(out.columns[:3]) == ["sample", "Composition", "kappa"]
        assert out["sample"].tolist() == ["a", "b", "c", "d"]
        expected = featurize_formulas(["LiCoO2", "Fe2O3", "Ca(OH)2", "LiCoO2"], "magpie,ionic")
        assert list(out.columns[3:]) == expected.labels
        # CSV: 6 significant digits by default (--precision); parquet: exact
        rtol = 5e-6 if name.endswith(".csv") else 1e-12
        np.testing.assert_allclose(out[expected.labels].to_numpy(), expected.values, rtol=rtol)


def test_featurize_names_every_bad_row_and_exits_2(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    pd.DataFrame({"formula": ["NaCl", "Xx2", "KCl", "", "Ca(OH", "MgO"], "y": range(6)}).to_csv(src, index=False)
    result = run("featurize", str(src), "-o", str(tmp_path / "out.csv"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for row, why in [(2, "unknown element 'Xx'"), (4, "missing formula"), (5, "never closed")]:
        assert f"row {row}, field 'formula'" in result.stderr and why in result.stderr
    assert str(src) in result.stderr
    assert not (tmp_path / "out.csv").exists()

    result = run("featurize", str(src), "-o", str(tmp_path / "out.csv"), "--skip-invalid")
    assert result.returncode == 0, result.stderr
    out = pd.read_csv(tmp_path / "out.csv")
    assert out["formula"].tolist() == ["NaCl", "KCl", "MgO"]
    rejected = pd.read_csv(tmp_path / "out.rejected.csv")
    assert rejected["row"].tolist() == [2, 4, 5]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["featurize", "missing.csv", "-o", "o.csv"], "file not found"),
        (["featurize", "in.csv", "-o", "o.csv", "--formula-column", "nope"], "column 'nope' not found"),
        (["featurize", "in.csv", "-o", "o.txt"], "unknown output format"),
        (["featurize", "in.csv", "-o", "o.csv", "--features", "bogus"], "unknown featurizer 'bogus'"),
        (["data", "show", "no_such_dataset"], "no_such_dataset"),
    ],
)
def test_bad_input_gives_a_short_error_and_status_2(tmp_path: Path, args: list[str], message: str) -> None:
    pd.DataFrame({"formula": ["NaCl"], "y": [1.0]}).to_csv(tmp_path / "in.csv", index=False)
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_data_list_shows_the_registry_and_the_builtin_table() -> None:
    result = run("data", "list")
    assert result.returncode == 0, result.stderr
    assert "ricci_transport" in result.stdout and "matbench_steels" in result.stdout


@pytest.mark.slow  # over 5 s (measured with --durations)
def test_demo_runs_on_builtin_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METAMAT_DATA_DIR", raising=False)
    result = run("demo", "--n", "600")
    assert result.returncode == 0, result.stderr
    for word in ("dummy", "ridge", "rf", "MAE", "read", "auto (default) ->", "tree-median forest", "support median"):
        assert word in result.stdout


def test_featurize_knowledge_leaves_out_the_targets_quantity(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("formula,gap\nNaCl,8.5\nSi,1.1\n")
    result = run("featurize", str(src), "-o", str(tmp_path / "out.csv"), "--features", "composition+knowledge",
                 "--exclude-quantity", "band gap")
    assert result.returncode == 0, result.stderr
    out = pd.read_csv(tmp_path / "out.csv")
    knowledge = [c for c in out.columns if c.startswith("knowledge ")]
    assert knowledge and not any("band gap" in c for c in knowledge)
    assert "left out for leakage" in result.stderr and "oqmd_band_gap" in result.stderr
