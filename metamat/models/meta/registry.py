"""Meta-learners by name, like :func:`metamat.models.baselines.make_model` for the baselines."""

from __future__ import annotations

from typing import Any

META_MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    # name: ("module:Class", default kwargs)
    "dkgp": ("metamat.models.meta.deep_kernel:DeepKernelGP", {}),
    "maml": ("metamat.models.meta.maml:MAMLRegressor", {"first_order": False, "anil": False, "meta_sgd": False}),
    "fomaml": ("metamat.models.meta.maml:MAMLRegressor", {"first_order": True, "anil": False, "meta_sgd": False}),
    "anil": ("metamat.models.meta.maml:MAMLRegressor", {"first_order": False, "anil": True, "meta_sgd": False}),
    "transfer_head": ("metamat.models.meta.transfer:TransferRegressor", {"finetune": "head"}),
    "transfer_last": ("metamat.models.meta.transfer:TransferRegressor", {"finetune": "last"}),
    "protonet": ("metamat.models.meta.protonet:ProtoNetRegressor", {}),
    "protonet_clf": ("metamat.models.meta.protonet:ProtoNetClassifier", {}),
    "metasgd": ("metamat.models.meta.maml:MAMLRegressor", {"first_order": False, "anil": False, "meta_sgd": True}),
}


def _load_class(path: str):
    import importlib

    mod, cls = path.split(":")
    return getattr(importlib.import_module(mod), cls)


def meta_model_class(name: str) -> type:
    """The class behind a registry name."""
    if name not in META_MODELS:
        raise ValueError(f"unknown meta-model {name!r}; choose from {sorted(META_MODELS)}")
    return _load_class(META_MODELS[name][0])


def make_meta_model(name: str, seed: int = 0, **kw: Any):
    """A new (not yet meta-trained) meta-learner: ``make_meta_model("dkgp").meta_fit(tasks)``."""
    return meta_model_class(name)(**{**META_MODELS[name][1], "seed": seed, **kw})


def registry_name(model) -> str:
    """Registry name of a model instance (the first entry whose class and defaults match)."""
    cls = type(model)
    for name, (path, defaults) in META_MODELS.items():
        if _load_class(path) is cls and all(getattr(model, k, None) == v for k, v in defaults.items()):
            return name
    raise ValueError(f"{cls.__name__} is not in META_MODELS")


def get_meta_model(spec: str, train_tasks=None, val_tasks=None, seed: int = 0, **train_kw: Any):
    """A ready-to-``fit`` meta-learner for evaluators: ``"default"`` (shipped weights), a saved model path
    (``.safetensors``/``.json`` pair), or a registry name, meta-trained here on ``train_tasks`` (which must not
    include the tasks being evaluated) with early stopping on ``val_tasks``."""
    from pathlib import Path

    if spec == "default":
        from metamat.pretrained import load_default

        return load_default()
    p = Path(spec)
    if p.with_suffix(".safetensors").exists() or (p.suffix == ".safetensors" and p.exists()):
        from metamat.models.io import load_model

        return load_model(p)
    if spec not in META_MODELS:
        raise ValueError(f"{spec!r} is neither 'default', a saved model nor a meta-model name "
                         f"({', '.join(sorted(META_MODELS))})")
    if not train_tasks:
        raise ValueError(f"meta-model {spec!r} needs train_tasks to meta-train on (or pass a saved model path)")
    return make_meta_model(spec, seed=seed).meta_fit(train_tasks, val_tasks, **train_kw)


_LOADED: dict[str, Any] = {}


class MetaModelFactory:
    """Picklable ``factory(kind, seed)`` for ``metamat.evaluate.fewshot.ModelSpec``.

    ``spec`` is ``"default"`` or a saved model path (meta-train first with ``make_meta_model(name).meta_fit``
    or ``scripts/train_default_model.py --model NAME``, then save). The model is loaded once per process and
    reused: ``fit`` replaces all per-task state, so episodes do not leak into each other. ``overrides`` are
    constructor parameters (e.g. ``{"finetune": "last"}`` for a transfer model). ``classifier`` optionally
    names a saved ``protonet_clf`` for 0/1 tasks.
    """

    def __init__(self, spec: str = "default", classifier: str | None = None,
                 overrides: dict[str, Any] | None = None):
        self.spec = str(spec)
        self.classifier = classifier
        self.overrides = dict(overrides or {})

    def _load(self, spec: str, overrides: dict[str, Any]):
        key = f"{spec}|{sorted(overrides.items())}"
        if key not in _LOADED:
            if spec == "default":
                from metamat.pretrained import load_default

                _LOADED[key] = load_default(**overrides)
            else:
                from metamat.models.io import load_model

                _LOADED[key] = load_model(spec, **overrides)
        return _LOADED[key]

    def __call__(self, kind: str, seed: int):
        if kind == "classification":
            if self.classifier is None:
                from metamat.errors import InputError

                raise InputError(f"meta-model {self.spec!r} is a regressor; pass classifier= for 0/1 tasks",
                                 field="--models")
            return self._load(self.classifier, {})
        return self._load(self.spec, self.overrides)
