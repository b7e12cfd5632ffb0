"""Writing files atomically: a temporary name in the same folder, renamed into place only on success.

Temporary files are named ``.<target name>.<8 random characters>.tmp``; one left behind by a killed run
(SIGKILL) is swept the next time the same target is written, if it is older than the current process.
:func:`terminate_on_sigterm` turns SIGTERM into an exception, so the cleanup of a running write happens
then too. Side reports (the rows a command rejected) get their names from :func:`side_report_path`, which
never picks a file the user did not name as output.
"""

from __future__ import annotations

import glob
import json
import math
import os
import re
import signal
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from metamat.errors import InputError, Problem

_PROCESS_START = time.time()
_TEMP_RANDOM = re.compile(r"[a-z0-9_]{8}")
_OUTPUT_SUFFIXES = (".csv.gz", ".csv.bz2", ".csv.xz", ".csv", ".tsv", ".parquet", ".pq", ".json", ".xlsx", ".txt")


def sweep_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Delete temporary files of ``path`` (our own pattern only) left by runs that were killed before this
    process started; returns what was deleted."""
    path = Path(path)
    prefix, removed = f".{path.name}.", []
    if not path.parent.is_dir():
        return removed
    for cand in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        middle = cand.name[len(prefix):-len(".tmp")]
        if not _TEMP_RANDOM.fullmatch(middle):
            continue
        try:
            if not cand.is_file() or cand.stat().st_mtime >= _PROCESS_START:
                continue
            fd = os.open(cand, os.O_RDONLY)
        except OSError:  # raced with another process: not ours to worry about
            continue
        try:
            if _try_lock(fd, blocking=False):  # a live writer holds its lock: leave its file alone
                cand.unlink(missing_ok=True)
                removed.append(cand)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


def _try_lock(fd: int, blocking: bool = True) -> bool:
    """An exclusive advisory lock on ``fd`` (True where locks are not supported)."""
    try:
        import fcntl
    except ImportError:  # Windows: the age check alone decides
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it over ``path`` if the block succeeds, else delete it.

    The file gets the usual permissions (``mkstemp`` would leave it 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_temps(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        _try_lock(fd)  # held until the end: marks the temporary file as in use for sweep_stale_temps
        yield Path(tmp)
        move_into_place(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)


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


#: Output table formats by file-name ending (checked in this order).
TABLE_FORMATS = {".csv.gz": "csv", ".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet",
                 ".xlsx": "excel"}
TABLE_SUFFIXES = tuple(TABLE_FORMATS)
DEFAULT_PRECISION = 6


def table_format(path: str | os.PathLike) -> str:
    """``csv``, ``tsv``, ``parquet`` or ``excel`` from the name of ``path``; anything else (or a folder) is
    refused with an :class:`InputError` before any work is done."""
    path = Path(path)
    if path.is_dir():
        raise InputError("is a folder; give a file name for the output, e.g. "
                         f"{os.path.join(str(path), 'out.csv')}", source=str(path))
    name = path.name.lower()
    for suffix, kind in TABLE_FORMATS.items():
        if name.endswith(suffix):
            return kind
    raise InputError("unknown output format: the name must end in " + ", ".join(TABLE_FORMATS)
                     + " (CSV, gzip-compressed CSV, tab-separated, parquet or Excel)", source=str(path))


def write_table(df: Any, path: str | os.PathLike, *, precision: int | None = DEFAULT_PRECISION,
                float_format: str | None = None) -> Path:
    """Write a pandas DataFrame atomically without its index, in the format its name asks for
    (:func:`table_format`: CSV, ``.csv.gz``, TSV, parquet, Excel ``.xlsx``); returns the path.

    Text formats get floats with ``precision`` significant digits (``None``: all, round-tripping);
    parquet and Excel keep full binary precision. The one table writer of the package."""
    path = Path(path)
    kind = table_format(path)
    fmt = float_format or (f"%.{int(precision)}g" if precision is not None else None)
    with atomic_path(path) as tmp:
        if kind == "parquet":
            df.to_parquet(tmp, index=False)
        elif kind == "excel":
            df.to_excel(tmp, index=False, engine="openpyxl")
        else:
            df.to_csv(tmp, index=False, float_format=fmt, sep="\t" if kind == "tsv" else ",",
                      compression="gzip" if path.name.lower().endswith(".gz") else None)
    return path


def pair_base(path: str | os.PathLike) -> Path:
    """The base path of a ``.safetensors`` + ``.json`` file pair: ``dir/name`` for ``dir/name``,
    ``dir/name.safetensors`` or ``dir/name.json``."""
    p = Path(path)
    return p.with_suffix("") if p.suffix in (".safetensors", ".json") else p


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


def side_report_path(output: str | os.PathLike, tag: str = "rejected", suffix: str = ".csv",
                     own_header: str | bytes | None = None, sep: str = ".") -> Path:
    """``<output stem><sep><tag><suffix>`` next to ``output``, keeping the full stem (``results.v2.csv`` ->
    ``results.v2.rejected.csv``).

    Raises :class:`InputError` if that name is ``output`` itself or an existing file, unless the existing file
    starts with ``own_header`` (a text first line, or leading bytes: what an earlier run wrote for the same
    output): a side report never replaces a file the user did not name.
    """
    output = Path(output)
    name = output.name
    lower = name.lower()
    stem = next((name[: -len(s)] for s in _OUTPUT_SUFFIXES if lower.endswith(s) and len(name) > len(s)),
                output.stem)
    report = output.with_name(f"{stem}{sep}{tag}{suffix}")
    if report.resolve() == output.resolve():
        raise InputError(f"the {tag} report would be the output file itself", source=str(output))
    if report.exists():
        own = own_header if isinstance(own_header, bytes) else None if own_header is None \
            else (own_header + "\n").encode()
        first = b""
        if own is not None and report.is_file():
            with open(report, "rb") as fh:
                first = fh.read(len(own))
        if own is None or first != own:
            raise InputError(f"the {tag} report {report} already exists and was not named as output; move it "
                             "or choose another output name (nothing was written)", source=str(output))
    return report


REPORT_COLUMNS = ("row", "field", "value", "reason")


def write_problem_report(problems: list[Problem], path: str | os.PathLike) -> Path:
    """Write problems as CSV (``row,field,value,reason``) atomically; returns the path."""
    import csv

    with atomic_write(path, "w") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(REPORT_COLUMNS)
        for p in problems:
            writer.writerow([p.row, p.field, p.value, p.reason])
    return Path(path)


def report_path_for(output: str | os.PathLike) -> Path:
    """Where the rejected rows of a command writing ``output`` go (see :func:`side_report_path`)."""
    return side_report_path(output, "rejected", ".csv", own_header=",".join(REPORT_COLUMNS))


def problems_error(problems: list[Problem], output: str | os.PathLike, limit: int = 50) -> InputError:
    """An InputError listing ``problems``; when there are more than ``limit``, the full list is also written
    to the rejected report of ``output`` and the message says where."""
    error = InputError(problems=problems)
    if len(problems) > limit:
        report = write_problem_report(problems, report_path_for(output))
        error.args = (f"{error.render(limit)}\nall {len(problems)} problems are listed in {report}",)
    return error


class Terminated(SystemExit):
    """SIGTERM as an exception: ``finally`` blocks and :func:`atomic_path` clean up before the exit."""


def terminate_on_sigterm() -> None:
    """Make SIGTERM raise :class:`Terminated` (exit status 143) in the main thread."""

    def handler(signum, frame):  # noqa: ARG001 - the signal API
        raise Terminated(128 + signal.SIGTERM)

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (e.g. inside a test runner's worker thread)
        pass
