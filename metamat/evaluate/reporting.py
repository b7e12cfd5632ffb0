"""Reporting few-shot results: ``results.json``, per-episode CSV, curve plots and text/markdown tables."""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from metamat.files import atomic_write, write_json, write_table

#: results.json files are written with one space of indentation (compact but diff-able).
RESULTS_INDENT = 1


def write_benchmark(doc: Mapping[str, Any], out_dir: str | os.PathLike,
                  plot_metrics: Sequence[str] = ("smae", "coverage90", "roc_auc")) -> list[Path]:
    """Write ``out_dir/results.json``, ``episodes.csv.gz`` (when the doc has records), ``summary.md``
    (:func:`summary_markdown`) and ``fewshot_<metric>.png`` for each metric present; returns the paths."""
    from metamat.evaluate.plots import plot_fewshot

    out = Path(out_dir)
    body = {k: v for k, v in doc.items() if k != "episodes"}
    paths = [write_json(out / "results.json", body, indent=RESULTS_INDENT)]
    if doc.get("episodes"):
        paths.append(write_episodes(doc["episodes"], out / "episodes.csv.gz"))
    with atomic_write(out / "summary.md", "w") as fh:
        fh.write(summary_markdown(doc))
    paths.append(out / "summary.md")
    present = {m for t in doc["results"].values() for mk in t.values() for kk in mk.values() for m in kk}
    for metric in plot_metrics:
        if metric in present:
            paths.append(plot_fewshot(doc, out / f"fewshot_{metric}.png", metric=metric))
    return paths


def write_episodes(records: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """Per-episode metrics as a (gzipped) CSV: task, model, k, episode, seconds, error, metrics..."""
    import pandas as pd

    rows = [{"task": r["task"], "model": r.get("model"), "k": r["k"], "episode": r["episode"],
             "seconds": r.get("seconds"), "cpu_seconds": r.get("cpu_seconds"),
             "error": r.get("error") or r.get("skipped"), **r.get("metrics", {})}
            for r in records]
    return write_table(pd.DataFrame(rows), path, float_format="%.6g")


def format_cell(stat: Mapping[str, Any] | None, digits: int = 3) -> str:
    """``"0.812 [0.790, 0.834]"`` (or ``"-"``)."""
    if not stat or stat.get("mean") is None or not np.isfinite(stat["mean"]):
        return "-"
    lo, hi = stat.get("ci_low"), stat.get("ci_high")
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{stat['mean']:.{digits}f}"
    return f"{stat['mean']:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def table_rows(doc: Mapping[str, Any], metric: str = "smae", task: str | None = None,
               digits: int = 3, *, family: str | None = None, summary: str = "summary"
               ) -> tuple[list[str], list[list[str]]]:
    """Header and rows (model, one cell per k) of ``metric`` for one task, one family (``family``), or of a
    summary (``task=None``: ``summary`` names it, ``summary`` or ``summary_families``)."""
    shots = [str(k) for k in doc["config"]["shots"]]
    if family is not None:
        source = doc.get("families", {}).get(family, {}).get("results", {})
    else:
        source = doc.get(summary, {}) if task is None else doc["results"].get(task, {})
    rows = [[model] + [format_cell(source.get(model, {}).get(k, {}).get(metric), digits) for k in shots]
            for model in doc["config"]["models"] if model in source]
    return ["model"] + [f"k={k}" for k in shots], rows


def markdown_table(doc: Mapping[str, Any], metric: str = "smae", task: str | None = None, digits: int = 3,
                   **which: Any) -> str:
    header, rows = table_rows(doc, metric, task, digits, **which)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def summary_markdown(doc: Mapping[str, Any]) -> str:
    """The tables of a few-shot benchmark as Markdown: scale-free MAE, coverage and calibration averaged over
    tasks, then scale-free MAE per task."""
    cfg, present = doc["config"], {m for t in doc["results"].values() for mk in t.values() for kk in mk.values()
                                   for m in kk}
    lines = [f"# Few-shot benchmark ({cfg.get('task_selection', 'tasks')}, {cfg.get('episodes', '?')} episodes, "
             f"seed {cfg.get('seed', '?')})", ""]
    wall = doc.get("timing", {}).get("wall_seconds")
    lines += [f"Wall time {wall:.0f} s.", ""] if wall is not None else []
    for metric, title in (("smae", "Scale-free MAE (MAE / MAD; log10 tasks in decades), mean over tasks "
                                   "[95% CI over episodes]"), ("coverage90", "90% interval coverage, mean over tasks"),
                          ("calibration_error", "Calibration error, mean over tasks")):
        if metric in present:
            lines += [f"## {title}", "", markdown_table(doc, metric), ""]
    for task, info in doc.get("tasks", {}).items():
        lines += [f"## {task} (n={info.get('n')}, {info.get('units') or 'no unit'}, {info.get('transform')}, "
                  f"{info.get('policy')} episodes): scale-free MAE", "", markdown_table(doc, "smae", task), ""]
    return "\n".join(lines)


def versions() -> dict[str, str]:
    """Versions of python and the main packages, recorded in every results document."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("metamat", "numpy", "scipy", "scikit-learn", "torch"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out
