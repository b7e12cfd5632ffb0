"""Matbench v0.1 on the official 5 folds, from compositions, next to the published leaderboard.

The fold ids ship in the matbench PyPI package (``matbench_v0.1_validation.json``); it is located with
``importlib.util.find_spec`` (matbench is never imported: its pinned dependencies do not install here) and
read once per process. Install it with ``pip install --no-deps matbench==0.6``. Rows come from
``load_dataset("matbench_<task>")``, whose ids are the official ``mb-<task>-<row>`` ids (duplicates kept), so
every fold id maps to exactly one row; a mismatch is an error, never silently skipped.

The default learner reproduces the RF-SCM/Magpie baseline of the leaderboard on composition tasks
(matbench ``benchmarks/matbench_v0.1_rf``): ``RandomForestRegressor(n_estimators=500)`` with scikit-learn
defaults on matminer's Magpie features (``ElementProperty.from_preset("magpie")``, the only featurizer
applied to composition problems); automatminer's DataCleaner dropped features with more than 1% missing
values in the training data and filled the rest with the training mean, and so does this runner. Structure
tasks run on their (unreduced) formulas only, so their numbers are not comparable to structure-based
entries.

results.json (``SCHEMA_VERSION`` = 1)::

    {"schema_version": 1, "kind": "matbench", "task": "matbench_steels", "model": "rf",
     "kind_of_task": "regression", "metric": "mae", "units": "MPa",
     "config": {"featurizers", "model_kwargs", "seed", "cleaning", "validation_file", "versions"},
     "folds": [{"fold", "n_train", "n_test", "n_features", "mae", "rmse", "max_error"}],
     "mae": [per-fold MAE], "mean_mae", "std_mae" (population std over folds, as the leaderboard),
     "mean_rmse", "max_max_error",
     "leaderboard": {"source", "entries": [{"algorithm", "mean_mae", "std_mae", "uses_structure"}]},
     "reference": {"algorithm", "mean_mae", "rel_diff"} (or null), "notes": [...], "timing": {...}}

Classification tasks (expt_is_metal, glass, mp_is_metal) record ``roc_auc`` per fold and ``mean_roc_auc``
instead (``metric`` says which), with no leaderboard entries.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from metamat.errors import DataSourceError, InputError
from metamat.evaluate import leaderboard as lb
from metamat.evaluate.metrics import roc_auc
from metamat.evaluate.model_specs import ModelSpec, check_models, is_pretrained, pretrained_spec, resolve_model_name
from metamat.evaluate.reporting import RESULTS_INDENT, versions
from metamat.evaluate.scoring import pass_scaling
from metamat.files import write_json
from metamat.models import registry
from metamat.tasks.task import Episode, Task

SCHEMA_VERSION = 1
VALIDATION_FILE = "matbench_v0.1_validation.json"
INSTALL_HINT = "pip install --no-deps matbench==0.6"
MAX_NAN_FRACTION = 0.01
MATBENCH_RF_TREES = 500


def validation_path() -> Path:
    """Path of ``matbench_v0.1_validation.json`` inside the installed matbench package (not imported)."""
    try:
        spec = importlib.util.find_spec("matbench")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        path = Path(loc) / VALIDATION_FILE
        if path.is_file():
            return path
    where = f" (package found at {locations[0]}, but without {VALIDATION_FILE})" if locations else ""
    raise DataSourceError(f"the official matbench folds ({VALIDATION_FILE}) come with the matbench package, which "
                          f"is not installed{where}. Install it without its pinned dependencies: {INSTALL_HINT}")


@lru_cache(maxsize=2)
def _validation(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def task_name(task: str) -> str:
    """``"steels"`` or ``"matbench_steels"`` -> ``"matbench_steels"``; unknown tasks list the valid ones."""
    from metamat.data.matbench_tasks import MATBENCH_TASKS

    short = task.removeprefix("matbench_")
    if short not in MATBENCH_TASKS:
        raise InputError(f"unknown matbench task {task!r}; choose from "
                         f"{', '.join('matbench_' + t for t in MATBENCH_TASKS)}", field="--task", value=task)
    return f"matbench_{short}"


def official_folds(task: str) -> list[tuple[list[str], list[str]]]:
    """``[(train_ids, test_ids)]`` of the 5 official folds of ``task`` (in fold order)."""
    name = task_name(task)
    path = validation_path()
    splits = _validation(str(path)).get("splits", {})
    if name not in splits:
        raise DataSourceError(f"{path} has no folds for {name}")
    folds = splits[name]
    order = sorted(folds, key=lambda s: int(s.split("_")[1]))
    return [(list(folds[k]["train"]), list(folds[k]["test"])) for k in order]


def fold_indices(ids: Sequence[str], task: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Row indices (into ``ids``) of the official folds; every fold id must occur exactly once in ``ids``."""
    ids = np.asarray(ids, dtype=object)
    position = {str(i): k for k, i in enumerate(ids)}
    if len(position) != len(ids):
        raise DataSourceError(f"{task}: the table has duplicate ids; the official folds need unique ids")
    out = []
    for f, (train, test) in enumerate(official_folds(task)):
        missing = [i for i in (*train, *test) if i not in position]
        if missing:
            raise DataSourceError(f"{task} fold {f}: {len(missing)} official ids are not in the table (e.g. "
                                  f"{missing[:3]}); the table must hold every row of the matbench dataset in order")
        out.append((np.array([position[i] for i in train]), np.array([position[i] for i in test])))
    return out


