"""Bootstrap confidence intervals for the few-shot summary, with correlated tasks counted as one family.

Episodes of one small task share most of their queries, and several meta-test tasks are targets of the
same materials (the four Ricci transport tasks: 5,000 materials, |rho| 0.7-0.9 between targets), so a
t-interval over episode indices (tasks fixed) is too narrow. Here:

- a task's *family* is its quantity group in the task catalogue (``Task.quantity``: the four Ricci
  targets are ``electronic transport``; SuperCon and JARVIS Tc are ``superconducting Tc``; ...);
- the family-weighted mean is the mean over families of the mean over the family's tasks of the mean over
  episodes (each family weighs the same, however many tasks it has);
- its CI is a percentile bootstrap that resamples families, then tasks within each drawn family, then
  episodes within each drawn task (all with replacement, ``n_boot`` draws, seeded);
- the per-family table gives each family's mean with the same bootstrap inside the family (tasks, then
  episodes).

With 4 meta-test families the family-level interval is wide: that width is the honest uncertainty of
"which model is better on a new kind of property".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

N_BOOT = 1000


def bootstrap_mean_ci(values: Sequence[float] | np.ndarray, level: float = 0.95, n_boot: int = N_BOOT,
                      seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high): percentile bootstrap of the mean of finite ``values`` (NaNs if none)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)
    a = (1 - level) / 2
    return float(v.mean()), float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def hierarchical_ci(groups: Mapping[str, Mapping[str, np.ndarray]], level: float = 0.95, n_boot: int = N_BOOT,
                    seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high) of the family-weighted mean of ``{family: {task: episode values}}`` (module
    docstring); empty tasks and families are left out."""
    fams = [[np.asarray(v, float)[np.isfinite(v)] for v in tasks.values()] for tasks in groups.values()]
    fams = [[v for v in f if len(v)] for f in fams]
    fams = [f for f in fams if f]
    if not fams:
        return float("nan"), float("nan"), float("nan")
    point = float(np.mean([np.mean([v.mean() for v in f]) for f in fams]))
    rng = np.random.default_rng(seed)
    draws = np.empty(n_boot)
    for b in range(n_boot):
        fam_means = []
        for fi in rng.integers(0, len(fams), len(fams)):
            f = fams[fi]
            fam_means.append(np.mean([f[ti][rng.integers(0, len(f[ti]), len(f[ti]))].mean()
                                      for ti in rng.integers(0, len(f), len(f))]))
        draws[b] = np.mean(fam_means)
    a = (1 - level) / 2
    return point, float(np.quantile(draws, a)), float(np.quantile(draws, 1 - a))


def _values(records: Iterable[Mapping[str, Any]], metrics: Sequence[str]
            ) -> dict[str, dict[int, dict[str, dict[str, dict[int, float]]]]]:
    """{model: {k: {metric: {task: {episode: value}}}}} of finite values."""
    out: dict[str, Any] = {}
    for r in records:
        if "metrics" not in r:
            continue
        for metric in metrics:
            v = r["metrics"].get(metric)
            if v is not None and np.isfinite(v):
                (out.setdefault(r["model"], {}).setdefault(int(r["k"]), {}).setdefault(metric, {})
                 .setdefault(r["task"], {}))[int(r["episode"])] = float(v)
    return out


def family_summary(records: Iterable[Mapping[str, Any]], families: Mapping[str, str],
                   metrics: Sequence[str] = ("smae", "coverage90"), level: float = 0.95, n_boot: int = N_BOOT,
                   seed: int = 0) -> dict[str, Any]:
    """``{"summary": {model: {k: {metric: {mean, ci_low, ci_high, n_families, n_tasks}}}},
    "families": {family: {"tasks": [...], "results": {model: {k: {metric: {mean, ci_low, ci_high}}}}}}}``.

    ``families`` maps task name -> family (quantity group); tasks missing from it are their own family."""
    vals = _values(records, metrics)
    summary: dict[str, Any] = {}
    fam_table: dict[str, Any] = {}
    for model, ks in vals.items():
        for k in sorted(ks):
            for metric, tasks in ks[k].items():
                groups: dict[str, dict[str, np.ndarray]] = {}
                for task, eps in tasks.items():
                    groups.setdefault(families.get(task, task), {})[task] = np.array([eps[i] for i in sorted(eps)])
                m, lo, hi = hierarchical_ci(groups, level, n_boot, seed)
                summary.setdefault(model, {}).setdefault(str(k), {})[metric] = {
                    "mean": m, "ci_low": lo, "ci_high": hi, "n_families": len(groups), "n_tasks": len(tasks)}
                for fam, g in groups.items():
                    fm, flo, fhi = hierarchical_ci({fam: g}, level, n_boot, seed)
                    entry = fam_table.setdefault(fam, {"tasks": sorted(g), "results": {}})
                    entry["tasks"] = sorted(set(entry["tasks"]) | set(g))
                    entry["results"].setdefault(model, {}).setdefault(str(k), {})[metric] = {
                        "mean": fm, "ci_low": flo, "ci_high": fhi}
    return {"summary": summary, "families": fam_table, "level": level, "n_boot": n_boot,
            "method": "family-weighted mean; bootstrap over families, tasks within family, episodes within task"}
