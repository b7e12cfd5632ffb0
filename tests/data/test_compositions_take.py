"""CompositionArrays.take: a gather of whole materials, checked against parsing the chosen formulas alone."""

import numpy as np

from metamat.data.compositions import parse_formulas


def test_take_equals_parsing_the_chosen_formulas():
    comps = parse_formulas(["NaCl", "Fe2O3", "H2O", "LiFePO4"]).compositions
    got = comps.take(np.array([3, 1]))
    ref = parse_formulas(["LiFePO4", "Fe2O3"]).compositions
    assert list(got.formulas) == list(ref.formulas)
    for field in ("offsets", "z", "amounts", "fractions"):
        np.testing.assert_array_equal(getattr(got, field), getattr(ref, field))
    twice = comps.take(np.array([1, 1]))
    np.testing.assert_array_equal(twice.offsets, [0, 2, 4])
    np.testing.assert_array_equal(twice.z, [8, 26, 8, 26])  # entries sorted by Z: O, Fe
    np.testing.assert_array_equal(twice.amounts, [3, 2, 3, 2])
    assert comps.take(np.arange(4)) is comps
