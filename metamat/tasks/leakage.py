"""Leakage check between a training and a test set of formulas.

Formulas are compared as parsed compositions (element fractions rounded to 6 significant digits), so
'Fe2O3', 'O3Fe2' and 'Fe4O6' are the same material; chemical systems are compared as element sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metamat.data.compositions import CompositionArrays, parse_formulas
from metamat.data.formula import ELEMENTS


@dataclass(frozen=True)
class Overlap:
    """One composition or chemical system found on both sides, with row counts and an example of each."""

    key: str
    n_train: int
    n_test: int
    train_example: str
    test_example: str


@dataclass(frozen=True)
class LeakageReport:
    """What a train/test split shares. ``formulas``: same composition; ``systems``: same element set."""

    n_train: int
    n_test: int
    formulas: list[Overlap]
    systems: list[Overlap]
    n_test_rows_same_formula: int
    n_test_rows_same_system: int

    @property
    def formulas_ok(self) -> bool:
        """No composition appears on both sides."""
        return not self.formulas

    @property
    def ok(self) -> bool:
        """Neither a composition nor a chemical system appears on both sides."""
        return not self.formulas and not self.systems

    def summary(self, limit: int = 10) -> str:
        lines = [f"leakage check: {self.n_train} train rows, {self.n_test} test rows: "
                 + ("OK (no shared composition or chemical system)" if self.ok else "LEAKAGE")]
        for title, items, rows in (("composition", self.formulas, self.n_test_rows_same_formula),
                                   ("chemical system", self.systems, self.n_test_rows_same_system)):
            if not items:
                continue
            lines.append(f"  {len(items)} {title}(s) on both sides; {rows} test rows affected:")
            lines += [f"    {o.key}: {o.n_train} train (e.g. {o.train_example}), {o.n_test} test "
                      f"(e.g. {o.test_example})" for o in items[:limit]]
            if len(items) > limit:
                lines.append(f"    ... and {len(items) - limit} more")
        return "\n".join(lines)


def composition_keys(comps: CompositionArrays, digits: int = 6) -> np.ndarray:
    """Canonical text of each composition: elements by atomic number with rounded fractions ('Fe0.4O0.6')."""
    if len(comps) == 0:
        return np.zeros(0, dtype=object)
    order = np.lexsort((comps.z, comps.owner))
    symbols = np.asarray(ELEMENTS, dtype=object)[comps.z[order] - 1]
    fracs = np.char.mod(f"%.{digits}g", comps.fractions[order]).astype(object)
    return np.add.reduceat(symbols + fracs, comps.offsets[:-1])


def _overlaps(keys: np.ndarray, is_test: np.ndarray, formulas: np.ndarray) -> tuple[list[Overlap], int]:
    codes, uniques = pd.factorize(pd.Series(keys, dtype=object))
    n_keys = len(uniques)
    n_test = np.bincount(codes, weights=is_test, minlength=n_keys).astype(np.int64)
    n_train = np.bincount(codes, minlength=n_keys) - n_test
    shared = (n_train > 0) & (n_test > 0)
    rows = np.arange(len(codes))
    first_train = np.zeros(n_keys, dtype=np.int64)
    first_test = np.zeros(n_keys, dtype=np.int64)
    tr, te = rows[~is_test][::-1], rows[is_test][::-1]
    first_train[codes[tr]] = tr  # reversed assignment leaves the first occurrence
    first_test[codes[te]] = te
    idx = np.flatnonzero(shared)
    idx = idx[np.lexsort((uniques[idx].astype(str), -n_test[idx]))]
    out = [Overlap(str(uniques[i]), int(n_train[i]), int(n_test[i]), str(formulas[first_train[i]]),
                   str(formulas[first_test[i]])) for i in idx]
    return out, int(n_test[idx].sum())


def check_leakage(train: Sequence[str] | np.ndarray, test: Sequence[str] | np.ndarray,
                  formulas: Sequence[str] | np.ndarray | None = None) -> LeakageReport:
    """Compare the compositions and chemical systems of a train and a test set.

    Either pass two lists of formulas, or index arrays (int or boolean masks) into ``formulas``.
    Unparseable formulas raise :class:`~metamat.errors.InputError`.
    """
    if formulas is not None:
        all_f = np.asarray(formulas, dtype=object)
        tr = np.flatnonzero(train) if np.asarray(train).dtype == bool else np.asarray(train, dtype=np.int64)
        te = np.flatnonzero(test) if np.asarray(test).dtype == bool else np.asarray(test, dtype=np.int64)
        train, test = all_f[tr], all_f[te]
    both = np.concatenate([np.asarray(train, dtype=object), np.asarray(test, dtype=object)])
    is_test = np.arange(len(both)) >= len(train)
    parsed = parse_formulas(both, field="formula")
    comps = parsed.compositions
    form_overlap, n_form = _overlaps(composition_keys(comps)[parsed.codes], is_test, both)
    sys_overlap, n_sys = _overlaps(comps.chemical_systems()[parsed.codes], is_test, both)
    return LeakageReport(len(train), len(test), form_overlap, sys_overlap, n_form, n_sys)
