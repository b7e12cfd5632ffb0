"""Candidate generation: composition grids over an element set (streamed in chunks) and element substitution.

Grid: every composition over ``elements`` with at most ``max_elements`` of them present and each fraction a
positive multiple of ``step`` (``1/step = units`` must be an integer). A composition is an integer row of
``units`` summing to ``units`` (e.g. step 0.05: Li0.25O0.75 is ``[5, 15]``), so no two rows repeat.
The space is numbered once (:class:`GridPlan`: subsets of k elements in lexicographic order, times the
compositions of ``units`` into k positive parts), and any index range ``[start, stop)`` of it is built
directly with array operations (:meth:`GridPlan.chunk`), so workers rebuild their own chunks from two
integers and nothing ever holds the whole space. :func:`composition_chunks` is the plain generator.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from math import comb

import numpy as np
import pandas as pd

from metamat.data.formula import ATOMIC_NUMBER
from metamat.errors import InputError

MAX_TABLE_ROWS = 20_000_000  # compositions of one size k held per process (int16: 160 MB at k = 4)


@lru_cache(maxsize=16)
def integer_compositions(units: int, k: int) -> np.ndarray:
    """All ordered ways to write ``units`` as k positive integers, shape (C(units-1, k-1), k), int16,
    in lexicographic order of the cut points (stars and bars)."""
    n = comb(units - 1, k - 1)
    if n > MAX_TABLE_ROWS:
        raise InputError(f"{n:,} compositions of {k} elements at this step: too fine; use a coarser --step "
                         "or fewer --max-elements", field="--step")
    cuts = np.fromiter(itertools.chain.from_iterable(itertools.combinations(range(1, units), k - 1)),
                       dtype=np.int16, count=n * (k - 1)).reshape(n, k - 1)
    edges = np.hstack([np.zeros((n, 1), np.int16), cuts, np.full((n, 1), units, np.int16)])
    out = np.diff(edges, axis=1).astype(np.int16)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=64)
def _subsets(n_elements: int, k: int) -> np.ndarray:
    return np.array(list(itertools.combinations(range(n_elements), k)), dtype=np.int64).reshape(-1, k)


def parse_elements(text: str | Sequence[str]) -> tuple[str, ...]:
    """``'Li,La,Zr,O'`` -> ('Li', 'La', 'Zr', 'O'); unknown or repeated symbols raise InputError."""
    items = [s.strip() for s in (text.split(",") if isinstance(text, str) else text) if s.strip()]
    bad = [s for s in items if s not in ATOMIC_NUMBER]
    if bad or not items:
        raise InputError(f"unknown element symbols {bad}" if bad else "no elements given", field="--elements",
                         value=text)
    if len(set(items)) != len(items):
        raise InputError("an element is listed twice", field="--elements", value=text)
    return tuple(items)


@dataclass(frozen=True)
class GridPlan:
    """The numbered composition space of ``elements`` at ``step`` with ``min_elements`` to ``max_elements``
    of them present."""

    elements: tuple[str, ...]
    step: float
    max_elements: int
    min_elements: int = 1

    def __post_init__(self) -> None:
        units = 1.0 / self.step if self.step > 0 else 0.0
        if not (0 < self.step <= 1) or abs(units - round(units)) > 1e-6:
            raise InputError("step must be 1/n for a whole number n (e.g. 0.05, 0.1, 0.125)", field="--step",
                             value=self.step)
        if not 1 <= self.max_elements <= len(self.elements):
            raise InputError(f"max elements must be between 1 and {len(self.elements)}", field="--max-elements",
                             value=self.max_elements)
        if not 1 <= self.min_elements <= self.max_elements:
            raise InputError("min elements must be between 1 and max elements", field="--min-elements",
                             value=self.min_elements)

    @property
    def units(self) -> int:
        return round(1.0 / self.step)

    def block_sizes(self) -> list[tuple[int, int, int]]:
        """Per size k: (k, number of element subsets, compositions per subset)."""
        n = len(self.elements)
        return [(k, comb(n, k), comb(self.units - 1, k - 1))
                for k in range(self.min_elements, min(self.max_elements, self.units) + 1)]

    def __len__(self) -> int:
        return sum(s * c for _, s, c in self.block_sizes())

    def chunk(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` of the space as an int16 array (stop - start, len(elements)) of units."""
        out = np.zeros((max(stop - start, 0), len(self.elements)), np.int16)
        offset = 0
        for k, n_sub, per in self.block_sizes():
            size = n_sub * per
            a, b = max(start, offset), min(stop, offset + size)
            if a < b:
                g = np.arange(a - offset, b - offset, dtype=np.int64)
                table = integer_compositions(self.units, k)
                rows = np.arange(a - start, b - start)[:, None]
                out[rows, _subsets(len(self.elements), k)[g // per]] = table[g % per]
            offset += size
        return out

    def ranges(self, chunk_size: int) -> list[tuple[int, int]]:
        n = len(self)
        return [(s, min(s + chunk_size, n)) for s in range(0, n, chunk_size)]


def composition_chunks(elements: Sequence[str], step: float, max_elements: int, chunk_size: int = 100_000,
                       min_elements: int = 1) -> Iterator[np.ndarray]:
    """Yield the composition grid as integer amount arrays of at most ``chunk_size`` rows (columns =
    ``elements``; amounts in units of ``step``)."""
    plan = GridPlan(tuple(elements), step, max_elements, min_elements)
    for start, stop in plan.ranges(chunk_size):
        yield plan.chunk(start, stop)


def formulas_from_amounts(elements: Sequence[str], amounts: np.ndarray) -> np.ndarray:
    """Reduced formula strings, e.g. [[5, 15]] over (Li, O) -> 'LiO3'; elements in the given column order."""
    a = np.asarray(amounts).astype(np.int64)
    a = a // np.maximum(np.gcd.reduce(a, axis=1), 1)[:, None]
    lut = np.array(["", ""] + [str(i) for i in range(2, int(a.max(initial=1)) + 1)], dtype=object)
    out = np.full(len(a), "", dtype=object)
    for j, symbol in enumerate(elements):
        col = a[:, j]
        out = out + np.where(col > 0, symbol + lut[col], "")
    return out


# ------------------------------------------------------------------------------------------ substitution
@lru_cache(maxsize=1)
def _substitution_data() -> tuple[dict[str, int], dict[str, float], dict[str, set[int]], dict[str, bool]]:
    """Per element: periodic-table group, average ionic radius (pymatgen, Å), common oxidation states and
    whether SMACT counts it as a metal."""
    from pymatgen.core.periodic_table import Element

    from metamat.screen.filters import oxidation_table

    table = oxidation_table()["elements"]
    group, radius, states, metal = {}, {}, {}, {}
    for symbol in ATOMIC_NUMBER:
        el = Element(symbol)
        group[symbol] = el.group
        r = float(el.average_ionic_radius)
        radius[symbol] = r if r > 0 else float("nan")
        states[symbol] = set(table.get(symbol, {}).get("states", []))
        metal[symbol] = bool(table.get(symbol, {}).get("metal", False))
    return group, radius, states, metal


def similar_elements(symbol: str, allowed: Sequence[str] | None = None, radius_tol: float = 0.15) -> list[str]:
    """Elements that may replace ``symbol``: the same periodic-table group, or (both metals or both
    non-metals) a shared common oxidation state and an average ionic radius within ``radius_tol``
    (relative). Limited to ``allowed`` if given."""
    group, radius, states, metal = _substitution_data()
    pool = allowed if allowed is not None else list(ATOMIC_NUMBER)
    out = []
    for other in pool:
        if other == symbol:
            continue
        same_group = group[other] == group[symbol] and group[symbol] not in (None, 3)  # 3: lanthanides mixed in
        close = (metal[other] == metal[symbol] and bool(states[other] & states[symbol])
                 and abs(radius[other] - radius[symbol]) <= radius_tol * radius[symbol])
        if same_group or close:
            out.append(other)
    return out


def substitute(formulas: Sequence[str], allowed: Sequence[str] | None = None, radius_tol: float = 0.15,
               source: str | None = None) -> pd.DataFrame:
    """Single-element substitutions of known compounds: one row per new candidate with columns
    ``formula`` (same amounts, one element replaced), ``parent``, ``replaced``, ``by``. Candidates that
    are already among the parents, or that repeat, are listed once (first parent wins)."""
    from metamat.data.compositions import parse_formulas
    from metamat.data.formula import ELEMENTS

    parsed = parse_formulas(list(formulas), source=source, field="formula")
    comps = parsed.compositions
    rows = []
    seen = {_key(dict(zip(comps.z[a:b].tolist(), comps.amounts[a:b].tolist(), strict=True)))
            for a, b in zip(comps.offsets[:-1], comps.offsets[1:], strict=True)}
    cache: dict[str, list[str]] = {}
    for i, parent in enumerate(comps.formulas):
        a, b = comps.offsets[i], comps.offsets[i + 1]
        amounts = dict(zip((ELEMENTS[z - 1] for z in comps.z[a:b]), comps.amounts[a:b].tolist(), strict=True))
        for old in amounts:
            for new in cache.setdefault(old, similar_elements(old, allowed, radius_tol)):
                if new in amounts:
                    continue
                swapped = {(new if s == old else s): v for s, v in amounts.items()}
                key = _key({ATOMIC_NUMBER[s]: v for s, v in swapped.items()})
                if key in seen:
                    continue
                seen.add(key)
                rows.append((_formula(swapped), parent, old, new))
    return pd.DataFrame(rows, columns=["formula", "parent", "replaced", "by"])


def _key(amounts: dict[int, float]) -> tuple:
    total = sum(amounts.values())
    return tuple(sorted((z, round(v / total, 9)) for z, v in amounts.items()))


def _formula(amounts: dict[str, float]) -> str:
    """Formula with elements in order of increasing electronegativity (cations first), e.g. KBr, LiCoO2."""
    from metamat.screen.filters import oxidation_table

    table = oxidation_table()["elements"]
    order = sorted(amounts, key=lambda s: (table.get(s, {}).get("pauling") or 5.0, s))
    return "".join(s if amounts[s] == 1 else f"{s}{amounts[s]:g}" for s in order)
