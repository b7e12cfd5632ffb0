"""Leakage checker: planted duplicates and shared chemical systems."""

from __future__ import annotations

import numpy as np
import pytest

from metamat.errors import InputError
from metamat.tasks import check_leakage


def test_catches_reordered_and_scaled_duplicate():
    report = check_leakage(["Fe2O3", "NaCl", "LiCoO2"], ["O3Fe2", "Fe4O6", "KBr"])
    assert not report.ok and not report.formulas_ok
    (dup,) = report.formulas
    assert (dup.n_train, dup.n_test) == (1, 2)
    assert dup.train_example == "Fe2O3" and dup.test_example == "O3Fe2"
    assert report.n_test_rows_same_formula == 2
    assert [o.key for o in report.systems] == ["Fe-O"]
    assert "O3Fe2" in report.summary() and "LEAKAGE" in report.summary()


def test_shared_chemical_system_without_duplicate_formula():
    report = check_leakage(["LiCoO2", "NaCl"], ["Li2CoO3", "KBr", "CoLi3O4"])
    assert report.formulas_ok and not report.ok
    (shared,) = report.systems
    assert (shared.key, shared.n_train, shared.n_test) == ("Co-Li-O", 1, 2)
    assert report.n_test_rows_same_system == 2


def test_clean_split_is_ok():
    report = check_leakage(["Fe2O3", "NaCl"], ["FeS", "KCl", "Si"])
    assert report.ok
    assert "OK" in report.summary()
    assert (report.n_train, report.n_test) == (2, 3)


def test_index_splits_over_one_formula_list():
    formulas = np.array(["Fe2O3", "NaCl", "O3Fe2", "KBr", "Fe3O4"])
    report = check_leakage(np.array([0, 1]), np.array([2, 3, 4]), formulas=formulas)
    assert [o.key for o in report.formulas] == ["O0.6Fe0.4"]
    assert [(o.key, o.n_test) for o in report.systems] == [("Fe-O", 2)]
    mask = np.array([True, True, False, False, False])
    again = check_leakage(mask, ~mask, formulas=formulas)
    assert again.formulas == report.formulas and again.systems == report.systems


def test_bad_formula_raises_input_error():
    with pytest.raises(InputError):
        check_leakage(["Fe2O3"], ["Xx2"])
