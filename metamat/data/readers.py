"""Readers: files in, validated :class:`~metamat.data.table.MaterialTable` out.

Formats: CSV (also ``.csv.gz`` and other pandas compressions), TSV, Excel (``.xlsx``), parquet
(:func:`read_table`), CIF files or folders (:func:`read_cif`), CIF text columns (:func:`parse_cif_column`),
extended XYZ (:func:`read_extxyz`) and the matbench ``.json.gz`` format (:func:`read_matbench_json`).

Every reader runs :func:`~metamat.data.quality.check_targets` and returns a row report; every guess
(formula, id, structure and target columns) is written into ``report.notes``. Row numbers in problems are
1-based DATA rows (header excluded): data row 1 is line 2 of a CSV file and row 2 of a spreadsheet; for CIF
and extxyz sources the row is the 1-based entry (block, file or frame) number.
"""

from __future__ import annotations

import gzip
import json
import lzma
import re
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metamat.data.compositions import parse_formulas
from metamat.data.quality import MISSING_TOKENS, check_targets
from metamat.data.structure_io import (
    _atoms_to_pymatgen,
    _text_stream,
    parse_cif_column,
)
from metamat.data.table import RESERVED_COLUMNS, MaterialTable, TargetSpec
from metamat.errors import InputError, Problem

FORMULA_NAMES = ("formula", "composition", "formula_pretty", "pretty_formula", "reduced_formula", "full_formula",
                 "chemical_formula", "chemical formula", "formula_reduced", "formula_full", "compound",
                 "material", "comp")
ID_NAMES = ("id", "material_id", "materials_id", "mp_id", "mpid", "mp-id", "jid", "jarvis_id", "matbench_id",
            "task_id", "entry_id", "icsd_id", "uid", "identifier", "unique identifier")
STRUCTURE_NAMES = ("structure", "cif", "structures", "poscar", "cif_text", "crystal_structure", "atoms")
SPLIT_NAMES = ("split", "fold", "folds", "set", "subset", "partition", "dataset")
_INDEX_RE = re.compile(r"^(unnamed: ?\d+|index|idx|row|rownum|row_number|#|n)$|(^|[_\s])(index|idx|id|ids)$",
                       re.IGNORECASE)
_SPACEGROUP_RE = re.compile(r"(^|[_\s])(sg|spg|spacegroup|space[_\s]group)([_\s]|$)", re.IGNORECASE)
_COMPRESSIONS = (".gz", ".bz2", ".xz", ".zip", ".zst")
_EXTRA_RESERVED = ("source_row", "n_merged")


def object_array(items: Sequence[object]) -> np.ndarray:
    """A 1-D object array holding ``items`` as they are (numpy would unpack Structures, which are sequences)."""
    out = np.empty(len(items), dtype=object)
    for k, item in enumerate(items):
        out[k] = item
    return out


# --- low-level frame reading --------------------------------------------------------------------------
def _kind(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in _COMPRESSIONS:
        suffixes.pop()
    ext = suffixes[-1] if suffixes else ""
    kinds = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "txt", ".xlsx": "excel", ".xlsm": "excel",
             ".xls": "excel", ".parquet": "parquet", ".pq": "parquet"}
    if ext not in kinds:
        raise InputError(f"unsupported table format {ext or '(no extension)'!r}; use .csv, .tsv, .xlsx or "
                         ".parquet (optionally compressed: .csv.gz)", source=str(path))
    return kinds[ext]


