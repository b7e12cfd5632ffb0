"""Writing files atomically: a temporary name in the same folder, renamed into place only on success."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it over ``path`` if the block succeeds, else delete it.

    The file gets the usual permissions (``mkstemp`` would leave it 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file for writing; it replaces ``path`` only if the block succeeds."""
    with atomic_path(path) as tmp, open(tmp, mode) as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def jsonable(obj: Any) -> Any:
    """Plain JSON types, recursively: numpy scalars and arrays (and torch tensors) become numbers and lists,
    tuples and sets lists, paths strings, mapping keys strings; NaN and infinities become ``None`` (JSON
    has no NaN). Anything else raises ``TypeError``. Also usable as ``json.dumps(default=jsonable)``."""
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (bool, int)):
        return obj
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else None
    if hasattr(obj, "tolist"):  # numpy scalars and arrays, torch tensors (numpy is not imported here)
        return jsonable(obj.tolist())
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"not JSON-serializable: {type(obj).__name__}")


def write_json(path: str | os.PathLike, obj: Any, indent: int = 2, **dumps: Any) -> Path:
    """Write ``obj`` as JSON atomically (converted by :func:`jsonable`: NaN is written as null); returns
    the path. The one JSON writer of the package."""
    text = json.dumps(jsonable(obj), indent=indent, allow_nan=False, **dumps) + "\n"
    with atomic_write(path, "w") as fh:
        fh.write(text)
    return Path(path)


TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")


def write_table(df: Any, path: str | os.PathLike, *, float_format: str | None = None) -> Path:
    """Write a pandas DataFrame atomically without its index: parquet for ``.parquet``/``.pq``, else CSV
    (gzip-compressed when the name ends in ``.gz``); returns the path."""
    path = Path(path)
    name = path.name.lower()
    with atomic_path(path) as tmp:
        if name.endswith((".parquet", ".pq")):
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False, float_format=float_format,
                      compression="gzip" if name.endswith(".gz") else None)
    return path
