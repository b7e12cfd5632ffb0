"""Chemical families: the documented rule on known compounds, and vectorized == one at a time."""

from __future__ import annotations

import numpy as np
import pytest

from metamat.data.compositions import parse_formulas
from metamat.tasks.families import FAMILIES, anions, chemical_families, families_of

KNOWN = {
    "Fe2O3": "oxide", "CaCO3": "oxide", "NaOH": "oxide", "H2O": "oxide", "SiO2": "oxide",
    "MoS2": "sulfide", "ZnSe": "selenide", "CdTe": "telluride", "GaN": "nitride", "Si3N4": "nitride",
    "SiC": "carbide", "WC": "carbide", "NaCl": "halide", "CsPbI3": "halide", "LaOF": "halide",
    "KBr": "halide", "LiBH4": "hydride", "MgH2": "hydride", "FeNi": "intermetallic", "Fe": "intermetallic",
    "Ni3Sb": "intermetallic", "GeTe": "telluride", "Fe3P": "other", "LaB6": "other", "Mg2Si": "other",
    "GaAs": "other", "Si": "other", "C": "other", "CSe2": "selenide", "XeF2": "halide", "Ne": "other",
}


@pytest.mark.parametrize("formula, family", KNOWN.items())
def test_known_families(formula, family):
    assert families_of([formula])[0] == family


def test_vectorized_matches_one_at_a_time():
    formulas = list(KNOWN)
    batch = families_of(formulas + formulas[::-1])
    single = [families_of([f])[0] for f in formulas + formulas[::-1]]
    assert list(batch) == single
    assert set(batch) <= set(FAMILIES)


def test_anions_and_empty_input():
    comps = parse_formulas(["Fe2O3", "FeNi", "NaCl"]).compositions
    assert list(anions(comps)) == [8, 0, 17]
    assert len(chemical_families(parse_formulas([]).compositions)) == 0
    assert isinstance(chemical_families(comps), np.ndarray)
