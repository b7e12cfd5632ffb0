"""Scoring few-shot predictions (on top of :mod:`metamat.evaluate.metrics`): per-episode metrics of a model
fitted on the support and scored on the query, then aggregation over episodes and tasks.

Metric definitions: see :mod:`metamat.evaluate.running`. This is the only place query targets are read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from metamat.evaluate.metrics import (
    accuracy,
    balanced_accuracy,
    calibration_error,
    gaussian_nll,
    interval_coverage,
    log_loss,
    mae,
    mean_absolute_deviation,
    mean_ci,
    r2,
    rmse,
    roc_auc,
)
from metamat.tasks.task import Episode, Task

#: Metrics averaged across tasks in ``summary`` (scale-free ones only).
SUMMARY_METRICS: tuple[str, ...] = ("smae", "srmse", "coverage90", "interval_coverage90", "calibration_error",
                                    "roc_auc", "accuracy", "balanced_accuracy")
_LN10 = math.log(10.0)


def task_std_model(task: Task) -> float:
    """Standard deviation (ddof=0) of the task's targets in model space (log10 for log10 tasks)."""
    return float(np.std(task.y_model))


def task_mad_model(task: Task) -> float:
    """MAD of the task's targets in model space (= ``task.mad`` for identity tasks)."""
    return task.mad if task.transform.kind == "identity" else mean_absolute_deviation(task.y_model)


def regression_scores(task: Task, rows: np.ndarray, z_mu: np.ndarray, z_std: np.ndarray | None = None, *,
                      mad: float | None = None, mad_model: float | None = None) -> dict[str, float]:
    """Metrics of predictions ``(z_mu, z_std)`` made in model space for ``task`` rows ``rows``.

    ``mad``/``mad_model`` default to the task's (original / model space). See the module docstring for the
    definitions; this is the only place query targets are read.
    """
    rows = np.asarray(rows)
    z_mu = np.asarray(z_mu, dtype=float)
    y = task.y[rows]
    mu = task.transform.inverse(z_mu)
    out = {"n_query": float(len(y)), "mae": mae(y, mu), "rmse": rmse(y, mu), "r2": r2(y, mu)}
    log10 = task.transform.kind == "log10"
    if log10:
        z = task.y_model[rows]
        out.update(mae_log10=mae(z, z_mu), rmse_log10=rmse(z, z_mu), r2_log10=r2(z, z_mu))
        scale = task_mad_model(task) if mad_model is None else mad_model
        out["smae"] = out["mae_log10"] / scale if scale > 0 else float("nan")
    else:
        z = y
        scale = task.mad if mad is None else mad
        out["smae"] = out["mae"] / scale if scale > 0 else float("nan")
    sd = task_std_model(task)
    out["srmse"] = (out["rmse_log10"] if log10 else out["rmse"]) / sd if sd > 0 else float("nan")
    if z_std is not None:
        s = np.asarray(z_std, dtype=float)
        if np.all(np.isfinite(s)) and np.all(s > 0):
            nll = gaussian_nll(z, z_mu, s)
            if log10:
                nll += float(np.mean(np.log(y * _LN10)))
            out.update(nll=nll, coverage90=interval_coverage(z, z_mu, s, 0.9),
                       calibration_error=calibration_error(z, z_mu, s), mean_std=float(np.mean(s)))
    return out


