"""The one model registry: a name, a saved-model path or ``default`` -> a model; display names; options.

Names (one vocabulary for baselines and meta-learners, regressors and classifiers)::

    make_model("rf", seed=0)                      # a fresh baseline
    make_model("fomaml", anil=True)               # a fresh meta-learner (any option combination)
    load("default")  /  load("pretrained")        # the shipped meta-trained model
    load("pretrained:runs/m")  /  load("runs/m")  # a saved model (runs/m.safetensors + runs/m.json)

The name a model is made under is stored on it (``registry_name(model)``) and is what
:func:`save_model` writes, so every combination of options saves and loads. Adding a model: write its
class (``fit`` / ``predict`` / ``predict_interval`` / ``predict_dist``, see
:mod:`metamat.models.protocol`) and add one :class:`ModelEntry` to ``ENTRIES``; every evaluator, the CLI
and the few-shot flows then accept its name.

Entries name their class as ``"module:Class"`` and import it on first use, so listing names or
checking a ``--models`` argument does not import torch.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from metamat.errors import InputError
from metamat.files import jsonable
from metamat.models.baselines import BASELINES
from metamat.models.io import (
    FORMAT_VERSION,
    ModelFileError,
    check_param_types,
    is_model_path,
    model_base,
    read_model_files,
    shipped_model_path,
    write_model_files,
)
from metamat.models.protocol import ModelEntry

DEFAULT = "default"
PRETRAINED = "pretrained"
_M = "metamat.models.meta."


def _maml(**flags: bool) -> dict[str, Any]:
    return {"first_order": False, "anil": False, "meta_sgd": False, **flags}


ENTRIES: dict[str, ModelEntry] = {
    **BASELINES,
    # meta-learners
    "dkgp": ModelEntry(_M + "deep_kernel:DeepKernelGP", "deep-kernel GP", family="meta"),
    "maml": ModelEntry(_M + "maml:MAMLRegressor", "MAML", family="meta", defaults=_maml()),
    "fomaml": ModelEntry(_M + "maml:MAMLRegressor", "first-order MAML", family="meta",
                         defaults=_maml(first_order=True)),
    "anil": ModelEntry(_M + "maml:MAMLRegressor", "ANIL", family="meta", defaults=_maml(anil=True)),
    "metasgd": ModelEntry(_M + "maml:MAMLRegressor", "Meta-SGD", family="meta", defaults=_maml(meta_sgd=True)),
    "transfer_head": ModelEntry(_M + "transfer:TransferRegressor", "transfer, head", family="meta",
                                defaults={"finetune": "head"}),
    "transfer_last": ModelEntry(_M + "transfer:TransferRegressor", "transfer, last layer", family="meta",
                                defaults={"finetune": "last"}),
    "protonet": ModelEntry(_M + "protonet:ProtoNetRegressor", "prototypes", family="meta"),
    "protonet_clf": ModelEntry(_M + "protonet:ProtoNetClassifier", "prototype classifier", "classification",
                               family="meta"),
    # wrappers that read an extra input column (a low-fidelity or physical estimate) or enforce a bound
    "delta": ModelEntry("metamat.models.multifidelity:DeltaRegressor", "delta learning (low-fidelity column)",
                        family="wrapper"),
    "koh": ModelEntry("metamat.models.multifidelity:KOHRegressor", "co-kriging (Kennedy-O'Hagan)", family="wrapper"),
    "residual": ModelEntry("metamat.models.physics:ResidualRegressor", "residual on a baseline column",
                           family="wrapper"),
    "bounded": ModelEntry("metamat.models.physics:BoundedRegressor", "bounded (log/logit/clip)", family="wrapper"),
    "hurdle": ModelEntry("metamat.models.physics:HurdleRegressor", "hurdle (point mass at a bound)",
                         family="wrapper"),
    # chooses among the above by cross-validation on the support (fitted per task, not saved)
    "auto": ModelEntry("metamat.models.auto:AutoRegressor", "auto (CV choice + conformal)", family="auto",
                       threads="n_jobs", forest=False),
}


# ------------------------------------------------------------------------------------------------ names
def names(kind: str | None = None, family: str | None = None) -> list[str]:
    """Registered names, optionally only of one ``kind`` and/or ``family``, in registry order."""
    return [n for n, e in ENTRIES.items()
            if (kind is None or e.kind == kind) and (family is None or e.family == family)]


def entry(name: str) -> ModelEntry:
    if name not in ENTRIES:
        raise InputError(f"unknown model {name!r}; choose from {', '.join(sorted(ENTRIES))}", field="model",
                         value=name)
    return ENTRIES[name]


def model_class(name: str) -> type:
    """The class behind a registry name (imported on first use)."""
    return entry(name).model_class()


def display_name(name: str) -> str:
    """Human-readable name for tables and plots (the name itself if not registered)."""
    return ENTRIES[name].display if name in ENTRIES else name


def model_kind(name: str) -> str:
    """``regression`` or ``classification`` (the shipped/saved meta-models are regressors)."""
    return ENTRIES[name].kind if name in ENTRIES else "regression"


def for_task(name: str, kind: str) -> str:
    """The registry name to use for a task of ``kind``: ``rf`` becomes ``rf_clf`` on 0/1 tasks."""
    if kind == "classification":
        clf = ENTRIES[name].classifier if name in ENTRIES else None
        if clf is None:
            options = sorted(n for n, e in ENTRIES.items() if e.classifier)
            raise InputError(f"model {name!r} has no classifier for 0/1 targets; use one of {options}",
                             field="--models", value=name)
        return clf
    if model_kind(name) == "classification":
        raise InputError(f"model {name!r} is a classifier but the task is a regression", field="--models",
                         value=name)
    return name


def classifier_map() -> dict[str, str]:
    """name -> the classifier used for it on 0/1 tasks, for every name that has one."""
    return {n: e.classifier for n, e in ENTRIES.items() if e.classifier}


def is_pretrained_spec(spec: str) -> bool:
    """``pretrained`` (the shipped meta-trained model) or ``pretrained:PATH`` (a saved one)."""
    return spec == PRETRAINED or spec.startswith(PRETRAINED + ":")


def evaluator_names() -> list[str]:
    """Names the evaluators accept as such: every baseline, ``auto`` and ``pretrained`` (plus
    ``pretrained:PATH``; a meta-learner name needs meta-training first, see :func:`get_model`)."""
    return sorted([*names(family="baseline"), *names(family="auto"), PRETRAINED])


def check_names(requested: Sequence[str]) -> list[str]:
    """Validate evaluator model names (``--models``); unknown or repeated names raise :class:`InputError`."""
    requested = [n.strip() for n in requested if n and n.strip()]
    if not requested:
        raise InputError("no model given", field="--models")
    valid = evaluator_names()
    bad = [n for n in requested if n not in valid and not is_pretrained_spec(n)]
    if bad:
        raise InputError(f"unknown model(s) {bad}; choose from {', '.join(valid)}", field="--models",
                         value=",".join(bad))
    if len(set(requested)) != len(requested):
        raise InputError(f"model listed twice in {requested}", field="--models")
    return requested


def thread_options(name: str, n_threads: int | None) -> dict[str, Any]:
    """Constructor options capping the threads of model ``name`` (empty if it has no such option)."""
    e = ENTRIES.get(name)
    return {e.threads: n_threads} if e is not None and e.threads else {}


def run_options(name: str, n_threads: int | None, n_estimators: int | None = None) -> dict[str, Any]:
    """Constructor options for a run: ``n_threads`` for models with a thread option, ``n_estimators``
    (if given) for forests; empty for every other model."""
    e = ENTRIES.get(name)
    trees = {"n_estimators": n_estimators} if e is not None and e.forest and n_estimators is not None else {}
    if name == "auto" and n_estimators is not None:
        trees = {"rf_trees": n_estimators}  # the forests among its candidates
    return {**trees, **thread_options(name, n_threads)}


def few_shot_options(name: str, *, rf_trees: int) -> dict[str, Any]:
    """Few-shot evaluation settings: one thread per model, ``rf_trees`` trees for forests."""
    return run_options(name, 1, rf_trees)


# ------------------------------------------------------------------------------------------------ making
def make_model(name: str, seed: int = 0, **options: Any) -> Any:
    """A fresh (unfitted, not meta-trained) model by registry name; ``options`` go to its ``__init__``.
    The name is stored on the model (``registry_name``) and written by :func:`save_model`."""
    return entry(name).make(name, seed, **options)


def registry_name(model: Any) -> str:
    """The name a model was made under; for a model built from its class directly, the first entry whose
    class and implied options match."""
    stored = getattr(model, "_registry_name", None)
    if stored is not None:
        return stored
    for name, e in ENTRIES.items():
        if model_class(name) is type(model) and all(getattr(model, k, None) == v for k, v in e.defaults.items()):
            return name
    raise ValueError(f"{type(model).__name__} is not in the model registry")


# ------------------------------------------------------------------------------------------ save / load
def save_model(model: Any, path: str | os.PathLike, extra: dict[str, Any] | None = None) -> Path:
    """Write a meta-trained model as ``path.safetensors`` + ``path.json`` (atomic); returns the base path.
    ``extra`` (JSON-able metadata, e.g. training details) is stored beside the config; without a
    ``training`` key the tasks the model was meta-trained on (``training_record_``) are written there, so
    every saved model records what it saw (the leakage guard reads it)."""
    name = registry_name(model)
    if ENTRIES[name].family != "meta":
        raise ValueError(f"{name!r} is a baseline: baselines are fitted per task and not saved")
    model._check_meta_fitted()
    extra = dict(extra or {})
    if "training" not in extra and getattr(model, "training_record_", None) is not None:
        extra["training"] = model.training_record_  # the tasks, quantity groups and rows it saw
    clash = sorted({"format_version", "model", "params", "fitted", "n_features"} & set(extra or {}))
    if clash:
        raise ValueError(f"extra cannot set {clash}")
    config = {"format_version": FORMAT_VERSION, "model": name,
              "params": json.loads(json.dumps(model.get_params(), default=jsonable)),
              "fitted": model.extra_config(), "n_features": int(model.prep_.n_features_in_), **(extra or {})}
    return write_model_files(path, model.state_tensors(), config)


def _init_defaults(cls: type) -> dict[str, Any]:
    return {p.name: p.default for p in inspect.signature(cls.__init__).parameters.values()
            if p.name != "self" and p.kind is p.POSITIONAL_OR_KEYWORD}


def load_model(path: str | os.PathLike, **overrides: Any) -> Any:
    """Rebuild a saved model, ready for ``fit(X_support, y_support)``; ``overrides`` replace constructor
    options (e.g. ``target_transform='log10'``). Any damage raises :class:`ModelFileError`."""
    base = model_base(path)
    cfg, tensors = read_model_files(base)
    name = cfg["model"]
    if name not in ENTRIES or ENTRIES[name].family != "meta":
        raise ModelFileError(base, f"model {name!r} is not a saved-model type of the registry "
                                   f"({', '.join(names(family='meta'))})")
    cls = model_class(name)
    check_param_types(base, cfg["params"], _init_defaults(cls))
    # options added after a file was written keep the behaviour the file was trained with
    params = {**getattr(cls, "legacy_params", {}), **cfg["params"], **overrides}
    try:
        model = make_model(name, **params)
        model.load_state_tensors(tensors, cfg["fitted"])
    except (ValueError, TypeError, KeyError, IndexError, RuntimeError) as exc:
        raise ModelFileError(base, f"{type(exc).__name__}: {exc}") from None
    return model


def default_model_path() -> Path:
    """Base path (without suffix) of the shipped default (composition) model."""
    return shipped_model_path("default")


def structure_model_path() -> Path:
    """Base path (without suffix) of the shipped structure-aware (crystal-graph) model."""
    return shipped_model_path("structure")


def is_saved_spec(spec: str | os.PathLike) -> bool:
    """``default``, ``pretrained``, ``pretrained:PATH`` or the path of an existing model file pair."""
    s = str(spec)
    return s in (DEFAULT, PRETRAINED) or s.startswith(PRETRAINED + ":") or is_model_path(s)


def saved_path(spec: str | os.PathLike, *, structure: bool = False) -> Path:
    """Base path behind a saved-model spec: the shipped model for ``default``/``pretrained`` (the
    crystal-graph one with ``structure``), else ``PATH`` of ``pretrained:PATH`` or ``PATH``."""
    s = str(spec)
    if s in (DEFAULT, PRETRAINED):
        return structure_model_path() if structure else default_model_path()
    return model_base(s.split(":", 1)[1] if s.startswith(PRETRAINED + ":") else s)


def training_info(spec: str | os.PathLike, *, structure: bool = False) -> dict[str, Any]:
    """The ``training`` block a saved model records (meta-train / meta-val tasks with quantity groups and
    rows, held-out groups; see :mod:`metamat.models.leakage`); ``{}`` if the file has none."""
    base = saved_path(spec, structure=structure)
    path = Path(f"{base}.json")
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelFileError(base, f"cannot read {path.name}: {exc}") from None
    info = cfg.get("training") if isinstance(cfg, dict) else None
    return dict(info) if isinstance(info, dict) else {}


def load(spec: str | os.PathLike, *, structure: bool = False, **overrides: Any) -> Any:
    """A meta-trained model from a saved-model spec (see :func:`saved_path`); a missing file raises
    :class:`ModelFileError` naming it."""
    return load_model(saved_path(spec, structure=structure), **overrides)


def load_default(**overrides: Any) -> Any:
    """The shipped default meta-model, ready for ``fit(X_support, y_support)``."""
    return load_model(default_model_path(), **overrides)


def get_model(spec: str, train_tasks=None, val_tasks=None, seed: int = 0, **train_kw: Any) -> Any:
    """A ready-to-``fit`` model for evaluators: a saved-model spec (loaded), a meta-learner name
    (meta-trained here on ``train_tasks``, which must not include the tasks being evaluated, with early
    stopping on ``val_tasks``) or a baseline name (fresh)."""
    if is_saved_spec(spec):
        return load(spec)
    if spec not in ENTRIES:
        raise InputError(f"{spec!r} is neither 'default', a saved model nor a model name "
                         f"({', '.join(sorted(ENTRIES))})", field="model", value=spec)
    model = make_model(spec, seed=seed)
    if ENTRIES[spec].family != "meta":
        return model
    if not train_tasks:
        raise ValueError(f"meta-model {spec!r} needs train_tasks to meta-train on (or pass a saved model path)")
    return model.meta_fit(train_tasks, val_tasks, **train_kw)


_LOADED: dict[str, Any] = {}


class MetaModelFactory:
    """Picklable ``factory(kind, seed)`` for ``metamat.evaluate.fewshot.ModelSpec``.

    ``spec`` is a saved-model spec (``default``, ``pretrained[:PATH]`` or a path). The model is loaded
    once per process and reused: ``fit`` replaces all per-task state, so episodes do not leak into each
    other. ``overrides`` are constructor parameters (e.g. ``{"finetune": "last"}`` for a transfer model).
    ``classifier`` optionally names a saved ``protonet_clf`` for 0/1 tasks.
    """

    def __init__(self, spec: str = DEFAULT, classifier: str | None = None,
                 overrides: dict[str, Any] | None = None):
        self.spec = str(spec)
        self.classifier = classifier
        self.overrides = dict(overrides or {})

    @staticmethod
    def _load(spec: str, overrides: dict[str, Any]) -> Any:
        key = f"{spec}|{sorted(overrides.items())}"
        if key not in _LOADED:
            _LOADED[key] = load(spec, **overrides)
        return _LOADED[key]

    def __call__(self, kind: str, seed: int) -> Any:
        if kind == "classification":
            if self.classifier is None:
                raise InputError(f"meta-model {self.spec!r} is a regressor; pass classifier= for 0/1 tasks",
                                 field="--models")
            return self._load(self.classifier, {})
        return self._load(self.spec, self.overrides)
