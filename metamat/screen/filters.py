"""Filters on candidate compositions, vectorized over dense amount arrays; each reports what it removed and why.

A batch of candidates is a dense array ``amounts`` of shape (n, E) over the element symbols ``elements``
(an element is absent where its amount is 0). Amounts may be any positive numbers: every rule here is
invariant to scaling a composition.

Charge neutrality with electronegativity balance (the SMACT rule, Davies et al. 2019, as in
``smact.screening.smact_validity``): a composition passes if it is a single element, or (``alloys``) all its
elements are metals, or some choice of one common oxidation state per element makes the total charge zero
while every cation is strictly less electronegative (Pauling) than every anion. Oxidation states,
electronegativities and the metal list are SMACT's defaults (ICSD-2024 states seen at least 3 times),
shipped in ``data/oxidation_states.json``. With ``mixed_valence`` (default on) the elements SMACT lists as
mixed-valence (Fe, Mn, Co, Cu, V, Ti, ...) may also carry any total charge between n * (lowest) and
n * (highest) of their states of one sign, so Fe3O4 (2 Fe(III) + 1 Fe(II)) passes. This interval is exact
when the element's states of that sign are consecutive integers (Fe +1..+6), and otherwise a slightly
permissive superset of SMACT's per-atom ``mixed_valence=True`` expansion. Decisions on the usual examples:
NaCl, Fe2O3 pass; Fe3O4 passes only with mixed valence; NaCl2 fails (Na+ and 2 Cl- leave -1) and LiO2 as
written fails (the superoxide O2^- has O at -1/2, not a common state; Li2O2, the peroxide, passes).

How it is vectorized: rows are grouped by chemical system (the set of present elements); per system, the
allowed oxidation-state combinations (those passing the electronegativity test) are enumerated once and
cached as two matrices of per-atom charge bounds ``lo`` and ``hi`` (equal unless mixed valence); then
``amounts @ lo.T <= 0 <= amounts @ hi.T`` for any combination decides every row of the system at once.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np

from metamat.active.constraints import Constraints
from metamat.data.compositions import compositions_from_dense

REASON_CHARGE = "no common oxidation states make it charge neutral with cations less electronegative than anions"
REASON_NO_STATES = "an element has no common oxidation state (or no Pauling electronegativity)"


@dataclass
class FilterReport:
    """What one filter did: candidates seen, kept, and removed per reason."""

    name: str
    seen: int = 0
    kept: int = 0
    removed: dict[str, int] = field(default_factory=dict)

    def add(self, other: FilterReport) -> None:
        self.seen += other.seen
        self.kept += other.kept
        for reason, count in other.removed.items():
            self.removed[reason] = self.removed.get(reason, 0) + count

    def as_dict(self) -> dict:
        return {"name": self.name, "seen": self.seen, "kept": self.kept, "removed": dict(self.removed)}


@lru_cache(maxsize=1)
def oxidation_table() -> dict:
    """The shipped SMACT-derived table: per element ``states``, ``pauling``, ``metal``; ``mixed_valence``."""
    text = resources.files("metamat.screen").joinpath("data/oxidation_states.json").read_text()
    return json.loads(text)


@lru_cache(maxsize=4096)
def system_charge_bounds(symbols: tuple[str, ...], mixed_valence: bool = True, alloys: bool = True
                         ) -> tuple[str, np.ndarray, np.ndarray]:
    """Per chemical system: ``("all", ...)`` if every composition passes (one element, or an alloy),
    ``("none", ...)`` if none can, else ``("check", lo, hi)`` with lo/hi of shape (combinations, k)."""
    table, empty = oxidation_table(), np.zeros((0, len(symbols)))
    info = [table["elements"].get(s) for s in symbols]
    if len(symbols) == 1 or (alloys and all(i is not None and i["metal"] for i in info)):
        return "all", empty, empty
    if any(i is None or not i["states"] or i["pauling"] is None for i in info):
        return "none", empty, empty
    mixed = set(table["mixed_valence"]) if mixed_valence else set()
    choices = []  # per element: list of (sign, lo, hi)
    for s, i in zip(symbols, info, strict=True):
        states = i["states"]
        options = [(np.sign(q), q, q) for q in states]
        if s in mixed:
            for sign in (1, -1):
                group = [q for q in states if np.sign(q) == sign]
                if len(group) > 1:
                    options.append((sign, min(group), max(group)))
        choices.append(options)
    chi = np.array([i["pauling"] for i in info])
    lo, hi = [], []
    for combo in itertools.product(*choices):
        signs = np.array([c[0] for c in combo])
        cation, anion = signs > 0, signs < 0
        if not anion.any() or not cation.any():
            continue  # cannot be neutral
        if cation.any() and anion.any() and chi[cation].max() >= chi[anion].min():
            continue  # Pauling test: every cation strictly less electronegative than every anion
        lo.append([c[1] for c in combo])
        hi.append([c[2] for c in combo])
    if not lo:
        return "none", empty, empty
    lo_a, hi_a = np.array(lo, float), np.array(hi, float)
    pairs = np.unique(np.hstack([lo_a, hi_a]), axis=0)
    return "check", pairs[:, :len(symbols)], pairs[:, len(symbols):]


def _system_keys(present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique presence patterns (rows of ``present``) and the inverse index."""
    if present.shape[1] <= 62:
        key = present.astype(np.int64) @ (np.int64(1) << np.arange(present.shape[1], dtype=np.int64))
        keys, inverse = np.unique(key, return_inverse=True)
        patterns = ((keys[:, None] >> np.arange(present.shape[1])) & 1).astype(bool)
        return patterns, inverse
    patterns, inverse = np.unique(present, axis=0, return_inverse=True)
    return patterns, inverse.ravel()


