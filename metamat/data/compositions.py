"""Batches of formulas as flat arrays: each unique formula is parsed once (CSR layout)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import pandas as pd
import scipy.sparse as sp

from metamat.data.formula import _NUMBER, AMOUNT_RANGE, ATOMIC_NUMBER, MAX_FORMULA_LENGTH, _parse_z
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

    def take(self, idx: np.ndarray) -> CompositionArrays:
        """Materials ``idx`` (a gather of their compressed-row entries)."""
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) == len(self) and (idx == np.arange(len(self))).all():
            return self
        counts = self.counts[idx]
        starts = self.offsets[:-1][idx]
        entry = np.repeat(starts - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(int(counts.sum()))
        offsets = np.r_[0, np.cumsum(counts)].astype(np.int64)
        return CompositionArrays(self.formulas[idx], offsets, self.z[entry], self.amounts[entry],
                                 self.fractions[entry])

    def segment_sum(self, values_t: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Per-material sums of ``weights * values`` for entry-major data given transposed, (k, entries).

        Returns (n_materials, k). A sparse (materials x entries) product: one pass, no Python loop.
        """
        data = np.ones(len(self.z)) if weights is None else weights
        s = sp.csr_matrix((data, np.arange(len(self.z)), self.offsets), shape=(len(self), len(self.z)))
        return np.asarray(s @ values_t.T)

    def slice(self, start: int, stop: int) -> CompositionArrays:
        """Materials ``start:stop`` as their own (views of the) arrays."""
        a, b = self.offsets[start], self.offsets[stop]
        return CompositionArrays(self.formulas[start:stop], self.offsets[start:stop + 1] - a, self.z[a:b],
                                 self.amounts[a:b], self.fractions[a:b])

    def padded_index(self) -> np.ndarray:
        """Entry indices of shape (max_count, n_materials); short rows repeat their first entry.

        Min, max and "min over the top entries" computed over these columns are exact (a repeated entry
        changes neither), so segment reductions become a short loop over columns, not over materials.
        """
        counts = self.counts
        width = int(counts.max()) if len(counts) else 0
        slot = np.arange(width)[:, None]
        return self.offsets[:-1][None, :] + np.where(slot < counts[None, :], slot, 0)

    def dense_fractions(self, n_elements: int = 103) -> np.ndarray:
        """Element-fraction matrix of shape (n_materials, n_elements); column j is Z = j + 1."""
        out = np.zeros((len(self), n_elements))
        out[self.owner, self.z - 1] = self.fractions
        return out

    def reduced_keys(self, digits: int = 4) -> np.ndarray:
        """One string per material that is equal exactly when the reduced formulas are (elements by atomic
        number, fractions rounded to ``digits``): Fe2O3, O3Fe2 and FeO1.5 share a key."""
        if len(self) == 0:
            return np.empty(0, dtype=object)
        entry = np.char.add(np.char.add(self.z.astype(str), ":"),
                            np.char.add(np.char.mod(f"%.{digits}f", self.fractions), ";")).astype(object)
        return np.add.reduceat(entry, self.offsets[:-1])

    def chemical_systems(self) -> np.ndarray:
        """Sorted element set per material, e.g. ``'Co-Li-O'``."""
        from metamat.data.formula import ELEMENTS

        symbols = np.asarray(ELEMENTS, dtype=object)[self.z - 1]
        order = np.lexsort((symbols, self.owner))
        sym_sorted = symbols[order]
        return np.array(["-".join(sym_sorted[a:b]) for a, b in zip(self.offsets[:-1], self.offsets[1:], strict=True)],
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


def _flat_tokens(strings: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tokenize flat formulas (``Fe2O3``, ``Al0.5Cu0.5``) of a whole batch with one regex pass.

    Tokens such as ``'O2'`` repeat across a batch, so each distinct token is parsed once and the rest is
    a hash lookup. Returns entry arrays (material index, Z, amount) and a mask of the materials that need
    the general parser (brackets, hydrates, spaces, unknown symbols, zero amounts, anything unexpected).
    """
    n = len(strings)
    text = "\n".join(strings)
    if not n or text.count("\n") != n - 1:  # a newline inside a string: let the general parser judge
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.ones(n, dtype=bool)
    codes, tokens = pd.factorize(np.array(_BATCH_TOKEN_RE.findall(text), dtype=object))
    token_z = np.zeros(len(tokens), dtype=np.int64)  # 0: separator, -1: not a flat-formula token
    token_amount = np.ones(len(tokens))
    lo, hi = AMOUNT_RANGE
    for k, token in enumerate(tokens):
        match = _FLAT_PART_RE.fullmatch(token)
        if token == "\n":
            continue
        z = ATOMIC_NUMBER.get(match.group(1)) if match else None
        amount = float(match.group(2)) if match and match.group(2) else 1.0
        token_z[k], token_amount[k] = (z, amount) if z is not None and lo <= amount <= hi else (-1, 1.0)
    z = token_z[codes]
    material = np.cumsum(z == 0)
    needs_general = np.fromiter(map(len, strings), dtype=np.int64, count=n) > MAX_FORMULA_LENGTH
    needs_general[material[z < 0]] = True
    element = z > 0
    material, z, amount = material[element], z[element], token_amount[codes[element]]
    needs_general[np.bincount(material, minlength=n) == 0] = True  # empty strings
    # repeated elements (CH3COOH) are summed: a material whose total exceeds the range may hold a sum out
    # of range, so the general parser (exact check) judges it; every sum is >= its tokens, so >= lo
    needs_general[np.bincount(material, weights=amount, minlength=n) > hi] = True
    keep = ~needs_general[material]
    return material[keep], z[keep], amount[keep], needs_general


_BATCH_TOKEN_RE = re.compile(rf"[A-Z][a-z]?{_NUMBER}?|\n|.", re.S)
_FLAT_PART_RE = re.compile(rf"([A-Z][a-z]?)({_NUMBER})?")


def _assemble(formulas: np.ndarray, material: np.ndarray, z: np.ndarray, amount: np.ndarray) -> CompositionArrays:
    """CSR arrays from entries (material, Z, amount); repeated elements of a material are summed."""
    order = np.lexsort((z, material))
    material, z, amount = material[order], z[order], amount[order]
    key = material * 128 + z
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, np.int64)
    if len(first) != len(key):  # e.g. CH3COOH: C and O and H appear twice
        amount = np.add.reduceat(amount, first)
        material, z = material[first], z[first]
    counts = np.bincount(material, minlength=len(formulas))
    offsets = np.zeros(len(formulas) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    totals = np.add.reduceat(amount, offsets[:-1]) if len(amount) else np.zeros(0)
    fractions = amount / np.repeat(totals, counts)
    return CompositionArrays(np.asarray(formulas, dtype=object), offsets, z, amount, fractions)


def compositions_from_dense(symbols: Sequence[str], amounts: np.ndarray,
                            formulas: Sequence[str] | np.ndarray | None = None) -> CompositionArrays:
    """Build :class:`CompositionArrays` from a dense (n, len(symbols)) array of amounts (0 = absent; columns
    in any order); ``formulas`` default to empty strings."""
    amounts = np.asarray(amounts, dtype=float)
    rows, cols = np.nonzero(amounts)
    z_of = np.array([ATOMIC_NUMBER[s] for s in symbols], dtype=np.int64)
    names = np.full(len(amounts), "", dtype=object) if formulas is None else np.asarray(formulas, dtype=object)
    return _assemble(names, rows, z_of[cols], amounts[rows, cols])


def compositions_from_amounts(formulas: Sequence[str], amounts: Sequence[dict[int, float]]) -> CompositionArrays:
    """Build :class:`CompositionArrays` from parsed amounts keyed by atomic number."""
    counts = np.fromiter(map(len, amounts), dtype=np.int64, count=len(amounts))
    if len(counts) and counts.min() == 0:
        raise ValueError("every composition needs at least one element")
    material = np.repeat(np.arange(len(amounts)), counts)
    z = np.fromiter(chain.from_iterable(amounts), dtype=np.int64, count=int(counts.sum()))
    amt = np.fromiter(chain.from_iterable(a.values() for a in amounts), dtype=np.float64, count=len(z))
    return _assemble(np.asarray(formulas, dtype=object), material, z, amt)


def _hash_safe(values: np.ndarray) -> np.ndarray:
    """Keys for ``pd.factorize``: strings with a NUL byte get a key no clean string can equal.

    pandas hashes object strings as C strings, so ``"Fe2O3"`` and ``"Fe2O3\\x00junk"`` would be one value.
    """
    try:
        clean = "\x00" not in "".join(values)  # one C pass when every value is a string
    except TypeError:  # None, NaN or numbers among them
        clean = "\x00" not in "".join(v for v in values if type(v) is str)
    if clean:
        return values
    has_nul = np.fromiter((type(v) is str and "\x00" in v for v in values), dtype=bool, count=len(values))
    keys = values.copy()
    keys[has_nul] = [("\x01NUL" + v.replace("\x00", "\x01")) for v in values[has_nul]]
    return keys


def _first_values(values: np.ndarray, codes: np.ndarray, n_uniques: int) -> np.ndarray:
    """The original value of each factorized code (its first row)."""
    out = np.empty(n_uniques, dtype=object)
    seen = codes >= 0
    first = np.unique(codes[seen], return_index=True)[1]
    out[:] = values[np.flatnonzero(seen)[first]] if n_uniques else []
    return out


def parse_formulas(values: Sequence[object] | pd.Series | np.ndarray, *, source: str | None = None,
                   field: str | None = None, errors: str = "raise", first_row: int = 1) -> ParsedFormulas:
    """Parse a column of formulas; each distinct string is parsed once.

    Flat formulas of the whole batch are tokenized in one vectorized pass; the rest (brackets, hydrates,
    bad input) go through :func:`~metamat.data.formula.parse_amounts` one by one. Elements of each
    composition are stored in order of atomic number. ``errors="raise"`` raises one
    :class:`InputError` listing every bad row (``first_row`` is the number given to the first value);
    ``errors="mask"`` returns code -1 for bad rows and lists them in ``problems``.
    """
    if errors not in {"raise", "mask"}:
        raise ValueError(f"errors must be 'raise' or 'mask', not {errors!r}")
    values = np.asarray(pd.Series(values, dtype=object).to_numpy(dtype=object), dtype=object)
    keys = _hash_safe(values)
    codes, uniques = pd.factorize(keys, use_na_sentinel=True)
    uniques = np.asarray(uniques, dtype=object) if keys is values else _first_values(values, codes, len(uniques))
    is_str = np.fromiter((type(u) is str for u in uniques), dtype=bool, count=len(uniques))
    str_index = np.flatnonzero(is_str)
    material, z, amount, general = _flat_tokens(uniques[str_index].tolist())
    material = str_index[material]
    parsed = np.zeros(len(uniques), dtype=bool)
    parsed[str_index[~general]] = True
    unique_problem: dict[int, str] = {}
    extra_material, extra = [], []
    for k in np.r_[str_index[general], np.flatnonzero(~is_str)]:
        try:
            amounts = _parse_z(uniques[k])
        except FormulaError as exc:
            unique_problem[int(k)] = exc.reason
            continue
        parsed[k] = True
        extra_material.append(k)
        extra.append(amounts)
    if extra:
        counts = [len(a) for a in extra]
        material = np.r_[material, np.repeat(extra_material, counts)]
        z = np.r_[z, np.fromiter(chain.from_iterable(extra), dtype=np.int64, count=sum(counts))]
        amount = np.r_[amount, np.fromiter(chain.from_iterable(a.values() for a in extra), dtype=np.float64,
                                           count=sum(counts))]
    remap = np.full(len(uniques) + 1, -1, dtype=np.int64)  # last slot keeps -1 for missing values
    remap[np.flatnonzero(parsed)] = np.arange(parsed.sum())
    comps = _assemble(uniques[parsed], remap[material], z, amount)
    row_codes = remap[codes]  # code -1 (missing) indexes the last slot, which is -1
    problems: list[Problem] = []
    bad_rows = np.flatnonzero(row_codes < 0)
    for r in bad_rows:
        c = codes[r]
        reason = "missing formula (empty or NaN)" if c < 0 else unique_problem[int(c)]
        problems.append(Problem(reason, source, int(r) + first_row, field, None if c < 0 else uniques[c]))
    if problems and errors == "raise":
        raise InputError(problems=problems)
    return ParsedFormulas(comps, row_codes, problems)
