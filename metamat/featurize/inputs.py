"""What the featurizers accept besides a list of formula strings: a DataFrame (its formula column), a pandas
Series, pymatgen ``Composition`` and ``Structure`` objects (their compositions), one formula string."""

from __future__ import annotations

from typing import Any

import numpy as np

from metamat.errors import InputError


def _formula_of(item: Any) -> Any:
    """A formula string for a pymatgen Composition/Structure (or anything with ``.composition``); other
    items unchanged (strings, None, NaN: the parser judges them)."""
    if isinstance(item, str) or item is None:
        return item
    comp = getattr(item, "composition", item)  # Structure, Molecule, ComputedEntry -> Composition
    if hasattr(comp, "get_el_amt_dict"):
        return "".join(f"{el}{amt:.12g}" for el, amt in comp.get_el_amt_dict().items())
    return item


def formula_inputs(materials: Any, formula_column: str | None = None) -> tuple[np.ndarray, str | None]:
    """Object array of formula strings (pymatgen objects converted) and, for a DataFrame, the column used
    (``formula_column`` or the one guessed from names and content)."""
    column = None
    if hasattr(materials, "columns") and hasattr(materials, "iloc"):  # a pandas DataFrame
        from metamat.data.readers import guess_formula_column

        df = materials
        if formula_column is None:
            formula_column = guess_formula_column(df, exclude=set(), notes=[])
            if formula_column is None:
                raise InputError(f"no formula column found among {list(map(str, df.columns))}; pass "
                                 "formula_column=", source="DataFrame")
        elif formula_column not in df.columns:
            raise InputError(f"no column {formula_column!r}; columns: {list(map(str, df.columns))}",
                             source="DataFrame", field=formula_column)
        column, materials = formula_column, df[formula_column]
    if isinstance(materials, str) or hasattr(materials, "get_el_amt_dict") or hasattr(materials, "lattice"):
        materials = [materials]  # one material
    items = list(materials.tolist() if hasattr(materials, "tolist") else materials)
    out = np.empty(len(items), dtype=object)
    out[:] = [_formula_of(x) for x in items]
    return out, column
