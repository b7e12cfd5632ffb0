"""Converters for CSV originals whose cells span lines (CIF text in quotes) or need light cleaning.

Like :mod:`metamat.data.sources.convert`, every converter takes the original files as (role, bytes) and
returns the bytes of the converted CSV, keeping every cell's text exactly as the source wrote it (the
:mod:`csv` module splits and re-quotes cells; nothing is parsed as a number), except where a step says
otherwise (``Tc_K = -prop``, C2DB's ``-`` -> empty).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence

from metamat.data.sources.convert import _lines
from metamat.errors import DataSourceError

Converter = Callable[[Sequence[tuple[str, bytes]]], bytes]


def read_rows(raw: bytes, source: str, required: Sequence[str] = ()) -> tuple[list[str], list[list[str]]]:
    """Header and data rows of a CSV file (quoted cells may span lines); ``required`` columns must exist."""
    _lines(raw, source)  # UTF-8 and not empty
    try:
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    except csv.Error as exc:
        raise DataSourceError(f"{source}: not a readable CSV file ({exc})") from exc
    header, body = rows[0], [r for r in rows[1:] if r]
    missing = [c for c in required if c not in header]
    if missing:
        raise DataSourceError(f"{source}: column(s) {', '.join(map(repr, missing))} missing (header: "
                              f"{', '.join(header[:12])}{', ...' if len(header) > 12 else ''}); the file is not "
                              "the expected original")
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataSourceError(f"{source}: record {number} has {len(row)} cells, the header {len(header)}")
    return header, body


def write_rows(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    """CSV bytes, cells quoted only where needed, ``\\n`` line ends."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def negated(text: str, source: str, row: int, column: str) -> str:
    """``-x`` for the number ``x`` written as text (shortest round-trip form; ``-0.0`` is written ``0.0``)."""
    try:
        value = float(text)
    except ValueError:
        raise DataSourceError(f"{source}: row {row}, column {column!r}: {text!r} is not a number") from None
    return repr(-value + 0.0)


def cdvae_splits(required: Sequence[str], index_name: str = "orig_index",
                 negate: tuple[str, str] | None = None) -> Converter:
    """CDVAE ``<split>.csv`` files (pandas index in an unnamed first column, CIF cells spanning lines) ->
    one table: the first column named ``index_name``, a ``split`` column added and, with
    ``negate=(source, new)``, a column ``new`` holding ``-source`` (CDVAE stores ``prop = -Tc``)."""
    def convert(files: Sequence[tuple[str, bytes]]) -> bytes:
        header: list[str] | None = None
        out: list[list[str]] = []
        for split, raw in files:
            source = f"{split}.csv"
            head, rows = read_rows(raw, source, required)
            if header is None:
                header = head
            elif head != header:
                raise DataSourceError(f"{source}: header {head} differs from {header}")
            k = head.index(negate[0]) if negate else -1
            for number, row in enumerate(rows, start=2):
                extra = [negated(row[k], source, number, negate[0])] if negate else []
                out.append([*row, split, *extra])
        assert header is not None
        names = [index_name if i == 0 and not h else h for i, h in enumerate(header)]
        return write_rows([*names, "split", *([negate[1]] if negate else [])], out)
    return convert


C2DB_MARK = " ✕"


def c2db_table(required: Sequence[str]) -> Converter:
    """The C2DB web-table export: the trailing ``" ✕"`` stripped from column names, ``-`` cells emptied."""
    def convert(files: Sequence[tuple[str, bytes]]) -> bytes:
        (name, raw), = files
        head, rows = read_rows(raw, name)
        header = [h[: -len(C2DB_MARK)] if h.endswith(C2DB_MARK) else h for h in head]
        missing = [c for c in required if c not in header]
        if missing:
            raise DataSourceError(f"{name}: column(s) {', '.join(map(repr, missing))} missing; the file is not "
                                  "the expected C2DB export")
        return write_rows(header, [["" if cell.strip() == "-" else cell for cell in row] for row in rows])
    return convert
