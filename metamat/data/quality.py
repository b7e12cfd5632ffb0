"""Quality checks every reader runs: reported, never silent, vectorized.

:func:`check_targets` takes a frame with ``id``, ``formula``, optional ``structure`` and target columns and
returns the clean frame plus a :class:`~metamat.data.table.RowReport`. The rules:

- A row is rejected only if its formula cannot be parsed or NONE of its targets holds a usable value
  (a censored bound counts as a value: the row is kept with the target NaN).
- An invalid target cell (missing, not a number, infinite, outside the physical range of its quantity,
  non-positive under a log10 transform, not a class label) becomes NaN. In a kept row it is listed in
  ``report.flagged``; missing cells of kept rows are only counted in ``report.notes`` (sparse multi-target
  tables would otherwise flood the report). In a rejected row every problem is listed in ``report.rejected``.
- Censored strings (``<1E-10``, ``>100``, ``≤ 5``) are never turned into numbers: the target is NaN, the
  bound goes to the column ``<target>__censored`` (e.g. ``"<1e-10"``) and the cell is flagged.
- Duplicate compositions (same element fractions, rounded to 1e-6, not the same string) are merged by the
  median (default) or mean of each target, computed on the transformed scale (log10 targets: geometric);
  classification targets take the majority label (a tie leaves NaN). Conflicting groups (relative spread
  (max - min) / |median| > 5%) are flagged. With structures, equal compositions are polymorphs and are
  kept. ``duplicates="keep"`` keeps every row and only counts them.
- Outliers (modified z-score 0.6745 |x - median| / MAD > ``outlier_z`` on the transformed target) are
  flagged, not removed. When MAD = 0 or the rule would flag more than 5% of a target (zero-inflated or
  multimodal data, where it flags a whole mode rather than outliers) it is skipped with a note.

Row numbers are 1-based data rows of the source (header excluded); a frame may carry them in a
``source_row`` column (readers that drop rows before the check do so), otherwise row k of the frame is data
row k + 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from metamat.data.compositions import CompositionArrays, parse_formulas
from metamat.data.table import RowReport, TargetSpec
from metamat.errors import Problem

# reason categories (the text before the colon of a Problem.reason)
BAD_FORMULA = "bad formula"
MISSING = "missing value"
NOT_NUMBER = "not a number"
INFINITE = "infinite value"
CENSORED = "censored value"
OUT_OF_RANGE = "outside physical range"
LOG_NONPOSITIVE = "non-positive value for log10"
NOT_LABEL = "not a class label"
OUTLIER = "outlier"
CONFLICT = "conflicting duplicates"

_OK, _MISSING, _NAN_TEXT, _NOT_NUMBER, _INF, _CENSORED, _RANGE, _LOG, _LABEL = range(9)
MISSING_TOKENS = frozenset({"", "nan", "na", "n/a", "none", "null", "-", "--", "?", "#n/a", "<na>"})
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_CENSORED_RE = rf"^\s*(<=|>=|=<|=>|<|>|≤|≥|⩽|⩾)\s*({_NUMBER})\s*$"
_CENSORED_OPS = {"<=": "<=", "=<": "<=", "≤": "<=", "⩽": "<=", ">=": ">=", "=>": ">=", "≥": ">=", "⩾": ">=",
                 "<": "<", ">": ">"}
CONFLICT_SPREAD = 0.05
#: Target values beyond this magnitude are rejected like infinities: squares and spreads of them overflow.
MAX_TARGET_MAGNITUDE = 1e150
#: If the modified z-score would flag more than this share of a target, the rule does not fit the
#: distribution (zero-inflated band gaps, bimodal conductivities): no flags, a note instead.
OUTLIER_MAX_FRACTION = 0.05
FRACTION_DECIMALS = 6


@dataclass(frozen=True)
class Range:
    """Allowed values of a physical quantity (``None`` = unbounded side)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def violated(self, x: np.ndarray) -> np.ndarray:
        bad = np.zeros(x.shape, dtype=bool)
        if self.low is not None:
            bad |= (x <= self.low) if self.low_open else (x < self.low)
        if self.high is not None:
            bad |= (x >= self.high) if self.high_open else (x > self.high)
        return bad

    def describe(self) -> str:
        low = None if self.low is None else f"{'>' if self.low_open else '>='} {self.low:g}"
        high = None if self.high is None else f"{'<' if self.high_open else '<='} {self.high:g}"
        return " and ".join(p for p in (low, high) if p) or "any value"


