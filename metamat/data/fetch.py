"""Getting a registered dataset from its original public source: download, convert, verify, store.

``fetch_dataset("aflow__Egap")`` downloads CrabNet's train/val/test CSVs (pinned commit, pinned SHA-256),
merges them into the layout the registry reads, checks the SHA-256 of the result and writes it (atomically,
gzipped) to the data directory -- ``data_dir``, else ``$METAMAT_DATA_DIR``, else the user data directory
(:func:`~metamat.data.registry.default_data_dir`), where :func:`~metamat.data.registry.load_dataset` finds it
without any setting. Raw downloads go to ``<cache>/downloads/<host>/<path>``
(:func:`~metamat.data.sources.cache.cache_dir`); an interrupted one resumes there on the next call. Plain
files are deleted once their dataset is stored; archives (the CrabNet wheel) stay for the next dataset.

``mirror`` (or ``$METAMAT_FETCH_MIRROR``) serves the same files under ``<mirror>/<host>/<path>``.

Checksums: pinned ones (of the original files or of the converted result) are checked on every download.
Files without a pinned SHA-256 (GitHub raw files at a fixed commit) get theirs recorded on first download
(:mod:`metamat.data.sources.recorded`) and checked against that record afterwards; :attr:`FetchResult.checksums`
says which happened.
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
from metamat.data.sources.recorded import manifest_path, record_sha256, recorded_sha256
from metamat.errors import DataSourceError

#: progress(label, bytes_done, bytes_total or None): called while a file downloads
FetchProgress = Callable[[str, int, "int | None"], None]


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch_dataset` did: ``status`` is ``"fetched"`` or ``"present"`` (already there);
    ``checksums`` says how the downloads were verified (``"pinned"``, ``"recorded on first download"``,
    ``"matched the SHA-256 recorded on first download"``; empty when nothing was downloaded)."""

    name: str
    path: Path
    status: str
    checksums: str = ""


@dataclass(frozen=True)
class Availability:
    """Whether a dataset can be loaded now (``where``: a path or ``"<package> package"``, else None) and how
    to get it (``how``: ``"fetch"``, ``"package"`` or ``"manual"``; ``size``: bytes to download;
    ``checksums``: ``"pinned"`` or ``"recorded on first download"`` for fetchable datasets)."""

    name: str
    where: str | None
    how: str
    size: int | None
    package: str | None
    checksums: str | None = None


def availability(name: str, data_dir: str | os.PathLike | None = None) -> Availability:
    """Where ``name`` loads from now and how it can be obtained (for ``metamat data list``)."""
    location = locate_dataset(name, data_dir)
    origin = get_spec(name).origin
    return Availability(name, None if location is None else location.describe(),
                        "manual" if origin is None else origin.how, None if origin is None else origin.size,
                        None if origin is None else origin.package,
                        origin.checksums if origin is not None and origin.how == "fetch" else None)


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
    checks: list[str] = []
    for source_file in origin.files:
        data, path, check = _get_file(source_file, downloads, mirror=mirror, progress=progress, retries=retries,
                                      backoff=backoff, timeout=timeout, record=origin.content_sha256 is None)
        files.append((source_file.role, data))
        fetched.append(path)
        checks.append(check)
    assert origin.converter is not None
    try:
        content = origin.converter(files)
    except DataSourceError as exc:
        _discard(fetched)
        urls = ", ".join(r.url for f in origin.files for r in f.remotes[:1])
        raise DataSourceError(f"dataset {name!r}: cannot convert the download of {urls}: {exc}; nothing was "
                              "written") from exc
    if origin.content_sha256 is not None:
        actual = hashlib.sha256(content).hexdigest()
        if actual != origin.content_sha256:
            _discard(fetched)
            raise ChecksumError(f"dataset {name!r}: the converted file has SHA-256 {actual}, not the pinned "
                                f"{origin.content_sha256}; nothing was written")
        checks = ["pinned"]
    write_gzip(target, content)
    _discard(fetched)
    return FetchResult(name, target, "fetched", _summary(checks, downloads))


def _summary(checks: list[str], downloads: Path) -> str:
    """One phrase for the checksum checks of a dataset's files."""
    kinds = list(dict.fromkeys(checks))
    text = " and ".join(kinds) if len(kinds) > 1 else (kinds[0] if kinds else "")
    return text + (f" (in {manifest_path(downloads)})" if any(k != "pinned" for k in kinds) else "")


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


def _get_file(source_file: SourceFile, downloads: Path, **options) -> tuple[bytes, Path, str]:
    """The bytes of one original file from the first of its remotes that works, its path and how it was
    verified."""
    failures = []
    for remote in source_file.remotes:
        try:
            return _get_remote(remote, downloads, source_file.role, **options)
        except DataSourceError as exc:
            failures.append(f"{remote.url}{'::' + remote.member if remote.member else ''}: {exc}")
    raise DataSourceError(f"cannot get {source_file.role!r} from any source:\n  " + "\n  ".join(failures))


def _get_remote(remote: Remote, downloads: Path, role: str, *, mirror: str | None,
                progress: FetchProgress | None, retries: int, backoff: float, timeout: float, record: bool
                ) -> tuple[bytes, Path, str]:
    path = download_path(downloads, remote.url)
    label = f"{role}: {Path(urlsplit(remote.url).path).name}"
    known = None if remote.sha256 is not None or not record else recorded_sha256(downloads, remote.url)
    expected = remote.sha256 or (known.sha256 if known else None)
    if path.is_file() and expected is not None and sha256_file(path) != expected:
        path.unlink()  # a stale or damaged cached copy: fetch it again
    if not path.is_file():
        callback = None if progress is None else (lambda done, total: progress(label, done, total))
        try:
            download(mirrored(remote.url, mirror), path, sha256=expected, retries=retries, backoff=backoff,
                     timeout=timeout, progress=callback)
        except ChecksumError as exc:
            if known is None:
                raise
            raise ChecksumError(
                f"{remote.url}: the download's SHA-256 is not {known.sha256}, recorded on its first download "
                f"({known.recorded}, in {manifest_path(downloads)}). A file at a fixed commit never changes, so "
                "the transfer was corrupted or the mirror serves another file; the download was deleted. To "
                "trust the new file, remove that entry from the record.") from exc
    if remote.sha256 is not None:
        check = "pinned"
    elif not record:
        check = "pinned"  # the converted result is pinned
    elif known is not None:
        check = "matched the SHA-256 recorded on first download"
    else:
        record_sha256(downloads, remote.url, sha256_file(path), path.stat().st_size)
        check = "recorded on first download"
    if remote.member is None:
        return path.read_bytes(), path, check
    try:
        with zipfile.ZipFile(path) as archive:
            data = archive.read(remote.member)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise DataSourceError(f"{path}: cannot read {remote.member} ({exc})") from exc
    if remote.member_sha256 is not None and hashlib.sha256(data).hexdigest() != remote.member_sha256:
        raise ChecksumError(f"{path}::{remote.member}: SHA-256 is not the pinned {remote.member_sha256}")
    return data, path, check
