"""Downloading one file: checksum, retries with backoff, resume of interrupted downloads (HTTP Range).

The bytes go to a partial file next to the destination (:func:`metamat.files.resumable_write`); a failed
attempt keeps it, the next attempt asks the server for the rest (``Range: bytes=<have>-``) and appends.
Only a complete file whose SHA-256 matches is renamed into place; a checksum mismatch deletes the partial
file, so nothing is left behind. Progress is reported through a callback (the library never prints).

Mirrors: :func:`mirrored` maps ``https://host/path`` to ``<mirror>/host/path``. The mirror comes from the
``mirror`` argument or ``$METAMAT_FETCH_MIRROR`` (a local folder served over HTTP, a proxy cache, or the
test server).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import requests

from metamat.errors import DataSourceError
from metamat.files import discard_resumable, finish_resumable, partial_path, resumable_write

ENV_MIRROR = "METAMAT_FETCH_MIRROR"
CHUNK = 1 << 16
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})

#: progress(bytes_done, bytes_total or None) after every chunk
Progress = Callable[[int, "int | None"], None]


class ChecksumError(DataSourceError):
    """A downloaded or converted file whose SHA-256 is not the pinned one."""


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def mirror_base(mirror: str | None = None) -> str | None:
    """The mirror base URL: ``mirror``, else ``$METAMAT_FETCH_MIRROR``, else None (the original hosts)."""
    value = mirror if mirror is not None else os.environ.get(ENV_MIRROR)
    return value.rstrip("/") if value else None


def mirrored(url: str, mirror: str | None = None) -> str:
    """``url`` rewritten to the mirror (``<mirror>/<host>/<path>``); unchanged without a mirror."""
    base = mirror_base(mirror)
    if base is None:
        return url
    parts = urlsplit(url)
    return f"{base}/{parts.netloc}{parts.path}" + (f"?{parts.query}" if parts.query else "")


class _Retry(Exception):
    """A failure worth another attempt (connection dropped, timeout, 5xx, 429)."""


def download(url: str, dest: str | os.PathLike, *, sha256: str | None = None, retries: int = 5,
             backoff: float = 1.0, timeout: float = 60.0, progress: Progress | None = None,
             session: requests.Session | None = None) -> Path:
    """Download ``url`` to ``dest`` (resuming a partial file left by an earlier attempt); returns ``dest``.

    Retries up to ``retries`` times on dropped connections, timeouts and HTTP 408/429/5xx, waiting
    ``backoff * 2**attempt`` seconds (at most 60) in between; each retry resumes with an HTTP Range request.
    ``sha256`` (hex) is checked on the complete file: a mismatch deletes the download and raises
    :class:`ChecksumError`. Other HTTP errors (404, 403) raise :class:`DataSourceError` at once.
    """
    dest = Path(dest)
    http = session or requests.Session()
    last: Exception | None = None
    done = False
    try:
        for attempt in range(retries + 1):
            if attempt:
                time.sleep(min(backoff * 2 ** (attempt - 1), 60.0))
            try:
                _attempt(http, url, dest, timeout, progress)
                done = True
                break
            except _Retry as exc:
                last = exc.__cause__ or exc
    finally:
        if session is None:
            http.close()
    if not done:
        raise DataSourceError(f"cannot download {url} after {retries + 1} attempts ({_describe(last)}); the next "
                              f"try resumes the partial download. Without network, put the file at {dest}")
    if sha256 is not None:
        actual = sha256_file(partial_path(dest))
        if actual != sha256.lower():
            discard_resumable(dest)
            raise ChecksumError(f"{url}: SHA-256 {actual} is not the pinned {sha256}; the download was deleted "
                                "(the file changed upstream or the transfer was corrupted)")
    return finish_resumable(dest)


def _describe(exc: Exception | None) -> str:
    return "no attempt made" if exc is None else f"{type(exc).__name__}: {exc}"


def _attempt(http: requests.Session, url: str, dest: Path, timeout: float, progress: Progress | None) -> None:
    """One GET (ranged when a partial file exists), appended to the partial file."""
    part = partial_path(dest)
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        with http.get(url, stream=True, timeout=timeout, headers=headers) as response:
            if response.status_code == 416 and have:  # nothing left to send: the partial file is complete
                return
            if response.status_code in RETRY_STATUS:
                raise _Retry(f"HTTP {response.status_code}")
            if response.status_code >= 400:
                raise DataSourceError(f"cannot download {url}: HTTP {response.status_code} {response.reason}")
            if response.status_code != 206:  # the server ignored the Range header: start again
                have = 0
            length = response.headers.get("Content-Length")
            total = have + int(length) if length and length.isdigit() else None
            done = have
            with resumable_write(dest, have) as fh:
                for chunk in response.iter_content(CHUNK):
                    fh.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
            if total is not None and done < total:
                raise _Retry(f"connection closed after {done} of {total} bytes")
    except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
        raise _Retry(str(exc)) from exc
