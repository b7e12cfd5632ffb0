"""``metamat screen`` end to end through the real entry point (one process, no Dask)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "metamat", "screen", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_screen_command_and_bad_input(tmp_path: Path) -> None:
    measured = tmp_path / "measured.csv"
    pd.DataFrame({"formula": ["LiF", "Li2O", "Li3N", "Li2S", "LiCl", "NaCl", "MgO"],
                  "gap": [13.6, 7.9, 1.1, 3.9, 9.4, 8.5, 7.8]}).to_csv(measured, index=False)
    out = tmp_path / "out"
    result = run("--elements", "Li,O,F", "--step", "0.25", "--filters", "charge", "--workers", "0", "-o", str(out),
                 "--measured", str(measured), "--target", "gap", "--top", "3")
    assert result.returncode == 0, result.stderr
    # grid at step 1/4 over Li, O, F, at least 2 elements: 3 pairs x (1:3, 1:1, 3:1) + 3 ternaries (2:1:1) = 12.
    # Charge-balanced by hand (Li +1; O -2, -1, +2; F -1): LiF, LiO (= Li2O2, O at -1), Li2OF (O at -1);
    # not: LiO3, Li3O, LiF3, Li3F, OF (O+2 F- leaves +1), OF3, O3F, LiOF2, LiO2F -> 3 kept, 9 removed
    assert "candidates: 12" in result.stdout
    assert "after charge filter: 3 (removed 9)" in result.stdout
    top = pd.read_csv(out / "top.csv")
    assert len(top) == 3 and top["prediction"].is_monotonic_decreasing
    bad = run("--elements", "Li,Qq", "--workers", "0", "-o", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "Qq" in bad.stderr and "Traceback" not in bad.stderr


def test_screen_user_constraints(tmp_path: Path) -> None:
    # grid at step 1/2 over Li, Fe, Pt, O with 2 elements: 6 pairs at 1:1. Excluding Pt leaves LiFe, LiO, FeO
    # (3 removed by the constraint); requiring O then leaves LiO and FeO.
    out = tmp_path / "out"
    result = run("--elements", "Li,Fe,Pt,O", "--step", "0.5", "--max-elements", "2", "--filters", "none",
                 "--exclude-elements", "Pt", "--require-elements", "O", "--workers", "0", "-o", str(out),
                 "--top", "10")
    assert result.returncode == 0, result.stderr
    assert "candidates: 6" in result.stdout
    assert "after constraints filter: 2 (removed 4)" in result.stdout
    assert "3: contains an excluded element (Pt)" in result.stdout and "1: lacks required element O" in result.stdout
    top = pd.read_csv(out / "top.csv")
    assert sorted(top["formula"]) == ["FeO", "LiO"]
