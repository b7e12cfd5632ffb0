"""``suggest`` and ``design`` take fewshot's input flags (--features, --baseline-column, --basis, --bounds), on
tiny hand-made tables whose answers follow by hand."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metamat.app.design import run_design
from metamat.app.suggest import run_suggest

FORMULAS = ["NaCl", "KCl", "MgO", "CaO", "Fe2O3", "Al2O3", "TiO2", "ZnS", "CuO", "NiO"]
ATOMS = np.array([2, 2, 2, 2, 5, 5, 3, 2, 2, 2])
CANDIDATES = ["LiF", "SrTiO3", "GaAs", "MnO2", "SiC"]
CAND_ATOMS = np.array([2, 5, 2, 3, 2])


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("inputs")
    dft = np.linspace(1.0, 10.0, len(FORMULAS))
    pd.DataFrame({"formula": FORMULAS, "Cp (J/mol/K)": 25.0 * ATOMS, "gap": dft + 3.0, "dft": dft,
                  "y": np.linspace(2.0, 48.0, len(FORMULAS))}).to_csv(d / "measured.csv", index=False)
    pd.DataFrame({"formula": CANDIDATES, "dft": [0.5, 2.0, 4.0, 6.0, 8.0]}).to_csv(d / "pool.csv", index=False)
    return d


def _suggest(files: Path, target: str, **kw):
    res = run_suggest(files / "measured.csv", files / "pool.csv", target, batch=2, **kw)
    return res.table.set_index("formula").loc[CANDIDATES], res


def test_features_flag_changes_what_the_surrogate_reads(files: Path) -> None:
    from metamat.featurize.pipeline import featurize_formulas

    width = {f: featurize_formulas(["NaCl"], f).values.shape[1] for f in ("composition", "knowledge")}
    _, plain = _suggest(files, "y", model="rf", basis="intensive")
    _, know = _suggest(files, "y", model="rf", basis="intensive", features="composition+knowledge")
    assert plain.spec == "composition" and plain.n_features == width["composition"]
    assert know.spec == "composition+knowledge"
    assert know.n_features == width["composition"] + width["knowledge"]
    assert "input features: composition+knowledge" in know.notes


def test_per_formula_unit_basis_is_learned_per_atom(files: Path) -> None:
    # Cp = 25 J/mol/K per atom exactly: per atom the support median is 25, so a candidate with n atoms per
    # formula unit is predicted 25 n (SrTiO3: 125). Per atom (basis overridden) the median of the raw values: 50.
    t, res = _suggest(files, "Cp (J/mol/K)", model="median")
    assert res.spec == "composition+physics" and any("per formula unit" in n for n in res.notes)
    np.testing.assert_allclose(t["prediction"].astype(float), 25.0 * CAND_ATOMS)
    t, res = _suggest(files, "Cp (J/mol/K)", model="median", basis="per-atom")
    np.testing.assert_allclose(t["prediction"].astype(float), np.median(25.0 * ATOMS))


def test_baseline_column_is_corrected_not_replaced(files: Path) -> None:
    # gap = dft + 3 exactly: the median of the residuals is 3, so each candidate gets its own dft + 3
    t, _ = _suggest(files, "gap", model="median", baseline_column="dft")
    np.testing.assert_allclose(t["prediction"].astype(float), [3.5, 5.0, 7.0, 9.0, 11.0])


def test_bounds_keep_every_prediction_and_interval_inside(files: Path) -> None:
    t, res = _suggest(files, "y", model="gp", basis="intensive", bounds="0,50")
    vals = t[["prediction", "lower90", "upper90"]].astype(float).to_numpy()
    assert (vals >= 0).all() and (vals <= 50).all()
    assert any("[0, 50]" in n for n in res.notes)
    t, _ = _suggest(files, "y", model="gp", basis="intensive", bounds="none")
    free = t[["lower90", "upper90"]].astype(float).to_numpy()
    assert (free < 0).any() or (free > 50).any()  # without the bounds the GP's intervals do leave [0, 50]


def test_design_takes_features_basis_and_bounds(files: Path) -> None:
    res, name = run_design(files / "measured.csv", "y", "Fe,O", goal="max", step=0.25, model="gp", basis="intensive",
                           bounds="0,50", features="composition+knowledge")
    assert name == "gp" and "input features: composition+knowledge" in res.notes
    vals = res.table[["prediction", "lower90", "upper90"]].to_numpy(float)
    assert len(vals) and (vals >= 0).all() and (vals <= 50).all()


@pytest.mark.parametrize("command,args,flag", [
    ("suggest", ["--features", "magpie"], "--features"),
    ("suggest", ["--basis", "per-mole"], "--basis"),
    ("suggest", ["--bounds", "5"], "--bounds"),
    ("suggest", ["--bounds", "10,20"], "--bounds"),  # measured values outside
    ("suggest", ["--baseline-column", "nope"], "--baseline-column"),
    ("suggest", ["--baseline-column", "y"], "--baseline-column"),  # the target itself
    ("suggest", ["--model", "default", "--features", "knowledge"], "--features"),
    ("design", ["--features", "magpie"], "--features"),
    ("design", ["--bounds", "a,b"], "--bounds"),
])
def test_bad_input_flags_exit_2_naming_the_flag(files: Path, command: str, args: list[str], flag: str,
                                                monkeypatch, capsys) -> None:
    from metamat.cli import main

    out = files / "never.csv"
    common = ["--measured", str(files / "measured.csv"), "--target", "y", "-o", str(out)]
    common += ["--candidates", str(files / "pool.csv")] if command == "suggest" else ["--goal", "max",
                                                                                      "--elements", "Fe,O"]
    monkeypatch.setattr(sys, "argv", ["metamat", command, *common, *args])
    with pytest.raises(SystemExit) as e:
        main()
    err = capsys.readouterr().err
    assert e.value.code == 2, err
    assert "Traceback" not in err and flag in err
    assert not out.exists()


def test_suggest_command_line_records_features_and_keeps_bounds(files: Path, monkeypatch, capsys) -> None:
    from metamat.cli import main

    out = files / "next.csv"
    monkeypatch.setattr(sys, "argv", ["metamat", "suggest", "--measured", str(files / "measured.csv"),
                                      "--candidates", str(files / "pool.csv"), "--target", "y", "--model", "gp",
                                      "--features", "composition+knowledge", "--basis", "intensive",
                                      "--bounds", "0,50", "--batch", "2", "-o", str(out)])
    try:
        main()
    except SystemExit as e:
        assert e.code in (0, None), capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "input features: composition+knowledge" in printed and "[0, 50]" in printed
    t = pd.read_csv(out)
    vals = t[["prediction", "lower90", "upper90"]].to_numpy(float)
    assert len(t) == len(CANDIDATES) and (vals >= 0).all() and (vals <= 50).all()
