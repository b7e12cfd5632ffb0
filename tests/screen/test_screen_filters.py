"""Charge-neutrality / electronegativity filter: hand-checked compositions and SMACT's smact_validity."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from metamat.active.constraints import Constraints
from metamat.screen.filters import REASON_CHARGE, ChargeFilter, ConstraintFilter, charge_balanced


def passes(formula_amounts: dict[str, float], mixed_valence: bool = True) -> bool:
    elements = list(formula_amounts)
    ok, _ = charge_balanced(elements, np.array([list(formula_amounts.values())], float), mixed_valence)
    return bool(ok[0])


@pytest.mark.parametrize(("composition", "expected", "why"), [
    ({"Na": 1, "Cl": 1}, True, "Na+ Cl-"),
    ({"Fe": 2, "O": 3}, True, "2 Fe3+ + 3 O2-"),
    ({"Fe": 0.4, "O": 0.6}, True, "Fe2O3 written as fractions"),
    ({"Na": 1, "Cl": 2}, False, "Na+ and 2 Cl- leave -1; Cl+ would need a cation more electronegative than Na"),
    ({"Li": 1, "O": 2}, False, "superoxide: O at -1/2 is no common state"),
    ({"Li": 2, "O": 2}, True, "peroxide: O at -1"),
    ({"Na": 1, "O": 1}, True, "NaO = Na2O2, peroxide"),
    ({"Fe": 1}, True, "an element"),
    ({"Cu": 1, "Zn": 1}, True, "an alloy of metals"),
    ({"Li": 3, "N": 1}, True, "Li3N: 3 Li+ + N3-"),
    ({"Li": 2, "O": 3}, False, "2 Li+ balance neither 3 O(2-) nor 3 O(-); O(2+) would need an anion"),
])
def test_hand_checked_compositions(composition: dict, expected: bool, why: str) -> None:
    assert passes(composition) is expected, why


def test_mixed_valence_decides_fe3o4() -> None:
    # 2 Fe(III) + 1 Fe(II) = +8 = 4 O(2-): needs two oxidation states of Fe at once
    assert passes({"Fe": 3, "O": 4}, mixed_valence=True)
    assert not passes({"Fe": 3, "O": 4}, mixed_valence=False)  # one state per element: 3 q = 8 has no solution
    # Li is not a mixed-valence element: Li3O2 would need Li at +4/3
    assert not passes({"Li": 3, "O": 2}, mixed_valence=True)


def test_report_counts_every_removed_candidate() -> None:
    elements = ["Na", "Cl", "He"]
    amounts = np.array([[1, 1, 0], [1, 2, 0], [1, 0, 1], [0, 0, 1]], float)
    ok, report = ChargeFilter().apply(elements, amounts)
    assert ok.tolist() == [True, False, False, True]  # He alone is an element; NaHe: He has no state
    assert report.seen == 4 and report.kept == 2
    assert sum(report.removed.values()) == 2
    assert report.removed[REASON_CHARGE] == 1


def test_constraint_filter_elements() -> None:
    elements = ["Li", "La", "Zr", "O"]
    amounts = np.array([[1, 1, 1, 1], [1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 1, 1], [1, 1, 0, 0]])
    f = ConstraintFilter(Constraints(max_elements=3, exclude=("Zr",), require=("O",)))
    ok, report = f.apply(elements, amounts)
    assert ok.tolist() == [False, True, True, False, False]
    assert report.kept == 2 and report.removed == {"contains an excluded element (Zr)": 2,
                                                   "lacks required element O": 1}


def test_constraint_filter_cost() -> None:
    # pymatgen's price table: iron and oxygen cost well under 1 USD/kg, platinum tens of thousands USD/kg;
    # Fe2O3 (70% Fe by mass) passes a 100 USD/kg limit and PtO2 (86% Pt by mass) does not
    ok, report = ConstraintFilter(Constraints(max_cost_per_kg=100.0)).apply(["O", "Fe", "Pt"],
                                                                           np.array([[3, 2, 0], [2, 0, 1]]))
    assert ok.tolist() == [True, False]
    assert report.removed == {"cost above 100 USD/kg": 1}


def _random_compositions(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    elements = ["Li", "Na", "K", "Mg", "Fe", "Mn", "Cu", "Sn", "Ti", "Al", "La", "Zr", "O", "S", "N", "P", "F",
                "Cl", "Se", "H"]
    rng = np.random.default_rng(seed)
    amounts = np.zeros((n, len(elements)), int)
    for i in range(n):
        k = rng.integers(2, 5)
        amounts[i, rng.choice(len(elements), k, replace=False)] = rng.integers(1, 7, k)
    return elements, amounts


@pytest.mark.slow
def test_agrees_with_smact_validity() -> None:
    screening = pytest.importorskip("smact.screening")
    elements, amounts = _random_compositions(400, seed=1)
    formulas = ["".join(f"{e}{a}" for e, a in zip(elements, row, strict=True) if a) for row in amounts]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        strict = np.array([screening.smact_validity(f, mixed_valence=False) for f in formulas])
        mixed = np.array([screening.smact_validity(f, mixed_valence=True) for f in formulas])
    ours_strict, _ = charge_balanced(elements, amounts, mixed_valence=False)
    ours_mixed, _ = charge_balanced(elements, amounts, mixed_valence=True)
    assert 50 < strict.sum() < 350  # a sample with both outcomes
    np.testing.assert_array_equal(ours_strict, strict)  # exactly SMACT's rule
    # mixed valence as a total-charge interval: everything SMACT's per-atom expansion accepts, and a few more
    assert not (mixed & ~ours_mixed).any()
    assert (ours_mixed & ~mixed).sum() <= 0.05 * len(formulas)
