"""metamat: learn a new materials property from a handful of measurements.

The main entry points are importable from here (loaded on first use, so ``import metamat`` stays light)::

    import metamat
    df = metamat.predict_fewshot(support_df, query_df, target="HV")
    X = metamat.featurize_formulas(["LiCoO2", "Fe2O3"])
    model = metamat.load_default().fit(X, y)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS = {
    "predict_fewshot": "metamat.fewshot",
    "run_fewshot": "metamat.fewshot",
    "fewshot_frames": "metamat.fewshot",
    "FewShotResult": "metamat.fewshot",
    "featurize_formulas": "metamat.featurize.pipeline",
    "featurize_table": "metamat.featurize.pipeline",
    "FeatureMatrix": "metamat.featurize.pipeline",
    "read_table": "metamat.data.readers",
    "load_dataset": "metamat.data.registry",
    "load_default": "metamat.pretrained",
    "make_model": "metamat.models.baselines",
    "InputError": "metamat.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'metamat' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
