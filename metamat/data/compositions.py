"""Batches of formulas as flat arrays: each unique formula is parsed once (CSR layout)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from itertools import chain

import scipy.sparse as sp

from metamat.data.formula import _parse_z
from metamat.errors import FormulaError, InputError, Problem


@dataclass(frozen=True)
class CompositionArrays:
    """Compositions in compressed-row form.

    Material ``i`` owns entries ``offsets[i]:offsets[i+1]`` of ``z`` (atomic numbers), ``amounts``
    (as written) and ``fractions`` (normalized per material).
    """

    formulas: np.ndarray
    offsets: np.ndarray
    z: np.ndarray
    amounts: np.ndarray
    fractions: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def counts(self) -> np.ndarray:
        """Number of distinct elements per material."""
        return np.diff(self.offsets)

    @property
    def owner(self) -> np.ndarray:
        """For each entry, the index of the material it belongs to."""
        return np.repeat(np.arange(len(self)), self.counts)

    def segment_sum(self, values_t: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Per-material sums of ``weights * values`` for entry-major data given transposed, (k, entries).

        Returns (n_materials, k). A sparse (materials x entries) product: one pass, no Python loop.
        """
        data = np.ones(len(self.z)) if weights is None else weights
        s = sp.csr_matrix((data, np.arange(len(self.z)), self.offsets), shape=(len(self), len(self.z)))
        return np.asarray(s @ values_t.T)

    def dense_fractions(self, n_elements: int = 103) -> np.ndarray:
        """Element-fraction matrix of shape (n_materials, n_elements); column j is Z = j + 1."""
        out = np.zeros((len(self), n_elements))
        out[self.owner, self.z - 1] = self.fractions
        return out

    def chemical_systems(self) -> np.ndarray:
        """Sorted element set per material, e.g. ``'Co-Li-O'``."""
        from metamat.data.formula import ELEMENTS

        symbols = np.asarray(ELEMENTS, dtype=object)[self.z - 1]
        order = np.lexsort((symbols, self.owner))
        sym_sorted = symbols[order]
        return np.array(["-".join(sym_sorted[a:b]) for a, b in zip(self.offsets[:-1], self.offsets[1:])],
                        dtype=object)


@dataclass(frozen=True)
class ParsedFormulas:
    """Rows mapped onto unique compositions. ``codes[i] == -1`` marks a row that could not be parsed."""

    compositions: CompositionArrays
    codes: np.ndarray
    problems: list[Problem]

    @property
    def valid(self) -> np.ndarray:
        return self.codes >= 0


def compositions_from_amounts(formulas: Sequence[str], amounts: Sequence[dict[int, float]]) -> CompositionArrays:
    """Build :class:`CompositionArrays` from parsed amounts keyed by atomic number."""
    counts = np.fromiter(map(len, amounts), dtype=np.int64, count=len(amounts))
    if len(counts) and counts.min() == 0:
        raise ValueError("every composition needs at least one element")
    offsets = np.zeros(len(amounts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    nnz = int(offsets[-1])
    z = np.fromiter(chain.from_iterable(amounts), dtype=np.int64, count=nnz)
    amt = np.fromiter(chain.from_iterable(a.values() for a in amounts), dtype=np.float64, count=nnz)
    totals = np.add.reduceat(amt, offsets[:-1]) if nnz else np.zeros(0)
    fractions = amt / np.repeat(totals, counts)
    return CompositionArrays(np.asarray(formulas, dtype=object), offsets, z, amt, fractions)


def parse_formulas(values: Sequence[object] | pd.Series | np.ndarray, *, source: str | None = None,
                   field: str | None = None, errors: str = "raise", first_row: int = 1) -> ParsedFormulas:
    """Parse a column of formulas; each distinct string is parsed once.

    ``errors="raise"`` raises one :class:`InputError` listing every bad row (``first_row`` is the number
    given to the first value); ``errors="mask"`` returns code -1 for bad rows and lists them in
    ``problems``.
    """
    if errors not in {"raise", "mask"}:
        raise ValueError(f"errors must be 'raise' or 'mask', not {errors!r}")
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    uniques = np.asarray(uniques, dtype=object)
    good_formulas, good_amounts = [], []
    remap = np.full(len(uniques) + 1, -1, dtype=np.int64)  # last slot keeps -1 for missing values
    unique_problem: dict[int, str] = {}
    for k, formula in enumerate(uniques):
        try:
            amounts = _parse_z(formula)
        except FormulaError as exc:
            unique_problem[k] = exc.reason
            continue
        remap[k] = len(good_formulas)
        good_formulas.append(formula)
        good_amounts.append(amounts)
    row_codes = remap[codes]  # code -1 (missing) indexes the last slot, which is -1
    problems: list[Problem] = []
    bad_rows = np.flatnonzero(row_codes < 0)
    for r in bad_rows:
        c = codes[r]
        reason = "missing formula (empty or NaN)" if c < 0 else unique_problem[int(c)]
        problems.append(Problem(reason, source, int(r) + first_row, field, None if c < 0 else uniques[c]))
    if problems and errors == "raise":
        raise InputError(problems=problems)
    return ParsedFormulas(compositions_from_amounts(good_formulas, good_amounts), row_codes, problems)
