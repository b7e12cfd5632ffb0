"""Validated materials tables: rows of (id, formula, optional structure, targets, metadata) plus a row report.

Row numbers in every :class:`~metamat.errors.Problem` are 1-based DATA rows of the source (the header is
not counted; data row 1 is line 2 of a CSV file and row 2 of a spreadsheet).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from metamat.errors import InputError, Problem

TRANSFORMS = ("identity", "log10")
KINDS = ("regression", "classification")
RESERVED_COLUMNS = ("id", "formula", "structure", "source")


@dataclass(frozen=True)
class TargetSpec:
    """What a target column holds.

    ``transform="log10"`` is for positive, heavy-tailed quantities (conductivity); models see
    ``log10(value)`` and predictions are transformed back before they are shown. ``quantity`` names the
    physical quantity ("band gap", "bulk modulus", ...): it selects the physical-range check and groups
    tasks that measure the same thing (leakage control). ``kind`` is "regression" or "classification"
    (class labels such as 0/1).
    """

    name: str
    unit: str = ""
    transform: str = "identity"
    quantity: str | None = None
    description: str = ""
    kind: str = "regression"

    def __post_init__(self) -> None:
        if self.transform not in TRANSFORMS:
            raise ValueError(f"target {self.name!r}: transform must be one of {TRANSFORMS}, not {self.transform!r}")
        if self.kind not in KINDS:
            raise ValueError(f"target {self.name!r}: kind must be one of {KINDS}, not {self.kind!r}")
        if self.kind == "classification" and self.transform != "identity":
            raise ValueError(f"target {self.name!r}: a classification target cannot be log-transformed")

    def forward(self, values: np.ndarray) -> np.ndarray:
        """Apply the transform (NaN stays NaN)."""
        values = np.asarray(values, dtype=float)
        if self.transform == "log10":
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.log10(values)
        return values.copy()

    def inverse(self, values: np.ndarray) -> np.ndarray:
        """Undo the transform."""
        values = np.asarray(values, dtype=float)
        return np.power(10.0, values) if self.transform == "log10" else values.copy()


#: One line for the row report under a flagged reason that a reader cannot guess from its name.
FLAG_EXPLANATIONS = {
    "conflicting duplicates": "the same composition in several rows with values more than 5% apart (polymorphs "
                              "or repeated measurements); merged into one row by the duplicates policy "
                              "(median by default); each cell is listed in the report",
    "outlier": "a robust (median absolute deviation) z-score above the limit (3.5 by default); kept, not removed",
    "censored value": "a bound such as '<1e-10', not a value; the bound is kept in the <target>__censored column",
}


def reason_category(reason: str) -> str:
    """The category of a problem reason: the text before the first colon ("censored value: ..." ->
    "censored value")."""
    return reason.split(":", 1)[0].strip()


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    return str(value)


def problem_to_dict(problem: Problem) -> dict[str, Any]:
    """A JSON-able dict of a :class:`Problem` (values that JSON cannot hold become strings)."""
    return {k: _jsonable(v) for k, v in asdict(problem).items()}


@dataclass
class RowReport:
    """What happened to the rows of one source: read, used, rejected (why), flagged, merged.

    ``rejected`` lists the problems of rows that were dropped; ``flagged`` lists problems of rows that were
    kept (a target cell set to NaN, a censored value, an outlier, conflicting duplicates). ``n_merged`` counts
    rows folded into another row with the same composition. ``n_read == n_used + rows rejected + n_merged``.
    Row numbers are 1-based data rows of the source (header excluded).
    """

    source: str
    n_read: int
    n_used: int
    rejected: list[Problem] = field(default_factory=list)
    flagged: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    n_merged: int = 0

    @property
    def n_rejected(self) -> int:
        """Number of rejected rows (a row with several problems counts once)."""
        rows = {p.row for p in self.rejected if p.row is not None}
        return len(rows) + sum(1 for p in self.rejected if p.row is None)

    def reasons(self) -> Counter:
        """Rejected rows per reason category (the text of a reason before its first colon)."""
        seen: dict[object, str] = {}
        for k, p in enumerate(self.rejected):
            key = p.row if p.row is not None else ("no-row", k)
            seen.setdefault(key, reason_category(p.reason))
        return Counter(seen.values())

    def flag_reasons(self) -> Counter:
        """Flagged cells per reason category."""
        return Counter(reason_category(p.reason) for p in self.flagged)

    def summary(self, max_rows: int = 5) -> str:
        """Short human-readable text: read / used / rejected per reason with the first few row numbers."""
        lines = [f"{self.source}: read {self.n_read} rows, used {self.n_used}, rejected {self.n_rejected}"
                 + (f", merged {self.n_merged} duplicate rows" if self.n_merged else "")]
        for title, problems, per_row in (("rejected", self.rejected, True), ("flagged", self.flagged, False)):
            by_reason: dict[str, list[int]] = {}
            for p in problems:
                rows = by_reason.setdefault(reason_category(p.reason), [])
                if p.row is not None:
                    rows.append(p.row)
            counts = Counter(reason_category(p.reason) for p in problems)
            for reason, rows in sorted(by_reason.items(), key=lambda kv: -counts[kv[0]]):
                distinct = sorted(set(rows))
                shown = ", ".join(map(str, distinct[:max_rows])) + (", ..." if len(distinct) > max_rows else "")
                count = f"{len(distinct)} rows" if per_row else f"{counts[reason]} cells in {len(distinct)} rows"
                lines.append(f"  {title}: {reason}: {count}" + (f" (rows {shown})" if distinct else ""))
                if not per_row and reason in FLAG_EXPLANATIONS:
                    lines.append(f"    = {FLAG_EXPLANATIONS[reason]}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of the report."""
        return {
            "source": self.source, "n_read": self.n_read, "n_used": self.n_used,
            "n_rejected": self.n_rejected, "n_merged": self.n_merged,
            "reasons": dict(self.reasons()), "flag_reasons": dict(self.flag_reasons()),
            "rejected": [problem_to_dict(p) for p in self.rejected],
            "flagged": [problem_to_dict(p) for p in self.flagged],
            "notes": list(self.notes),
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def __str__(self) -> str:
        return self.summary()


@dataclass
class MaterialTable:
    """A validated table of materials.

    ``data`` has the columns ``id`` (unique strings), ``formula``, optionally ``structure`` (pymatgen
    ``Structure``/``Molecule`` objects), one float column per target, ``source`` and metadata (split,
    temperature, family, ``source_row`` = 1-based data row in the source, ``<target>__censored`` bounds, ...).
    A target cell may be NaN in a multi-target table or when the value was censored; use
    :meth:`for_target` to get the rows with a usable value of one target.
    """

    data: pd.DataFrame
    targets: dict[str, TargetSpec]
    report: RowReport
    name: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    _parsed: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        src = self.name or self.report.source
        missing = [c for c in ("id", "formula") if c not in self.data.columns]
        if missing:
            raise InputError(f"table is missing the column(s) {missing}", source=src)
        problems = [Problem(f"target column {t!r} is not in the table", src, field=t)
                    for t in self.targets if t not in self.data.columns]
        if problems:
            raise InputError(problems=problems)
        ids = self.data["id"]
        rows = (self.data["source_row"].to_numpy() if "source_row" in self.data.columns
                else np.arange(1, len(ids) + 1))
        bad = (ids.isna() | ids.duplicated(keep=False)).to_numpy()
        if bad.any():
            raise InputError(problems=[Problem("missing id" if ids.iat[k] is None or ids.iat[k] != ids.iat[k]
                                               else "duplicate id", src, int(rows[k]), "id", ids.iat[k])
                                       for k in np.flatnonzero(bad)])
        for name, spec in self.targets.items():
            if spec.name != name:
                raise ValueError(f"targets key {name!r} differs from TargetSpec.name {spec.name!r}")
            col = self.data[name]
            if pd.api.types.is_bool_dtype(col) or pd.api.types.is_integer_dtype(col):
                self.data[name] = col.astype(float)
            elif not pd.api.types.is_float_dtype(col):
                raise InputError(f"target column {name!r} must hold floats, not {col.dtype}", source=src,
                                 field=name)
        if "source" not in self.data.columns:
            self.data["source"] = src

    # --- basic access ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return (f"MaterialTable({self.name!r}, {len(self)} rows, targets={list(self.targets)}, "
                f"structures={self.has_structures})")

    @property
    def ids(self) -> np.ndarray:
        return self.data["id"].to_numpy(dtype=object)

    @property
    def formulas(self) -> np.ndarray:
        return self.data["formula"].to_numpy(dtype=object)

    @property
    def has_structures(self) -> bool:
        return "structure" in self.data.columns and bool(self.data["structure"].notna().any())

    @property
    def structures(self) -> np.ndarray:
        """Structure objects (None where a row has none); raises if the table has no structure column."""
        if "structure" not in self.data.columns:
            raise InputError("this table has no structures", source=self.name)
        return self.data["structure"].to_numpy(dtype=object)

    def _spec(self, name: str | None) -> TargetSpec:
        if name is None:
            if len(self.targets) != 1:
                raise ValueError(f"table {self.name!r} has {len(self.targets)} targets {list(self.targets)}; "
                                 "name one")
            name = next(iter(self.targets))
        if name not in self.targets:
            raise KeyError(f"unknown target {name!r}; targets: {list(self.targets)}")
        return self.targets[name]

    def target(self, name: str | None = None) -> np.ndarray:
        """Target values in their own units (NaN where a cell has no usable value)."""
        return self.data[self._spec(name).name].to_numpy(dtype=float)

    def transformed_target(self, name: str | None = None) -> np.ndarray:
        """Target values after the target's transform (what a model should fit)."""
        spec = self._spec(name)
        return spec.forward(self.target(spec.name))

    def inverse_transform(self, name: str | None, values: np.ndarray) -> np.ndarray:
        """Map model-space values back to the target's units."""
        return self._spec(name).inverse(values)

    def for_target(self, name: str | None = None) -> MaterialTable:
        """A single-target table with only the rows that have a usable (finite) value of ``name``."""
        spec = self._spec(name)
        keep = np.isfinite(self.target(spec.name))
        other = [t for t in self.targets if t != spec.name]
        data = self.data.loc[keep].drop(columns=other).reset_index(drop=True)
        notes = list(self.report.notes)
        if (~keep).any():
            notes.append(f"for_target({spec.name!r}): {int((~keep).sum())} rows without a usable value left out")
        report = RowReport(self.report.source, self.report.n_read, len(data), self.report.rejected,
                           [p for p in self.report.flagged if p.field in (None, spec.name)], notes,
                           self.report.n_merged)
        return MaterialTable(data, {spec.name: spec}, report, self.name, dict(self.metadata))

    # --- derived arrays -------------------------------------------------------------------------------
    def _parse(self):
        if self._parsed is None:
            from metamat.data.compositions import parse_formulas

            self._parsed = parse_formulas(self.formulas, source=self.name, field="formula", errors="mask")
        return self._parsed

    def chemical_systems(self) -> np.ndarray:
        """Sorted element set per row, e.g. ``'Co-Li-O'`` ('' for a formula that cannot be parsed)."""
        parsed = self._parse()
        systems = parsed.compositions.chemical_systems()
        out = np.full(len(self), "", dtype=object)
        out[parsed.valid] = systems[parsed.codes[parsed.valid]]
        return out

    def describe(self, name: str | None = None) -> dict[str, Any]:
        """Count, missing, mean, std, min, quartiles, max and unit of a target (in its own units)."""
        spec = self._spec(name)
        y = self.target(spec.name)
        y = y[np.isfinite(y)]
        stats = dict.fromkeys(("mean", "std", "min", "25%", "50%", "75%", "max"), float("nan"))
        if len(y):
            q = np.quantile(y, [0.25, 0.5, 0.75])
            stats = {"mean": float(y.mean()), "std": float(y.std(ddof=1)) if len(y) > 1 else float("nan"),
                     "min": float(y.min()), "25%": float(q[0]), "50%": float(q[1]), "75%": float(q[2]),
                     "max": float(y.max())}
        return {"name": spec.name, "count": int(len(y)), "missing": int(len(self) - len(y)), **stats,
                "unit": spec.unit, "transform": spec.transform, "quantity": spec.quantity, "kind": spec.kind}
