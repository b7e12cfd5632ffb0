"""Pretrained models shipped with metamat (safetensors + JSON; see MODEL_CARD.md).

``default``: Meta-SGD meta-learner on composition features, meta-trained on the registry's meta-train
groups (retrain with ``scripts/train_default_model.py``).
``structure``: a crystal-graph (CGCNN-style) meta-learner on structure + composition, meta-trained on the
registry's structure tasks (retrain with ``scripts/train_structure_model.py``); used by
``metamat fewshot --structure-column``.

Both are loaded through the model registry: ``metamat.models.registry.load("default")``.
"""

from metamat.models.registry import default_model_path, load_default, structure_model_path

__all__ = ["default_model_path", "load_default", "structure_model_path"]
