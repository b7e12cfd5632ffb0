"""The Python API that reads like the CLI (issue 17): metamat.predict_fewshot, featurizers on DataFrames and
pymatgen objects, a FeatureMatrix where an array is expected, lazy top-level exports."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Composition, Lattice, Structure

import metamat
from metamat.featurize.pipeline import featurize_formulas

SUPPORT = pd.DataFrame({"formula": ["LiCoO2", "Fe2O3", "NaCl", "MgO", "Al2O3", "SiO2", "TiO2", "ZnO"],
                        "HV": [5.0, 9.5, 0.2, 6.5, 20.0, 11.0, 10.0, 4.0]})
QUERY = pd.DataFrame({"name": ["a", "b", "bad"], "formula": ["CaO", "Cr2O3", "Xx2"]})


def test_top_level_import_is_lazy() -> None:
    code = "import sys, metamat; print('metamat.fewshot' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
    assert metamat.predict_fewshot.__module__ == "metamat.fewshot"
    with pytest.raises(AttributeError):
        metamat.no_such_thing  # noqa: B018


def test_feature_matrix_works_as_an_array_and_in_fit() -> None:
    fm = featurize_formulas(SUPPORT["formula"].tolist())
    assert np.asarray(fm) is fm.values and fm.shape == fm.values.shape and len(fm) == 8
    # the natural guess from the issue: load_default().fit(featurize_formulas(...), y)
    model = metamat.load_default().fit(fm, SUPPORT["HV"].to_numpy())
    ref = metamat.load_default().fit(fm.values, SUPPORT["HV"].to_numpy())
    cao = featurize_formulas(["CaO"])
    np.testing.assert_allclose(model.predict(cao), ref.predict(cao.values))


def test_featurizers_accept_frames_series_and_pymatgen_objects() -> None:
    ref = featurize_formulas(["Fe2O3", "NaCl"]).values
    rocksalt = Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])  # 1 Na : 1 Cl
    for materials in (pd.DataFrame({"id": [1, 2], "composition": ["Fe2O3", "NaCl"]}),
                      pd.Series(["Fe2O3", "NaCl"]), np.array(["Fe2O3", "NaCl"]),
                      [Composition("Fe4O6"), rocksalt]):
        np.testing.assert_allclose(featurize_formulas(materials).values, ref, equal_nan=True)
    np.testing.assert_allclose(featurize_formulas("NaCl").values, ref[1:], equal_nan=True)


def test_predict_fewshot_equals_the_model_protocol_by_hand() -> None:
    out = metamat.predict_fewshot(SUPPORT, QUERY, target="HV", model="default")  # the shipped meta-learner
    assert list(out.columns) == ["name", "formula", "prediction", "std", "lower90", "upper90", "in_domain",
                                 "support_distance"]
    assert np.isnan(out.loc[2, "prediction"])  # an unparseable query formula gets no prediction
    # reference: the shipped model fitted on the support features by hand, through the model protocol
    model = metamat.load_default().fit(featurize_formulas(SUPPORT["formula"].tolist()), SUPPORT["HV"].to_numpy())
    mean, std, lo, hi = model.predict_dist(featurize_formulas(["CaO", "Cr2O3"]), level=0.9)
    np.testing.assert_allclose(out.loc[:1, "prediction"], mean, rtol=1e-6)
    np.testing.assert_allclose(out.loc[:1, "lower90"], np.maximum(lo, 0.0), rtol=1e-6)  # hardness >= 0: clipped
    np.testing.assert_allclose(out.loc[:1, "upper90"], hi, rtol=1e-6)
    assert out.attrs["fewshot"]["n_support"] == 8


def test_predict_fewshot_reads_files_like_the_command(tmp_path) -> None:
    SUPPORT.to_csv(tmp_path / "s.csv", index=False)
    QUERY.to_csv(tmp_path / "q.csv", sep=";", index=False)
    from_files = metamat.predict_fewshot(tmp_path / "s.csv", tmp_path / "q.csv", target="HV")
    res = metamat.run_fewshot(tmp_path / "s.csv", tmp_path / "q.csv", target="HV", plot=False,
                              output=tmp_path / "out.csv", precision=None)
    written = pd.read_csv(tmp_path / "out.csv")
    np.testing.assert_allclose(from_files["prediction"], res.predictions["prediction"], equal_nan=True)
    np.testing.assert_allclose(written["prediction"], res.predictions["prediction"], rtol=1e-15, equal_nan=True)