def clean_features(X_train: np.ndarray, max_nan_fraction: float = MAX_NAN_FRACTION) -> np.ndarray:
    """Boolean mask of the columns to keep: at most ``max_nan_fraction`` missing in the training rows.

    (automatminer DataCleaner(max_na_frac=0.01); the models fill the remaining NaNs with the training
    mean.)
    """
    return np.isnan(X_train).mean(axis=0) <= max_nan_fraction


def task_quantities(name: str) -> list[str]:
    """Quantity groups a matbench task measures: its own and, if it is in the task catalogue, its group there
    (``phonon frequency`` is ``lattice vibrations`` in the catalogue)."""
    from metamat.data.matbench_tasks import MATBENCH_TASKS
    from metamat.tasks.catalog import TASKS

    out = {MATBENCH_TASKS[name.removeprefix("matbench_")].quantity}
    out |= {t.group for t in TASKS if t.dataset == name}
    return sorted(q for q in out if q)


def run_matbench(task: str = "matbench_steels", model: str = "rf", *, featurizers: str = "magpie",
                 n_estimators: int = MATBENCH_RF_TREES, n_jobs: int | None = 1, seed: int = 0,
                 data_dir: str | os.PathLike | None = None, folds: Sequence[int] | None = None,
                 progress: Callable[[int, int], None] | None = None, allow_leakage: bool = False) -> dict[str, Any]:
    """Train and test ``model`` on the official folds of a matbench task; returns the results document.

    Leakage guard: a ``pretrained`` model whose training record (tasks, quantity groups, rows) overlaps the
    task's quantity is refused with :class:`~metamat.models.leakage.LeakageError` unless ``allow_leakage``;
    ``auto`` drops its meta-learner instead. ``results.json`` records the check under ``leakage``.

    ``model`` may be ``pretrained`` or ``pretrained:PATH`` (a saved meta-model): it is adapted to each training
    fold with ``fit`` and reads the 148 ``composition`` features it was meta-trained on (``featurizers`` and
    column cleaning do not apply; its own pool statistics handle missing values)."""
    from metamat.data.matbench_tasks import MATBENCH_TASKS
    from metamat.data.registry import load_dataset
    from metamat.featurize.pipeline import featurize_formulas

    start = time.perf_counter()
    name = task_name(task)
    check_models([model])
    meta = MATBENCH_TASKS[name.removeprefix("matbench_")]
    kind = meta.kind
    pretrained = is_pretrained(model)
    auto = model == "auto"
    quantities = task_quantities(name)
    if pretrained:
        from metamat.models.leakage import check_leakage

        leakage = check_leakage(registry.training_info(model), name, quantities, model=model, allow=allow_leakage)
    elif auto:
        leakage = {"model": model, "task": name, "task_quantities": quantities, "status": "handled by auto",
                   "how": "auto drops its meta-learner candidate when the meta-learner saw these quantities"}
    else:
        leakage = {"model": model, "task": name, "status": "not applicable: fitted on the training fold only"}
    if pretrained or auto:
        featurizers = "composition"
    resolved = model if pretrained else resolve_model_name(model, kind)
    split_ids = official_folds(name)  # fail on a missing package before loading data
    table = load_dataset(name, data_dir=data_dir)
    y = table.target("target")
    fm = featurize_formulas(table.formulas, featurizers, source=name, field="formula",
                            exclude_quantities=(meta.quantity,))
    task_obj = Task(name=name, X=fm.values, y=y, formulas=table.formulas, kind=kind, units=meta.unit,
                    quantity=meta.quantity, feature_labels=tuple(fm.labels))
    splits = fold_indices(table.ids, name)
    if len(splits) != len(split_ids):  # pragma: no cover - fold_indices reads the same file
        raise DataSourceError(f"{name}: fold count changed while reading")
    chosen = list(range(len(splits))) if folds is None else [int(f) for f in folds]
    bad = [f for f in chosen if not 0 <= f < len(splits)]
    if bad:
        raise InputError(f"fold(s) {bad} out of range 0..{len(splits) - 1}", field="--folds")
    kwargs: dict[str, Any] = registry.run_options(resolved, n_jobs, n_estimators)
    spec = pretrained_spec(model) if pretrained else ModelSpec(model, kwargs)
    metric = "mae" if kind == "regression" else "roc_auc"
    records = []
    for j, f in enumerate(chosen):
        train, test = splits[f]
        keep = np.ones(task_obj.X.shape[1], bool) if pretrained or auto else clean_features(task_obj.X[train])
        sub = Task(name=name, X=task_obj.X[:, keep], y=y, formulas=table.formulas, kind=kind, units=meta.unit,
                   quantity=meta.quantity)
        episode = Episode(sub, np.sort(train), np.sort(test))
        m = spec.build(kind, seed)
        if auto:
            m.set_params(exclude_quantities=tuple(quantities))
        pass_scaling(m, episode).fit(episode.X_support, episode.y_support_fit)
        rec: dict[str, Any] = {"fold": f, "n_train": len(train), "n_test": len(test), "n_features": int(keep.sum())}
        if auto:
            rec["auto_choice"] = m.choice_
        if kind == "regression":
            pred = episode.to_original(m.predict(episode.X_query))
            err = episode.y_query - pred
            rec.update(mae=float(np.mean(np.abs(err))), rmse=float(np.sqrt(np.mean(err**2))),
                       max_error=float(np.max(np.abs(err))))
        else:
            rec["roc_auc"] = roc_auc(episode.y_query, m.predict_proba(episode.X_query))
        records.append(rec)
        if progress is not None:
            progress(j + 1, len(chosen))
    values = np.array([r[metric] for r in records], dtype=float)
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION, "kind": "matbench", "task": name, "model": model,
        "model_resolved": resolved, "kind_of_task": kind, "metric": metric, "units": meta.unit,
        "config": {"featurizers": featurizers, "n_features": len(fm.labels), "model_kwargs": kwargs, "seed": seed,
                   "folds": chosen, "cleaning": f"drop features with > {MAX_NAN_FRACTION:.0%} missing in the "
                                             "training fold; fill the rest with the training mean",
                   "validation_file": str(validation_path()), "n_rows": len(table), "versions": versions(),
                   "removed_features": fm.removed},
        "folds": records,
        metric: values.tolist(),
        f"mean_{metric}": float(values.mean()),
        f"std_{metric}": float(values.std()),
    }
    notes = []
    if kind == "regression":
        doc["mean_rmse"] = float(np.mean([r["rmse"] for r in records]))
        doc["max_max_error"] = float(np.max([r["max_error"] for r in records]))
        entries = lb.leaderboard(name)
        doc["leaderboard"] = {"source": lb.source(name),
                              "entries": [{"algorithm": e.algorithm, "mean_mae": e.mean_mae, "std_mae": e.std_mae,
                                           "uses_structure": e.uses_structure} for e in entries]}
        ref = lb.reference(name)
        doc["reference"] = None if ref is None else {
            "algorithm": ref.algorithm, "mean_mae": ref.mean_mae,
            "rel_diff": (doc["mean_mae"] - ref.mean_mae) / ref.mean_mae}
        if len(chosen) != len(splits):
            notes.append(f"only folds {chosen} were run: the mean is not comparable to the leaderboard's")
    if meta.input == "structure":
        notes.append("structure task run on formulas derived from the structures (composition features only); "
                     "entries marked uses_structure had the crystal structure")
    if auto:
        dropped = sorted({c for r in records for c in r["auto_choice"]["dropped"]})
        leakage["dropped_candidates"] = {c: next(r["auto_choice"]["dropped"][c] for r in records
                                                 if c in r["auto_choice"]["dropped"]) for c in dropped}
        notes.append("auto chose per fold: " + ", ".join(f"{r['fold']}: {r['auto_choice']['chosen']}" for r in records))
    doc["leakage"] = leakage
    doc["notes"] = notes
    doc["timing"] = {"total_seconds": time.perf_counter() - start}
    return doc


def write_matbench(doc: dict[str, Any], out_dir: str | os.PathLike) -> list[Path]:
    """Write ``results.json`` and ``matbench_<task>.png`` (per-fold bars vs the leaderboard)."""
    from metamat.evaluate.plots import plot_matbench

    out = Path(out_dir)
    return [write_json(out / "results.json", doc, indent=RESULTS_INDENT),
            plot_matbench(doc, out / f"{doc['task']}.png")]
