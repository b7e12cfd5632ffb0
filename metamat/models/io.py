"""Model files: safetensors (tensors) + JSON (config), never pickle; reading validates everything.

This is the low-level layer: it knows the file layout, not the model classes, and imports nothing from
``models.meta`` or ``train`` (building a model from a file is :func:`metamat.models.registry.load_model`).

A model ``dir/name`` is the pair ``dir/name.safetensors`` + ``dir/name.json``. The JSON holds
``format_version`` (int, 1), ``model`` (a registry name), ``params`` (constructor arguments), ``fitted``
(JSON-able fitted state, e.g. the std calibration), ``n_features`` (int) and free-form metadata under any
other key (e.g. ``training``), which is never used to build the model. The tensors are ``prep.mean``,
``prep.scale``, ``prep.low``, ``prep.high`` (feature preparation, float64, one value per feature),
optionally ``prep.passthrough`` (int64 scalar), and ``net.*`` (the network's state dict).

Any damage -- a missing or empty file, truncated or random bytes, an oversized safetensors header, JSON
that does not parse, values of the wrong type, non-finite weights -- raises :class:`ModelFileError`, an
:class:`~metamat.errors.InputError` reading "cannot read model PATH: reason" (the CLI exits with 2).
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load as load_safetensors_bytes

from metamat.errors import DataSourceError, InputError, Problem
from metamat.files import pair_base, write_json, write_safetensors

FORMAT_VERSION = 1
#: Larger safetensors headers are refused before anything is parsed (ours are a few kB).
MAX_HEADER_BYTES = 1 << 20
#: Integers in saved parameters (layer widths, steps) above this are refused: a hostile config must not make
#: the loader allocate gigabytes before the tensors are compared with it.
MAX_PARAM_INT = 1 << 16
MAX_PARAM_LIST = 64
_PREP_KEYS = ("mean", "scale", "low", "high")
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "pretrained"


class ModelFileError(InputError):
    """A model file pair that cannot be read: ``cannot read model PATH: reason``."""

    def __init__(self, path: str | os.PathLike, reason: str):
        super().__init__(problems=[Problem(f"cannot read model {path}: {reason}")])
        self.source, self.reason = str(path), reason


def model_base(path: str | os.PathLike) -> Path:
    """``dir/name`` for ``dir/name``, ``dir/name.safetensors`` or ``dir/name.json``."""
    return pair_base(path)


def is_model_path(spec: str | os.PathLike) -> bool:
    """True if ``spec`` names an existing model file pair (either file of it, or the base path)."""
    base = model_base(spec)
    return base.with_suffix(".safetensors").exists() or base.with_suffix(".json").exists()


def shipped_model_path(name: str) -> Path:
    """Base path of a model shipped in ``metamat/pretrained`` (``default`` or ``structure``)."""
    base = SHIPPED_DIR / name
    if not base.with_suffix(".safetensors").exists():
        raise DataSourceError(f"the shipped {name} model is missing ({base}.safetensors); reinstall metamat "
                              "or retrain it (scripts/train_default_model.py, scripts/train_structure_model.py)")
    return base


def write_model_files(path: str | os.PathLike, tensors: dict[str, Any], config: dict[str, Any]) -> Path:
    """Write ``path.safetensors`` and ``path.json`` (each atomically); returns the base path."""
    base = model_base(path)
    write_safetensors(base.with_suffix(".safetensors"), tensors, metadata={"model": str(config["model"])})
    write_json(base.with_suffix(".json"), config, sort_keys=True)
    return base


# ------------------------------------------------------------------------------------------------ reading
def _type_name(v: Any) -> str:
    return "null" if v is None else type(v).__name__


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """The validated JSON config of a model (types of the fixed keys checked; ``params`` not yet)."""
    base = model_base(path)
    file = base.with_suffix(".json")
    if not file.is_file():
        raise ModelFileError(base, f"{file.name} not found (a model is a .safetensors + .json pair written "
                                   "by metamat.models.registry.save_model)")
    try:
        cfg = json.loads(file.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(base, f"{file.name} is not valid JSON ({exc})") from None
    if not isinstance(cfg, dict):
        raise ModelFileError(base, f"{file.name} must hold a JSON object, not {_type_name(cfg)}")
    schema = {"format_version": int, "model": str, "params": dict, "n_features": int}
    for key, typ in schema.items():
        if key not in cfg:
            raise ModelFileError(base, f"{file.name} has no {key!r}")
        if not isinstance(cfg[key], typ) or isinstance(cfg[key], bool):
            raise ModelFileError(base, f"{file.name}: {key!r} must be {typ.__name__}, not {_type_name(cfg[key])}")
    if cfg["format_version"] != FORMAT_VERSION:
        raise ModelFileError(base, f"unsupported model format {cfg['format_version']} (this metamat reads "
                                   f"format {FORMAT_VERSION})")
    if cfg["n_features"] <= 0:
        raise ModelFileError(base, f"n_features must be positive, not {cfg['n_features']}")
    cfg.setdefault("fitted", {})
    if not isinstance(cfg["fitted"], dict):
        raise ModelFileError(base, f"{file.name}: 'fitted' must be dict, not {_type_name(cfg['fitted'])}")
    bad = [k for k in cfg["params"] if not isinstance(k, str) or not k.isidentifier() or k.startswith("_")]
    if bad:
        raise ModelFileError(base, f"{file.name}: invalid parameter name(s) {bad}")
    return cfg


def _check_header(base: Path, data: bytes) -> None:
    """Refuse empty, truncated and oversized-header safetensors before the parser sees them."""
    if len(data) < 8:
        raise ModelFileError(base, f"{base.name}.safetensors is truncated ({len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER_BYTES:
        raise ModelFileError(base, f"{base.name}.safetensors header claims {n} bytes (limit {MAX_HEADER_BYTES})")
    if 8 + n > len(data):
        raise ModelFileError(base, f"{base.name}.safetensors is truncated (header of {n} bytes, file of "
                                   f"{len(data)})")
    try:
        header = json.loads(data[8:8 + n])
        need = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    except Exception:  # not our job to describe a malformed header: the parser below rejects it
        return
    if 8 + n + need > len(data):
        raise ModelFileError(base, f"{base.name}.safetensors is truncated (its tensors need {8 + n + need} "
                                   f"bytes, the file has {len(data)})")


def read_tensors(path: str | os.PathLike, n_features: int) -> dict[str, np.ndarray]:
    """The validated tensors of a model as numpy arrays (``prep.*`` per feature, ``net.*`` finite)."""
    base = model_base(path)
    file = base.with_suffix(".safetensors")
    if not file.is_file():
        raise ModelFileError(base, f"{file.name} not found (a model is a .safetensors + .json pair)")
    data = file.read_bytes()
    _check_header(base, data)
    try:
        tensors = load_safetensors_bytes(data)
    except Exception as exc:  # the parser's own error types vary by version; any failure is damage
        raise ModelFileError(base, f"{file.name} is not a valid safetensors file ({exc})") from None
    missing = [f"prep.{k}" for k in _PREP_KEYS if f"prep.{k}" not in tensors]
    if missing or not any(k.startswith("net.") for k in tensors):
        raise ModelFileError(base, f"{file.name} lacks tensors {missing or ['net.*']}")
    unknown = sorted(k for k in tensors if not k.startswith("net.") and k[5:] not in (*_PREP_KEYS, "passthrough"))
    if unknown:
        raise ModelFileError(base, f"{file.name} holds unknown tensors {unknown}")
    for k in _PREP_KEYS:
        t = tensors[f"prep.{k}"]
        if t.shape != (n_features,):
            raise ModelFileError(base, f"tensor prep.{k} has shape {t.shape}, the config says {n_features} "
                                       "features")
    for k, t in tensors.items():
        finite = k.startswith("net.") or k in ("prep.mean", "prep.scale")
        if finite and np.issubdtype(t.dtype, np.floating) and not np.all(np.isfinite(t)):
            raise ModelFileError(base, f"tensor {k} contains NaN or infinite values")
    if not np.all(tensors["prep.scale"] > 0):
        raise ModelFileError(base, "tensor prep.scale must be positive")
    return tensors


def read_model_files(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(config, tensors)`` of a saved model, both validated (see the module docstring)."""
    cfg = read_config(path)
    return cfg, read_tensors(path, cfg["n_features"])


