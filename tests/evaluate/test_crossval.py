"""Cross-validation: closed-form leave-one-out of the mean model, split schemes, files and plots."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from metamat.errors import InputError
from metamat.evaluate import crossval as C
from metamat.evaluate.model_specs import ModelSpec
from metamat.tasks.task import Task

CATIONS = ["Li", "Na", "K", "Mg", "Ca", "Sr", "Ba", "Fe", "Co", "Ni", "Cu", "Zn"]


def small_task(n: int = 12, transform: str = "identity", groups: np.ndarray | None = None) -> Task:
    rng = np.random.default_rng(0)
    formulas = np.array([f"{CATIONS[i % len(CATIONS)]}{1 + i // len(CATIONS)}O" for i in range(n)], dtype=object)
    y = rng.uniform(1.0, 9.0, n)
    return Task(name="small", X=rng.normal(size=(n, 4)), y=y, formulas=formulas, units="K", transform=transform,
                groups=groups)


def test_loo_of_the_mean_model_has_a_closed_form():
    task = small_task()
    res = C.cross_validate(task, "dummy", "loo")
    y, n = task.y, len(task.y)
    expected = (y.sum() - y) / (n - 1)  # prediction for row i = mean of the other rows
    assert np.allclose(res["predictions"]["pred"], expected)
    assert res["n_folds"] == n
    # |y_i - mean_others| = n/(n-1) |y_i - mean|, so the LOO MAE is n/(n-1) times the MAD
    assert res["metrics"]["mae"] == pytest.approx(n / (n - 1) * task.mad)
    assert res["metrics"]["smae"] == pytest.approx(n / (n - 1))
    assert res["ci"]["mae"]["mean"] == pytest.approx(res["metrics"]["mae"])
    assert res["ci"]["mae"]["ci_low"] < res["metrics"]["mae"] < res["ci"]["mae"]["ci_high"]
    # the dummy std is the std of the other rows; 90% interval = pred +/- 1.645 std
    others_std = np.array([np.delete(y, i).std() for i in range(n)])
    assert np.allclose(res["predictions"]["pi90_high"] - expected, 1.6448536 * others_std, rtol=1e-6)


def test_loo_of_the_mean_model_on_log10_targets_is_the_geometric_mean():
    task = small_task(transform="log10")
    res = C.cross_validate(task, "dummy", "loo")
    logs = np.log10(task.y)
    expected = 10 ** ((logs.sum() - logs) / (len(logs) - 1))
    assert np.allclose(res["predictions"]["pred"], expected)
    assert res["metrics"]["smae"] == pytest.approx(len(logs) / (len(logs) - 1))  # in log10 space


@pytest.mark.parametrize("scheme", ["loo", "kfold", "group"])
def test_every_row_is_tested_once(scheme):
    groups = np.array(list("aabbccddeeff"))
    splits = C.cv_splits(12, scheme, n_splits=4, groups=groups, seed=1)
    tested = np.concatenate([te for _, te in splits])
    assert sorted(tested) == list(range(12))
    for train, test in splits:
        assert not set(train) & set(test) and len(train) + len(test) == 12
        if scheme == "group":
            assert not set(groups[train]) & set(groups[test])
    assert len(splits) == {"loo": 12, "kfold": 4, "group": 4}[scheme]


def test_group_cv_defaults_to_chemical_systems():
    task = small_task(n=24)  # formulas repeat each cation twice: Li1O and Li2O share the system Li-O
    res = C.cross_validate(task, "dummy", "group", n_splits=3)
    assert res["group_source"] == "chemical_system" and res["n_groups"] == 12
    systems = task.chemical_systems
    fold = res["predictions"]["fold"]
    for s in set(systems):
        assert len(set(fold[systems == s])) == 1
    assert res["fold_summary"]["mae"]["n"] == 3


def test_classification_cv_on_separable_data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 3))
    y = (X[:, 0] > 0).astype(float)
    task = Task(name="cls", X=X, y=y, formulas=np.array([f"Fe{i + 1}O" for i in range(30)], dtype=object),
                kind="classification")
    res = C.cross_validate(task, "logistic", "kfold", n_splits=5)
    assert res["metrics"]["roc_auc"] > 0.95 and res["metrics"]["accuracy"] > 0.85
    assert np.all((res["predictions"]["proba"] >= 0) & (res["predictions"]["proba"] <= 1))
    res_rf = C.cross_validate(task, ModelSpec("rf", {"n_estimators": 20}), "loo")  # rf -> rf_clf on 0/1 targets
    assert "roc_auc" in res_rf["metrics"]


def write_table(path, n=20, seed=0):
    rng = np.random.default_rng(seed)
    rows = [{"composition": f"{CATIONS[i % 12]}{1 + i // 12}O{1 + i % 3}", "kappa": float(rng.uniform(1, 5)),
             "batch": f"b{i % 4}", "is_good": int(i % 2)} for i in range(n)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return rows


def test_cross_validate_file_writes_results_and_plot(tmp_path):
    src = tmp_path / "lab.csv"
    write_table(src)
    doc = C.cross_validate_file(src, "kappa", "dummy", "group", group_column="batch", n_splits=4)
    assert doc["config"]["groups"] == "group_column" and doc["data"]["n_groups"] == 4
    assert doc["data"]["n"] == 20 and doc["data"]["kind"] == "regression"
    paths = C.write_cv(doc, tmp_path / "out")
    assert {p.name for p in paths} == {"results.json", "predictions.csv", "cv_parity.png"}
    back = json.loads((tmp_path / "out" / "results.json").read_text())
    assert back["schema_version"] == 1 and back["kind"] == "cv"
    assert len(back["predictions"]) == 20 and {"id", "formula", "y", "pred", "fold"} <= set(back["predictions"][0])
    doc = C.cross_validate_file(src, "is_good", "knn", "kfold")
    assert doc["data"]["kind"] == "classification"
    assert {p.name for p in C.write_cv(doc, tmp_path / "cls")} >= {"cv_roc.png"}


def test_bad_input_names_the_field(tmp_path):
    src = tmp_path / "lab.csv"
    write_table(src)
    with pytest.raises(InputError) as info:
        C.cross_validate_file(src, "kappa", "dummy", "group", group_column="nope")
    assert info.value.field == "nope" and "batch" in str(info.value)
    with pytest.raises(InputError) as info:
        C.cross_validate_file(src, "missing", "dummy", "loo")
    assert info.value.field == "missing"
    with pytest.raises(InputError, match="0/1"):
        C.cross_validate_file(src, "kappa", "dummy", "loo", kind="classification")
    with pytest.raises(InputError) as info:
        C.cross_validate_file(src, "kappa", "dummy", "bootstrap")
    assert info.value.field == "--cv"
    with pytest.raises(InputError, match="file not found"):
        C.cross_validate_file(tmp_path / "absent.csv", "kappa")
