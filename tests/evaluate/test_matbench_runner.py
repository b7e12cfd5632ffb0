"""Matbench runner: the official fold ids map onto the right rows; missing package; leaderboard table.

Tests on real data need ``METAMAT_DATA_DIR`` (the shared data folder) and the matbench package installed
with ``pip install --no-deps matbench==0.6``; they are skipped with the reason otherwise.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from metamat.errors import DataSourceError
from metamat.evaluate import leaderboard as lb
from metamat.evaluate import matbench_runner as R


def need_matbench() -> None:
    try:
        R.validation_path()
    except DataSourceError:
        pytest.skip(f"matbench package not installed ({R.INSTALL_HINT})")


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(DataSourceError, match=r"pip install --no-deps matbench==0\.6"):
        R.validation_path()
    with pytest.raises(DataSourceError, match="matbench_v0.1_validation.json"):
        R.official_folds("matbench_steels")


def test_official_steels_folds():
    need_matbench()
    folds = R.official_folds("steels")
    assert len(folds) == 5
    assert [len(te) for _, te in folds] == [63, 63, 62, 62, 62]
    assert [len(tr) for tr, _ in folds] == [249, 249, 250, 250, 250]
    tests = [i for _, te in folds for i in te]
    assert len(tests) == len(set(tests)) == 312  # every id exactly once over the 5 test folds
    for train, test in folds:
        assert not set(train) & set(test) and set(train) | set(test) == set(tests)


def test_steels_fold_ids_map_to_the_right_rows(shared_data_dir):
    base = shared_data_dir
    need_matbench()
    from metamat.data.registry import load_dataset

    table = load_dataset("matbench_steels", data_dir=base)
    raw = pd.read_csv(base / "crabnet_matbench_composition" / "matbench_steels.csv.gz")  # official row order
    y = table.target("target")
    folds = R.official_folds("steels")
    for (train_ids, test_ids), (train, test) in zip(folds, R.fold_indices(table.ids, "steels"), strict=True):
        for ids, rows in ((train_ids, train), (test_ids, test)):
            raw_rows = np.array([int(i.rsplit("-", 1)[1]) - 1 for i in ids])  # mb-steels-003 -> row index 2
            assert np.array_equal(rows, raw_rows)
            assert np.allclose(y[rows], raw["target"].to_numpy()[raw_rows])
            assert list(table.formulas[rows]) == list(raw["formula"].to_numpy()[raw_rows])
    assert folds[0][1][0] == "mb-steels-003"


def test_fold_indices_refuse_missing_ids():
    need_matbench()
    ids = [f"mb-steels-{i:03d}" for i in range(1, 312)]  # one row short
    with pytest.raises(DataSourceError, match="not in the table"):
        R.fold_indices(ids, "steels")


def test_run_one_fold_of_steels(tmp_path, shared_data_dir):
    base = shared_data_dir
    need_matbench()
    doc = R.run_matbench("matbench_steels", "rf", n_estimators=30, folds=[0], data_dir=base)
    assert doc["task"] == "matbench_steels" and doc["model"] == "rf" and doc["units"] == "MPa"
    assert len(doc["mae"]) == 1 and doc["folds"][0]["n_test"] == 63 and doc["folds"][0]["n_features"] == 132
    assert 60 < doc["mean_mae"] < 160  # RF-SCM/Magpie fold MAEs are ~90-115 MPa
    assert doc["reference"]["mean_mae"] == pytest.approx(103.5125)
    assert any("only folds" in n for n in doc["notes"])
    paths = R.write_matbench(doc, tmp_path)
    assert {p.name for p in paths} == {"results.json", "matbench_steels.png"}


def test_pretrained_meta_model_runs_on_official_folds(shared_data_dir):
    base = shared_data_dir
    need_matbench()
    doc = R.run_matbench("matbench_steels", "pretrained", folds=[0], data_dir=base)
    assert doc["model_resolved"] == "pretrained" and doc["config"]["featurizers"] == "composition"
    assert doc["folds"][0]["n_features"] == 148  # the meta-model reads every composition feature
    assert np.isfinite(doc["mean_mae"]) and 100 < doc["mean_mae"] < 400  # between RF (~105) and a blunder


def test_leaderboard_table_has_sources_and_anchors():
    # structure of the table (the numbers themselves are checked against the data below)
    for task, entries in lb.LEADERBOARD.items():
        assert lb.source(task) and task.removeprefix("matbench_") in lb.source(task)
        assert any(e.algorithm == lb.RF_REFERENCE for e in entries)
        assert all(e.mean_mae > 0 and e.std_mae >= 0 for e in entries)
    assert lb.leaderboard("matbench_glass") == ()


@pytest.mark.parametrize("task", ["matbench_steels", "matbench_expt_gap"])
def test_leaderboard_dummy_row_is_reproduced_from_the_data(task, shared_data_dir):
    # independent reference for the copied leaderboard numbers: the published "Dummy" row is the training-fold
    # mean predicted on each official test fold, which we recompute from the data and the official folds
    need_matbench()
    doc = R.run_matbench(task, "dummy", data_dir=shared_data_dir)
    dummy = next(e for e in lb.leaderboard(task) if e.algorithm == "Dummy")
    assert doc["mean_mae"] == pytest.approx(dummy.mean_mae, abs=1e-4)
    assert doc["std_mae"] == pytest.approx(dummy.std_mae, abs=1e-4)
    # and the page's ranking: every listed algorithm beats the dummy, the RF reference included
    assert all(e.mean_mae < dummy.mean_mae for e in lb.leaderboard(task) if e.algorithm != "Dummy")
