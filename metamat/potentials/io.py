"""Save and load potentials as ``model.safetensors`` (weights, float64) + ``config.json`` (no pickle)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from metamat import __version__
from metamat.errors import InputError
from metamat.files import atomic_path, write_json
from metamat.potentials.network import Potential

FORMAT = "metamat-potential"
FORMAT_VERSION = 1
WEIGHTS, CONFIG = "model.safetensors", "config.json"


def save_potential(model: Potential, directory: str | os.PathLike, extra: dict | None = None) -> Path:
    """Write the potential to ``directory`` (created if needed); each file is written atomically.

    ``config.json`` holds the architecture, the metamat version, the training summary (``train_info``
    if the model has one) and ``extra``.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to(torch.float64).contiguous().clone() for k, v in model.state_dict().items()}
    with atomic_path(out / WEIGHTS) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT})
    info = getattr(model, "train_info", None)
    config = {"format": FORMAT, "format_version": FORMAT_VERSION, "metamat_version": __version__,
              "model": model.config(), "training": info, "extra": extra or {}}
    write_json(out / CONFIG, config)
    return out


def load_potential(directory: str | os.PathLike) -> Potential:
    """Load a potential written by :func:`save_potential` (float64, eval mode)."""
    src = Path(directory)
    cfg_path, w_path = src / CONFIG, src / WEIGHTS
    for p in (cfg_path, w_path):
        if not p.is_file():
            raise InputError(f"missing {p.name} (not a saved potential directory?)", source=str(src))
    try:
        config = json.loads(cfg_path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc}", source=str(cfg_path)) from exc
    if config.get("format") != FORMAT:
        raise InputError(f"not a metamat potential (format {config.get('format')!r})", source=str(cfg_path),
                         field="format")
    if int(config.get("format_version", 0)) > FORMAT_VERSION:
        raise InputError(f"written by a newer metamat (format version {config['format_version']})",
                         source=str(cfg_path), field="format_version")
    try:
        model = Potential.from_config(config["model"])
        state = load_file(str(w_path))
        state.setdefault("descriptor.ang_rs", model.descriptor.ang_rs)  # files from before shifted channels
        model.load_state_dict(state, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise InputError(f"weights do not match the configuration: {exc}", source=str(src)) from exc
    model.train_info = config.get("training")
    return model.double().eval()
