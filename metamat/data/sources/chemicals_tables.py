"""Measured thermochemistry of inorganic solids from the ``chemicals`` package (C. Bell et al., MIT license).

``load_crc_heat_capacity()`` reads the CRC Handbook's "Standard thermodynamic properties of chemical
substances" as the chemicals wheel ships it (``chemicals.heat_capacity.CRC_standard_data``: molar heat
capacity of the solid at 298.15 K and 1 bar, ``Cps``, J/(mol K), per formula unit), looks each CAS number up in
the chemicals identifier databank for its formula, and validates the rows into a
:class:`~metamat.data.table.MaterialTable` (duplicate formulas: median; every row read, used or rejected is in
the report). No network: ``pip install chemicals``. Organic compounds (carbon and hydrogen both present) are left
out and counted in the report's notes.

A measured, extensive property (it grows with the atoms per formula unit; Dulong-Petit: 3nR at high
temperature) that no table of the registry holds: the test bed of ``fewshot --basis``.
``load_crc_formation_enthalpy()``: the same table's standard enthalpy of formation of the solid (``Hfs``), in
eV/atom: a measured quantity with a DFT counterpart (the formation-energy knowledge surrogates), the test bed of
``fewshot --low-fidelity``.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pandas as pd

from metamat.data.table import MaterialTable, TargetSpec
from metamat.errors import DataSourceError

CRC_CITATION = ("W. M. Haynes (ed.), CRC Handbook of Chemistry and Physics, 95th ed., CRC Press (2014): Standard "
                "thermodynamic properties of chemical substances; as shipped by the chemicals package "
                "(C. Bell and contributors, https://github.com/CalebBell/chemicals, MIT license).")
TARGET = "Cp (J/mol/K)"
HF_TARGET = "formation enthalpy (eV/atom)"
FARADAY = 96485.33212  # C/mol: 1 eV per particle = 96.485 kJ/mol
_ELEMENTS = re.compile(r"([A-Z][a-z]?)")
_ANIONS = {"oxide": ("O", 2), "fluoride": ("F", 1), "chloride": ("Cl", 1), "bromide": ("Br", 1), "iodide": ("I", 1),
           "sulfide": ("S", 2), "selenide": ("Se", 2), "telluride": ("Te", 2), "nitride": ("N", 3),
           "phosphide": ("P", 3), "arsenide": ("As", 3), "hydride": ("H", 1)}
_BINARY_NAME = re.compile(r"^([A-Za-z]+)(?:\(([IVX]+(?:,[IVX]+)*)\))? (" + "|".join(_ANIONS) + r")$", re.IGNORECASE)
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8}


def _is_organic(formula: str) -> bool:
    elements = set(_ELEMENTS.findall(formula))
    return "C" in elements and "H" in elements


def name_mismatch(name: str, formula: str) -> str | None:
    """Why ``formula`` cannot be the binary compound ``name`` ("Praseodymium(III) oxide" with formula OPr: Pr would
    be +2), or None. The cation's oxidation state implied by the formula must equal the Roman numeral of the
    name, lie between two numerals ("Iron(II,III) oxide"), or without a numeral be one of the element's common
    oxidation states (pymatgen). Names other than "<element>[(numeral)] <anion>" are not checked."""
    from pymatgen.core import Composition, Element

    m = _BINARY_NAME.match(name.strip())
    if m is None or m.group(1).lower() not in _element_names():
        return None
    try:
        amounts = Composition(formula).get_el_amt_dict()
    except Exception:  # noqa: BLE001 - an unreadable formula is rejected by the validation with its reason
        return None
    anion, charge = _ANIONS[m.group(3).lower()]
    cations = [e for e in amounts if e != anion]
    if anion not in amounts or len(cations) != 1:
        return f"{name!r} is a binary {m.group(3).lower()}, the formula {formula} is not"
    state = amounts[anion] * charge / amounts[cations[0]]
    numerals = [_ROMAN[r] for r in m.group(2).split(",")] if m.group(2) else []
    allowed = (min(numerals) - 1e-9 <= state <= max(numerals) + 1e-9 if numerals else
               any(abs(state - s) < 1e-9 for s in Element(cations[0]).common_oxidation_states))
    if allowed:
        return None
    expected = f"{m.group(2)}" if numerals else "a common oxidation state " + ", ".join(
        f"{s:+d}" for s in Element(cations[0]).common_oxidation_states)
    return f"{formula} makes {cations[0]} {state:+.3g} in {name!r} ({expected} expected)"


def _element_names() -> set[str]:
    from pymatgen.core import Element

    return {e.long_name.lower() for e in Element} | {"aluminium", "caesium", "sulphur"}


def _crc_solids(column: str) -> tuple[pd.DataFrame, list[str]]:
    """Rows of the CRC table with a solid-state value in ``column`` (``cas``, ``name``, ``formula``, ``value``;
    formulas from the chemicals identifier databank by CAS number) without organic compounds, and the notes
    saying what was left out."""
    try:
        from chemicals.heat_capacity import CRC_standard_data
        from chemicals.identifiers import search_chemical
    except ImportError as exc:
        raise DataSourceError("the CRC thermochemistry tables ship in the chemicals package: pip install "
                              "chemicals") from exc

    solid = CRC_standard_data[CRC_standard_data[column].notna()]
    formulas = []
    for cas in solid.index:
        try:
            formulas.append(search_chemical(str(cas)).formula)
        except Exception:  # noqa: BLE001 - a CAS number the databank does not know: the row is rejected later
            formulas.append(None)
    df = pd.DataFrame({"cas": solid.index.astype(str), "name": solid["Chemical"].to_numpy(), "formula": formulas,
                       "value": solid[column].to_numpy(dtype=float)})
    organic = df["formula"].map(lambda f: isinstance(f, str) and _is_organic(f))
    unknown = df.loc[df["formula"].isna(), "cas"].tolist()
    notes = [f"{len(df)} solids with a value of {column!r} in the CRC table; {int(organic.sum())} organic compounds "
             "(C and H) left out; formulas from the chemicals identifier databank by CAS number"]
    if unknown:
        notes.append(f"{len(unknown)} CAS numbers are not in the identifier databank (no formula; rejected): "
                     + ", ".join(unknown))
    df = df[~organic].reset_index(drop=True)
    why = [name_mismatch(n, f) if isinstance(f, str) else None for n, f in zip(df["name"], df["formula"], strict=True)]
    df["mismatch"] = why
    return df, notes


def _validated(df: pd.DataFrame, spec: TargetSpec, name: str, notes: list[str]) -> MaterialTable:
    """The rows as a :class:`MaterialTable`; rows whose databank formula contradicts their name are rejected first
    (before duplicates are merged: a wrong formula may equal another compound's) and listed in the report."""
    from metamat.data.readers import table_from_frame
    from metamat.data.table import Problem

    source = "chemicals: CRC standard thermodynamic properties (inorganic solids with a value)"
    bad = df["mismatch"].notna().to_numpy()
    table = table_from_frame(df[~bad].drop(columns="mismatch"), source=source, name=name, formula_column="formula",
                             id_column="cas", target_columns={spec.name: spec}, notes=notes)
    kept = np.flatnonzero(~bad) + 1  # row numbers of df: the validation numbered the kept rows 1, 2, ...
    r = table.report
    r.rejected, r.flagged = ([replace(p, row=None if p.row is None else int(kept[p.row - 1])) for p in problems]
                             for problems in (r.rejected, r.flagged))
    table.data["source_row"] = kept[table.data["source_row"].to_numpy(dtype=int) - 1]
    r.n_read += int(bad.sum())
    dropped = df.loc[bad, ["cas", "formula", "mismatch"]].itertuples(index=False)
    r.rejected += [Problem(f"formula contradicts the name: {w} (CAS {c}; the databank's formula)", source,
                           row=int(i) + 1, field="formula", value=f)
                   for i, (c, f, w) in zip(np.flatnonzero(bad), dropped, strict=True)]
    table.metadata.update({"citation": CRC_CITATION, "license": "MIT (chemicals package)"})
    return table


def load_crc_heat_capacity() -> MaterialTable:
    """Molar heat capacity at 298.15 K of the inorganic solids of the CRC table (column ``Cp (J/mol/K)``,
    per formula unit), with ``name`` and ``cas`` columns; see the module docstring."""
    df, notes = _crc_solids("Cps")
    spec = TargetSpec(TARGET, unit="J/(mol K)", quantity="heat capacity",
                      description="molar heat capacity of the solid at 298.15 K, per formula unit (CRC)")
    return _validated(df.rename(columns={"value": TARGET}), spec, "crc_heat_capacity", notes)


def load_crc_formation_enthalpy() -> MaterialTable:
    """Measured standard enthalpy of formation of the inorganic solid compounds of the CRC table at 298.15 K,
    converted from kJ/mol per formula unit to eV per atom (column ``formation enthalpy (eV/atom)``, the unit of
    the DFT tables). Elements are left out (0 by definition in their standard state) and counted in the notes."""
    from pymatgen.core import Composition

    df, notes = _crc_solids("Hfs")

    def atoms(formula: object) -> float:
        try:
            comp = Composition(str(formula))
        except Exception:  # noqa: BLE001 - the formula is rejected with its reason by the validation
            return float("nan")
        return float(comp.num_atoms) if len(comp.elements) > 1 else 0.0

    n = df["formula"].map(atoms).to_numpy(dtype=float)
    element = n == 0
    notes.append(f"{int(element.sum())} elements left out (formation enthalpy 0 by definition); J/mol per formula "
                 f"unit divided by the atoms per formula unit and by {FARADAY} C/mol to eV/atom")
    per_atom = df["value"] / np.where(np.isfinite(n), n, 1.0) / FARADAY  # no formula: rejected with that reason
    df = df.assign(value=per_atom)[~element]
    spec = TargetSpec(HF_TARGET, unit="eV/atom", quantity="formation energy",
                      description="measured standard enthalpy of formation of the solid at 298.15 K, per atom (CRC)")
    return _validated(df.rename(columns={"value": HF_TARGET}), spec, "crc_formation_enthalpy", notes)
