"""`metamat fewshot --low-fidelity`: quantity matching from column names and units, a user's per-row DFT
column recovered exactly, the knowledge surrogate chosen for a band gap, and the bad-input paths."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from metamat.errors import InputError
from metamat.featurize.knowledge import predict_property
from metamat.fewshot import predict_fewshot
from metamat.fewshot_inputs import match_quantity, resolve_low_fidelity
from metamat.models.registry import make_model

FORMULAS = ["NaCl", "MgO", "ZnO", "GaN", "GaAs", "Si", "CdTe", "Ge", "AlP", "ZnS", "CaF2", "KBr"]
QUERY = ["InP", "AlN", "SiC", "LiF"]


@pytest.mark.parametrize("name,quantity", [
    ("band_gap_eV", "band gap"), ("Eg (eV)", "band gap"), ("gap_expt", "band gap"), ("Band gap", "band gap"),
    ("bulk modulus", "bulk modulus"), ("K_VRH (GPa)", "bulk modulus"), ("shear modulus [GPa]", "shear modulus"),
    ("formation energy (eV/atom)", "formation energy"), ("Debye temperature (K)", "Debye temperature"),
    ("hardness", None), ("Tc (K)", None), ("yield strength (MPa)", None),
    ("gap (meV)", None),  # a band gap, but not in the surrogates' unit
    ("bulk modulus (MPa)", None),
])
def test_quantity_is_matched_from_name_and_unit(name, quantity):
    what, surrogates, why = match_quantity(name)
    assert what == quantity and bool(surrogates) == (quantity is not None) and why
    if quantity == "band gap":
        assert surrogates == ("oqmd_band_gap", "aflow_band_gap")


def test_resolve_names_columns_and_unknown_values():
    src, note = resolve_low_fidelity("auto", "hardness (GPa)", ["formula", "hardness (GPa)"])
    assert src is None and "no known quantity" in note
    src, _ = resolve_low_fidelity("aflow_bulk_modulus", "B", ["formula", "B"])
    assert src.surrogates == ("aflow_bulk_modulus",)
    src, _ = resolve_low_fidelity("dft", "gap", ["formula", "gap", "dft"])
    assert src.column == "dft"
    with pytest.raises(InputError, match="--low-fidelity") as exc:
        resolve_low_fidelity("pbe_gap", "gap", ["formula", "gap"])
    assert "pbe_gap" in str(exc.value) and "oqmd_band_gap" in str(exc.value)
    with pytest.raises(InputError, match="cannot be the target"):
        resolve_low_fidelity("gap", "gap", ["formula", "gap"])


def small_auto():
    return make_model("auto", candidates=("median", "rf_median"), rf_trees=20)


def test_a_users_dft_column_offset_is_recovered_exactly():
    rng = np.random.default_rng(0)
    dft = rng.uniform(0.5, 6.0, len(FORMULAS))
    dq = np.array([1.3, 4.1, 2.2, 9.0])
    support = pd.DataFrame({"formula": FORMULAS, "gap": dft + 0.5, "dft": dft})
    query = pd.DataFrame({"formula": QUERY, "dft": dq})
    out = predict_fewshot(support, query, target="gap", model=small_auto(), low_fidelity="dft")
    info = out.attrs["fewshot"]
    assert info["model"] in ("lowfi", "delta")
    np.testing.assert_allclose(out["prediction"], dq + 0.5, atol=1e-9)
    assert "column 'dft'" in info["choice"]["low_fidelity_source"]


def test_text_in_the_query_low_fidelity_column_is_an_error_naming_the_row():
    rng = np.random.default_rng(0)
    dft = rng.uniform(0.5, 6.0, len(FORMULAS))
    support = pd.DataFrame({"formula": FORMULAS, "gap": dft + 0.5, "dft": dft})
    query = pd.DataFrame({"formula": QUERY, "dft": ["1.3", "", "n/a?", "9.0"]})  # empty = missing, allowed
    with pytest.raises(InputError) as err:
        predict_fewshot(support, query, target="gap", model=small_auto(), low_fidelity="dft")
    assert err.value.problems[0].row == 3 and "n/a?" in str(err.value) and "dft" in str(err.value)


def test_band_gap_column_gets_the_gap_surrogates_and_none_turns_them_off():
    gap = predict_property(FORMULAS, "oqmd_band_gap")[0]
    support = pd.DataFrame({"formula": FORMULAS, "Eg (eV)": np.maximum(gap, 0) + 0.25})
    query = pd.DataFrame({"formula": QUERY})
    out = predict_fewshot(support, query, model=small_auto())
    choice = out.attrs["fewshot"]["choice"]
    assert "OQMD band gap surrogate" in choice["low_fidelity_source"]
    assert "matched from column name 'Eg (eV)'" in choice["low_fidelity_source"]
    assert set(choice["table"]) >= {"lowfi", "delta", "delta_slope"}
    off = predict_fewshot(support, query, model=small_auto(), low_fidelity="none")
    assert set(off.attrs["fewshot"]["choice"]["table"]) == {"median", "rf_median"}
    hard = pd.DataFrame({"formula": FORMULAS, "hardness": np.arange(len(FORMULAS), dtype=float)})
    res = predict_fewshot(hard, query, model=small_auto())
    assert res.attrs["fewshot"]["choice"]["low_fidelity_source"] is None
    assert any("no known quantity" in n for n in res.attrs["fewshot"]["notes"])


def test_low_fidelity_conflicts_are_input_errors():
    support = pd.DataFrame({"formula": FORMULAS, "gap": np.linspace(0.5, 6, 12), "dft": np.linspace(0.4, 5, 12)})
    query = pd.DataFrame({"formula": QUERY, "dft": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(InputError, match="--low-fidelity does not combine with --baseline-column"):
        predict_fewshot(support, query, target="gap", model=small_auto(), low_fidelity="oqmd_band_gap",
                        baseline_column="dft")
    with pytest.raises(InputError, match="no column 'dft' in the query"):
        predict_fewshot(support, query.drop(columns="dft"), target="gap", model=small_auto(), low_fidelity="dft")


def test_cli_unknown_low_fidelity_exits_2_naming_the_flag(tmp_path):
    pd.DataFrame({"formula": FORMULAS, "gap": np.linspace(0.5, 6, 12)}).to_csv(tmp_path / "s.csv", index=False)
    pd.DataFrame({"formula": QUERY}).to_csv(tmp_path / "q.csv", index=False)
    r = subprocess.run([sys.executable, "-m", "metamat", "fewshot", "-s", str(tmp_path / "s.csv"), "-q",
                        str(tmp_path / "q.csv"), "-o", str(tmp_path / "o.csv"), "--low-fidelity", "pbe_gap"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    assert "--low-fidelity" in r.stderr + r.stdout and "Traceback" not in r.stderr
    assert not (tmp_path / "o.csv").exists()
