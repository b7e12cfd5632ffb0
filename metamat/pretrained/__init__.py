"""Pretrained models shipped with metamat (safetensors + JSON; see MODEL_CARD.md).

``default``: Meta-SGD meta-learner on composition features, meta-trained on the registry's meta-train
groups (retrain with ``scripts/train_default_model.py``).
``structure``: a crystal-graph (CGCNN-style) meta-learner on structure + composition, meta-trained on the
registry's structure tasks (retrain with ``scripts/train_structure_model.py``); used by
``metamat fewshot --structure-column``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from metamat.errors import DataSourceError


def _shipped(name: str, script: str) -> Path:
    base = Path(str(resources.files(__name__))) / name
    if not base.with_suffix(".safetensors").exists():
        raise DataSourceError(f"the {name} model is missing ({base}.safetensors); reinstall metamat or retrain "
                              f"it with scripts/{script}")
    return base


def default_model_path() -> Path:
    """Base path (without suffix) of the shipped default (composition) model."""
    return _shipped("default", "train_default_model.py")


def structure_model_path() -> Path:
    """Base path (without suffix) of the shipped structure-aware (crystal-graph) model."""
    return _shipped("structure", "train_structure_model.py")


def load_default(**overrides):
    """The shipped default meta-model, ready for ``fit(X_support, y_support)``."""
    from metamat.models.io import load_model

    return load_model(default_model_path(), **overrides)
