"""Plots of evaluation results (matplotlib, Agg backend), written atomically as PNG next to their JSON.

- :func:`plot_fewshot`: a metric vs k per model with 95% CI bands; one panel per task plus the
  across-task summary.
- :func:`plot_parity` / :func:`plot_roc`: out-of-fold predictions of a cross-validation.
- :func:`plot_matbench`: MAE per official fold next to the published leaderboard values.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from metamat.files import atomic_path

METRIC_LABELS = {
    "smae": "scale-free MAE (MAE / MAD)",
    "mae": "MAE",
    "rmse": "RMSE",
    "r2": "R²",
    "coverage90": "90% interval coverage",
    "calibration_error": "calibration error",
    "nll": "NLL",
    "roc_auc": "ROC-AUC",
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
}
REFERENCE_LINES = {"smae": 1.0, "coverage90": 0.9, "roc_auc": 0.5, "calibration_error": 0.0}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Save ``fig`` as PNG atomically (:func:`metamat.files.atomic_path`); closes the figure."""
    plt = _pyplot()
    path = Path(path)
    try:
        with atomic_path(path) as tmp:  # removed again if savefig fails
            fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def _curve(cells: Mapping[str, Any], shots: Sequence[int], metric: str) -> tuple[np.ndarray, ...]:
    def get(k: int, key: str) -> float:
        v = cells.get(str(k), {}).get(metric, {}).get(key)
        return float("nan") if v is None else float(v)

    return tuple(np.array([get(k, key) for k in shots]) for key in ("mean", "ci_low", "ci_high"))


