"""Turning original files into the layout the dataset registry reads, on the text (values never reparsed).

Every converter takes the original files as bytes (in the order the origin lists them) and returns the
bytes of the converted CSV; :func:`write_gzip` stores it gzipped with a fixed header (no timestamp), so the
same input always gives the same file. Working on lines, not on parsed frames, keeps every value exactly
as the source wrote it (pandas would turn the formula ``NaN`` -- sodium nitride -- into a missing value).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from metamat.errors import DataSourceError
from metamat.files import atomic_path


def _lines(raw: bytes, source: str) -> list[str]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataSourceError(f"{source}: not UTF-8 text ({exc})") from exc
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DataSourceError(f"{source}: empty file")
    return lines


def _text(lines: Sequence[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def copy(files: Sequence[tuple[str, bytes]]) -> bytes:
    """The single file unchanged (a missing final newline added)."""
    (name, raw), = files
    return _text(_lines(raw, name))


def merge_splits(files: Sequence[tuple[str, bytes]]) -> bytes:
    """CrabNet-style ``train.csv``/``val.csv``/``test.csv`` -> one table with a ``split`` column.

    ``files`` are (split name, bytes); the headers must agree; rows keep their order, train first.
    """
    header: str | None = None
    out: list[str] = []
    for split, raw in files:
        lines = _lines(raw, f"{split}.csv")
        if header is None:
            header = lines[0]
            out.append(f"{header},split")
        elif lines[0] != header:
            raise DataSourceError(f"{split}.csv: header {lines[0]!r} differs from {header!r}")
        out.extend(f"{line},{split}" for line in lines[1:])
    return _text(out)


def rename_header(expected: str, header: str) -> Callable[[Sequence[tuple[str, bytes]]], bytes]:
    """A converter replacing the header line ``expected`` by ``header`` (data lines unchanged)."""
    def convert(files: Sequence[tuple[str, bytes]]) -> bytes:
        (name, raw), = files
        lines = _lines(raw, name)
        if lines[0] != expected:
            raise DataSourceError(f"{name}: header {lines[0]!r}, expected {expected!r} (the file changed upstream)")
        return _text([header, *lines[1:]])
    return convert


def write_gzip(path: str | os.PathLike, content: bytes) -> Path:
    """Write ``content`` gzipped to ``path`` atomically, with no timestamp or name in the gzip header."""
    with atomic_path(path) as tmp, open(tmp, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(content)
    return Path(path)
