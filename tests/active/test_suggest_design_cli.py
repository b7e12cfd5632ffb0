"""``metamat suggest`` and ``metamat design`` end to end through the real entry point, on built-in data
(the Ricci transport table ships in the matminer wheel); bad inputs exit 2 naming the field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

COLUMNS = ["rank", "selected", "prediction", "std", "lower90", "upper90", "acquisition", "p_goal", "excluded"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "metamat", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    from metamat.data.registry import load_dataset

    d = tmp_path_factory.mktemp("suggest")
    t = load_dataset("ricci_transport").for_target("S_p")
    df = t.data[["formula", "S_p"]].dropna()
    idx = np.random.default_rng(0).permutation(len(df))
    df.iloc[idx[:12]].to_csv(d / "measured.csv", index=False)
    pool = df.iloc[idx[12:52]][["formula"]].reset_index(drop=True)
    pool.loc[3, "formula"] = "Xx2O"  # an unreadable candidate stays listed, without a prediction
    pool.to_csv(d / "pool.csv", index=False)
    return d


@pytest.mark.slow
def test_suggest_runs_and_writes_ranked_candidates(files: Path) -> None:
    out = files / "next.csv"
    r = run("suggest", "--measured", str(files / "measured.csv"), "--candidates", str(files / "pool.csv"),
            "--target", "S_p", "--batch", "3", "--model", "gp", "--goal", "range:100..300",
            "--exclude-elements", "O", "-o", str(out))
    assert r.returncode == 0, r.stderr
    t = pd.read_csv(out, keep_default_na=False)
    assert list(t.columns) == ["formula", *COLUMNS]
    assert len(t) == 40 and t["rank"].tolist() == list(range(1, 41))
    sel = t[t["selected"].astype(str) == "True"]
    assert len(sel) == 3 and not sel["formula"].str.contains("O").any()
    assert (t.loc[t["formula"].str.contains("O") & (t["formula"] != "Xx2O"), "excluded"]
            .str.contains("excluded element").all())
    bad = t[t["formula"] == "Xx2O"].iloc[0]
    assert bad["rank"] == 40 and "unreadable formula" in bad["excluded"] and bad["prediction"] == ""
    num = t[t["prediction"] != ""]
    p, lo, hi = (num[c].astype(float) for c in ("p_goal", "lower90", "upper90"))
    assert ((p >= 0) & (p <= 1)).all() and (lo <= hi).all()
    # for a range goal the acquisition (EI/PI/UCB) is P(LO <= y <= HI)
    np.testing.assert_allclose(num["acquisition"].astype(float), p, rtol=1e-9)


@pytest.mark.parametrize("args,field", [
    (["--target", "nope"], "nope"),
    (["--target", "S_p", "--goal", "biggest"], "--goal"),
    (["--target", "S_p", "--acquisition", "xyz"], "--acquisition"),
    (["--target", "S_p", "--exclude-elements", "Qq"], "--exclude-elements"),
    (["--target", "S_p", "--batch", "0"], "--batch"),
    (["--target", "S_p", "--model", "missing_model"], "--model"),
    (["--target", "S_p", "-o", "MEASURED"], "--output"),
])
def test_suggest_bad_input_exits_2_naming_the_field(files: Path, args: list[str], field: str, monkeypatch,
                                                    capsys) -> None:
    """In-process through ``metamat.cli.main`` (the console entry point) to keep the test fast."""
    from metamat.cli import main

    out = files / "never.csv"
    before = (files / "measured.csv").read_text()
    args = [str(files / "measured.csv") if a == "MEASURED" else a for a in args]
    monkeypatch.setattr(sys, "argv", ["metamat", "suggest", "--measured", str(files / "measured.csv"),
                                      "--candidates", str(files / "pool.csv"), "-o", str(out), *args])
    with pytest.raises(SystemExit) as e:
        main()
    err = capsys.readouterr().err
    assert e.value.code == 2, err
    assert "Traceback" not in err and field in err
    assert not out.exists() and (files / "measured.csv").read_text() == before


@pytest.mark.slow
def test_design_enumerates_and_ranks_by_probability(files: Path) -> None:
    out = files / "designs.csv"
    r = run("design", "--measured", str(files / "measured.csv"), "--target", "S_p", "--goal", "range:100..300",
            "--elements", "Bi,Sb,Te", "--step", "0.1", "--model", "gp", "--top", "100", "-o", str(out))
    assert r.returncode == 0, r.stderr
    t = pd.read_csv(out)
    assert len(t) == 66  # C(10 + 2, 2) grid points of three elements at step 0.1
    x = t[["x_Bi", "x_Sb", "x_Te"]].to_numpy()
    np.testing.assert_allclose(x.sum(axis=1), 1.0)
    assert (np.diff(t["p_goal"].to_numpy()) <= 1e-12).all()
    r = run("design", "--measured", str(files / "measured.csv"), "--target", "S_p", "--goal", "max",
            "--elements", "Bi,Sb,Te", "--step", "0.3", "-o", str(out))
    assert r.returncode == 2 and "--step" in r.stderr