def plot_fewshot(doc: Mapping[str, Any], path: str | os.PathLike, metric: str = "smae") -> Path:
    """``metric`` vs k (log axis) per model with CI bands: one panel per task, then the summary panel."""
    plt = _pyplot()
    shots = [int(k) for k in doc["config"]["shots"]]
    models = list(doc["config"]["models"])
    panels: list[tuple[str, Mapping[str, Any]]] = []
    policy = doc["config"].get("policy")
    for task, by_model in doc["results"].items():
        if any(metric in c for m in by_model.values() for c in m.values()):
            used = doc.get("tasks", {}).get(task, {}).get("policy", policy)
            panels.append((task if used == policy else f"{task} [{used} episodes]", by_model))
    summary = doc.get("summary", {})
    if any(metric in c for m in summary.values() for c in m.values()):
        n_tasks = max((c[metric].get("n_tasks", 0) for m in summary.values() for c in m.values() if metric in c),
                      default=0)
        panels.append((f"mean over {n_tasks} tasks", summary))
    ncols = min(4, max(1, len(panels)))
    nrows = max(1, math.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.3 * nrows), squeeze=False)
    colors = plt.get_cmap("tab10")
    for ax, (title, by_model) in zip(axes.ravel(), panels, strict=False):
        for j, model in enumerate(models):
            if model not in by_model:
                continue
            mean, lo, hi = _curve(by_model[model], shots, metric)
            ax.plot(shots, mean, marker="o", ms=3, color=colors(j % 10), label=model)
            ax.fill_between(shots, lo, hi, color=colors(j % 10), alpha=0.2, linewidth=0)
        if metric in REFERENCE_LINES:
            ax.axhline(REFERENCE_LINES[metric], color="grey", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_xticks(shots)
        ax.set_xticklabels([str(k) for k in shots])
        ax.minorticks_off()
        ax.set_title(title, fontsize=9, fontweight="bold" if title.startswith("mean over") else None)
        ax.set_xlabel("k (support size)", fontsize=8)
        ax.set_ylabel(METRIC_LABELS.get(metric, metric), fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    if panels:
        handles, labels = axes.ravel()[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=8, frameon=False,
                   bbox_to_anchor=(0.5, 1.0 + 0.02 / nrows))
    fig.suptitle(f"few-shot {METRIC_LABELS.get(metric, metric)}, mean and 95% CI over episodes "
                 f"(policy {doc['config'].get('policy')})", fontsize=10, y=1.0 + 0.07 / nrows)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_parity(y: np.ndarray, pred: np.ndarray, path: str | os.PathLike, *, yerr: np.ndarray | None = None,
                title: str = "", units: str = "", log: bool = False,
                metrics: Mapping[str, float] | None = None, ylabel: str = "predicted") -> Path:
    """Predicted vs measured (out-of-fold), with error bars ``yerr`` (shape (n,) or (2, n)) if given.

    The one parity plot (cross-validation, the few-shot leave-one-out check)."""
    plt = _pyplot()
    y = np.asarray(y, dtype=float)
    pred = np.asarray(pred, dtype=float)
    fig, ax = plt.subplots(figsize=(4.8, 4.6))
    if yerr is not None and len(y) <= 2000:
        ax.errorbar(y, pred, yerr=np.clip(np.asarray(yerr, dtype=float), 0, None), fmt="none", ecolor="tab:blue",
                    alpha=0.25, lw=0.8)
    ax.scatter(y, pred, s=14 if len(y) < 500 else 4, color="tab:blue", alpha=0.8, edgecolor="none")
    both = np.concatenate([y, pred])
    both = both[np.isfinite(both) & ((both > 0) if log else True)]
    lo, hi = (float(both.min()), float(both.max())) if len(both) else (0.0, 1.0)
    pad = (hi / lo) ** 0.05 if log and lo > 0 else 0.05 * (hi - lo or 1.0)
    lims = (lo / pad, hi * pad) if log and lo > 0 else (lo - pad, hi + pad)
    ax.plot(lims, lims, color="grey", lw=0.8, ls="--")
    ax.set_xlim(lims)
    ax.set_ylim(lims)
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    unit = f" ({units})" if units else ""
    ax.set_xlabel(f"measured{unit}")
    ax.set_ylabel(f"{ylabel}{unit}")
    if metrics:
        text = "\n".join(f"{k} = {v:.3g}" for k, v in metrics.items() if v is not None and np.isfinite(v))
        ax.text(0.03, 0.97, text, transform=ax.transAxes, va="top", fontsize=8,
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_roc(y: np.ndarray, proba: np.ndarray, path: str | os.PathLike, *, title: str = "",
             auc: float | None = None) -> Path:
    """ROC curve of out-of-fold probabilities."""
    from sklearn.metrics import roc_curve

    plt = _pyplot()
    y = np.asarray(y, dtype=int)
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    if len(np.unique(y)) == 2:
        fpr, tpr, _ = roc_curve(y, np.asarray(proba, dtype=float))
        ax.plot(fpr, tpr, color="tab:blue", label=f"AUC = {auc:.3f}" if auc is not None else None)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    if auc is not None:
        ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_matbench(doc: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Per-fold MAE bars, our mean, and the leaderboard's mean MAE of each listed algorithm."""
    plt = _pyplot()
    folds = doc["folds"]
    metric = doc.get("metric", "mae")
    values = [f[metric] for f in folds]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    x = np.arange(len(values))
    ax.bar(x, values, color="tab:blue", alpha=0.75, label=f"{doc['model']} (this run), per fold")
    mean = doc.get(f"mean_{metric}")
    if mean is not None:
        ax.axhline(mean, color="tab:blue", lw=1.5, label=f"{doc['model']} (this run), mean {mean:.4g}")
    entries = (doc.get("leaderboard") or {}).get("entries", [])
    colors = plt.get_cmap("tab10")
    ref = (doc.get("reference") or {}).get("algorithm")
    for j, e in enumerate(entries):
        is_ref = e["algorithm"] == ref
        ax.axhline(e["mean_mae"], color="black" if is_ref else colors((j + 1) % 10), lw=2 if is_ref else 1,
                   ls="-." if is_ref else "--", label=f"{e['algorithm']} (leaderboard) {e['mean_mae']:.4g}")
    ax.set_xticks(x)
    ax.set_xticklabels([f"fold {f['fold']}" for f in folds])
    unit = f" ({doc['units']})" if doc.get("units") else ""
    ax.set_ylabel(f"{metric.upper().replace('_', '-')}{unit}")
    ax.set_title(f"{doc['task']}: official matbench v0.1 folds", fontsize=10)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)
