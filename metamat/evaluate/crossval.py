"""Cross-validation of one (small) table: leave-one-out, k-fold or group k-fold.

Each fold is an :class:`~metamat.tasks.task.Episode` with the training rows as support: the model is fitted
on targets standardized with training-fold statistics only and its out-of-fold predictions are mapped
back to original units. Metrics are those of the few-shot evaluator
(:func:`~metamat.evaluate.scoring.regression_scores` / ``classification_scores``), computed on the pooled
out-of-fold predictions of all rows (leave-one-out folds hold one row, so per-fold R² or AUC do not
exist); ``smae`` divides by the MAD of the whole table. ``ci`` holds 95% t-intervals of the MAE (and
``smae``, ``mae_log10``) over rows; ``fold_summary`` the mean and CI over folds of each metric for
k-fold and group schemes.

results.json (``SCHEMA_VERSION`` = 1)::

    {"schema_version": 1, "kind": "cv",
     "config": {"data", "target", "model", "model_kwargs", "cv", "n_splits", "group_column", "seed",
                "featurizers", "versions"},
     "data": {"n", "n_read", "n_rejected", "kind", "units", "transform", "mad", "mad_model", "n_groups",
              "report"},
     "metrics": {metric: value}, "ci": {metric: {"mean", "ci_low", "ci_high", "n"}},
     "folds": [{"fold", "n_train", "n_test", "metrics"}], "fold_summary": {metric: {...}},
     "predictions": [{"id", "formula", "y", "fold", "pred", "pi90_low", "pi90_high"} or {..., "proba"}],
     "timing": {"total_seconds"}}

``pred`` is in original units (the median ``10**mu`` for log10 targets); ``pi90_low/high`` is the central
90% predictive interval (exact under the model's Gaussian in model space). ``group`` cross-validation
without a group column groups rows by chemical system.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from metamat.errors import InputError
from metamat.evaluate.metrics import Z90, mean_ci
from metamat.evaluate.model_specs import ModelSpec, check_models, resolve_model_name
from metamat.evaluate.reporting import RESULTS_INDENT, versions
from metamat.evaluate.scoring import classification_scores, predict_model_space, regression_scores, task_mad_model
from metamat.files import write_json, write_table
from metamat.models import registry
from metamat.tasks.task import Episode, Task

SCHEMA_VERSION = 1
CV_SCHEMES: tuple[str, ...] = ("loo", "kfold", "group")


def cv_splits(n: int, scheme: str, *, n_splits: int = 5, groups: np.ndarray | None = None,
              y: np.ndarray | None = None, classification: bool = False, seed: int = 0
              ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train, test)`` index pairs (sorted) of a cross-validation scheme; every row is tested once.

    ``loo``: one row per fold. ``kfold``: ``n_splits`` shuffled folds (stratified for 0/1 targets when
    every class has ``n_splits`` rows). ``group``: GroupKFold over ``groups`` (``min(n_splits, n_groups)``
    folds); a group is never on both sides.
    """
    from sklearn.model_selection import GroupKFold, KFold, LeaveOneOut, StratifiedKFold

    if scheme not in CV_SCHEMES:
        raise InputError(f"unknown cross-validation {scheme!r}; choose from {', '.join(CV_SCHEMES)}", field="--cv",
                         value=scheme)
    if n < 3:
        raise InputError(f"cross-validation needs at least 3 rows, the table has {n}")
    index = np.arange(n)
    if scheme == "loo":
        splitter: Any = LeaveOneOut()
        it = splitter.split(index)
    elif scheme == "kfold":
        if n_splits < 2:
            raise InputError("n_splits must be at least 2", field="--n-splits", value=n_splits)
        k = min(n_splits, n)
        if classification and y is not None and np.bincount(np.asarray(y, dtype=int), minlength=2).min() >= k:
            it = StratifiedKFold(k, shuffle=True, random_state=seed).split(index, np.asarray(y, dtype=int))
        else:
            it = KFold(k, shuffle=True, random_state=seed).split(index)
    else:
        if groups is None:
            raise InputError("group cross-validation needs groups", field="--group-column")
        codes = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)[1]
        n_groups = int(codes.max()) + 1
        if n_groups < 2:
            raise InputError("group cross-validation needs at least 2 groups; the table has 1",
                             field="--group-column")
        it = GroupKFold(min(n_splits, n_groups)).split(index, groups=codes)
    return [(np.sort(tr), np.sort(te)) for tr, te in it]


