"""A local download cache: one file per URL, written atomically (temporary name, then ``os.replace``).

The cache directory is the ``cache_dir`` argument, else ``$METAMAT_CACHE_DIR``, else ``~/.cache/metamat``.
A file present in the cache is never downloaded again; without it and without network,
:func:`fetch` raises :class:`~metamat.errors.DataSourceError` saying where to put the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import requests

from metamat.errors import DataSourceError
from metamat.files import atomic_write  # noqa: F401  (re-exported: cache users import it from here)

ENV_CACHE_DIR = "METAMAT_CACHE_DIR"
CHUNK = 1 << 20


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """The cache directory (created if missing)."""
    path = Path(override) if override is not None else Path(
        os.environ.get(ENV_CACHE_DIR) or Path.home() / ".cache" / "metamat")
    path = path.expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def cached_path(filename: str, cache_dir_override: str | os.PathLike | None = None) -> Path:
    """Where ``filename`` lives in the cache (it may not exist yet)."""
    if not filename or Path(filename).name != filename or filename in (".", ".."):
        raise ValueError(f"cache file name must be a plain file name, not {filename!r}")
    return cache_dir(cache_dir_override) / filename


def fetch(url: str, filename: str, *, cache_dir: str | os.PathLike | None = None, timeout: float = 60.0) -> Path:
    """Path of the cached copy of ``url``; downloads it (streamed, atomic) only when it is not cached."""
    path = cached_path(filename, cache_dir)
    if path.is_file():
        return path
    try:
        with requests.get(url, stream=True, timeout=timeout) as response:
            response.raise_for_status()
            with atomic_write(path) as fh:
                for chunk in response.iter_content(CHUNK):
                    fh.write(chunk)
    except requests.RequestException as exc:
        head = f"cannot download {url} ({type(exc).__name__}: {exc}). Without network, put the file at {path} "
        raise DataSourceError(head + f"(the cache directory is set by {ENV_CACHE_DIR} or cache_dir=) and retry.",
                              cli_message=head + f"(the cache directory is set by {ENV_CACHE_DIR}) and retry."
                              ) from exc
    return path
