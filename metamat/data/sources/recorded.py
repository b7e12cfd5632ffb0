"""SHA-256 recorded on first download, for files no checksum could be pinned for in advance.

A GitHub raw URL at a fixed commit (``raw.githubusercontent.com/<owner>/<repo>/<40-hex commit>/...``) always
serves the same bytes, but their SHA-256 was not known when the origin was written. The first successful
download records it in ``<cache>/downloads/recorded_sha256.json`` (URL -> sha256, bytes, UTC time); every
later download of that URL (``--force``, a new data directory, a cache shared between machines) must match it.
This is trust on first use, weaker than a pinned checksum, and is reported as such (``metamat data list`` and
``metamat data fetch``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from metamat.errors import DataSourceError
from metamat.files import write_json

MANIFEST = "recorded_sha256.json"


@dataclass(frozen=True)
class Recorded:
    """The checksum recorded for one URL."""

    sha256: str
    size: int
    recorded: str  # UTC, ISO 8601


def manifest_path(downloads: Path) -> Path:
    """Where the recorded checksums live (next to the raw downloads)."""
    return Path(downloads) / MANIFEST


def _read(downloads: Path) -> dict[str, dict]:
    path = manifest_path(downloads)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataSourceError(f"{path}: unreadable record of download checksums ({exc}); delete it to start "
                              "again (the files are then trusted anew on their next download)") from exc
    if not isinstance(data, dict):
        raise DataSourceError(f"{path}: not a record of download checksums; delete it to start again")
    return data


def recorded_sha256(downloads: Path, url: str) -> Recorded | None:
    """The checksum recorded for ``url`` on its first download, or None."""
    entry = _read(downloads).get(url)
    if entry is None:
        return None
    try:
        return Recorded(str(entry["sha256"]), int(entry["bytes"]), str(entry["recorded"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise DataSourceError(f"{manifest_path(downloads)}: bad entry for {url} ({exc}); delete that entry") from exc


def record_sha256(downloads: Path, url: str, sha256: str, size: int) -> Recorded:
    """Record the checksum of the first download of ``url`` (atomic rewrite of the manifest)."""
    entry = Recorded(sha256, size, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    data = _read(downloads)
    data[url] = {"sha256": entry.sha256, "bytes": entry.size, "recorded": entry.recorded}
    manifest_path(downloads).parent.mkdir(parents=True, exist_ok=True)
    write_json(manifest_path(downloads), dict(sorted(data.items())))
    return entry
