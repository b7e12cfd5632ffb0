"""The element-property table shipped with metamat (Z = 1..103, Magpie properties; sources in the CSV)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from metamat.data.formula import ELEMENTS


@dataclass(frozen=True)
class ElementTable:
    """Element properties indexed by atomic number: ``values[z, j]`` is property ``j`` of element ``z``.

    Row 0 is unused (all NaN) so that atomic numbers index the table directly. ``impute`` holds, per
    property, the value Magpie/matminer substitute for a missing entry.
    """

    symbols: tuple[str, ...]
    properties: tuple[str, ...]
    values: np.ndarray
    impute: np.ndarray

    def index(self, names: tuple[str, ...] | list[str]) -> np.ndarray:
        """Column indices of the named properties (KeyError names the unknown ones)."""
        unknown = [n for n in names if n not in self.properties]
        if unknown:
            raise KeyError(f"unknown element properties {unknown}; available: {list(self.properties)}")
        return np.array([self.properties.index(n) for n in names], dtype=np.int64)

    def matrix(self, names: tuple[str, ...] | list[str], impute_nan: bool = True) -> np.ndarray:
        """Array of shape (104, len(names)); missing values replaced by ``impute`` if asked."""
        cols = self.index(names)
        out = self.values[:, cols].copy()
        if impute_nan:
            rows, c = np.nonzero(np.isnan(out[1:]))
            out[rows + 1, c] = self.impute[cols][c]
        return out

    def column(self, name: str, impute_nan: bool = True) -> np.ndarray:
        return self.matrix([name], impute_nan)[:, 0]


@lru_cache(maxsize=1)
def load_element_table() -> ElementTable:
    """Read ``metamat/featurize/data/elements.csv`` (cached)."""
    text = resources.files("metamat.featurize").joinpath("data/elements.csv").read_text()
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    header = lines[0].split(",")
    properties = tuple(header[1:])
    values = np.full((len(ELEMENTS) + 1, len(properties)), np.nan)
    impute = None
    symbols = []
    for ln in lines[1:]:
        cells = ln.split(",")
        row = np.array([float(c) if c else np.nan for c in cells[1:]])
        if cells[0] == "impute":
            impute = row
            continue
        symbols.append(cells[0])
        values[len(symbols)] = row
    if tuple(symbols) != ELEMENTS or impute is None:
        raise RuntimeError("elements.csv is corrupt: rerun scripts/make_element_table.py")
    values.setflags(write=False)
    impute.setflags(write=False)
    return ElementTable(tuple(symbols), properties, values, impute)
