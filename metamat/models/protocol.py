"""The model protocol every regressor and classifier keeps, and the registry entry describing a model.

Regressors (baselines and meta-learners alike)::

    model.fit(X, y)                                   # -> model (adapt to one task)
    mean = model.predict(X)
    mean, std = model.predict(X, return_std=True)
    lower, upper = model.predict_interval(X, level=0.9)
    mean, std, lower, upper = model.predict_dist(X, level=0.9)

Classifiers (0/1 targets): ``fit``, ``predict`` (labels) and ``predict_proba`` (P(class 1), 1-D).
Meta-learners are also :class:`SaveableModel`: ``model.save(path)`` and ``Class.load(path)``
(safetensors + JSON); baselines are fitted per task in milliseconds to seconds and are not saved.

The protocols are ``runtime_checkable``: ``isinstance(model, RegressorProtocol)`` checks that the
methods exist (not their signatures; ``tests/models/test_protocol.py`` checks behaviour).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class RegressorProtocol(Protocol):
    kind: str

    def fit(self, X: np.ndarray, y: np.ndarray) -> Any: ...

    def predict(self, X: np.ndarray, return_std: bool = False) -> Any: ...

    def predict_interval(self, X: np.ndarray, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]: ...

    def predict_dist(self, X: np.ndarray, level: float = 0.9) -> tuple[np.ndarray, ...]: ...


@runtime_checkable
class ClassifierProtocol(Protocol):
    kind: str

    def fit(self, X: np.ndarray, y: np.ndarray) -> Any: ...

    def predict(self, X: np.ndarray) -> np.ndarray: ...

    def predict_proba(self, X: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class SaveableModel(Protocol):
    def save(self, path: str | os.PathLike, extra: dict[str, Any] | None = None) -> Path: ...

    @classmethod
    def load(cls, path: str | os.PathLike, **overrides: Any) -> Any: ...


@dataclass(frozen=True)
class ModelEntry:
    """One registered model (see :mod:`metamat.models.registry`).

    ``target``: the class, or ``"module:Class"`` imported on first use (meta-learners: keeps torch out of
    a plain name lookup); ``display``: name for tables and plots; ``kind``: ``regression`` or
    ``classification``; ``family``: ``baseline`` (fitted per task), ``wrapper`` (a baseline that reads an extra
    input column or enforces a bound; not in the evaluators' default list) or ``meta`` (meta-trained, saved as
    safetensors + JSON); ``defaults``: constructor options this name implies (``fomaml`` is
    ``MAMLRegressor(first_order=True)``); ``classifier``: the model used for a 0/1 task when this name is
    asked for; ``threads``: the constructor option that caps its threads (evaluators set it to 1 and
    parallelize over episodes); ``forest``: its ``n_estimators`` is a tree count few-shot runs cap.
    """

    target: type | str
    display: str
    kind: str = "regression"
    family: str = "baseline"
    defaults: dict[str, Any] = field(default_factory=dict)
    classifier: str | None = None
    threads: str | None = None
    forest: bool = False

    def model_class(self) -> type:
        """The class (imported on first use for a ``"module:Class"`` target)."""
        if isinstance(self.target, type):
            return self.target
        module, cls = self.target.split(":")
        return getattr(importlib.import_module(module), cls)

    def make(self, name: str, seed: int = 0, **options: Any) -> Any:
        """A fresh model of this entry registered as ``name`` (stored on it as ``_registry_name``)."""
        model = self.model_class()(**{**self.defaults, "seed": seed, **options})
        model._registry_name = name
        return model
