"""Converters for binary or structured originals: an ASE database (2DMatPedia) and a matbench JSON file.

ASE database (``.db``, SQLite): read with :func:`ase.db.connect` from a private temporary copy. ASE's SQLite
backend (ase 3.29, ``ase/db/sqlite.py`` and ``ase/db/core.py``) decodes positions, numbers and cells with
``numpy.frombuffer``, key-value pairs with ``json`` and the ``data`` column with JSON plus raw array bytes
(``bytes_to_object``): no :mod:`pickle` anywhere (``tests/data/test_fetch_origins.py`` checks this by making
unpickling fail during a conversion). Each row's key-value pairs and scalar ``data`` entries become its
properties; structures are rebuilt from numbers, positions, cell and pbc only (no constraints, no calculator).

matbench JSON (``{"index": ids, "columns": [...], "data": rows}``, gzipped): structures are pymatgen dicts,
written as pymatgen P1 CIF text (:class:`pymatgen.io.cif.CifWriter`), the layout of the shared partial file.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from metamat.data.sources.convert_csv import write_rows
from metamat.errors import DataSourceError

Converter = Callable[[Sequence[tuple[str, bytes]]], bytes]
SQLITE_MAGIC = b"SQLite format 3\x00"


def _cell(value: Any) -> str:
    """A property as CSV text: floats in shortest round-trip form, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) or (hasattr(value, "item") and getattr(value, "ndim", 1) == 0)


def ase_db_rows(raw: bytes, source: str, id_key: str) -> list[tuple[Any, dict[str, Any]]]:
    """(ase.Atoms, properties) of every row of an ASE SQLite database given as bytes, in row order."""
    if raw.startswith(b"version https://git-lfs"):
        raise DataSourceError(f"{source}: got a Git LFS pointer, not the database")
    if not raw.startswith(SQLITE_MAGIC):
        raise DataSourceError(f"{source}: not an SQLite database (an ASE .db file was expected)")
    import ase
    import ase.db

    folder = tempfile.mkdtemp(prefix="metamat-db-")
    path = Path(folder) / "origin.db"
    try:
        path.write_bytes(raw)
        out = []
        try:
            db = ase.db.connect(str(path), type="db", create_indices=False, use_lock_file=False)
            for row in db.select():
                props = {k: v for k, v in dict(row.data).items() if _scalar(v)}
                props.update(row.key_value_pairs)
                atoms = ase.Atoms(numbers=row.numbers, positions=row.positions, cell=row.cell, pbc=row.pbc)
                out.append((atoms, props))
        except DataSourceError:
            raise
        except Exception as exc:  # noqa: BLE001 - sqlite3/ase raise many types on a damaged file
            raise DataSourceError(f"{source}: cannot read as an ASE database ({type(exc).__name__}: {exc})") from exc
    finally:
        for leftover in Path(folder).iterdir():
            leftover.unlink()
        os.rmdir(folder)
    if not out:
        raise DataSourceError(f"{source}: the database holds no rows")
    for number, (_, props) in enumerate(out, start=1):
        if props.get(id_key) in (None, ""):
            raise DataSourceError(f"{source}: row {number} has no {id_key!r}")
    return out


def _columns(rows: Sequence[tuple[Any, dict[str, Any]]], source: str, id_key: str,
             required: Sequence[str]) -> list[str]:
    """``id_key`` first, then every property in order of first appearance; ``required`` must occur."""
    names = {id_key: None}
    for _, props in rows:
        names.update(dict.fromkeys(props))
    missing = [c for c in required if c not in names]
    if missing:
        raise DataSourceError(f"{source}: no row has the column(s) {', '.join(map(repr, missing))}; the database "
                              "is not the expected original")
    return list(names)


def ase_db_properties(id_key: str, required: Sequence[str]) -> Converter:
    """An ASE database -> CSV of its rows' properties (``id_key`` first; absent values empty)."""
    def convert(files: Sequence[tuple[str, bytes]]) -> bytes:
        (name, raw), = files
        rows = ase_db_rows(raw, name, id_key)
        columns = _columns(rows, name, id_key, required)
        return write_rows(columns, [[_cell(props.get(c)) for c in columns] for _, props in rows])
    return convert


def ase_db_extxyz(id_key: str, required: Sequence[str]) -> Converter:
    """An ASE database -> extended XYZ: one frame per row, its properties in the frame's info."""
    def convert(files: Sequence[tuple[str, bytes]]) -> bytes:
        import ase.io

        (name, raw), = files
        rows = ase_db_rows(raw, name, id_key)
        columns = _columns(rows, name, id_key, required)
        frames = []
        for atoms, props in rows:
            atoms.info = {c: props[c] for c in columns if c in props and props[c] is not None}
            frames.append(atoms)
        out = io.StringIO()
        ase.io.write(out, frames, format="extxyz")
        return out.getvalue().encode("utf-8")
    return convert


def matbench_structures_csv(target: str) -> Converter:
    """Official matbench ``.json.gz`` -> CSV ``matbench_id,row_index,<target>,cif`` (row order kept)."""
    def convert(files: Sequence[tuple[str, bytes]]) -> bytes:
        from pymatgen.core import Structure
        from pymatgen.io.cif import CifWriter

        (name, raw), = files
        try:
            doc = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
        except (OSError, ValueError) as exc:
            raise DataSourceError(f"{name}: not a matbench JSON file ({exc})") from exc
        if not isinstance(doc, dict) or not {"index", "columns", "data"} <= set(doc):
            raise DataSourceError(f"{name}: a matbench file has keys index, columns and data")
        columns = list(doc["columns"])
        missing = [c for c in ("structure", target) if c not in columns]
        if missing:
            raise DataSourceError(f"{name}: column(s) {', '.join(map(repr, missing))} missing (columns: {columns})")
        if len(doc["index"]) != len(doc["data"]):
            raise DataSourceError(f"{name}: {len(doc['index'])} ids but {len(doc['data'])} rows")
        s_at, t_at = columns.index("structure"), columns.index(target)
        out = []
        for i, (mb_id, row) in enumerate(zip(doc["index"], doc["data"], strict=True)):
            try:
                cif = str(CifWriter(Structure.from_dict(row[s_at])))
                value = float(row[t_at])
            except Exception as exc:  # noqa: BLE001 - pymatgen raises many types on a bad dict
                raise DataSourceError(f"{name}: row {i + 1} ({mb_id}): {type(exc).__name__}: {exc}") from exc
            out.append([str(mb_id), str(i), repr(value), cif])
        return write_rows(["matbench_id", "row_index", target, "cif"], out)
    return convert