def charge_balanced(elements: Sequence[str], amounts: np.ndarray, mixed_valence: bool = True,
                    alloys: bool = True, block: int = 4_000_000) -> tuple[np.ndarray, np.ndarray]:
    """Boolean mask of rows passing the charge/electronegativity rule, and a mask of rows failing only
    because an element has no common oxidation state. ``block`` bounds rows x combinations per matmul."""
    amounts = np.asarray(amounts, dtype=float)
    present = amounts > 0
    ok = np.zeros(len(amounts), bool)
    no_states = np.zeros(len(amounts), bool)
    if not len(amounts):
        return ok, no_states
    patterns, inverse = _system_keys(present)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(patterns) + 1))
    symbols = np.asarray(elements, dtype=object)
    for p, pattern in enumerate(patterns):
        rows = order[bounds[p]:bounds[p + 1]]
        cols = np.flatnonzero(pattern)
        if not len(cols):
            continue
        kind, lo, hi = system_charge_bounds(tuple(symbols[cols]), mixed_valence, alloys)
        if kind == "all":
            ok[rows] = True
        elif kind == "none":
            no_states[rows] = any(not (oxidation_table()["elements"].get(s) or {}).get("states")
                                  for s in symbols[cols])
        else:
            step = max(1, block // len(lo))
            a = amounts[np.ix_(rows, cols)]
            tol = 1e-9 * a.sum(axis=1, keepdims=True)
            for s in range(0, len(rows), step):
                part, t = a[s:s + step], tol[s:s + step]
                ok[rows[s:s + step]] = ((part @ lo.T <= t) & (part @ hi.T >= -t)).any(axis=1)
    return ok, no_states


@dataclass
class ChargeFilter:
    """Charge neutrality + electronegativity balance (see the module docstring)."""

    mixed_valence: bool = True
    alloys: bool = True
    name: str = "charge"

    def apply(self, elements: Sequence[str], amounts: np.ndarray) -> tuple[np.ndarray, FilterReport]:
        ok, no_states = charge_balanced(elements, amounts, self.mixed_valence, self.alloys)
        report = FilterReport(self.name, len(ok), int(ok.sum()))
        if no_states.any():
            report.removed[REASON_NO_STATES] = int(no_states.sum())
        if (~ok & ~no_states).any():
            report.removed[REASON_CHARGE] = int((~ok & ~no_states).sum())
        return ok, report


@dataclass
class ConstraintFilter:
    """User filter: the element, element-count, cost and supply-risk constraints of
    :class:`metamat.active.constraints.Constraints` (the same rules ``metamat suggest`` applies), on dense
    amount arrays."""

    constraints: Constraints
    name: str = "constraints"

    def apply(self, elements: Sequence[str], amounts: np.ndarray) -> tuple[np.ndarray, FilterReport]:
        ok, reason = self.constraints.check(compositions_from_dense(elements, amounts))
        report = FilterReport(self.name, len(ok), int(ok.sum()))
        why, counts = np.unique(reason[~ok].astype(str), return_counts=True)
        report.removed = {str(w): int(c) for w, c in zip(why, counts, strict=True)}
        return ok, report
