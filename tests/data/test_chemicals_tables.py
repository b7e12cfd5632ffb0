"""The CRC heat-capacity table read from the chemicals package: values against the CRC Handbook, the
Dulong-Petit limit, and a clear error without the package."""

from __future__ import annotations

import builtins

import numpy as np
import pytest

from metamat.errors import DataSourceError

pytestmark = pytest.mark.slow
pytest.importorskip("chemicals")
R = 8.314462618

# CRC Handbook of Chemistry and Physics, "Standard thermodynamic properties", Cp of the solid at 298.15 K
CRC = {"NaCl": 50.5, "KCl": 51.3, "Cu": 24.4, "Al2O3": 79.0, "SiO2": 44.4, "TiO2": 55.0, "MgO": 37.2}


@pytest.fixture(scope="module")
def table():
    from metamat.data.sources.chemicals_tables import load_crc_heat_capacity

    return load_crc_heat_capacity()


def test_values_match_the_handbook_and_no_organic_compound_is_kept(table):
    from pymatgen.core import Composition

    d = table.data
    reduced = {Composition(f).reduced_formula: v for f, v in zip(d["formula"], d["Cp (J/mol/K)"], strict=True)}
    for formula, cp in CRC.items():
        assert reduced[formula] == pytest.approx(cp)
    elements = [set(Composition(f).as_dict()) for f in d["formula"]]
    assert not any({"C", "H"} <= e for e in elements)
    assert table.targets["Cp (J/mol/K)"].unit == "J/(mol K)"


def test_a_negative_or_zero_heat_capacity_is_impossible():
    from metamat.data.quality import physical_range
    from metamat.data.table import TargetSpec

    rng = physical_range(TargetSpec("Cp", unit="J/(mol K)", quantity="heat capacity"))
    assert rng.low == 0.0 and rng.low_open


def test_every_row_is_accounted_for_and_the_per_atom_values_sit_near_dulong_petit(table):
    r = table.report
    assert r.n_read == r.n_used + r.n_rejected + r.n_merged
    assert r.n_used == len(table.data) > 300
    assert any("organic" in n for n in r.notes)
    from pymatgen.core import Composition

    n_atoms = np.array([sum(Composition(f).values())
                        for f in table.data["formula"]])
    per_atom = table.data["Cp (J/mol/K)"].to_numpy() / n_atoms
    assert 0.7 * 3 * R < np.median(per_atom) < 1.05 * 3 * R  # room temperature: at or below the 3R limit


def test_without_the_package_the_error_says_how_to_get_it(monkeypatch):
    from metamat.data.sources.chemicals_tables import load_crc_heat_capacity

    real_import = builtins.__import__

    def no_chemicals(name, *args, **kwargs):
        if name.startswith("chemicals"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_chemicals)
    with pytest.raises(DataSourceError, match="pip install chemicals"):
        load_crc_heat_capacity()


def test_formation_enthalpy_in_ev_per_atom_matches_the_handbook_by_hand():
    from pymatgen.core import Composition

    from metamat.data.sources.chemicals_tables import load_crc_formation_enthalpy

    t = load_crc_formation_enthalpy()
    d = t.data
    values = d["formation enthalpy (eV/atom)"]
    reduced = {Composition(f).reduced_formula: v for f, v in zip(d["formula"], values, strict=True)}
    # CRC: dHf(solid, 298.15 K) in kJ/mol per formula unit; 1 eV/particle = 96.485 kJ/mol
    for formula, kj, atoms in (("NaCl", -411.2, 2), ("Al2O3", -1675.7, 5), ("MgO", -601.6, 2)):
        assert reduced[formula] == pytest.approx(kj / atoms / 96.48533, rel=1e-6)
    assert not any(len(Composition(f).elements) == 1 for f in d["formula"])  # elements are 0 by definition
    r = t.report
    assert r.n_read == r.n_used + r.n_rejected + r.n_merged
    assert r.reasons()["formula contradicts the name"] >= 5  # the databank's wrong formulas are caught


@pytest.mark.parametrize("name,formula,bad", [
    ("Praseodymium(III) oxide", "OPr", True), ("Praseodymium(III) oxide", "Pr2O3", False),
    ("Iron(II,III) oxide", "Fe3O4", False), ("Iron(II,III) oxide", "Fe3H8O4", True),
    ("Holmium oxide", "HoO", True), ("Holmium oxide", "Ho2O3", False), ("Titanium(III,IV) oxide", "Ti3O5", False),
    ("Ammonium chloride", "ClH4N", False), ("Sodium peroxide", "Na2O2", False), ("Indium(II) sulfide", "In2S3", True),
])
def test_a_formula_that_contradicts_a_binary_name_is_caught(name, formula, bad):
    from metamat.data.sources.chemicals_tables import name_mismatch

    assert (name_mismatch(name, formula) is not None) == bad