def read_frame(path: str | Path, *, sheet: str | int | None = None, nrows: int | None = None) -> pd.DataFrame:
    """Read a table file into a raw DataFrame (strings stay strings: only empty cells become NaN)."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", source=str(path))
    if path.is_dir():
        raise InputError("is a folder, expected a table file", source=str(path))
    kind = _kind(path)
    opts: dict[str, Any] = {"keep_default_na": False, "na_values": [""], "nrows": nrows}
    notes: list[str] = []
    try:
        if kind in ("csv", "tsv", "txt"):
            sep = {"csv": ",", "tsv": "\t", "txt": None}[kind]
            nul_line = _nul_line(path)
            if nul_line is not None:  # pandas' C parser would silently cut the cell at the NUL
                raise InputError(f"NUL byte on line {nul_line}: a binary or corrupted file, not {kind} text",
                                 source=str(path), row=max(nul_line - 1, 1))
            if kind == "csv":
                sep = sniff_delimiter(path)
                if sep != ",":
                    notes.append(f"delimiter detected: {sep!r} (the file is named .csv but is not comma-separated)")
            df = pd.read_csv(path, sep=sep, encoding="utf-8-sig", low_memory=False,
                             engine="python" if sep is None else "c", **opts)
        elif kind == "excel":
            with pd.ExcelFile(path) as book:
                if isinstance(sheet, str) and sheet not in book.sheet_names:
                    raise InputError(f"sheet {sheet!r} not found; sheets: {', '.join(book.sheet_names)}",
                                     source=str(path), field=sheet)
                df = pd.read_excel(book, sheet_name=0 if sheet is None else sheet, **opts)
        else:
            df = pd.read_parquet(path)
            if nrows is not None:
                df = df.iloc[:nrows]
    except InputError:
        raise
    except pd.errors.EmptyDataError as exc:
        raise InputError("empty file: no header and no rows", source=str(path)) from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError, EOFError, zlib.error, lzma.LZMAError,
            zipfile.BadZipFile) as exc:  # a truncated .gz raises EOFError
        raise InputError(f"cannot read the file as {kind}: {type(exc).__name__}: {exc}", source=str(path)) from exc
    if len(df.columns) == 0:
        raise InputError("empty file: no columns", source=str(path))
    if len(df) == 0:
        raise InputError("no data rows (only a header)", source=str(path))
    df.columns = [str(c) for c in df.columns]
    if len(df.columns) == 1 and any(d in df.columns[0] for d in _DELIMITERS):
        raise InputError(f"one column named {df.columns[0]!r}: the file uses another delimiter than the one it was "
                         "read with; save it with one delimiter (',' for .csv, tab for .tsv)", source=str(path))
    df.attrs["read_notes"] = notes
    return df


_DELIMITERS = (",", "\t", ";")


def _open_binary(path: Path):
    import bz2

    return {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(path.suffix.lower(), open)(path, "rb")


def _nul_line(path: Path, chunk: int = 1 << 20) -> int | None:
    """1-based line number of the first NUL byte of a (possibly compressed) text file, or None."""
    if path.suffix.lower() in (".zip", ".zst"):
        return None
    lines = 1
    try:
        with _open_binary(path) as fh:
            while block := fh.read(chunk):
                at = block.find(b"\x00")
                if at >= 0:
                    return lines + block.count(b"\n", 0, at)
                lines += block.count(b"\n")
    except (OSError, EOFError, zlib.error, lzma.LZMAError):
        return None  # unreadable: pandas reports it with the file name
    return None


def sniff_delimiter(path: str | Path, sample_lines: int = 50) -> str:
    """The delimiter of a delimited text file (optionally compressed): the first of ``,``, tab, ``;`` that
    appears the same number of times (> 0) on each of the first lines, outside quotes; ``,`` otherwise."""
    import bz2
    import csv

    path = Path(path)
    openers = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
    suffix = path.suffix.lower()
    if suffix in (".zip", ".zst"):
        return ","
    try:
        with openers.get(suffix, open)(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as fh:
            lines = [line for _, line in zip(range(sample_lines + 1), fh, strict=False)]
    except (OSError, EOFError, zlib.error, lzma.LZMAError):
        return ","  # unreadable: pandas reports it with the file name
    cut = len(lines) > sample_lines  # the last record of the sample may be incomplete (quoted newlines)
    lines = [ln for ln in lines[:sample_lines] if ln.strip()]
    if not lines:
        return ","
    for delimiter in _DELIMITERS:
        rows = list(csv.reader(lines, delimiter=delimiter))
        counts = {len(row) - 1 for row in (rows[:-1] if cut and len(rows) > 1 else rows)}
        if len(counts) == 1 and counts.pop() > 0:
            return delimiter
    header = next(csv.reader(lines[:1], delimiter=","))
    if len(header) == 1:  # no comma in the header: the most frequent other delimiter of the header
        best = max(_DELIMITERS[1:], key=lambda d: lines[0].count(d))
        if lines[0].count(best):
            return best
    return ","


# --- column guessing ----------------------------------------------------------------------------------
def _by_name(columns: Sequence[str], names: Sequence[str]) -> str | None:
    lower = {c.strip().lower(): c for c in reversed(columns)}
    for name in names:
        if name in lower:
            return lower[name]
    return None


def _formula_share(values: pd.Series, limit: int = 300) -> float:
    sample = values.dropna()
    sample = sample[sample.map(lambda v: isinstance(v, str))].iloc[:limit]
    if len(sample) == 0:
        return 0.0
    return float(parse_formulas(sample.to_numpy(dtype=object), errors="mask").valid.mean())


def _looks_numeric(col: pd.Series, limit: int = 1000) -> bool:
    if pd.api.types.is_bool_dtype(col):
        return False
    if pd.api.types.is_numeric_dtype(col):
        return bool(col.notna().any())
    if not (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)):
        return False
    sample = col.dropna().iloc[:limit]
    if len(sample) == 0 or not sample.map(lambda v: isinstance(v, (str, int, float))).all():
        return False
    text = sample.astype(str).str.strip()
    number = pd.to_numeric(text, errors="coerce").notna()
    censored = text.str.match(r"^\s*(<=|>=|<|>|≤|≥)\s*[-+]?[\d.]")
    missing = text.str.lower().isin(MISSING_TOKENS)
    return bool(number.any()) and float((number | censored | missing).mean()) >= 0.8


def _index_like(name: str, col: pd.Series) -> bool:
    if _INDEX_RE.search(name.strip()) or _SPACEGROUP_RE.search(name.strip()):
        return True
    if pd.api.types.is_integer_dtype(col) and len(col) >= 10:  # a row counter, not a property
        v = col.to_numpy()
        return bool((v == np.arange(len(v))).all() or (v == np.arange(1, len(v) + 1)).all())
    return False


def guess_target_columns(df: pd.DataFrame, exclude: Sequence[str]) -> list[str]:
    """Numeric-looking columns that are not ids, formulas, structures, splits or index-like columns."""
    skip = set(exclude)
    return [c for c in df.columns if c not in skip and c.strip().lower() not in SPLIT_NAMES
            and not _index_like(c, df[c]) and _looks_numeric(df[c])]


def _looks_like_cif(values: pd.Series) -> bool:
    first = values.dropna()
    if len(first) == 0:
        return False
    v = first.iloc[0]
    return not isinstance(v, str) or "_cell_length_a" in v or v.lstrip().lower().startswith("data_") \
        or bool(re.search(r"\.(cif|vasp|xyz|extxyz)$|poscar|contcar", v.strip(), re.IGNORECASE))


# --- frame -> table -----------------------------------------------------------------------------------
def _missing_column(source: str, what: str, column: str, columns: Sequence[str]) -> InputError:
    return InputError(f"{what} column {column!r} not found; available columns: {', '.join(map(repr, columns))}",
                      source=source, field=column)


def _ids(values: pd.Series, rows: np.ndarray, source: str, field: str, notes: list[str]) -> np.ndarray:
    if pd.api.types.is_float_dtype(values) and np.all(np.isnan(values) | (values == np.round(values))):
        values = values.astype("Int64")
    ids = values.astype(object).where(values.notna(), None).map(lambda v: None if v is None else str(v).strip())
    missing = ids.isna() | (ids == "")
    if missing.any():
        ids = ids.where(~missing, pd.Series([f"row-{r}" for r in rows], index=ids.index))
        notes.append(f"id column {field!r}: {int(missing.sum())} rows without an id got 'row-<n>'")
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        raise InputError(problems=[Problem("duplicate id", source, int(rows[k]), field, ids.iat[k])
                                   for k in np.flatnonzero(dup)])
    return ids.to_numpy(dtype=object)


def _target_specs(targets: Sequence[str] | Mapping[str, TargetSpec | str | None], units: Mapping | None,
                  transforms: Mapping | None, quantities: Mapping | None) -> dict[str, TargetSpec]:
    if isinstance(targets, Mapping):
        names = list(targets)
    else:
        names = list(targets)
        targets = {}
    for label, mapping in (("units", units), ("transforms", transforms), ("quantities", quantities)):
        unknown = set(mapping or {}) - set(names)
        if unknown:
            raise ValueError(f"{label} given for columns that are not targets: {sorted(unknown)}; targets: {names}")
    specs = {}
    for name in names:
        given = targets.get(name) if isinstance(targets, Mapping) else None
        if isinstance(given, TargetSpec):
            spec = given if given.name == name else TargetSpec(name, given.unit, given.transform, given.quantity,
                                                                given.description, given.kind)
        else:
            spec = TargetSpec(name, unit=(units or {}).get(name, ""),
                              transform=(transforms or {}).get(name, "identity"),
                              quantity=(quantities or {}).get(name))
        specs[name] = spec
    return specs


def table_from_frame(df: pd.DataFrame, *, source: str, name: str | None = None,
                     formula_column: str | None = None,
                     target_columns: str | Sequence[str] | Mapping[str, TargetSpec | None] | None = None,
                     id_column: str | None = None, units: Mapping[str, str] | None = None,
                     transforms: Mapping[str, str] | None = None, quantities: Mapping[str, str] | None = None,
                     structure_column: str | None = None, duplicates: str = "median",
                     drop_columns: Sequence[str] = (), bounds: Mapping | None = None,
                     outlier_z: float | None = 3.5, base_dir: str | Path | None = None,
                     notes: Sequence[str] = ()) -> MaterialTable:
    """Validate a raw DataFrame (one row per material) into a :class:`MaterialTable`.

    Arguments as in :func:`read_table`; ``source`` names the origin in problems and ``base_dir`` resolves
    relative structure-file paths. Row k of ``df`` is data row k + 1.
    """
    notes = list(notes)
    df = df.reset_index(drop=True)
    df.columns = [str(c) for c in df.columns]
    columns = list(df.columns)
    if len(df) == 0:
        raise InputError("no data rows", source=source)
    for col in drop_columns:
        if col not in columns:
            raise _missing_column(source, "drop", col, columns)
    df = df.drop(columns=list(drop_columns))
    columns = list(df.columns)

    # structure column
    if structure_column is not None:
        if structure_column not in columns:
            raise _missing_column(source, "structure", structure_column, columns)
    else:
        cand = _by_name(columns, STRUCTURE_NAMES)
        if cand is not None and _looks_like_cif(df[cand]):
            structure_column = cand
            notes.append(f"structure column guessed: {cand!r}")
    # id column
    if id_column is not None:
        if id_column not in columns:
            raise _missing_column(source, "id", id_column, columns)
    else:
        id_column = _by_name(columns, ID_NAMES)
        notes.append(f"id column guessed: {id_column!r}" if id_column
                     else "no id column; ids generated as 'row-<n>' (n = data row)")
    # formula column
    if formula_column is not None:
        if formula_column not in columns:
            raise _missing_column(source, "formula", formula_column, columns)
    elif structure_column is not None:
        notes.append(f"formula taken from the structures in {structure_column!r} (structure.composition.formula)")
    else:
        formula_column = guess_formula_column(df, exclude={id_column}, notes=notes)
        if formula_column is None:
            raise InputError("no formula column found (by name or content: >= 90% parseable formulas); pass "
                             f"formula_column=; available columns: {', '.join(map(repr, columns))}", source=source)
    used = {c for c in (id_column, formula_column, structure_column) if c}
    # target columns
    if target_columns is None:
        guessed = guess_target_columns(df, exclude=sorted(used))
        if not guessed:
            raise InputError("no numeric target column found; pass target_columns=; available columns: "
                             + ", ".join(map(repr, columns)), source=source)
        notes.append(f"target column guessed: {guessed[0]!r}" if len(guessed) == 1 else
                     f"target columns guessed: {guessed} (more than one candidate: all are used; pass "
                     "target_columns= to choose)")
        target_columns = guessed
    elif isinstance(target_columns, str):
        target_columns = [target_columns]
    specs = _target_specs(target_columns, units, transforms, quantities)
    for t in specs:
        if t not in columns:
            raise _missing_column(source, "target", t, columns)
        if t in used:
            raise InputError(f"column {t!r} cannot be both a target and the id/formula/structure column",
                             source=source, field=t)
        if t in RESERVED_COLUMNS or t in _EXTRA_RESERVED or t.endswith("__censored"):
            raise InputError(f"target name {t!r} is reserved; rename the column", source=source, field=t)

    n = len(df)
    rows = np.arange(1, n + 1, dtype=np.int64)
    cols: dict[str, Any] = {"source_row": rows}
    cols["id"] = (_ids(df[id_column], rows, source, id_column, notes) if id_column
                  else np.array([f"row-{r}" for r in rows], dtype=object))
    rejected: list[Problem] = []
    keep = np.ones(n, dtype=bool)
    if structure_column is not None:
        structures, rejected = parse_cif_column(df, structure_column, source, base_dir=base_dir)
        keep = np.array([s is not None for s in structures])
        cols["structure"] = structures
    if formula_column is not None:
        cols["formula"] = df[formula_column].astype(object).where(df[formula_column].notna(), None).to_numpy()
    else:
        cols["formula"] = np.array([s.composition.formula if s is not None else None for s in cols["structure"]],
                                   dtype=object)
    for t in specs:
        cols[t] = df[t].to_numpy()
    for col in columns:
        if col in used or col in specs:
            continue
        new = col
        if col in cols or col in RESERVED_COLUMNS or col in _EXTRA_RESERVED or col.endswith("__censored"):
            new = f"{col}_original"
            notes.append(f"metadata column {col!r} renamed to {new!r} (name reserved)")
        cols[new] = df[col].to_numpy()
    cols["source"] = np.full(n, name or source, dtype=object)
    frame = pd.DataFrame(cols)
    fields = {"id": id_column or "id", "formula": formula_column or structure_column or "formula",
              "structure": structure_column or "structure"}
    clean, report = check_targets(frame.loc[keep], specs, source=source, duplicates=duplicates, bounds=bounds,
                                  outlier_z=outlier_z, rejected=rejected, n_read=n, field_names=fields)
    report.notes[:0] = notes
    _require_rows(clean, report)
    front = [c for c in ("id", "formula", "structure", *specs) if c in clean.columns]
    clean = clean[front + [c for c in clean.columns if c not in front]]
    return MaterialTable(clean, specs, report, name or source)


def _require_rows(clean: pd.DataFrame, report) -> None:
    """Every row rejected: an InputError carrying all the problems (an empty table would hide them)."""
    if len(clean) == 0:
        raise InputError(f"no usable rows: all {report.n_read} rows were rejected",
                         problems=report.rejected or None, source=report.source)


def guess_formula_column(df: pd.DataFrame, exclude: set, notes: list[str]) -> str | None:
    """The formula column by name (if its values parse), else the column whose values parse best (>= 90%)."""
    columns = [c for c in df.columns if c not in exclude]
    lower = {c.strip().lower(): c for c in columns}
    for cand in FORMULA_NAMES:
        col = lower.get(cand)
        if col is not None and _formula_share(df[col]) >= 0.5:
            notes.append(f"formula column guessed: {col!r}")
            return col
    best, best_share = None, 0.0
    for col in columns:
        if pd.api.types.is_object_dtype(df[col]) or pd.api.types.is_string_dtype(df[col]):
            share = _formula_share(df[col])
            if share > best_share:
                best, best_share = col, share
    if best is not None and best_share >= 0.9:
        notes.append(f"formula column guessed: {best!r} ({best_share:.0%} of sampled values parse as formulas)")
        return best
    return None


def read_table(path: str | Path, *, formula_column: str | None = None,
               target_columns: str | Sequence[str] | Mapping[str, TargetSpec | None] | None = None,
               id_column: str | None = None, units: Mapping[str, str] | None = None,
               transforms: Mapping[str, str] | None = None, quantities: Mapping[str, str] | None = None,
               structure_column: str | None = None, sheet: str | int | None = None, duplicates: str = "median",
               name: str | None = None, drop_columns: Sequence[str] = (), bounds: Mapping | None = None,
               outlier_z: float | None = 3.5, nrows: int | None = None) -> MaterialTable:
    """Read a CSV/TSV/Excel/parquet table of materials and validate it.

    Columns not given are guessed (formula by name, else the column with >= 90% parseable formulas; id by
    name, else ``row-<n>``; targets: every numeric-looking column that is not an id, formula, split or
    index); each guess is noted in ``report.notes``. ``target_columns`` may map names to
    :class:`TargetSpec`. ``structure_column`` holds CIF text or paths (relative to the table's folder) of
    CIF/POSCAR/extxyz files; when it is given and ``formula_column`` is not, formulas come from the
    structures. ``duplicates`` is the policy for repeated compositions ("median", "mean", "keep").
    ``nrows`` reads only the first rows (a cheap look). Row numbers in problems are 1-based data rows.
    """
    path = Path(path)
    df = read_frame(path, sheet=sheet, nrows=nrows)
    notes = list(df.attrs.get("read_notes", []))
    notes += [f"read only the first {nrows} rows (nrows={nrows})"] if nrows is not None else []
    return table_from_frame(df, source=str(path), name=name or _stem(path), formula_column=formula_column,
                            target_columns=target_columns, id_column=id_column, units=units,
                            transforms=transforms, quantities=quantities, structure_column=structure_column,
                            duplicates=duplicates, drop_columns=drop_columns, bounds=bounds, outlier_z=outlier_z,
                            base_dir=path.parent, notes=notes)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in _COMPRESSIONS:
        name = name.removesuffix(suffix)
    return name.rsplit(".", 1)[0] if "." in name else name


# --- CIF files ----------------------------------------------------------------------------------------
_DATA_RE = re.compile(r"^data_(\S*)", re.IGNORECASE | re.MULTILINE)


def _cif_blocks(text: str) -> list[tuple[str, str]]:
    starts = [(m.start(), m.group(1)) for m in _DATA_RE.finditer(text)]
    if not starts:
        return [("", text)]
    ends = [s for s, _ in starts[1:]] + [len(text)]
    return [(name, text[s:e]) for (s, name), e in zip(starts, ends, strict=True)]


def read_cif(path_or_folder: str | Path, *, target_file: str | Path | None = None,
             id_column: str | None = None, target_columns: str | Sequence[str] | Mapping | None = None,
             units: Mapping[str, str] | None = None, transforms: Mapping[str, str] | None = None,
             quantities: Mapping[str, str] | None = None, duplicates: str = "median") -> MaterialTable:
    """Read one CIF file (one or several ``data_`` blocks) or a folder of ``.cif`` files.

    Ids: the block name for a single file (``-2``, ``-3`` appended to repeats), the file stem for a folder
    (``stem:block`` when a file holds several blocks). Disordered (partial occupancy) structures are kept;
    an unreadable block is a rejected row naming its file. ``target_file`` (a table with an id column and
    target columns) adds targets joined on the id. Row numbers are 1-based entry numbers (block order; files
    sorted by name).
    """
    path = Path(path_or_folder)
    if not path.exists():
        raise InputError("file or folder not found", source=str(path))
    files = sorted(p for p in path.iterdir() if p.name.lower().endswith((".cif", ".cif.gz"))) if path.is_dir() \
        else [path]
    if not files:
        raise InputError("no .cif files in the folder", source=str(path))
    entries: list[tuple[str, str, str]] = []  # (id, text, file)
    for f in files:
        opener = gzip.open if f.name.lower().endswith(".gz") else open
        with opener(f, "rt", encoding="utf-8", errors="replace") as fh:
            blocks = _cif_blocks(fh.read())
        stem = _stem(f)
        for block, text in blocks:
            if path.is_dir():
                entries.append((stem if len(blocks) == 1 else f"{stem}:{block}", text, str(f)))
            else:
                entries.append((block or stem, text, str(f)))
    ids = pd.Series([e[0] for e in entries])
    repeat = ids.groupby(ids).cumcount().to_numpy()
    ids = [i if r == 0 else f"{i}-{r + 1}" for i, r in zip(ids, repeat, strict=True)]
    frame = pd.DataFrame({"source_row": np.arange(1, len(entries) + 1), "id": ids,
                          "cif": [e[1] for e in entries], "file": [e[2] for e in entries]})
    structures = np.full(len(frame), None, dtype=object)
    rejected: list[Problem] = []
    for k, (_, _text, fname) in enumerate(entries):
        part, probs = parse_cif_column(frame.iloc[[k]], "cif", fname)
        structures[k] = part[0]
        rejected += probs
    frame["structure"] = structures
    frame["formula"] = [s.composition.formula if s is not None else None for s in structures]
    frame = frame.drop(columns="cif")
    notes = [f"{len(entries)} CIF entries from {len(files)} file(s)"]
    specs: dict[str, TargetSpec] = {}
    if target_file is not None:
        tdf = read_frame(target_file)
        key = id_column or _by_name(list(tdf.columns), ID_NAMES) or tdf.columns[0]
        if key not in tdf.columns:
            raise _missing_column(str(target_file), "id", key, list(tdf.columns))
        if target_columns is None:
            target_columns = guess_target_columns(tdf, exclude=[key])
            notes.append(f"target columns guessed from {Path(target_file).name}: {target_columns}")
        elif isinstance(target_columns, str):
            target_columns = [target_columns]
        specs = _target_specs(target_columns, units, transforms, quantities)
        for t in specs:
            if t not in tdf.columns:
                raise _missing_column(str(target_file), "target", t, list(tdf.columns))
        tdf = tdf.assign(**{key: tdf[key].astype(str).str.strip()}).drop_duplicates(key)
        frame = frame.merge(tdf[[key, *specs]].rename(columns={key: "id"}), on="id", how="left")
        orphans = sorted(set(tdf[key]) - set(frame["id"]))
        if orphans:
            notes.append(f"{len(orphans)} rows of {Path(target_file).name} match no CIF entry (ids "
                         f"{orphans[:5]}{' ...' if len(orphans) > 5 else ''})")
    keep = frame["structure"].notna().to_numpy()
    clean, report = check_targets(frame.loc[keep], specs, source=str(path), duplicates=duplicates,
                                  rejected=rejected, n_read=len(frame),
                                  field_names={"formula": "cif", "structure": "cif"})
    report.notes[:0] = notes
    _require_rows(clean, report)
    return MaterialTable(clean, specs, report, _stem(path))


# --- extended XYZ -------------------------------------------------------------------------------------
def _scalar(value: object) -> object:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(-1)[0].item()
    return value if isinstance(value, (str, int, float, bool)) else None


def read_extxyz(path: str | Path, *, target_keys: str | Sequence[str] | Mapping | None = None,
                id_key: str | None = None, units: Mapping[str, str] | None = None,
                transforms: Mapping[str, str] | None = None, quantities: Mapping[str, str] | None = None,
                duplicates: str = "median", name: str | None = None) -> MaterialTable:
    """Read an extended XYZ file (``.gz``/``.bz2``/``.xz`` too) with ``ase.io.read(..., format="extxyz")``.

    Periodic frames become pymatgen ``Structure`` objects, non-periodic ones ``Molecule`` objects. Scalar
    ``atoms.info`` entries and scalar calculator results (e.g. ``energy``) become columns; ``target_keys``
    chooses the targets (else numeric columns are guessed, as in :func:`read_table`). Formulas come from
    the structures. Rows are 1-based frame numbers.
    """
    import ase.io

    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", source=str(path))
    try:
        frames = ase.io.read(_text_stream(path), index=":", format="extxyz")
    except Exception as exc:  # noqa: BLE001 - ase raises many types on bad files
        raise InputError(f"cannot read as extended XYZ: {type(exc).__name__}: {exc}", source=str(path)) from exc
    if not frames:
        raise InputError("no frames in the file", source=str(path))
    records: list[dict] = []
    structures: list[object] = []
    for atoms in frames:
        rec = {key: v for key, v in ((key, _scalar(v)) for key, v in atoms.info.items()) if v is not None}
        if atoms.calc is not None:
            for key, v in atoms.calc.results.items():
                v = _scalar(v)
                if v is not None:
                    rec.setdefault(key, v)
        records.append(rec)
        try:
            structures.append(_atoms_to_pymatgen(atoms))
        except Exception as exc:  # noqa: BLE001 - reported by parse_cif_column with the frame number
            structures.append(exc)
    df = pd.DataFrame.from_records(records)
    df["structure"] = object_array(structures)
    notes = [f"{len(frames)} frames read with ase.io.read(format='extxyz')"]
    if id_key is None:
        id_key = _by_name([c for c in df.columns if c != "structure"], ID_NAMES)
        if id_key is None:
            id_key = "frame"
            df.insert(0, id_key, [f"frame-{k + 1}" for k in range(len(df))])
            notes.append("no id key in atoms.info; ids are 'frame-<n>'")
    if isinstance(target_keys, str):
        target_keys = [target_keys]
    table = table_from_frame(df, source=str(path), name=name or _stem(path), structure_column="structure",
                             id_column=id_key, target_columns=target_keys, units=units, transforms=transforms,
                             quantities=quantities, duplicates=duplicates, notes=notes)
    return table


# --- matbench json ------------------------------------------------------------------------------------
def read_matbench_json(path: str | Path, *, targets: Mapping[str, TargetSpec] | None = None,
                       duplicates: str = "keep") -> MaterialTable:
    """Read a matbench dataset file (pandas "split"-orient JSON, usually ``.json.gz``).

    ``{"index": [...], "columns": [...], "data": [[structure_dict_or_formula, target], ...]}``. Structures
    are pymatgen dicts; composition tasks carry formula strings. The index values are kept as ids (strings).
    Units come from ``targets`` or, for files named ``matbench_<task>.json(.gz)``, from the matbench task
    metadata. Duplicates are kept by default: the official folds refer to every row.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", source=str(path))
    try:
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as fh:
            raw = json.load(fh)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read as JSON: {exc}", source=str(path)) from exc
    if not isinstance(raw, dict) or not {"columns", "data"} <= set(raw):
        raise InputError("not a matbench / pandas split-orient JSON (needs 'columns' and 'data')", source=str(path))
    columns = [str(c) for c in raw["columns"]]
    df = pd.DataFrame(raw["data"], columns=columns)
    if len(df) == 0:
        raise InputError("no data rows", source=str(path))
    index = raw.get("index")
    df.insert(0, "id", [str(i) for i in index] if index is not None else [f"row-{k + 1}" for k in range(len(df))])
    first = df.iloc[0]
    input_col = next((c for c in columns if isinstance(first[c], dict)), None)
    formula_col = None
    if input_col is None:
        formula_col = next((c for c in columns if isinstance(first[c], str)), None)
        if formula_col is None:
            raise InputError("no structure or composition column found", source=str(path))
    target_cols = [c for c in columns if c not in (input_col, formula_col)]
    if targets is None:
        from metamat.data.matbench_tasks import matbench_target_spec

        task = _stem(path)
        targets = {}
        for c in target_cols:
            spec = matbench_target_spec(task, c)
            targets[c] = spec
    return table_from_frame(df, source=str(path), name=_stem(path), id_column="id", formula_column=formula_col,
                            structure_column=input_col, target_columns=dict(targets), duplicates=duplicates,
                            notes=["ids are the index values of the file"])
