"""Models by name for the evaluators: names, kinds (regression or 0/1 classification), settings, factories.

The one block that maps an evaluator's model name (``rf``, ``gp``, ``pretrained[:PATH]``, ...) to a fresh
model: ``is_pretrained``, ``model_names``, ``model_kind``, ``resolve_model_name``, ``check_models``,
``make_eval_model``, ``pretrained_spec``, display names ``PRETTY`` and ``CLASSIFIER_FOR``. (Their bodies are
to be replaced by calls to the one model registry, :mod:`metamat.models.registry`.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from metamat.errors import InputError
from metamat.models.probability import smoothed_rate

FEWSHOT_RF_TREES = 100
#: Classifier used for a 0/1 task when a regressor name is asked for.
CLASSIFIER_FOR: dict[str, str] = {"dummy": "dummy_clf", "ridge": "logistic", "logistic": "logistic",
                                  "knn": "knn_clf", "knn_clf": "knn_clf", "gp": "gp_clf", "gp_clf": "gp_clf",
                                  "rf": "rf_clf", "rf_clf": "rf_clf", "dummy_clf": "dummy_clf"}
#: Display names of the meta-learners (by registry name).
PRETTY = {"dkgp": "deep-kernel GP", "maml": "MAML", "fomaml": "first-order MAML", "anil": "ANIL",
          "metasgd": "Meta-SGD", "transfer_head": "transfer, head", "transfer_last": "transfer, last layer",
          "protonet": "prototypes"}


class PriorClassifier:
    """Baseline classifier: P(class 1) = smoothed support rate (n1 + 0.5) / (n + 1) for every query row."""

    kind = "classification"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray) -> PriorClassifier:
        self.rate_ = smoothed_rate(y)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.full(len(X), self.rate_)


PRETRAINED = "pretrained"


def is_pretrained(name: str) -> bool:
    """``pretrained`` (the shipped meta-learned model) or ``pretrained:PATH`` (a saved meta-model)."""
    return name == PRETRAINED or name.startswith(PRETRAINED + ":")


def model_names() -> list[str]:
    """Every model name the evaluators accept: the baseline registry, ``dummy_clf`` and ``pretrained[:PATH]``."""
    from metamat.models.baselines import MODELS

    return sorted([*MODELS, "dummy_clf", PRETRAINED])


def model_kind(name: str) -> str:
    from metamat.models.baselines import CLASSIFIERS

    return "classification" if name in CLASSIFIERS or name == "dummy_clf" else "regression"


def resolve_model_name(name: str, kind: str) -> str:
    """The registry name to use for a task of ``kind`` (``rf`` -> ``rf_clf`` on 0/1 tasks)."""
    if kind == "classification":
        if name not in CLASSIFIER_FOR:
            raise InputError(f"model {name!r} has no classifier for 0/1 targets; use one of "
                             f"{sorted(set(CLASSIFIER_FOR))}", field="--models", value=name)
        return CLASSIFIER_FOR[name]
    if model_kind(name) == "classification":
        raise InputError(f"model {name!r} is a classifier but the task is a regression", field="--models",
                         value=name)
    return name


def check_models(names: Sequence[str]) -> list[str]:
    """Validate model names; unknown names raise :class:`InputError` listing the valid ones."""
    names = [n.strip() for n in names if n and n.strip()]
    if not names:
        raise InputError("no model given", field="--models")
    valid = model_names()
    bad = [n for n in names if n not in valid and not is_pretrained(n)]
    if bad:
        raise InputError(f"unknown model(s) {bad}; choose from {', '.join(valid)}", field="--models",
                         value=",".join(bad))
    if len(set(names)) != len(names):
        raise InputError(f"model listed twice in {names}", field="--models")
    return names


def default_model_kwargs(name: str, *, rf_trees: int = FEWSHOT_RF_TREES) -> dict[str, Any]:
    """Few-shot settings: one thread per model, ``rf_trees`` trees for random forests."""
    if name in ("rf", "rf_clf"):
        return {"n_estimators": rf_trees, "n_jobs": 1}
    if name in ("gbm", "mlp"):
        return {"n_threads": 1}
    return {}


def make_eval_model(name: str, seed: int, kwargs: Mapping[str, Any] | None = None) -> Any:
    """A fresh model by (resolved) registry name; ``dummy_clf`` is :class:`PriorClassifier`."""
    if name == "dummy_clf":
        return PriorClassifier(seed=seed)
    from metamat.models.baselines import make_model

    return make_model(name, seed=seed, **dict(kwargs or {}))


@dataclass(frozen=True)
class ModelSpec:
    """A model to evaluate: a name (label in the results), options, and optionally a factory.

    ``factory(kind, seed)`` returns an unfitted model with ``fit`` and ``predict(X, return_std=True)`` (or
    ``predict_proba`` for 0/1 tasks); without one the baseline registry is used (``rf`` becomes ``rf_clf``
    on 0/1 tasks). A factory must be picklable (a module-level function) when ``n_jobs > 1``.
    """

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    factory: Callable[[str, int], Any] | None = None

    def build(self, kind: str, seed: int) -> Any:
        if self.factory is not None:
            return self.factory(kind, seed)
        resolved = resolve_model_name(self.name, kind)
        kwargs = (self.kwargs if resolved == self.name else
                  default_model_kwargs(resolved, rf_trees=self.kwargs.get("n_estimators", FEWSHOT_RF_TREES)))
        return make_eval_model(resolved, seed, kwargs)


class BaselineFactory:
    """Picklable ``factory(kind, seed)`` for a baseline by registry name with options, so one baseline can
    appear under several labels (e.g. ``ModelSpec("rf[comp+struct]", factory=BaselineFactory("rf"))``)."""

    def __init__(self, name: str, **kwargs: Any):
        self.name, self.kwargs = name, kwargs

    def __call__(self, kind: str, seed: int) -> Any:
        return make_eval_model(resolve_model_name(self.name, kind), seed, self.kwargs)


def pretrained_spec(name: str) -> ModelSpec:
    """Evaluate the shipped meta-learned model (``pretrained``) or a saved one (``pretrained:PATH``)."""
    from metamat.models.meta.registry import MetaModelFactory

    return ModelSpec(name, factory=MetaModelFactory(name.split(":", 1)[1] if ":" in name else "default"))


def model_specs(models: Sequence[str | ModelSpec], *, rf_trees: int = FEWSHOT_RF_TREES) -> list[ModelSpec]:
    names = [m for m in models if isinstance(m, str)]
    if names:
        check_models(names)
    specs = [m if isinstance(m, ModelSpec) else pretrained_spec(m) if is_pretrained(m)
             else ModelSpec(m, default_model_kwargs(m, rf_trees=rf_trees))
             for m in models]
    if len({s.name for s in specs}) != len(specs):
        raise InputError("model names must be unique", field="--models")
    return specs
