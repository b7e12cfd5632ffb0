"""Physics inputs: atoms per formula unit, molar mass, basis guessing, Dulong-Petit (hand-computed)."""

from __future__ import annotations

import numpy as np
import pytest

from metamat.data.compositions import parse_formulas
from metamat.errors import InputError
from metamat.featurize.physics import GAS_CONSTANT, dulong_petit, guess_basis, resolve_basis
from metamat.featurize.pipeline import featurize_formulas

# IUPAC standard atomic weights (g/mol), typed by hand
FE, OX, NA, CL, AL = 55.845, 15.9994, 22.98977, 35.453, 26.981538


def test_atoms_and_molar_mass_follow_the_formula_as_written():
    fm = featurize_formulas(["Fe2O3", "FeO1.5", "NaCl", "Al"], "physics")
    assert fm.labels == ["atoms per formula unit", "molar mass (g/mol)", "mean atomic mass (g/mol)"]
    np.testing.assert_allclose(fm.values[:, 0], [5, 2.5, 2, 1])
    np.testing.assert_allclose(fm.values[:, 1], [2 * FE + 3 * OX, FE + 1.5 * OX, NA + CL, AL], rtol=1e-4)
    np.testing.assert_allclose(fm.values[:, 2], [(2 * FE + 3 * OX) / 5, (FE + 1.5 * OX) / 2.5, (NA + CL) / 2, AL],
                               rtol=1e-4)


def test_physics_combines_with_composition():
    fm = featurize_formulas(["NaCl"], "composition+physics")
    assert fm.values.shape == (1, 151) and fm.labels[-3] == "atoms per formula unit"


@pytest.mark.parametrize(("column", "unit", "basis"), [
    ("heat_capacity", "J/mol/K", "per_formula_unit"),
    ("molar heat capacity", "", "per_formula_unit"),
    ("Cp", "J/(g K)", "per_mass"),
    ("specific heat", "", "per_mass"),
    ("formation_energy_per_atom", "eV", "per_atom"),
    ("e_form", "eV/atom", "per_atom"),
    ("energy", "eV/f.u.", "per_formula_unit"),
    ("band_gap", "eV", "intensive"),
    ("hardness", "GPa", "intensive"),
])
def test_basis_is_guessed_from_name_and_unit(column, unit, basis):
    b = guess_basis(column, unit)
    assert b.basis == basis and b.guessed and b.reason


def test_user_basis_wins_and_is_checked():
    assert resolve_basis("Cp", "J/(g K)", "per_atom").basis == "per_atom"
    with pytest.raises(InputError):
        resolve_basis("Cp", "", "per_litre")


def test_dulong_petit_is_3nR():
    comps = parse_formulas(["NaCl", "Al2O3"]).compositions
    np.testing.assert_allclose(dulong_petit(comps, "per_formula_unit"), [6 * 8.314462618, 15 * 8.314462618])
    np.testing.assert_allclose(dulong_petit(comps, "per_atom"), [3 * GAS_CONSTANT] * 2)
    # Al2O3: 15 R / 101.96 g/mol = 1.223 J/(g K); the measured 298 K value is 0.78 (below the classical limit)
    np.testing.assert_allclose(dulong_petit(comps, "per_mass")[1], 15 * 8.314462618 / (2 * AL + 3 * OX), rtol=1e-4)
