"""Constraints: element lists and counts; cost and HHI by mass fraction, checked by hand and with pymatgen."""

import numpy as np
import pytest

from metamat.active.constraints import Constraints, cost_per_kg, hhi_production, mass_fractions
from metamat.data.compositions import parse_formulas
from metamat.errors import InputError


def comps(*formulas):
    return parse_formulas(list(formulas)).compositions


def test_cost_and_hhi_of_fe2o3_by_hand():
    # Fe 55.845 g/mol, O 15.9994: mass fractions 111.69/159.6882 and 47.9982/159.6882
    w_fe, w_o = 111.69 / 159.6882, 47.9982 / 159.6882
    np.testing.assert_allclose(np.sort(mass_fractions(comps("Fe2O3"))), np.sort([w_fe, w_o]), rtol=1e-6)
    # prices in pymatgen's costdb_elements.csv: Fe 0.029696231 USD/kg, O 3 USD/kg
    assert cost_per_kg(comps("Fe2O3"))[0] == pytest.approx(w_fe * 0.029696231 + w_o * 3.0, rel=1e-6)
    # HHI of production (Gaultois 2013): Fe 2400, O 500
    assert hhi_production(comps("Fe2O3"))[0] == pytest.approx(w_fe * 2400 + w_o * 500, rel=1e-6)


def test_cost_matches_pymatgen_cost_analyzer():
    from pymatgen.analysis.cost import CostAnalyzer, CostDBElements

    ca = CostAnalyzer(CostDBElements())
    formulas = ["LiCoO2", "Bi2Te3", "Fe2O3"]
    ours = cost_per_kg(comps(*formulas))
    ref = [ca.get_cost_per_kg(f) for f in formulas]
    np.testing.assert_allclose(ours, ref, rtol=1e-3)


def test_element_rules_and_reasons():
    c = comps("LiCoO2", "LiFePO4", "NaCl", "Li7La3Zr2O12")
    ok, why = Constraints(exclude="Co", require=["Li"], max_elements=3).check(c)
    assert ok.tolist() == [False, False, False, False]
    assert "excluded" in why[0] and "Co" in why[0]
    assert why[1] == "more than 3 elements"
    assert why[2] == "lacks required element Li"
    ok, _ = Constraints(require="Li,O", max_elements=4).check(c)
    assert ok.tolist() == [True, True, False, True]


def test_cost_limit_and_filter_hook():
    c = comps("Fe2O3", "Bi2Te3")
    ok, why = Constraints(max_cost_per_kg=10).check(c)
    assert ok.tolist() == [True, False] and "cost above" in why[1]

    def no_bismuth(cs):
        return np.array(["Bi" not in f for f in cs.formulas])

    ok, why = Constraints(filters=[no_bismuth]).check(c)
    assert ok.tolist() == [True, False] and "no_bismuth" in why[1]


def test_bad_symbols_name_the_field():
    with pytest.raises(InputError) as e:
        Constraints(exclude="Xx")
    assert e.value.field == "--exclude-elements"
    with pytest.raises(InputError):
        Constraints(exclude="Li", require="Li")