# --------------------------------------------------------------------------------------- param checking
def check_param_types(base: str | os.PathLike, params: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Each saved constructor parameter must exist (``defaults``: name -> default value) and have the type
    of its default (int for int, a number for float, a list for a tuple/list, ...; any JSON for None)."""
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ModelFileError(base, f"unknown parameter(s) {unknown}; this model takes {sorted(defaults)}")
    for k, v in params.items():
        d = defaults[k]
        if d is None:
            continue
        if isinstance(d, bool):
            ok = isinstance(v, bool)
        elif isinstance(d, int):
            ok = isinstance(v, int) and not isinstance(v, bool)
        elif isinstance(d, float):
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        elif isinstance(d, str):
            ok = isinstance(v, str)
        elif isinstance(d, (list, tuple)):
            ok = isinstance(v, list)
        elif isinstance(d, dict):
            ok = isinstance(v, dict)
        else:
            ok = True
        if not ok:
            raise ModelFileError(base, f"parameter {k!r} must be like {d!r} ({_type_name(d)}), not {v!r} "
                                       f"({_type_name(v)})")
        _check_sizes(base, k, v)


def _check_sizes(base: str | os.PathLike, key: str, v: Any, depth: int = 0) -> None:
    if isinstance(v, bool):
        return
    if isinstance(v, int) and abs(v) > MAX_PARAM_INT:
        raise ModelFileError(base, f"parameter {key!r} value {v} is out of range (|value| <= {MAX_PARAM_INT})")
    if isinstance(v, (list, dict)):
        if len(v) > MAX_PARAM_LIST or depth > 4:
            raise ModelFileError(base, f"parameter {key!r} is too large or too deeply nested")
        for item in (v.values() if isinstance(v, dict) else v):
            _check_sizes(base, key, item, depth + 1)
