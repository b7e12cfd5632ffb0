"""Writing files atomically: a temporary name in the same folder, renamed into place only on success."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
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
    """``json.dumps`` default for numpy scalars and arrays, tuples and paths."""
    if hasattr(obj, "tolist"):  # numpy scalars and arrays, torch tensors
        return obj.tolist()
    if isinstance(obj, (tuple, set)):
        return list(obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"not JSON-serializable: {type(obj).__name__}")


def write_json(path: str | os.PathLike, obj: Any, indent: int = 2, **dumps: Any) -> Path:
    """Write ``obj`` as JSON atomically (numpy values converted); returns the path."""
    text = json.dumps(obj, indent=indent, default=jsonable, **dumps) + "\n"
    with atomic_write(path, "w") as fh:
        fh.write(text)
    return Path(path)


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
