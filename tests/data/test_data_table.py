"""MaterialTable, TargetSpec and RowReport."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Composition

from metamat.data.table import MaterialTable, RowReport, TargetSpec
from metamat.errors import InputError, Problem
from metamat.featurize.pipeline import featurize_table


def make_table(**extra) -> MaterialTable:
    data = pd.DataFrame({"id": ["a", "b", "c", "d"], "formula": ["LiCoO2", "Fe2O3", "NaCl", "SiO2"],
                         "gap": [2.7, 2.2, 8.5, 9.0], "sigma": [1e3, np.nan, 1e-2, 1e-5], **extra})
    targets = {"gap": TargetSpec("gap", "eV", quantity="band gap"),
               "sigma": TargetSpec("sigma", "S/m", "log10", "electrical conductivity")}
    return MaterialTable(data, targets, RowReport("t.csv", 4, 4), "t")


def test_targetspec_rejects_bad_transform_and_kind():
    with pytest.raises(ValueError, match="transform"):
        TargetSpec("y", transform="ln")
    with pytest.raises(ValueError, match="kind"):
        TargetSpec("y", kind="ordinal")
    with pytest.raises(ValueError, match="classification"):
        TargetSpec("y", transform="log10", kind="classification")


def test_log10_round_trip():
    spec = TargetSpec("s", transform="log10")
    x = np.array([1e-3, 1.0, 250.0])
    np.testing.assert_allclose(spec.forward(x), [-3, 0, np.log10(250)])
    np.testing.assert_allclose(spec.inverse(spec.forward(x)), x)


def test_table_accessors_and_transforms():
    t = make_table()
    assert len(t) == 4 and list(t.ids) == ["a", "b", "c", "d"]
    assert list(t.formulas) == ["LiCoO2", "Fe2O3", "NaCl", "SiO2"]
    assert "source" in t.data.columns and not t.has_structures
    with pytest.raises(ValueError, match="name one"):
        t.target()
    np.testing.assert_allclose(t.transformed_target("sigma"), [3, np.nan, -2, -5])
    np.testing.assert_allclose(t.inverse_transform("sigma", np.array([3.0, -2.0])), [1e3, 1e-2])
    np.testing.assert_allclose(t.transformed_target("gap"), t.target("gap"))


def test_describe_matches_numpy():
    d = make_table().describe("sigma")
    y = np.array([1e3, 1e-2, 1e-5])
    assert d["count"] == 3 and d["missing"] == 1 and d["unit"] == "S/m"
    assert d["mean"] == pytest.approx(y.mean()) and d["std"] == pytest.approx(y.std(ddof=1))
    assert d["50%"] == pytest.approx(np.median(y)) and d["min"] == 1e-5 and d["max"] == 1e3


def test_chemical_systems_match_pymatgen():
    t = make_table()
    expected = ["-".join(sorted(el.symbol for el in Composition(f).elements)) for f in t.formulas]
    assert list(t.chemical_systems()) == expected


def test_featurize_returns_one_row_per_material():
    fm = featurize_table(make_table(), "composition")
    assert fm.values.shape[0] == 4 and fm.valid.all() and len(fm.labels) == fm.values.shape[1]


def test_for_target_keeps_rows_with_values():
    sub = make_table().for_target("sigma")
    assert list(sub.targets) == ["sigma"] and list(sub.ids) == ["a", "c", "d"]
    assert "gap" not in sub.data.columns


def test_validation_duplicate_ids_names_rows():
    data = pd.DataFrame({"id": ["a", "b", "a"], "formula": ["Si", "Ge", "C"], "y": [1.0, 2.0, 3.0]})
    with pytest.raises(InputError) as err:
        MaterialTable(data, {"y": TargetSpec("y")}, RowReport("x", 3, 3))
    assert [p.row for p in err.value.problems] == [1, 3]
    assert all(p.reason == "duplicate id" for p in err.value.problems)


def test_validation_target_columns():
    data = pd.DataFrame({"id": ["a"], "formula": ["Si"], "y": ["1.0"], "k": [3]})
    with pytest.raises(InputError, match="not in the table"):
        MaterialTable(data, {"z": TargetSpec("z")}, RowReport("x", 1, 1))
    with pytest.raises(InputError, match="floats"):
        MaterialTable(data, {"y": TargetSpec("y")}, RowReport("x", 1, 1))
    t = MaterialTable(data, {"k": TargetSpec("k")}, RowReport("x", 1, 1))  # integers are cast to float
    assert t.data["k"].dtype == float


def test_row_report_counts_summary_and_json():
    rejected = [Problem("bad formula: unknown element 'Xx'", "f.csv", 3, "formula", "Xx2"),
                Problem("missing value: no value", "f.csv", 3, "y", None),
                Problem("missing value: no value", "f.csv", 7, "y", float("nan"))]
    flagged = [Problem("outlier: modified z-score 9.0 > 3.5", "f.csv", k, "y", 1e9) for k in (2, 4, 5, 8, 9, 11)]
    r = RowReport("f.csv", 12, 9, rejected, flagged, ["formula column guessed: 'f'"])
    assert r.n_rejected == 2
    assert r.reasons() == {"bad formula": 1, "missing value": 1}
    text = r.summary(max_rows=5)
    assert "read 12 rows, used 9, rejected 2" in text
    assert "outlier: 6 cells in 6 rows (rows 2, 4, 5, 8, 9, ...)" in text
    assert "formula column guessed" in text
    d = json.loads(json.dumps(r.to_dict()))
    assert d["n_rejected"] == 2 and d["rejected"][2]["value"] == "nan" and len(d["flagged"]) == 6
