"""User constraints on candidates: element lists, element count, cost and supply risk per element.

Element tables are read from files that ship in the pymatgen wheel (not copied into metamat):

- cost: ``pymatgen/analysis/costdb_elements.csv`` (USD per kg of the pure element; each row cites its source,
  mostly Wolfram Alpha, Sept. 2013, and Wikipedia "Prices of elements and their compounds", 2013/2019; read
  by ``pymatgen.analysis.cost.CostDBElements``). A compound's cost per kg is the mass-fraction-weighted
  sum of its elements' costs (raw-material cost, no processing).
- supply risk: ``pymatgen/analysis/hhi_data.csv``, the Herfindahl-Hirschman index of production and of
  reserves per element (0-10000; >2500 "highly concentrated"), from M. W. Gaultois et al., Data-driven
  review of thermoelectric materials: performance and resource considerations, Chem. Mater. 25, 2911
  (2013). A compound's HHI is the mass-fraction-weighted mean, as in ``pymatgen.analysis.hhi.HHIModel``.

Elements missing from a table give NaN (a cost/HHI limit then rejects the candidate and says why).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np

from metamat.data.compositions import CompositionArrays
from metamat.data.formula import ATOMIC_NUMBER, ELEMENTS
from metamat.errors import InputError
from metamat.featurize.elements import load_element_table

COST_SOURCE = "pymatgen/analysis/costdb_elements.csv (Wolfram Alpha 2013; Wikipedia 2013/2019), USD/kg"
HHI_SOURCE = "pymatgen/analysis/hhi_data.csv (Gaultois et al., Chem. Mater. 25, 2911 (2013))"


def _pymatgen_file(name: str) -> str:
    return resources.files("pymatgen.analysis").joinpath(name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def element_cost_per_kg() -> np.ndarray:
    """USD/kg indexed by atomic number (index 0 unused); NaN where the table has no price."""
    out = np.full(len(ELEMENTS) + 1, np.nan)
    for row in csv.reader(_pymatgen_file("costdb_elements.csv").splitlines(), quotechar="|"):
        if row and row[0] in ATOMIC_NUMBER:
            z = ATOMIC_NUMBER[row[0]]
            out[z] = np.fmin(out[z], float(row[1]))  # the lowest price where several are listed (as pymatgen)
    return out


@lru_cache(maxsize=1)
def element_hhi() -> tuple[np.ndarray, np.ndarray]:
    """(HHI of production, HHI of reserves) indexed by atomic number; NaN where unknown."""
    prod, res = np.full(len(ELEMENTS) + 1, np.nan), np.full(len(ELEMENTS) + 1, np.nan)
    for line in _pymatgen_file("hhi_data.csv").splitlines():
        if line and not line.startswith("#"):
            sym, p, r = line.split(",")[:3]
            if sym.strip() in ATOMIC_NUMBER:
                prod[ATOMIC_NUMBER[sym.strip()]], res[ATOMIC_NUMBER[sym.strip()]] = float(p), float(r)
    return prod, res


def mass_fractions(comps: CompositionArrays) -> np.ndarray:
    """Mass fraction of each entry of ``comps`` (same layout as ``comps.fractions``)."""
    weight = load_element_table().column("AtomicWeight")[comps.z]
    mass = comps.fractions * weight
    total = comps.segment_sum(np.ones((1, len(mass))), mass)[:, 0]
    return mass / total[comps.owner]


def _mass_weighted(comps: CompositionArrays, per_element: np.ndarray) -> np.ndarray:
    w = mass_fractions(comps)
    vals = per_element[comps.z]
    total = comps.segment_sum(np.nan_to_num(vals)[None, :], w)[:, 0]
    missing = comps.segment_sum(np.isnan(vals).astype(float)[None, :])[:, 0] > 0
    return np.where(missing, np.nan, total)


def cost_per_kg(comps: CompositionArrays) -> np.ndarray:
    """Raw-material cost (USD/kg) per material: sum of mass fraction x element price."""
    return _mass_weighted(comps, element_cost_per_kg())


def hhi_production(comps: CompositionArrays) -> np.ndarray:
    """Mass-weighted HHI of production per material (supply risk; lower is safer)."""
    return _mass_weighted(comps, element_hhi()[0])


def hhi_reserve(comps: CompositionArrays) -> np.ndarray:
    """Mass-weighted HHI of reserves per material."""
    return _mass_weighted(comps, element_hhi()[1])


def _symbols(values: Sequence[str] | str | None, name: str) -> tuple[str, ...]:
    if values is None:
        return ()
    items = [v.strip() for v in (values.split(",") if isinstance(values, str) else values) if v.strip()]
    bad = [v for v in items if v not in ATOMIC_NUMBER]
    if bad:
        raise InputError(f"unknown element symbol(s) {bad}", field=name)
    return tuple(items)


@dataclass
class Constraints:
    """What a candidate must satisfy. ``filters`` are extra callables ``CompositionArrays -> bool array``
    (e.g. charge-neutrality or stability filters from a screening module)."""

    exclude: Sequence[str] | str | None = None
    require: Sequence[str] | str | None = None
    max_elements: int | None = None
    max_cost_per_kg: float | None = None
    max_hhi: float | None = None
    filters: list[Callable[[CompositionArrays], np.ndarray]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.exclude = _symbols(self.exclude, "--exclude-elements")
        self.require = _symbols(self.require, "--require-elements")
        both = set(self.exclude) & set(self.require)
        if both:
            raise InputError(f"element(s) {sorted(both)} both required and excluded", field="--require-elements")
        if self.max_elements is not None and self.max_elements < 1:
            raise InputError(f"must be at least 1, got {self.max_elements}", field="--max-elements")

    @property
    def active(self) -> bool:
        return bool(self.exclude or self.require or self.max_elements or self.max_cost_per_kg is not None
                    or self.max_hhi is not None or self.filters)

    def check(self, comps: CompositionArrays) -> tuple[np.ndarray, np.ndarray]:
        """(ok, reason) per material: ``reason`` is '' where ok, else why the candidate is excluded."""
        n = len(comps)
        reason = np.full(n, "", dtype=object)

        def fail(mask: np.ndarray, why: str) -> None:
            mask = np.asarray(mask, bool) & (reason == "")
            reason[mask] = why

        if self.exclude:
            ex = np.isin(comps.z, [ATOMIC_NUMBER[s] for s in self.exclude]).astype(float)
            fail(comps.segment_sum(ex[None, :])[:, 0] > 0, f"contains an excluded element ({','.join(self.exclude)})")
        for sym in self.require:
            has = comps.segment_sum((comps.z == ATOMIC_NUMBER[sym]).astype(float)[None, :])[:, 0] > 0
            fail(~has, f"lacks required element {sym}")
        if self.max_elements:
            fail(comps.counts > self.max_elements, f"more than {self.max_elements} elements")
        if self.max_cost_per_kg is not None:
            c = cost_per_kg(comps)
            fail(np.isnan(c), "element cost unknown")
            fail(c > self.max_cost_per_kg, f"cost above {self.max_cost_per_kg:g} USD/kg")
        if self.max_hhi is not None:
            h = hhi_production(comps)
            fail(np.isnan(h), "element HHI unknown")
            fail(h > self.max_hhi, f"HHI of production above {self.max_hhi:g}")
        for f in self.filters:
            fail(~np.asarray(f(comps), bool), f"rejected by filter {getattr(f, '__name__', 'filter')}")
        return reason == "", reason
