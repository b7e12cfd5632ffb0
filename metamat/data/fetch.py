"""Getting a registered dataset from its original public source: download, convert, verify, store.

``fetch_dataset("aflow__Egap")`` downloads CrabNet's train/val/test CSVs (pinned commit, pinned SHA-256),
merges them into the layout the registry reads, checks the SHA-256 of the result and writes it (atomically,
gzipped) to the data directory -- ``data_dir``, else ``$METAMAT_DATA_DIR``, else the user data directory
(:func:`~metamat.data.registry.default_data_dir`), where :func:`~metamat.data.registry.load_dataset` finds it
without any setting. Raw downloads go to ``<cache>/downloads/<host>/<path>``
(:func:`~metamat.data.sources.cache.cache_dir`); an interrupted one resumes there on the next call. Plain
files are deleted once their dataset is stored; archives (the CrabNet wheel) stay for the next dataset.

``mirror`` (or ``$METAMAT_FETCH_MIRROR``) serves the same files under ``<mirror>/<host>/<path>``.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from metamat.data.registry import fetch_dir, get_spec, list_datasets, locate_dataset
from metamat.data.sources.cache import cache_dir as default_cache_dir
from metamat.data.sources.convert import write_gzip
from metamat.data.sources.download import ChecksumError, download, mirrored, sha256_file
from metamat.data.sources.origins import Remote, SourceFile
from metamat.errors import DataSourceError

#: progress(label, bytes_done, bytes_total or None): called while a file downloads
FetchProgress = Callable[[str, int, "int | None"], None]


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch_dataset` did: ``status`` is ``"fetched"`` or ``"present"`` (already there)."""

    name: str
    path: Path
    status: str


@dataclass(frozen=True)
class Availability:
    """Whether a dataset can be loaded now (``where``: a path or ``"<package> package"``, else None) and how
    to get it (``how``: ``"fetch"``, ``"package"`` or ``"manual"``; ``size``: bytes to download)."""

    name: str
    where: str | None
    how: str
    size: int | None
    package: str | None


def availability(name: str, data_dir: str | os.PathLike | None = None) -> Availability:
    """Where ``name`` loads from now and how it can be obtained (for ``metamat data list``)."""
    location = locate_dataset(name, data_dir)
    origin = get_spec(name).origin
    return Availability(name, None if location is None else location.describe(),
                        "manual" if origin is None else origin.how, None if origin is None else origin.size,
                        None if origin is None else origin.package)


def fetchable_datasets() -> list[str]:
    """Names of the datasets ``fetch_dataset`` can download."""
    return [s.name for s in list_datasets() if s.origin is not None and s.origin.how == "fetch"]


def fetch_dataset(name: str, data_dir: str | os.PathLike | None = None, *, mirror: str | None = None,
                  cache_dir: str | os.PathLike | None = None, force: bool = False,
                  progress: FetchProgress | None = None, retries: int = 5, backoff: float = 1.0,
                  timeout: float = 60.0) -> FetchResult:
    """Download, convert and verify dataset ``name`` into the data directory (see the module docstring).

    A file already in place is kept (``status="present"``) unless ``force``. Datasets that cannot be
    fetched raise :class:`DataSourceError` with the origin's instructions; a result whose SHA-256 is not the
    pinned one raises :class:`ChecksumError` and writes nothing.
    """
    spec = get_spec(name)
    origin = spec.origin
    target = fetch_dir(data_dir) / spec.path
    if origin is None or origin.how != "fetch":
        how = origin.instructions if origin is not None else "no origin is registered"
        raise DataSourceError(f"dataset {name!r} cannot be downloaded by metamat: {how}")
    if target.is_file() and not force:
        return FetchResult(name, target, "present")
    downloads = Path(default_cache_dir(cache_dir)) / "downloads"
    files: list[tuple[str, bytes]] = []
    fetched: list[Path] = []
    for source_file in origin.files:
        data, path = _get_file(source_file, downloads, mirror=mirror, progress=progress, retries=retries,
                               backoff=backoff, timeout=timeout)
        files.append((source_file.role, data))
        fetched.append(path)
    assert origin.converter is not None
    content = origin.converter(files)
    actual = hashlib.sha256(content).hexdigest()
    if actual != origin.content_sha256:
        _discard(fetched)
        raise ChecksumError(f"dataset {name!r}: the converted file has SHA-256 {actual}, not the pinned "
                            f"{origin.content_sha256}; nothing was written")
    write_gzip(target, content)
    _discard(fetched)
    return FetchResult(name, target, "fetched")


def _discard(paths: list[Path]) -> None:
    """Delete downloaded plain files (archives stay: other datasets read them too)."""
    for path in paths:
        if path.is_file() and not zipfile.is_zipfile(path):
            path.unlink()
            for parent in path.parents:  # drop folders the download left empty (up to downloads/)
                if parent.name == "downloads" or any(parent.iterdir()):
                    break
                parent.rmdir()


def download_path(downloads: Path, url: str) -> Path:
    """Where the raw download of ``url`` goes: ``<downloads>/<host>/<path>``."""
    parts = urlsplit(url)
    relative = Path(unquote(parts.path).lstrip("/"))
    if ".." in relative.parts or not relative.parts:
        raise DataSourceError(f"unexpected download URL {url}")
    return downloads / parts.netloc / relative


def _get_file(source_file: SourceFile, downloads: Path, **options) -> tuple[bytes, Path]:
    """The bytes of one original file from the first of its remotes that works."""
    failures = []
    for remote in source_file.remotes:
        try:
            return _get_remote(remote, downloads, source_file.role, **options)
        except DataSourceError as exc:
            failures.append(f"{remote.url}{'::' + remote.member if remote.member else ''}: {exc}")
    raise DataSourceError(f"cannot get {source_file.role!r} from any source:\n  " + "\n  ".join(failures))


def _get_remote(remote: Remote, downloads: Path, role: str, *, mirror: str | None,
                progress: FetchProgress | None, retries: int, backoff: float, timeout: float
                ) -> tuple[bytes, Path]:
    path = download_path(downloads, remote.url)
    label = f"{role}: {Path(urlsplit(remote.url).path).name}"
    if not path.is_file():
        callback = None if progress is None else (lambda done, total: progress(label, done, total))
        download(mirrored(remote.url, mirror), path, sha256=remote.sha256, retries=retries, backoff=backoff,
                 timeout=timeout, progress=callback)
    elif remote.sha256 is not None and sha256_file(path) != remote.sha256:
        path.unlink()  # a stale or damaged cached copy: fetch it again
        return _get_remote(remote, downloads, role, mirror=mirror, progress=progress, retries=retries,
                           backoff=backoff, timeout=timeout)
    if remote.member is None:
        return path.read_bytes(), path
    try:
        with zipfile.ZipFile(path) as archive:
            data = archive.read(remote.member)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise DataSourceError(f"{path}: cannot read {remote.member} ({exc})") from exc
    if remote.member_sha256 is not None and hashlib.sha256(data).hexdigest() != remote.member_sha256:
        raise ChecksumError(f"{path}::{remote.member}: SHA-256 is not the pinned {remote.member_sha256}")
    return data, path
