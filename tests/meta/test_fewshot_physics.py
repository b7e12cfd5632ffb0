"""`metamat fewshot` defaults to `auto`; --baseline-column, --basis, --bounds and --features, checked against
hand computations and physical laws (Dulong-Petit), and every bad-input path of the new flags."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
import torch

from metamat.errors import InputError
from metamat.fewshot import fewshot_model_spec, predict_fewshot, run_fewshot
from metamat.fewshot_inputs import parse_bounds, target_basis
from metamat.models.registry import make_model

torch.set_num_threads(1)
R = 8.314462618  # J/(mol K)

# formula -> atoms per formula unit, counted by hand
SUPPORT_N = {"NaCl": 2, "Al2O3": 5, "SiO2": 3, "Li2O": 3, "MgAl2O4": 7, "Cu": 1, "KCl": 2, "ZrSiO4": 6,
             "Y3Al5O12": 20, "TiO2": 3, "CaF2": 3, "ZnO": 2}
QUERY_N = {"Bi2Te3": 5, "La2CuO4": 7, "Mg2SiO4": 7, "CsPbBr3": 5, "Na3AlF6": 10, "W": 1, "GaN": 2, "Fe3O4": 7}


def small_auto():
    """``auto`` over three cheap candidates (the choice rule is the same as the default's)."""
    return make_model("auto", candidates=("median", "ridge", "rf"), rf_trees=30)


@pytest.mark.parametrize("name,basis", [
    ("Cp (J/mol/K)", "per_formula_unit"),
    ("Cp (J mol-1 K-1)", "per_formula_unit"),
    ("molar heat capacity", "per_formula_unit"),
    ("E (eV/f.u.)", "per_formula_unit"),
    ("enthalpy (kJ/mol)", "per_formula_unit"),
    ("heat capacity [J/g/K]", "per_mass"),
    ("cp J/kg/K", "per_mass"),
    ("c_p (J kg-1 K-1)", "per_mass"),
    ("specific heat", "per_mass"),
    ("formation energy (eV/atom)", "per_atom"),
    ("E_form_per_atom", "per_atom"),
    ("band gap (eV)", "intensive"),
    ("Tc", "intensive"),
    ("density (g/cm3)", "intensive"),
    ("thermal conductivity (W/m/K)", "intensive"),
])
def test_basis_is_guessed_from_name_and_unit(name, basis):
    b = target_basis(name)
    assert b.basis == basis and b.guessed and b.reason


def test_basis_given_by_the_user_and_bad_values():
    b = target_basis("Cp (J/mol/K)", "per-mass")
    assert b.basis == "per_mass" and not b.guessed
    with pytest.raises(InputError, match="--basis"):
        target_basis("y", "per-litre")


def test_bounds_parsing():
    assert parse_bounds("0,") == (0.0, None)
    assert parse_bounds("0,1") == (0.0, 1.0)
    assert parse_bounds(",5") == (None, 5.0)
    assert parse_bounds("none") is None
    assert parse_bounds(None) == (None, None)
    for bad in ("1,0", "a,b", "3"):
        with pytest.raises(InputError, match="--bounds"):
            parse_bounds(bad)


def test_model_dispatch_auto_for_compositions_and_structures():
    assert fewshot_model_spec(None) == "auto"
    assert fewshot_model_spec("default") == "default"


def _frames(target, baseline=None, query_baseline=None):
    sup = pd.DataFrame({"formula": list(SUPPORT_N), "y": target})
    q = pd.DataFrame({"formula": list(QUERY_N)})
    if baseline is not None:
        sup["dft"] = baseline
        q["dft"] = query_baseline
    return sup, q


def test_residual_learning_recovers_baseline_plus_constant():
    rng = np.random.default_rng(0)
    b, bq = rng.uniform(-3, 8, len(SUPPORT_N)), rng.uniform(-3, 8, len(QUERY_N))
    sup, q = _frames(b + 7.0, b, bq)
    pred = predict_fewshot(sup, q, target="y", model=small_auto(), baseline_column="dft", basis="per-atom")
    np.testing.assert_allclose(pred["prediction"], bq + 7.0, atol=1e-6)
    np.testing.assert_allclose(pred["lower90"], bq + 7.0, atol=1e-6)  # every CV residual is 0
    assert pred.attrs["fewshot"]["loo_mae"] < 1e-6


def test_dulong_petit_is_learned_exactly_per_formula_unit_and_not_without():
    n_s, n_q = np.array(list(SUPPORT_N.values())), np.array(list(QUERY_N.values()))
    sup, q = _frames(3 * n_s * R)
    law = 3 * n_q * R
    with_basis = predict_fewshot(sup, q, target="y", model=small_auto(), basis="per-formula-unit")
    without = predict_fewshot(sup, q, target="y", model=small_auto(), basis="intensive")
    err_with = np.abs(with_basis["prediction"] - law).mean()
    err_without = np.abs(without["prediction"] - law).mean()
    assert err_with < 1e-6 * law.mean()
    assert err_without > 10.0  # J/mol/K: fractions alone cannot tell Y3Al5O12 (20 atoms) from Al2O3 (5)
    assert "per formula unit" in " ".join(with_basis.attrs["fewshot"]["notes"])


def test_a_given_model_learns_per_atom_from_composition_only_and_is_scaled_back():
    """A model other than ``auto`` reads the composition features only: the per-formula-unit target is divided
    by the hand-counted atoms per formula unit, fitted, and its predictions multiplied back."""
    from metamat.featurize.pipeline import featurize_formulas

    n_s, n_q = np.array(list(SUPPORT_N.values())), np.array(list(QUERY_N.values()))
    per_atom = np.linspace(20.0, 31.0, len(n_s))  # J/mol/K per atom, not constant
    sup, q = _frames(per_atom * n_s)
    pred = predict_fewshot(sup, q, target="y", model=make_model("ridge"),
                           basis="per-formula-unit", bounds="none")
    ref = make_model("ridge").fit(featurize_formulas(list(SUPPORT_N), "composition").values, per_atom)
    expected = ref.predict(featurize_formulas(list(QUERY_N), "composition").values) * n_q
    np.testing.assert_allclose(pred["prediction"], expected, rtol=1e-9)


def test_dulong_petit_per_mass_matches_the_law_with_molar_masses_from_pymatgen():
    from pymatgen.core import Composition

    def per_gram(formulas):
        return np.array([3 * R * Composition(f).num_atoms / Composition(f).weight for f in formulas])

    sup, q = _frames(per_gram(SUPPORT_N))
    sup = sup.rename(columns={"y": "c_p (J/g/K)"})
    pred = predict_fewshot(sup, q, model=small_auto())  # basis guessed from the unit: per mass
    np.testing.assert_allclose(pred["prediction"], per_gram(QUERY_N), rtol=1e-6)
    assert any("per mass" in n for n in pred.attrs["fewshot"]["notes"])


def test_missing_baseline_values_name_file_row_and_column(tmp_path):
    b = np.arange(12.0)
    sup, q = _frames(b + 1.0, b, np.arange(8.0))
    sup.loc[3, "dft"] = np.nan
    sup.to_csv(tmp_path / "sup.csv", index=False)
    q.to_csv(tmp_path / "q.csv", index=False)
    with pytest.raises(InputError, match=r"sup\.csv.*row 4.*dft.*missing or non-numeric baseline"):
        run_fewshot(tmp_path / "sup.csv", tmp_path / "q.csv", target="y", baseline_column="dft", plot=False,
                    model=small_auto())
    sup.loc[3, "dft"] = 3.0
    sup.to_csv(tmp_path / "sup.csv", index=False)
    q["dft"] = q["dft"].astype(object)
    q.loc[5, "dft"] = "n/a"
    q.to_csv(tmp_path / "q.csv", index=False)
    with pytest.raises(InputError, match=r"q\.csv.*row 6.*dft"):
        run_fewshot(tmp_path / "sup.csv", tmp_path / "q.csv", target="y", baseline_column="dft", plot=False,
                    model=small_auto())
    with pytest.raises(InputError, match="--baseline-column"):
        run_fewshot(tmp_path / "sup.csv", tmp_path / "q.csv", target="y", baseline_column="nope", plot=False)


def test_positive_targets_are_clipped_at_zero_unless_turned_off():
    from metamat.data.compositions import parse_formulas

    x_o = parse_formulas(list(SUPPORT_N)).compositions.dense_fractions()[:, 7]  # oxygen fraction (Z = 8)
    sup, q = _frames(10.0 - 12.0 * x_o)  # 2 ... 10 on the support; O2 (x_O = 1) would be -2 on this line
    q = pd.DataFrame({"formula": ["O2", "OsO4", "N2O5", "NaCl"]})
    ridge = make_model("auto", candidates=("ridge",), fallback=("ridge",))
    free = predict_fewshot(sup, q, target="y", model=ridge, basis="intensive", bounds="none")
    clipped = predict_fewshot(sup, q, target="y", model=make_model("auto", candidates=("ridge",),
                                                                   fallback=("ridge",)), basis="intensive")
    assert (free["lower90"] < 0).any()
    assert (clipped[["prediction", "lower90", "upper90"]] >= 0).all().all()
    np.testing.assert_allclose(clipped["lower90"], np.maximum(free["lower90"], 0.0), atol=1e-9)
    with pytest.raises(InputError, match="outside the bounds"):
        predict_fewshot(sup, q, target="y", model=small_auto(), bounds="0,5")


@pytest.mark.slow
def test_default_is_auto_with_its_choice_printed_and_knowledge_needs_auto(tmp_path):
    rng = np.random.default_rng(1)
    n_s = np.array(list(SUPPORT_N.values()), float)
    sup, q = _frames(np.log(n_s) + 0.1 * rng.normal(size=len(n_s)))
    sup.to_csv(tmp_path / "sup.csv", index=False)
    q.to_csv(tmp_path / "q.csv", index=False)
    res = run_fewshot(tmp_path / "sup.csv", tmp_path / "q.csv", target="y", plot=False, bounds="none")
    assert res.choice is not None and res.choice["chosen"] in res.choice["table"]
    text = res.summary()
    assert f"auto chose {res.choice['chosen']}" in text and "CV MAE" in text
    assert "pretrained" in res.choice["table"] or "pretrained" in res.choice["dropped"]
    with pytest.raises(InputError, match="--features"):
        run_fewshot(tmp_path / "sup.csv", tmp_path / "q.csv", target="y", plot=False, model="default",
                    features="knowledge")
    with pytest.raises(InputError, match="--features"):
        run_fewshot(tmp_path / "sup.csv", tmp_path / "q.csv", target="y", plot=False, features="magic")


def test_knowledge_features_reach_every_candidate_and_the_meta_learner_its_block():
    rng = np.random.default_rng(2)
    sup, q = _frames(rng.normal(size=len(SUPPORT_N)))
    auto = make_model("auto", candidates=("pretrained", "median", "ridge"), meta_prefix=True)
    pred = predict_fewshot(sup, q, target="y", model=auto, features="composition+knowledge", bounds="none")
    assert pred["prediction"].notna().all()
    assert auto.n_features_in_ == 148 + 14 and "pretrained" in auto.choice_["table"]


def _cli_args(tmp_path) -> tuple[list[str], object]:
    """``metamat fewshot`` arguments on a written support (y = baseline + 2.5) and query table, and the output."""
    b = np.arange(12.0)
    sup, q = _frames(b + 2.5, b, np.arange(8.0))
    sup.to_csv(tmp_path / "sup.csv", index=False)
    q.to_csv(tmp_path / "q.csv", index=False)
    out = tmp_path / "out.csv"
    return ["metamat", "fewshot", "-s", str(tmp_path / "sup.csv"), "-q", str(tmp_path / "q.csv"), "-o", str(out),
            "--target", "y"], out


def test_cli_flags(tmp_path, monkeypatch, capsys):
    from metamat.cli import main

    base, out = _cli_args(tmp_path)
    monkeypatch.setattr(sys, "argv", base + ["--bounds", "3,1"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2 and "--bounds" in capsys.readouterr().err
    monkeypatch.setattr(sys, "argv", base + ["--basis", "per-gallon"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2 and "--basis" in capsys.readouterr().err
    assert not out.exists()


def test_cli_default_auto_with_baseline(tmp_path, monkeypatch, capsys):
    from metamat.cli import main

    base, out = _cli_args(tmp_path)
    monkeypatch.setattr(sys, "argv", base + ["--baseline-column", "dft"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code in (0, None)
    printed = capsys.readouterr().out
    assert "auto chose rf_median" in printed and "after subtracting 'dft'" in printed
    np.testing.assert_allclose(pd.read_csv(out)["prediction"], np.arange(8.0) + 2.5, atol=1e-5)


def test_structure_flags_are_refused_with_a_structure_column(tmp_path):
    sup, q = _frames(np.arange(12.0))
    with pytest.raises(InputError, match="--features"):
        predict_fewshot(sup, q, target="y", structure_column="cif", features="composition+knowledge")



def test_given_bounds_are_learned_in_logit_space_and_never_crossed():
    n_s = np.array(list(SUPPORT_N.values()), float)
    sup, _ = _frames(10.0 * n_s / (n_s + 1.0))  # a fraction-like target strictly inside (0, 10)
    q = pd.DataFrame({"formula": ["U", "Xe", "CsF", "H2", "C60", "Bi2Te3"]})
    ridge = make_model("auto", candidates=("ridge", "median"))
    pred = predict_fewshot(sup, q, target="y", model=ridge, bounds="0,10", basis="intensive")
    values = pred[["prediction", "lower90", "upper90"]].to_numpy()
    assert ((values > 0) & (values < 10)).all()
    assert (pred["lower90"] <= pred["prediction"]).all() and (pred["prediction"] <= pred["upper90"]).all()
    assert pred.attrs["fewshot"]["choice"]["cv_mae_space"].startswith("logit of the target")
