"""Physics-aware inputs: what element fractions lose (size of the formula unit, mass) and physical priors.

- :class:`PhysicsFeaturizer` (name ``physics``): atoms per formula unit (sum of the amounts *as written*:
  Fe2O3 -> 5, FeO1.5 -> 2.5), molar mass of the formula unit (g/mol) and mean atomic mass (g/mol per atom).
  An extensive target (J/mol/K per formula unit, eV per formula unit) scales with the first two.
- :func:`guess_basis`: per atom / per formula unit / per mass / intensive, from a column name and unit,
  with the reason, so a command can report it and the user can override it.
- :func:`dulong_petit`: the Dulong-Petit heat capacity 3 n R in the given basis, a prior mean near and
  above room temperature (Petit & Dulong 1819).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from metamat.data.compositions import CompositionArrays
from metamat.featurize.composition import WARD_2016, CompositionFeaturizer
from metamat.featurize.elements import load_element_table

GAS_CONSTANT = 8.314462618  # J/(mol K), CODATA 2018 exact
BASES: tuple[str, ...] = ("per_atom", "per_formula_unit", "per_mass", "intensive")
DULONG_PETIT_1819 = ("A.-T. Petit, P.-L. Dulong, Recherches sur quelques points importants de la theorie de la "
                     "chaleur, Ann. Chim. Phys. 10, 395 (1819).")


def atoms_per_formula_unit(comps: CompositionArrays) -> np.ndarray:
    """Sum of the amounts as written, per material."""
    return comps.segment_sum(comps.amounts[None, :])[:, 0]


def molar_mass(comps: CompositionArrays) -> np.ndarray:
    """Molar mass of the formula unit as written, g/mol."""
    mass = load_element_table().column("AtomicWeight")[comps.z]
    return comps.segment_sum(mass[None, :], comps.amounts)[:, 0]


class PhysicsFeaturizer(CompositionFeaturizer):
    """Atoms per formula unit, molar mass (g/mol) and mean atomic mass (g/mol per atom)."""

    name = "physics"

    def feature_labels(self) -> list[str]:
        return ["atoms per formula unit", "molar mass (g/mol)", "mean atomic mass (g/mol)"]

    def citations(self) -> list[str]:
        return [WARD_2016]

    def featurize(self, comps: CompositionArrays) -> np.ndarray:
        n = atoms_per_formula_unit(comps)
        m = molar_mass(comps)
        return np.column_stack([n, m, m / n])


@dataclass(frozen=True)
class Basis:
    """What one value of a target refers to, and why that was concluded."""

    basis: str
    reason: str
    guessed: bool = True


_PER_MASS_UNIT = re.compile(r"/\s*(k?g)\b|\bper\s+(k?g|gram|kilogram)\b|(k?g)\^?-1|/\s*\(?\s*(k?g)\s*[\s*·.]", re.I)
_PER_MOL_UNIT = re.compile(r"/\s*\(?\s*mol\b|\bmol\^?-1|\bper\s+mole?\b", re.I)
_PER_ATOM = re.compile(r"(/|per|_p)\s*_?\s*(atom|at)\b|\bper[_ ]atom|_pa\b|/atom", re.I)
_PER_FU = re.compile(r"(per|/)\s*_?\s*(f\.?u\.?|formula(\s*unit)?|cell|molecule)\b|_per_fu\b|_fu\b", re.I)
_SPECIFIC_NAME = re.compile(r"\bspecific\b|\bcp_?g\b|per[_ ]mass|per[_ ]gram", re.I)
_MOLAR_NAME = re.compile(r"\bmolar\b", re.I)


def guess_basis(column: str, unit: str = "") -> Basis:
    """Basis of a target from its column name and unit (first rule that fires wins; reported with why).

    per atom: "/atom", "per atom", "_pa" in name or unit. per formula unit: "/f.u.", "per formula unit",
    "/mol" in the unit (a mole of formula units), "molar" in the name. per mass: "/g", "/kg", "per gram",
    "specific" in the name. Everything else is ``intensive`` (a temperature, a gap, a modulus, ...).
    """
    text = column if unit in ("", column) else f"{column} {unit}"
    if _PER_ATOM.search(unit) or _PER_ATOM.search(column):
        return Basis("per_atom", f"'per atom' in {'unit' if _PER_ATOM.search(unit) else 'column name'} ({text!r})")
    if _PER_MASS_UNIT.search(unit) or _SPECIFIC_NAME.search(column):
        return Basis("per_mass", f"mass in the unit or 'specific' in the name ({text!r})")
    if _PER_FU.search(unit) or _PER_FU.search(column):
        return Basis("per_formula_unit", f"'per formula unit' in name or unit ({text!r})")
    if _PER_MOL_UNIT.search(unit) or _MOLAR_NAME.search(column):
        return Basis("per_formula_unit", f"per mole of formula units ('mol' in unit or 'molar' in name: {text!r})")
    return Basis("intensive", f"no per-atom, per-formula-unit or per-mass marker in {text!r}")


def resolve_basis(column: str, unit: str = "", override: str | None = None) -> Basis:
    """The user's basis if given (checked), else :func:`guess_basis`."""
    if override is None:
        return guess_basis(column, unit)
    if override not in BASES:
        from metamat.errors import InputError

        raise InputError(f"basis must be one of {', '.join(BASES)}", field="--basis", value=override)
    return Basis(override, "given by the user", guessed=False)


def dulong_petit(comps: CompositionArrays, basis: str = "per_formula_unit") -> np.ndarray:
    """Dulong-Petit heat capacity 3 R per mole of atoms: J/(mol K) per formula unit (3 n R), per atom (3 R)
    or J/(g K) per mass (3 n R / M)."""
    n = atoms_per_formula_unit(comps)
    if basis == "per_formula_unit":
        return 3.0 * GAS_CONSTANT * n
    if basis == "per_atom":
        return np.full(len(comps), 3.0 * GAS_CONSTANT)
    if basis == "per_mass":
        return 3.0 * GAS_CONSTANT * n / molar_mass(comps)
    raise ValueError(f"Dulong-Petit has no value for basis {basis!r}")
