"""Meta-learner names: aliases of :mod:`metamat.models.registry` (the one registry), kept for old imports."""

from __future__ import annotations

from typing import Any

from metamat.models.registry import ENTRIES, MetaModelFactory, get_model, make_model, model_class, registry_name

#: name -> ("module:Class", options the name implies), the meta-learner entries of the registry
META_MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    n: (str(e.target), dict(e.defaults)) for n, e in ENTRIES.items() if e.family == "meta"}
make_meta_model = make_model
meta_model_class = model_class
get_meta_model = get_model

__all__ = ["META_MODELS", "MetaModelFactory", "get_meta_model", "make_meta_model", "meta_model_class",
           "registry_name"]
