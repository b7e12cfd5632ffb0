"""Pretrained models shipped with metamat (safetensors + JSON; see MODEL_CARD.md).

``default``: deep-kernel GP meta-learner on composition features, meta-trained on the registry's meta-train
groups (retrain with ``scripts/train_default_model.py``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from metamat.errors import DataSourceError


def default_model_path() -> Path:
    """Base path (without suffix) of the shipped default model."""
    base = Path(str(resources.files(__name__))) / "default"
    if not base.with_suffix(".safetensors").exists():
        raise DataSourceError(f"the default model is missing ({base}.safetensors); reinstall metamat or retrain "
                              "it with scripts/train_default_model.py")
    return base


def load_default(**overrides):
    """The shipped default meta-model, ready for ``fit(X_support, y_support)``."""
    from metamat.models.io import load_model

    return load_model(default_model_path(), **overrides)
