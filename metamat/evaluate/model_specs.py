"""Models by name for the evaluators: names, kinds (regression or 0/1 classification), settings, factories.

The one block that maps an evaluator's model name (``rf``, ``gp``, ``pretrained[:PATH]``, ...) to a fresh
model: ``is_pretrained``, ``model_names``, ``model_kind``, ``resolve_model_name``, ``check_models``,
``make_eval_model``, ``pretrained_spec`` and ``CLASSIFIER_FOR``, each a thin view of the one model registry,
:mod:`metamat.models.registry` (display names: :func:`metamat.models.registry.display_name`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from metamat.errors import InputError
from metamat.models import registry

FEWSHOT_RF_TREES = 100
#: Classifier used for a 0/1 task when a regressor name is asked for (from the model registry).
CLASSIFIER_FOR: dict[str, str] = registry.classifier_map()
PRETRAINED = registry.PRETRAINED


def is_pretrained(name: str) -> bool:
    """``pretrained`` (the shipped meta-learned model) or ``pretrained:PATH`` (a saved meta-model)."""
    return registry.is_pretrained_spec(name)


def model_names() -> list[str]:
    """Every model name the evaluators accept: the baselines and ``pretrained[:PATH]``."""
    return registry.evaluator_names()


def model_kind(name: str) -> str:
    return registry.model_kind(name)


def resolve_model_name(name: str, kind: str) -> str:
    """The registry name to use for a task of ``kind`` (``rf`` -> ``rf_clf`` on 0/1 tasks)."""
    return registry.for_task(name, kind)


def check_models(names: Sequence[str]) -> list[str]:
    """Validate model names; unknown names raise :class:`InputError` listing the valid ones."""
    return registry.check_names(names)


def default_model_kwargs(name: str, *, rf_trees: int = FEWSHOT_RF_TREES) -> dict[str, Any]:
    """Few-shot settings: one thread per model, ``rf_trees`` trees for random forests."""
    return registry.few_shot_options(name, rf_trees=rf_trees)


def make_eval_model(name: str, seed: int, kwargs: Mapping[str, Any] | None = None) -> Any:
    """A fresh model by (resolved) registry name."""
    return registry.make_model(name, seed=seed, **dict(kwargs or {}))


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
    return ModelSpec(name, factory=registry.MetaModelFactory(name))


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
