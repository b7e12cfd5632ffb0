"""Measured heat capacities of inorganic solids from the ``chemicals`` package (C. Bell et al., MIT license).

``load_crc_heat_capacity()`` reads the CRC Handbook's "Standard thermodynamic properties of chemical
substances" as the chemicals wheel ships it (``chemicals.heat_capacity.CRC_standard_data``: molar heat
capacity of the solid at 298.15 K and 1 bar, ``Cps``, J/(mol K), per formula unit), looks each CAS number up in
the chemicals identifier databank for its formula, and validates the rows into a
:class:`~metamat.data.table.MaterialTable` (duplicate formulas: median; every row read, used or rejected is in
the report). No network: ``pip install chemicals``. Organic compounds (carbon and hydrogen both present) are left
out and counted in the report's notes.

A measured, extensive property (it grows with the atoms per formula unit; Dulong-Petit: 3nR at high
temperature) that no table of the registry holds: the test bed of ``fewshot --basis``.
"""

from __future__ import annotations

import re

import pandas as pd

from metamat.data.table import MaterialTable, TargetSpec
from metamat.errors import DataSourceError

CRC_CITATION = ("W. M. Haynes (ed.), CRC Handbook of Chemistry and Physics, 95th ed., CRC Press (2014): Standard "
                "thermodynamic properties of chemical substances; as shipped by the chemicals package "
                "(C. Bell and contributors, https://github.com/CalebBell/chemicals, MIT license).")
TARGET = "Cp (J/mol/K)"
_ELEMENTS = re.compile(r"([A-Z][a-z]?)")


def _is_organic(formula: str) -> bool:
    elements = set(_ELEMENTS.findall(formula))
    return "C" in elements and "H" in elements


def load_crc_heat_capacity() -> MaterialTable:
    """Molar heat capacity at 298.15 K of the inorganic solids of the CRC table (column ``Cp (J/mol/K)``,
    per formula unit), with ``name`` and ``cas`` columns; see the module docstring."""
    try:
        from chemicals.heat_capacity import CRC_standard_data
        from chemicals.identifiers import search_chemical
    except ImportError as exc:
        raise DataSourceError("the CRC heat-capacity table ships in the chemicals package: pip install "
                              "chemicals") from exc
    from metamat.data.readers import table_from_frame

    solid = CRC_standard_data[CRC_standard_data["Cps"].notna()]
    formulas = []
    for cas in solid.index:
        try:
            formulas.append(search_chemical(str(cas)).formula)
        except Exception:  # noqa: BLE001 - a CAS number the databank does not know: the row is rejected below
            formulas.append(None)
    df = pd.DataFrame({"cas": solid.index.astype(str), "name": solid["Chemical"].to_numpy(), "formula": formulas,
                       TARGET: solid["Cps"].to_numpy(dtype=float)})
    organic = df["formula"].notna() & df["formula"].map(lambda f: isinstance(f, str) and _is_organic(f))
    unknown = df.loc[df["formula"].isna(), "cas"].tolist()
    notes = [f"{len(df)} solids with a heat capacity in the CRC table; {int(organic.sum())} organic compounds "
             "(C and H) left out; formulas from the chemicals identifier databank by CAS number"]
    if unknown:
        notes.append(f"{len(unknown)} CAS numbers are not in the identifier databank (no formula; rejected): "
                     + ", ".join(unknown))
    spec = TargetSpec(TARGET, unit="J/(mol K)", quantity="heat capacity",
                      description="molar heat capacity of the solid at 298.15 K, per formula unit (CRC)")
    table = table_from_frame(df[~organic], source="chemicals: CRC standard thermodynamic properties",
                             name="crc_heat_capacity", formula_column="formula", id_column="cas",
                             target_columns={TARGET: spec}, notes=notes)
    table.metadata.update({"citation": CRC_CITATION, "license": "MIT (chemicals package)"})
    return table