#: Physically possible values per quantity (keyed by normalized ``TargetSpec.quantity``).
PHYSICAL_RANGES: dict[str, Range] = {
    "band gap": Range(0.0),
    "bulk modulus": Range(0.0),
    "shear modulus": Range(0.0),
    "young's modulus": Range(0.0),
    "superconducting critical temperature": Range(0.0),
    "thermal conductivity": Range(0.0, low_open=True),
    "electronic thermal conductivity": Range(0.0),
    "electrical conductivity": Range(0.0),
    "debye temperature": Range(0.0, low_open=True),
    "volume": Range(0.0, low_open=True),
    "volume per atom": Range(0.0, low_open=True),
    "density": Range(0.0, low_open=True),
    "melting temperature": Range(0.0, low_open=True),
    "refractive index": Range(1.0),
    "yield strength": Range(0.0, low_open=True),
    "exfoliation energy": Range(0.0),
    "poisson ratio": Range(-1.0, 0.5),
    "effective mass": Range(0.0, low_open=True),
    "power factor": Range(0.0),
    "work function": Range(0.0, low_open=True),
    "phonon frequency": Range(0.0, low_open=True),
    "metallicity": Range(0.0, 1.0),
    "glass-forming ability": Range(0.0, 1.0),
    "heat capacity": Range(0.0, low_open=True),
}
QUANTITY_ALIASES: dict[str, str] = {
    "tc": "superconducting critical temperature",
    "critical temperature": "superconducting critical temperature",
    "superconducting transition temperature": "superconducting critical temperature",
    "young modulus": "young's modulus",
    "elastic modulus": "young's modulus",
    "poisson's ratio": "poisson ratio",
    "bandgap": "band gap",
    "lattice thermal conductivity": "thermal conductivity",
}


def normalize_quantity(quantity: str | None) -> str | None:
    """Lower-case, single-spaced quantity name with aliases resolved (``"Tc"`` -> the Tc entry)."""
    if quantity is None:
        return None
    q = " ".join(quantity.lower().replace("_", " ").split())
    return QUANTITY_ALIASES.get(q, q)


def physical_range(spec: TargetSpec) -> Range | None:
    """The range check for a target, or None. Values stored as logarithms (unit ``log...``) are not checked."""
    if spec.unit.strip().lower().startswith("log"):
        return None
    return PHYSICAL_RANGES.get(normalize_quantity(spec.quantity) or "")


# --- coercion of one target column --------------------------------------------------------------------
@dataclass
class _Column:
    values: np.ndarray  # float, NaN where the cell is not usable
    status: np.ndarray  # int8 status code per row
    censored: np.ndarray | None  # object array of normalized bounds (None where not censored)


