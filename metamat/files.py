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
        move_into_place(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def move_into_place(tmp: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Rename a finished temporary file (same folder) over ``path``, with the usual permissions."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)
    return Path(path)


def partial_path(path: str | os.PathLike) -> Path:
    """The partial file of a resumable write to ``path`` (hidden, next to it): ``.<name>.part``."""
    path = Path(path)
    return path.parent / f".{path.name}.part"


@contextmanager
def resumable_write(path: str | os.PathLike, offset: int = 0) -> Iterator[IO[bytes]]:
    """Append to the partial file of ``path`` from byte ``offset`` (earlier bytes kept, later ones cut).

    Unlike :func:`atomic_write` the partial file survives an error, so an interrupted download can resume;
    :func:`finish_resumable` moves it into place, :func:`discard_resumable` deletes it.
    """
    part = partial_path(path)
    part.parent.mkdir(parents=True, exist_ok=True)
    with open(part, "r+b" if part.exists() else "wb") as fh:
        fh.truncate(offset)
        fh.seek(offset)
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def finish_resumable(path: str | os.PathLike) -> Path:
    """Move the completed partial file of ``path`` into place (atomic rename)."""
    return move_into_place(partial_path(path), path)


def discard_resumable(path: str | os.PathLike) -> None:
    """Delete the partial file of ``path`` if there is one."""
    partial_path(path).unlink(missing_ok=True)


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


def write_safetensors(path: str | os.PathLike, tensors: dict[str, Any],
                      metadata: dict[str, str] | None = None) -> Path:
    """Write torch tensors as safetensors atomically (detached, on CPU, contiguous); returns the path.

    ``safetensors.torch`` is imported here rather than at module level only so that writing plain JSON
    or CSV does not import torch (about 1 s)."""
    from safetensors.torch import save

    data = save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, metadata=metadata)
    with atomic_write(path) as fh:
        fh.write(data)
    return Path(path)