def classification_scores(task: Task, rows: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """roc_auc (NaN with one class in the query), accuracy, balanced_accuracy, log_loss, n_query."""
    y = task.y[np.asarray(rows)]
    p = np.clip(np.asarray(proba, dtype=float), 0.0, 1.0)
    return {"n_query": float(len(y)), "roc_auc": roc_auc(y, p), "accuracy": accuracy(y, p),
            "balanced_accuracy": balanced_accuracy(y, p), "log_loss": log_loss(y, p)}


def pass_scaling(model: Any, episode: Episode) -> Any:
    """Tell a model with a ``fit_scaling`` option (``auto``) how the episode standardized the targets it is
    fitted on, so that its low-fidelity columns and the physical bound 0 are read in that space."""
    if episode.task.kind != "classification" and "fit_scaling" in getattr(model, "get_params", dict)():
        model.set_params(fit_scaling=(episode.scaler.mean_, episode.scaler.scale_))
    return model


def predict_model_space(model: Any, episode: Episode) -> tuple[np.ndarray, np.ndarray | None]:
    """Fit ``model`` on the support and predict the query in model space (undoing the support scaler)."""
    pass_scaling(model, episode).fit(episode.X_support, episode.y_support_fit)
    out = model.predict(episode.X_query, return_std=True)
    mean, std = out if isinstance(out, tuple) else (out, None)
    z_mu = episode.scaler.inverse(np.asarray(mean, dtype=float))
    z_std = None if std is None else episode.scaler.inverse_std(np.asarray(std, dtype=float))
    return z_mu, z_std


def score_model(model: Any, episode: Episode) -> dict[str, float]:
    """Fit on the episode's support, score on its query. Regressors with ``predict_interval`` also get
    ``interval_coverage90``: the share of the query inside the model's own 90% interval (conformal for
    ``rf``, ``knn``, ``median``, ``auto``; Gaussian for the rest), mapped back with the support scaler."""
    if episode.task.kind == "classification":
        model.fit(episode.X_support, episode.y_support_fit)
        return classification_scores(episode.task, episode.query, model.predict_proba(episode.X_query))
    z_mu, z_std = predict_model_space(model, episode)
    out = regression_scores(episode.task, episode.query, z_mu, z_std)
    if hasattr(model, "predict_interval"):
        lo, hi = model.predict_interval(episode.X_query, level=0.9)
        lo, hi = episode.scaler.inverse(np.asarray(lo, float)), episode.scaler.inverse(np.asarray(hi, float))
        z = episode.task.y_model[np.asarray(episode.query)]
        out["interval_coverage90"] = float(np.mean((z >= np.minimum(lo, hi)) & (z <= np.maximum(lo, hi))))
    return out


def aggregate(records: Iterable[Mapping[str, Any]], level: float = 0.95
              ) -> dict[str, dict[str, dict[str, dict[str, dict[str, float]]]]]:
    """``{task: {model: {k: {metric: {mean, ci_low, ci_high, n}}}}}`` from per-episode records.

    ``n`` counts episodes with a finite value; keys of k are strings; order: tasks, models and k as they
    first appear (k sorted numerically).
    """
    values: dict[str, dict[str, dict[int, dict[str, list[float]]]]] = {}
    for rec in records:
        if "metrics" not in rec:
            continue
        by_k = values.setdefault(rec["task"], {}).setdefault(rec["model"], {}).setdefault(int(rec["k"]), {})
        for metric, v in rec["metrics"].items():
            by_k.setdefault(metric, []).append(float(v))
    out: dict[str, Any] = {}
    for task, models in values.items():
        for model, ks in models.items():
            for k in sorted(ks):
                cell = out.setdefault(task, {}).setdefault(model, {}).setdefault(str(k), {})
                for metric, vs in ks[k].items():
                    arr = np.asarray(vs, dtype=float)
                    m, lo, hi = mean_ci(arr[np.isfinite(arr)], level)
                    cell[metric] = {"mean": m, "ci_low": lo, "ci_high": hi, "n": int(np.isfinite(arr).sum())}
    return out


def summarize(records: Iterable[Mapping[str, Any]], metrics: Sequence[str] = SUMMARY_METRICS,
              level: float = 0.95) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """Across-task summary ``{model: {k: {metric: {mean, ci_low, ci_high, n_tasks, n_episodes}}}}``.

    For each episode index the metric is averaged over the tasks that have a finite value for it; mean and
    CI are then taken over episode indices.
    """
    table: dict[str, dict[int, dict[str, dict[int, dict[str, float]]]]] = {}
    for rec in records:
        if "metrics" not in rec:
            continue
        by_metric = table.setdefault(rec["model"], {}).setdefault(int(rec["k"]), {})
        for metric in metrics:
            v = rec["metrics"].get(metric)
            if v is not None and np.isfinite(v):
                by_metric.setdefault(metric, {}).setdefault(int(rec["episode"]), {})[rec["task"]] = float(v)
    out: dict[str, Any] = {}
    for model, ks in table.items():
        for k in sorted(ks):
            cell = out.setdefault(model, {}).setdefault(str(k), {})
            for metric in metrics:
                per_episode = ks[k].get(metric)
                if not per_episode:
                    continue
                avg = np.array([np.mean(list(t.values())) for _, t in sorted(per_episode.items())])
                m, lo, hi = mean_ci(avg, level)
                tasks = {t for v in per_episode.values() for t in v}
                cell[metric] = {"mean": m, "ci_low": lo, "ci_high": hi, "n_tasks": len(tasks),
                                "n_episodes": len(avg)}
    return out