def _coerce(col: pd.Series) -> _Column:
    """Read a column as floats; classify every cell that is not a finite number (vectorized)."""
    n = len(col)
    status = np.zeros(n, dtype=np.int8)
    censored = None
    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        values = col.to_numpy(dtype=float, na_value=np.nan)
        status[np.isnan(values)] = _MISSING
    else:
        obj = col.astype(object)
        isna = obj.isna().to_numpy()
        numeric = pd.to_numeric(obj, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        status[isna] = _MISSING
        unread = np.isnan(numeric) & ~isna
        values = numeric
        if unread.any():
            text = obj[unread].astype(str).str.strip()
            lower = text.str.lower()
            missing_tok = lower.isin(MISSING_TOKENS).to_numpy()
            nan_text = lower.isin({"nan", "+nan", "-nan"}).to_numpy() & ~missing_tok
            match = text.str.extract(_CENSORED_RE)
            is_cens = match[0].notna().to_numpy()
            idx = np.flatnonzero(unread)
            status[idx] = _NOT_NUMBER
            status[idx[missing_tok]] = _MISSING
            status[idx[nan_text]] = _MISSING
            if is_cens.any():
                status[idx[is_cens]] = _CENSORED
                censored = np.full(n, None, dtype=object)
                ops = match[0][is_cens].map(_CENSORED_OPS)
                nums = match[1][is_cens].astype(float).map(lambda v: format(v, ".15g"))
                censored[idx[is_cens]] = (ops + nums).to_numpy(dtype=object)
    with np.errstate(invalid="ignore"):
        inf = np.abs(values) > MAX_TARGET_MAGNITUDE  # inf too
    status[inf] = _INF
    values = values.copy()
    values[status != _OK] = np.nan
    return _Column(values, status, censored)


def _validate(colv: _Column, spec: TargetSpec, rng: Range | None) -> None:
    """Apply the physical range, log10 and class-label rules in place."""
    ok = colv.status == _OK
    x = colv.values
    if rng is not None:
        bad = ok & rng.violated(np.where(ok, x, 0.0))
        colv.status[bad] = _RANGE
        ok &= ~bad
    if spec.transform == "log10":
        bad = ok & (np.where(ok, x, 1.0) <= 0)
        colv.status[bad] = _LOG
        ok &= ~bad
    if spec.kind == "classification":
        xs = np.where(ok, x, 0.0)
        bad = ok & (xs != np.round(xs))
        colv.status[bad] = _LABEL
        ok &= ~bad
    colv.values[~ok] = np.nan


def _reason(code: int, spec: TargetSpec, rng: Range | None, raw: object, censored: object) -> str:
    if code == _MISSING:
        return f"{MISSING}: no value"
    if code == _NOT_NUMBER:
        return f"{NOT_NUMBER}: cannot read {raw!r} as a number"
    if code == _INF:
        return f"{INFINITE}: {raw!r} (magnitude above {MAX_TARGET_MAGNITUDE:g}: overflow or wrong units)"
    if code == _CENSORED:
        return (f"{CENSORED}: {raw!r} is a bound, not a measurement; target set to NaN, bound {censored!r} "
                f"kept in column '{spec.name}__censored'")
    if code == _RANGE:
        assert rng is not None
        return f"{OUT_OF_RANGE}: {normalize_quantity(spec.quantity)} must be {rng.describe()}"
    if code == _LOG:
        return f"{LOG_NONPOSITIVE}: the log10 transform needs values > 0"
    if code == _LABEL:
        return f"{NOT_LABEL}: classification targets must be whole numbers"
    raise AssertionError(code)


# --- composition keys ---------------------------------------------------------------------------------
def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer on uint64 arrays (wrapping arithmetic)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def composition_keys(comps: CompositionArrays, decimals: int = FRACTION_DECIMALS) -> np.ndarray:
    """Integer group id per composition: equal ids <=> equal element fractions rounded to ``decimals``.

    Order-independent 128-bit set hash of (Z, rounded fraction) pairs: a sum of mixed 64-bit words under two
    seeds, grouped with :func:`numpy.unique`. No Python loop per material.
    """
    if len(comps) == 0:
        return np.zeros(0, dtype=np.int64)
    q = np.rint(comps.fractions * 10**decimals).astype(np.uint64)
    word = (comps.z.astype(np.uint64) << np.uint64(40)) ^ q
    with np.errstate(over="ignore"):
        h1 = np.add.reduceat(_mix64(word), comps.offsets[:-1])
        h2 = np.add.reduceat(_mix64(word ^ np.uint64(0xD6E8FEB86659FD93)), comps.offsets[:-1])
    _, inverse = np.unique(np.stack([h1, h2], axis=1), axis=0, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64)


# --- the check ----------------------------------------------------------------------------------------
def check_targets(df: pd.DataFrame, targets: Mapping[str, TargetSpec], *, source: str,
                  duplicates: str = "median", bounds: Mapping[str, tuple[float | None, float | None] | None]
                  | None = None, outlier_z: float | None = 3.5, rejected: Sequence[Problem] | None = None,
                  n_read: int | None = None, field_names: Mapping[str, str] | None = None
                  ) -> tuple[pd.DataFrame, RowReport]:
    """Validate targets and formulas of ``df``; return the clean frame and its row report.

    ``bounds`` maps a target to an inclusive ``(low, high)`` range that replaces the quantity's physical
    range (``None`` disables the check). ``rejected``/``n_read`` let a reader pass rows it already rejected
    (e.g. unreadable structures). ``field_names`` maps ``id``/``formula``/``structure`` to the column names of
    the source, used in problems. The returned frame has float targets, ``source_row`` (1-based data row),
    ``<target>__censored`` columns where bounds were found and ``n_merged`` when rows were merged.
    """
    if duplicates not in ("median", "mean", "keep"):
        raise ValueError(f"duplicates must be 'median', 'mean' or 'keep', not {duplicates!r}")
    fields = dict(field_names or {})
    df = df.reset_index(drop=True)
    n = len(df)
    rows = (df["source_row"].to_numpy(dtype=np.int64) if "source_row" in df.columns
            else np.arange(1, n + 1, dtype=np.int64))
    pre_rejected = list(rejected or [])
    report = RowReport(source, n_read if n_read is not None else n + len({p.row for p in pre_rejected}), 0,
                       list(pre_rejected), [], [])
    parsed = parse_formulas(df["formula"].to_numpy(dtype=object), source=source,
                            field=fields.get("formula", "formula"), errors="mask")
    formula_problem = {int(p.row) - 1: replace(p, reason=f"{BAD_FORMULA}: {p.reason}", row=int(rows[p.row - 1]))
                       for p in parsed.problems}
    bounds = dict(bounds or {})
    cols: dict[str, _Column] = {}
    ranges: dict[str, Range | None] = {}
    for name, spec in targets.items():
        rng = physical_range(spec)
        if name in bounds:
            b = bounds[name]
            rng = None if b is None else Range(b[0], b[1])
        ranges[name] = rng
        c = _coerce(df[name])
        _validate(c, spec, rng)
        cols[name] = c

    formula_ok = parsed.valid
    if cols:
        has_value = np.zeros(n, dtype=bool)
        for c in cols.values():
            has_value |= (c.status == _OK) | (c.status == _CENSORED)
    else:
        has_value = np.ones(n, dtype=bool)
    keep = formula_ok & has_value

    # problems: loops run over problem cells only
    raw_values = {name: df[name].to_numpy(dtype=object) for name in cols}
    for pos in np.flatnonzero(~keep):
        if int(pos) in formula_problem:
            report.rejected.append(formula_problem[int(pos)])
        for name, c in cols.items():
            code = int(c.status[pos])
            if code != _OK:
                raw = raw_values[name][pos]
                cens = None if c.censored is None else c.censored[pos]
                report.rejected.append(Problem(_reason(code, targets[name], ranges[name], raw, cens), source,
                                               int(rows[pos]), name, raw))
    for name, c in cols.items():
        flag = keep & (c.status != _OK) & (c.status != _MISSING)
        for pos in np.flatnonzero(flag):
            raw = raw_values[name][pos]
            cens = None if c.censored is None else c.censored[pos]
            report.flagged.append(Problem(_reason(int(c.status[pos]), targets[name], ranges[name], raw, cens),
                                          source, int(rows[pos]), name, raw))
        n_missing = int((keep & (c.status == _MISSING)).sum())
        if n_missing and len(cols) > 1:
            report.notes.append(f"'{name}': {n_missing} kept rows have no value (other targets do); "
                                "left as NaN")
        n_cens = int((keep & (c.status == _CENSORED)).sum())
        if n_cens:
            report.notes.append(f"'{name}': {n_cens} censored values kept as bounds in column "
                                f"'{name}__censored' (target NaN)")

    out = df.loc[keep].copy()
    for name, c in cols.items():
        out[name] = c.values[keep]
        if c.censored is not None and (keep & (c.status == _CENSORED)).any():
            out[f"{name}__censored"] = c.censored[keep]
    out["source_row"] = rows[keep]
    out = out.reset_index(drop=True)
    codes = parsed.codes[keep]
    group = composition_keys(parsed.compositions)[codes] if len(codes) else np.zeros(0, dtype=np.int64)
    out = _handle_duplicates(out, group, targets, duplicates, report)
    if outlier_z is not None:
        _flag_outliers(out, targets, outlier_z, report)
    report.n_used = len(out)
    return out, report


def _group_members(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row positions sorted by group, and the start offset of each group in that order."""
    order = np.argsort(group, kind="stable")
    counts = np.bincount(group)
    starts = np.concatenate([[0], np.cumsum(counts)])
    return order, starts


def _handle_duplicates(out: pd.DataFrame, group: np.ndarray, targets: Mapping[str, TargetSpec],
                       policy: str, report: RowReport) -> pd.DataFrame:
    if len(out) == 0:
        return out
    sizes = np.bincount(group)
    in_dup = sizes[group] > 1
    if not in_dup.any():
        return out
    n_groups, n_rows = int((sizes > 1).sum()), int(in_dup.sum())
    has_structures = "structure" in out.columns and bool(out["structure"].notna().any())
    if has_structures:
        report.notes.append(f"duplicates: {n_groups} compositions occur more than once ({n_rows} rows); kept as "
                            "polymorphs (the table has structures)")
        return out
    if policy == "keep":
        report.notes.append(f"duplicates: {n_groups} compositions occur more than once ({n_rows} rows); all "
                            "kept (duplicates='keep')")
        return out

    sub = np.flatnonzero(in_dup)
    g = group[sub]
    first = np.zeros(len(out), dtype=bool)
    _, first_idx = np.unique(group, return_index=True)
    first[first_idx] = True
    leaders = sub[first[sub]]  # leader row of each duplicate group, in row order
    leader_of_group = np.full(len(sizes), -1, dtype=np.int64)
    leader_of_group[group[leaders]] = leaders
    order, starts = _group_members(group)
    conflicts: dict[str, int] = {}
    conflicting_groups: set[int] = set()
    source = report.source
    src_rows = out["source_row"].to_numpy()
    for name, spec in targets.items():
        raw = pd.Series(out[name].to_numpy(dtype=float)[sub])
        if spec.kind == "classification":
            agg, conflict = _majority(raw, g)
        else:
            grouped = pd.Series(spec.forward(raw.to_numpy())).groupby(g)
            center = grouped.median() if policy == "median" else grouped.mean()
            agg = pd.Series(spec.inverse(center.to_numpy()), index=center.index)
            rg = raw.groupby(g)
            stats = rg.agg(["min", "max", "median", "count"])
            spread = (stats["max"] - stats["min"]).to_numpy()
            conflict = pd.Series((stats["count"].to_numpy() >= 2) & (spread > 0)
                                 & (spread > CONFLICT_SPREAD * stats["median"].abs().to_numpy()), index=stats.index)
        values = out[name].to_numpy(dtype=float).copy()
        values[leader_of_group[agg.index.to_numpy()]] = agg.to_numpy()
        out[name] = values
        bad_groups = conflict.index.to_numpy()[conflict.to_numpy()]
        conflicts[name] = len(bad_groups)
        conflicting_groups.update(bad_groups.tolist())
        raw_full = np.full(len(out), np.nan)
        raw_full[sub] = raw.to_numpy()
        for gid in bad_groups:
            members = np.sort(order[starts[gid]:starts[gid + 1]])
            member_rows = src_rows[members]
            vals = raw_full[members]
            how = "majority label" if spec.kind == "classification" else policy
            merged = values[leader_of_group[gid]]
            report.flagged.append(Problem(
                f"{CONFLICT}: rows {', '.join(map(str, member_rows))} have the same composition and '{name}' "
                f"values {', '.join(f'{v:.6g}' for v in vals)}; merged by the {how} -> {merged:.6g}",
                source, int(member_rows[0]), name, tuple(float(v) for v in vals)))
    for col in [c for c in out.columns if c.endswith("__censored")]:
        firsts = out[col].iloc[sub].groupby(g).first()
        vals = out[col].to_numpy(dtype=object).copy()
        vals[leader_of_group[firsts.index.to_numpy()]] = firsts.to_numpy(dtype=object)
        out[col] = vals
    out["n_merged"] = sizes[group]
    log_note = " (log10 targets on the log scale)" if any(s.transform == "log10" for s in targets.values()) else ""
    report.notes.append(
        f"duplicates: {n_groups} compositions occur more than once ({n_rows} rows); merged into one row each by "
        f"the {policy}{log_note}; the merged row keeps the first row's id and metadata, 'n_merged' counts rows; "
        f"{len(conflicting_groups)} groups conflict (relative spread > {CONFLICT_SPREAD:.0%})"
        + (f": per target {conflicts}" if len(targets) > 1 else ""))
    result = out.loc[first].reset_index(drop=True)
    report.n_merged = len(out) - len(result)
    if targets:  # a merged row can lose every value (tied class labels)
        usable = np.zeros(len(result), dtype=bool)
        for name in targets:
            usable |= np.isfinite(result[name].to_numpy(dtype=float))
        for col in [c for c in result.columns if c.endswith("__censored")]:
            usable |= result[col].notna().to_numpy()
        for pos in np.flatnonzero(~usable):
            report.rejected.append(Problem(f"{CONFLICT}: duplicate rows disagree and no value is left",
                                           source, int(result["source_row"].iat[pos]), None,
                                           result["id"].iat[pos]))
        result = result.loc[usable].reset_index(drop=True)
    return result


def _majority(raw: pd.Series, g: np.ndarray) -> tuple[pd.Series, pd.Series]:
    """Majority label per group (NaN on a tie) and whether the group disagrees."""
    frame = pd.DataFrame({"g": g, "y": raw.to_numpy()}).dropna()
    counts = frame.groupby(["g", "y"]).size().reset_index(name="n")
    counts = counts.sort_values(["g", "n"], ascending=[True, False], kind="stable")
    best = counts.drop_duplicates("g", keep="first").set_index("g")
    runner_up = counts[counts.duplicated("g", keep="first")].drop_duplicates("g").set_index("g")["n"]
    tie = runner_up.reindex(best.index, fill_value=0) == best["n"]
    label = best["y"].where(~tie)
    disagree = counts.groupby("g").size() > 1
    all_groups = pd.Index(np.unique(g))
    return label.reindex(all_groups), disagree.reindex(all_groups, fill_value=False)


def _flag_outliers(out: pd.DataFrame, targets: Mapping[str, TargetSpec], z_max: float, report: RowReport) -> None:
    src_rows = out["source_row"].to_numpy()
    for name, spec in targets.items():
        if spec.kind != "regression" or len(out) < 3:
            continue
        values = out[name].to_numpy(dtype=float)
        x = spec.forward(values)
        ok = np.isfinite(x)
        if ok.sum() < 3:
            continue
        med = float(np.median(x[ok]))
        mad = float(np.median(np.abs(x[ok] - med)))
        if mad == 0.0:
            report.notes.append(f"'{name}': outlier check skipped: more than half of the values equal the "
                                "median (MAD = 0)")
            continue
        z = np.zeros(len(x))
        z[ok] = 0.6745 * np.abs(x[ok] - med) / mad
        hits = np.flatnonzero(z > z_max)
        share = len(hits) / int(ok.sum())
        if share > OUTLIER_MAX_FRACTION:
            report.notes.append(f"'{name}': outlier check not applied: the modified z-score would flag "
                                f"{share:.0%} of the values (> {OUTLIER_MAX_FRACTION:.0%}), so the distribution "
                                "is skewed, zero-inflated or multimodal rather than the values outliers")
            continue
        scale = " on the log10 scale" if spec.transform == "log10" else ""
        med_shown = float(spec.inverse(np.array(med)))
        unit = f" {spec.unit}" if spec.unit else ""
        for pos in hits:
            report.flagged.append(Problem(
                f"{OUTLIER}: modified z-score {z[pos]:.1f} > {z_max:g}{scale} (median {med_shown:.4g}{unit}); kept",
                report.source, int(src_rows[pos]), name, float(values[pos])))
