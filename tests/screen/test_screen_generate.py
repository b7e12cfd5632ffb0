"""Candidate generation: the composition grid against brute force, formulas, element substitution."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from metamat.errors import InputError
from metamat.screen.generate import (
    GridPlan,
    composition_chunks,
    formulas_from_amounts,
    parse_elements,
    similar_elements,
    substitute,
)


def test_grid_equals_brute_force() -> None:
    elements, step, max_elements = ("Li", "Fe", "P", "O"), 0.125, 3
    brute = {t for t in itertools.product(range(9), repeat=4) if sum(t) == 8 and 0 < sum(v > 0 for v in t) <= 3}
    chunks = list(composition_chunks(elements, step, max_elements, chunk_size=50))
    rows = np.vstack(chunks)
    assert all(len(c) <= 50 for c in chunks)
    assert len(rows) == len(brute) == len(GridPlan(elements, step, max_elements))
    assert {tuple(r) for r in rows.tolist()} == brute  # every composition once
    # any index range builds directly
    plan = GridPlan(elements, step, max_elements)
    np.testing.assert_array_equal(plan.chunk(37, 101), rows[37:101])
    binaries_up = np.vstack(list(composition_chunks(elements, step, max_elements, chunk_size=50, min_elements=2)))
    assert {tuple(r) for r in binaries_up.tolist()} == {t for t in brute if sum(v > 0 for v in t) >= 2}


def test_formulas_are_reduced() -> None:
    f = formulas_from_amounts(["Li", "O"], np.array([[5, 15], [10, 10], [20, 0], [4, 16]]))
    assert f.tolist() == ["LiO3", "LiO", "Li", "LiO4"]


def test_bad_grid_input() -> None:
    with pytest.raises(InputError):
        GridPlan(("Li", "O"), 0.3, 2)  # not 1/n
    with pytest.raises(InputError):
        parse_elements("Li,Xx")
    with pytest.raises(InputError):
        parse_elements("Li,O,Li")


def test_substitution_hand_checked() -> None:
    # Na: K is in its group; Mg's radius (0.86 A) is 26% below Na's (1.16 A); Ni is a metal replacing a non-metal
    # Cl: Br is in its group
    assert similar_elements("Na", ["K", "Mg", "Ni", "Br"]) == ["K"]
    assert similar_elements("Cl", ["K", "Mg", "Ni", "Br"]) == ["Br"]
    out = substitute(["NaCl", "KCl"], allowed=["K", "Mg", "Ni", "Br"])
    # NaCl -> KCl already known (a parent), NaBr new; KCl -> KBr new
    assert sorted(out["formula"]) == ["KBr", "NaBr"]
    assert set(zip(out["parent"], out["replaced"], out["by"], strict=True)) == {("NaCl", "Cl", "Br"),
                                                                                ("KCl", "Cl", "Br")}