def _pooled_ci(errors: np.ndarray, level: float = 0.95) -> dict[str, float]:
    m, lo, hi = mean_ci(errors, level)
    return {"mean": m, "ci_low": lo, "ci_high": hi, "n": int(np.isfinite(errors).sum())}


def cross_validate(task: Task, model: str | ModelSpec = "rf", cv: str = "loo", *, n_splits: int = 5,
                   groups: np.ndarray | None = None, seed: int = 0, ids: Sequence[str] | None = None,
                   progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Cross-validate ``model`` on ``task``; returns metrics, CIs, per-fold metrics and predictions.

    ``groups`` (for ``cv="group"``) default to the task's groups (``group_source`` "group_column"), else its
    chemical systems ("chemical_system").
    """
    start = time.perf_counter()
    spec = model if isinstance(model, ModelSpec) else ModelSpec(check_models([model])[0])
    if spec.factory is None:
        resolve_model_name(spec.name, task.kind)
    group_source = None
    if cv == "group":
        if groups is None:
            groups, group_source = ((task.groups, "group_column") if task.groups is not None
                                    else (task.chemical_systems, "chemical_system"))
        else:
            group_source = "given"
    classification = task.kind == "classification"
    splits = cv_splits(len(task), cv, n_splits=n_splits, groups=groups, y=task.y, classification=classification,
                       seed=seed)
    n = len(task)
    fold_of = np.full(n, -1)
    z_mu, z_std, proba = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    folds: list[dict[str, Any]] = []
    for f, (train, test) in enumerate(splits):
        episode = Episode(task, train, test)
        m = spec.build(task.kind, seed)
        if classification:
            m.fit(episode.X_support, episode.y_support_fit)
            proba[test] = m.predict_proba(episode.X_query)
            scores = classification_scores(task, test, proba[test]) if len(test) > 1 else {}
        else:
            mu, s = predict_model_space(m, episode)
            z_mu[test] = mu
            if s is not None:
                z_std[test] = s
            scores = (regression_scores(task, test, mu, s, mad=task.mad, mad_model=task_mad_model(task))
                      if len(test) > 1 else {})
        scores.pop("n_query", None)
        fold_of[test] = f
        folds.append({"fold": f, "n_train": len(train), "n_test": len(test), "metrics": scores})
        if progress is not None:
            progress(f + 1, len(splits))
    rows = np.arange(n)
    has_std = not classification and bool(np.all(np.isfinite(z_std)))
    if classification:
        metrics = classification_scores(task, rows, proba)
    else:
        metrics = regression_scores(task, rows, z_mu, z_std if has_std else None)
    metrics.pop("n_query", None)
    metrics["n"] = float(n)
    ci: dict[str, Any] = {}
    predictions: dict[str, np.ndarray] = {"y": task.y, "fold": fold_of}
    if classification:
        predictions["proba"] = proba
    else:
        pred = task.transform.inverse(z_mu)
        abs_err = np.abs(task.y - pred)
        ci["mae"] = _pooled_ci(abs_err)
        if task.transform.kind == "log10":
            log_err = np.abs(task.y_model - z_mu)
            ci["mae_log10"] = _pooled_ci(log_err)
            ci["smae"] = _pooled_ci(log_err / task_mad_model(task))
        else:
            ci["smae"] = _pooled_ci(abs_err / task.mad)
        predictions["pred"] = pred
        if has_std:
            predictions["pi90_low"] = task.transform.inverse(z_mu - Z90 * z_std)
            predictions["pi90_high"] = task.transform.inverse(z_mu + Z90 * z_std)
            predictions["std_model"] = z_std
    fold_summary: dict[str, Any] = {}
    if cv != "loo":
        names = sorted({k for fo in folds for k in fo["metrics"]})
        for name in names:
            vals = np.array([fo["metrics"].get(name, np.nan) for fo in folds], dtype=float)
            fold_summary[name] = _pooled_ci(vals[np.isfinite(vals)])
    return {"model": spec.name, "model_kwargs": dict(spec.kwargs), "cv": cv, "n_folds": len(splits),
            "group_source": group_source,
            "n_groups": None if groups is None else int(len(np.unique(np.asarray(groups, dtype=object).astype(str)))),
            "metrics": metrics, "ci": ci, "folds": folds, "fold_summary": fold_summary,
            "predictions": predictions, "ids": None if ids is None else np.asarray(ids, dtype=object),
            "seconds": time.perf_counter() - start}


def task_from_file(path: str | os.PathLike, target: str, *, formula_column: str | None = None,
                   group_column: str | None = None, featurizers: str = "composition", transform: str | None = None,
                   kind: str = "auto") -> tuple[Task, Any]:
    """Read a user's table (any format :func:`~metamat.data.readers.read_table` reads) into a Task.

    Rows the data layer rejects (unparseable formula, non-numeric target, ...) are left out and reported in
    ``table.report``; duplicate compositions are merged by the median (so no composition sits in both a
    training and a test fold). ``kind="auto"`` makes a target whose values are all 0/1 a classification.
    """
    from metamat.data.readers import read_table
    from metamat.featurize.pipeline import featurize_formulas

    if kind not in ("auto", "regression", "classification"):
        raise InputError(f"kind must be auto, regression or classification, not {kind!r}", field="--kind")
    if transform not in (None, "identity", "log10"):
        raise InputError(f"transform must be identity or log10, not {transform!r}", field="--transform")
    source = str(path)
    if not Path(path).exists():
        raise InputError("file not found", source=source)
    table = read_table(path, formula_column=formula_column, target_columns=[target])
    table = table.for_target(target)
    if len(table) == 0:
        raise InputError(f"no usable rows for target {target!r}\n{table.report.summary()}", source=source,
                         field=target)
    spec = table.targets[target]
    y = table.target(target)
    binary = bool(np.all((y == 0) | (y == 1)))
    if kind == "auto":
        kind = "classification" if spec.kind == "classification" or binary else "regression"
    if kind == "classification" and not binary:
        raise InputError("classification needs 0/1 targets", source=source, field=target)
    groups = None
    if group_column is not None:
        if group_column not in table.data.columns:
            cols = [c for c in table.data.columns if c not in ("id", "source", "source_row")]
            raise InputError(f"group column {group_column!r} not found; available columns: {cols}", source=source,
                             field=group_column)
        col = table.data[group_column]
        missing = np.flatnonzero(col.isna().to_numpy())
        if len(missing):
            rows = table.data["source_row"].to_numpy()[missing] if "source_row" in table.data else missing + 1
            raise InputError(f"group label missing in {len(missing)} rows (rows {list(map(int, rows[:10]))})",
                             source=source, field=group_column)
        groups = col.astype(str).to_numpy(dtype=object)
    fm = featurize_formulas(table.formulas, featurizers, source=source, field="formula")
    task = Task(name=Path(path).name, X=fm.values, y=y, formulas=table.formulas, kind=kind, units=spec.unit,
                quantity=spec.quantity or target,
                transform=(transform or spec.transform) if kind == "regression" else "identity",
                groups=groups, feature_labels=tuple(fm.labels))
    return task, table


def cross_validate_file(path: str | os.PathLike, target: str, model: str = "rf", cv: str = "loo", *,
                        group_column: str | None = None, formula_column: str | None = None, n_splits: int = 5,
                        featurizers: str = "composition", transform: str | None = None, kind: str = "auto",
                        seed: int = 0, n_jobs: int = 1, progress: Callable[[int, int], None] | None = None
                        ) -> dict[str, Any]:
    """Read ``path``, cross-validate ``model`` on ``target`` and return the results document."""
    start = time.perf_counter()
    check_models([model])
    if cv not in CV_SCHEMES:
        raise InputError(f"unknown cross-validation {cv!r}; choose from {', '.join(CV_SCHEMES)}", field="--cv",
                         value=cv)
    task, table = task_from_file(path, target, formula_column=formula_column, group_column=group_column,
                                 featurizers=featurizers, transform=transform, kind=kind)
    resolved = resolve_model_name(model, task.kind)
    kwargs: dict[str, Any] = registry.thread_options(resolved, n_jobs)
    res = cross_validate(task, ModelSpec(model, kwargs), cv, n_splits=n_splits, seed=seed, ids=table.ids,
                         progress=progress)
    report = table.report
    doc = {
        "schema_version": SCHEMA_VERSION, "kind": "cv",
        "config": {"data": str(path), "target": target, "model": model, "model_resolved": resolved,
                   "model_kwargs": kwargs, "cv": cv, "n_splits": n_splits if cv != "loo" else len(task),
                   "n_folds": res["n_folds"], "group_column": group_column, "groups": res["group_source"],
                   "seed": seed, "featurizers": featurizers, "versions": versions()},
        "data": {"n": len(task), "n_read": report.n_read, "n_rejected": report.n_rejected, "kind": task.kind,
                 "units": task.units, "transform": task.transform.kind, "mad": task.mad,
                 "mad_model": task_mad_model(task), "n_groups": res["n_groups"], "report": report.summary()},
        "metrics": res["metrics"], "ci": res["ci"], "folds": res["folds"], "fold_summary": res["fold_summary"],
        "predictions": _prediction_rows(res, table),
        "timing": {"total_seconds": time.perf_counter() - start, "cv_seconds": res["seconds"]},
    }
    return doc


def _prediction_rows(res: Mapping[str, Any], table: Any) -> list[dict[str, Any]]:
    pred = res["predictions"]
    keys = [k for k in ("y", "pred", "pi90_low", "pi90_high", "proba") if k in pred]
    ids, formulas = table.ids, table.formulas
    return [{"id": str(ids[i]), "formula": str(formulas[i]), "fold": int(pred["fold"][i]),
             **{k: float(pred[k][i]) for k in keys}} for i in range(len(ids))]


def write_cv(doc: Mapping[str, Any], out_dir: str | os.PathLike) -> list[Path]:
    """Write ``results.json``, ``predictions.csv`` and ``cv_parity.png`` (or ``cv_roc.png`` for 0/1)."""
    import pandas as pd

    from metamat.evaluate.plots import plot_parity, plot_roc

    out = Path(out_dir)
    paths = [write_json(out / "results.json", doc, indent=RESULTS_INDENT)]
    frame = pd.DataFrame(doc["predictions"])
    paths.append(write_table(frame, out / "predictions.csv"))
    cfg, data, m = doc["config"], doc["data"], doc["metrics"]
    title = f"{Path(cfg['data']).name}: {cfg['target']}, {cfg['model']}, {cfg['cv']} ({data['n']} rows)"
    if data["kind"] == "classification":
        paths.append(plot_roc(frame["y"], frame["proba"], out / "cv_roc.png", title=title, auc=m.get("roc_auc")))
    else:
        yerr = None
        if "pi90_low" in frame:  # 90% interval as asymmetric error bars
            yerr = np.vstack([frame["pred"] - frame["pi90_low"], frame["pi90_high"] - frame["pred"]])
        shown = {k: m[k] for k in ("mae", "rmse", "r2", "smae", "coverage90") if k in m}
        if yerr is not None:
            title += "\nbars: 90% predictive intervals"
        paths.append(plot_parity(frame["y"], frame["pred"], out / "cv_parity.png", yerr=yerr, title=title,
                                 units=data["units"], log=data["transform"] == "log10", metrics=shown))
    return paths
