"""Formula parser: what people type, what must be rejected, and property-based round trips."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymatgen.core import Composition

from metamat.data.compositions import parse_formulas
from metamat.data.formula import ELEMENTS, format_formula, parse_amounts, parse_formula
from metamat.errors import FormulaError, InputError


def close(a: dict[str, float], b: dict[str, float], tol: float = 1e-12) -> bool:
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) <= tol for k in a)


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("LiCoO2", {"Li": 1, "Co": 1, "O": 2}),
        ("Al0.5Cu0.3Zn0.2", {"Al": 0.5, "Cu": 0.3, "Zn": 0.2}),
        ("Ca(OH)2", {"Ca": 1, "O": 2, "H": 2}),
        ("(Li0.5La0.5)TiO3", {"Li": 0.5, "La": 0.5, "Ti": 1, "O": 3}),
        ("Li7La3Zr2O12", {"Li": 7, "La": 3, "Zr": 2, "O": 12}),
        ("Li6PS5Cl", {"Li": 6, "P": 1, "S": 5, "Cl": 1}),
        ("K4[Fe(CN)6]", {"K": 4, "Fe": 1, "C": 6, "N": 6}),
        ("Mg3{Al[Si(O2)2]2}2", {"Mg": 3, "Al": 2, "Si": 4, "O": 16}),
        ("CuSO4·5H2O", {"Cu": 1, "S": 1, "O": 9, "H": 10}),
        ("CaSO4*0.5H2O", {"Ca": 1, "S": 1, "O": 4.5, "H": 1}),
        ("Na2CO3·NaHCO3·2H2O", {"Na": 3, "C": 2, "O": 8, "H": 5}),
        ("Ag0.5Ge1Pb1.75S4", {"Ag": 0.5, "Ge": 1, "Pb": 1.75, "S": 4}),
        ("  Fe2 O3 ", {"Fe": 2, "O": 3}),
        ("O3Fe2", {"O": 3, "Fe": 2}),
        ("Fe₂O₃", {"Fe": 2, "O": 3}),
        ("CH3COOH", {"C": 2, "H": 4, "O": 2}),
        ("Co", {"Co": 1}),
        ("CO", {"C": 1, "O": 1}),
        ("Fe.5O.5", {"Fe": 0.5, "O": 0.5}),
    ],
)
def test_parses_what_people_type(formula: str, expected: dict[str, float]) -> None:
    assert close(parse_amounts(formula), {k: float(v) for k, v in expected.items()})
    total = sum(expected.values())
    fractions = parse_formula(formula)
    assert close(fractions, {k: v / total for k, v in expected.items()})
    assert math.isclose(sum(fractions.values()), 1.0, rel_tol=1e-12)


@pytest.mark.parametrize(
    ("formula", "reason"),
    [
        ("Xx2", "unknown element 'Xx'"),
        ("", "empty formula"),
        ("   ", "empty formula"),
        ("Fe0O", "must be positive"),
        ("Fe-1O", "negative amount"),
        ("Ca(OH2", "never closed"),
        ("Ca)OH(2", "no opening bracket"),
        ("Ca(OH]2", "mismatched brackets"),
        ("nan", "missing value"),
        (None, "missing value (None)"),
        (float("nan"), "missing value (NaN)"),
        (3.5, "expected a string"),
        ("hello world", "not a formula"),
        ("Hello", "not a formula"),
        ("Og2", "outside the supported range"),
        ("CuSO4·", "ends with a hydrate separator"),
        ("2H2O", "does not follow an element"),
        ("()2", "empty brackets"),
        ("Fe2O3(0)", "does not follow an element or bracket"),
        ("Li(OH)0", "must be positive"),
        ("Fe2O3;", "unexpected character ';'"),
    ],
)
def test_rejects_with_a_reason_that_names_the_input(formula: object, reason: str) -> None:
    with pytest.raises(FormulaError) as err:
        parse_formula(formula)  # type: ignore[arg-type]
    assert reason in str(err.value)
    assert repr(formula) in str(err.value)


@st.composite
def compositions(draw: st.DrawFn) -> dict[str, float]:
    symbols = draw(st.lists(st.sampled_from(ELEMENTS), min_size=1, max_size=6, unique=True))
    amounts = draw(st.lists(st.one_of(st.integers(1, 30).map(float),
                                      st.floats(0.001, 50, allow_nan=False).map(lambda x: round(x, 4))),
                            min_size=len(symbols), max_size=len(symbols)))
    return {s: a for s, a in zip(symbols, amounts, strict=True) if a > 0} or {symbols[0]: 1.0}


@given(compositions(), st.randoms(use_true_random=False), st.integers(1, 4))
@settings(max_examples=300, deadline=None)
def test_round_trip_in_any_written_form(comp: dict[str, float], rnd, multiplier: int) -> None:
    items = list(comp.items())
    rnd.shuffle(items)
    text = format_formula(items)
    expected = {k: v / sum(comp.values()) for k, v in comp.items()}
    assert close(parse_formula(text), expected, 1e-9)
    # whitespace before each symbol (not before an amount or inside it: "Yb1 0.0" and "Sn 1.5" are separate
    # values, issue 18), and the whole formula in brackets with a multiplier
    spaced = " ".join(re.findall(r"[A-Z][a-z]?[0-9.]*", text))
    assert close(parse_formula(spaced), expected, 1e-9)
    assert close(parse_formula(f"({text}){multiplier}"), expected, 1e-9)
    # split into a hydrate-like sum of two parts gives the summed amounts
    if len(items) > 1:
        cut = rnd.randrange(1, len(items))
        hydrate = format_formula(items[:cut]) + "·" + format_formula(items[cut:])
        assert close(parse_formula(hydrate), expected, 1e-9)


@given(st.text(max_size=25))
@settings(max_examples=500, deadline=None)
def test_junk_is_parsed_or_rejected_cleanly(text: str) -> None:
    try:
        fractions = parse_formula(text)
    except FormulaError as err:
        assert repr(text) in str(err)
    else:
        assert fractions and all(v > 0 for v in fractions.values())
        assert math.isclose(sum(fractions.values()), 1.0, rel_tol=1e-9)


@given(st.lists(st.sampled_from(list("()[]·.0123456789") + ["Fe", "O", "H", "Xx", "-", " "]), max_size=12))
@settings(max_examples=500, deadline=None)
def test_formula_like_junk_is_rejected_by_name_or_agrees_with_pymatgen(tokens: list[str]) -> None:
    text = "".join(tokens)
    try:
        ours = parse_formula(text)
    except FormulaError as err:  # a rejection names the input
        assert repr(text) in str(err)
        return
    assert ours and math.isclose(sum(ours.values()), 1.0, rel_tol=1e-9)
    if "·" in text:  # pymatgen does not read hydrate dots
        return
    try:
        ref = Composition(text).fractional_composition.as_dict()
    except ValueError:  # pymatgen is stricter about stray separators (e.g. "Fe1 ."); nothing to compare
        return
    assert close(ours, ref, 1e-9), (text, ours, ref)


def test_batch_parses_each_unique_formula_once_and_reports_every_bad_row() -> None:
    values = ["LiCoO2", "Fe2O3", "LiCoO2", "Xx2", None, "Fe2O3", "Ca(OH"]
    parsed = parse_formulas(values, errors="mask", source="in.csv", field="formula")
    assert len(parsed.compositions) == 2  # LiCoO2 and Fe2O3, parsed once each
    np.testing.assert_array_equal(parsed.codes, [0, 1, 0, -1, -1, 1, -1])
    assert [p.row for p in parsed.problems] == [4, 5, 7]
    assert "unknown element 'Xx'" in parsed.problems[0].reason
    assert all(p.source == "in.csv" and p.field == "formula" for p in parsed.problems)
    comps = parsed.compositions
    np.testing.assert_array_equal(comps.offsets, [0, 3, 5])
    np.testing.assert_array_equal(comps.z, [3, 8, 27, 8, 26])  # in order of atomic number
    np.testing.assert_allclose(comps.fractions, [0.25, 0.5, 0.25, 0.6, 0.4])
    assert list(comps.chemical_systems()) == ["Co-Li-O", "Fe-O"]
    with pytest.raises(InputError) as err:
        parse_formulas(values, source="in.csv", field="formula")
    assert len(err.value.problems) == 3
    assert "in.csv, row 4, field 'formula'" in str(err.value)
