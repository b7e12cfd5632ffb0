"""Save and load models as safetensors (tensors) + JSON (config) — never pickle.

``save_model(model, "dir/name")`` writes ``dir/name.safetensors`` and ``dir/name.json``, each to a
temporary name first and then renamed (atomic). ``load_model("dir/name")`` (with or without a suffix)
rebuilds the model from its registry name and config and loads its tensors. Any meta-learner from
:mod:`metamat.models.meta.registry` that has been meta-trained can be saved; a model adapted with ``fit``
is saved without its per-task state (call ``fit`` again after loading).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from metamat.files import atomic_path, jsonable, write_json

FORMAT_VERSION = 1


def write_json_atomic(obj: Any, path: str | os.PathLike) -> None:
    write_json(path, obj, sort_keys=True)


def write_safetensors_atomic(tensors: dict[str, torch.Tensor], path: str | os.PathLike,
                             metadata: dict[str, str] | None = None) -> None:
    with atomic_path(path) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)


def _base(path: str | os.PathLike) -> Path:
    p = Path(path)
    return p.with_suffix("") if p.suffix in (".safetensors", ".json") else p


def model_tensors(model) -> dict[str, torch.Tensor]:
    out = {f"net.{k}": v for k, v in model.net_.state_dict().items()}
    out.update({f"prep.{k}": v for k, v in model.prep_.tensors().items()})
    return out


def save_model(model, path: str | os.PathLike, extra: dict[str, Any] | None = None) -> Path:
    """Write ``path.safetensors`` + ``path.json``; returns the base path. ``extra`` goes into the JSON."""
    from metamat.models.meta.registry import registry_name

    model._check_meta_fitted()
    base = _base(path)
    config = {"format_version": FORMAT_VERSION, "model": registry_name(model),
              "params": _jsonable_params(model.get_params()), "fitted": model.extra_config(),
              "n_features": int(model.prep_.n_features_in_), **(extra or {})}
    write_safetensors_atomic(model_tensors(model), base.with_suffix(".safetensors"),
                             metadata={"model": config["model"]})
    write_json_atomic(config, base.with_suffix(".json"))
    return base


def _jsonable_params(params: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(params, default=jsonable))


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    return json.loads(_base(path).with_suffix(".json").read_text())


def load_model(path: str | os.PathLike, **overrides: Any):
    """Rebuild a saved model; ``overrides`` replace constructor params (e.g. ``target_transform='log10'``)."""
    from metamat.models.meta.base import PoolFeaturePrep
    from metamat.models.meta.registry import make_meta_model, meta_model_class

    base = _base(path)
    cfg = read_config(base)
    if cfg.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{base}.json: unsupported model format {cfg.get('format_version')!r}")
    tensors = load_file(str(base.with_suffix(".safetensors")))
    params = dict(cfg["params"])
    # options added after a file was written keep the behaviour the file was trained with
    params = {**getattr(meta_model_class(cfg["model"]), "legacy_params", {}), **params, **overrides}
    model = make_meta_model(cfg["model"], **params)
    model.prep_ = PoolFeaturePrep.from_tensors({k[5:]: v for k, v in tensors.items() if k.startswith("prep.")})
    model.load_extra_config(cfg.get("fitted", {}))
    model._build(model.prep_.n_features_in_)
    model.net_.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
    model.net_.eval()
    return model
