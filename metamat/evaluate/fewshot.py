"""Few-shot evaluation: many support/query episodes per task and shot count, every model on the same episodes.

For each task, each k in ``shots`` and each episode index ``i`` one episode is drawn with
:func:`~metamat.tasks.splits.sample_episode` from the generator ``np.random.default_rng([seed,
crc32(task name), k, i])``. The episode depends only on the seed, the task's name and rows, k and i: every
model sees the same support and query, and adding or removing tasks or models changes nothing for the
others. A model is fitted on ``episode.y_support_fit`` (transformed, standardized with support statistics
only) and its predictions are mapped back with the support scaler; query targets are read only when
scoring. All fits run with one BLAS/OpenMP thread, so results are identical for any ``n_jobs``.

Metrics per episode (the query set of one episode):

- regression: ``mae``, ``rmse``, ``r2`` in original units (for log10 tasks the prediction in original
  units is the median ``10**mu``); ``smae`` = MAE / MAD of the task (for log10 tasks both in log10
  units: MAE in decades / MAD of log10 y, so heavy tails do not dominate averages across tasks);
  log10 tasks also get ``mae_log10``, ``rmse_log10``, ``r2_log10``. With a predictive std:
  ``coverage90`` (share of the query inside the central 90% Gaussian interval) and
  ``calibration_error`` (mean |observed - nominal| coverage over levels 0.1..0.9), both computed in model
  space (log10 for log10 tasks: the transform is monotone, so interval coverage is exact); ``nll``, the
  mean negative log density of y in original units (for log10 tasks the log-normal density:
  NLL in log10 space + mean log(y ln 10)); ``mean_std``, the mean predictive std in model space.
- classification (0/1 targets): ``roc_auc``, ``accuracy``, ``balanced_accuracy``, ``log_loss``.
- always: ``n_query``.

results.json (``SCHEMA_VERSION`` = 1; keys are stable, k is a string key, NaN is written as null)::

    {
      "schema_version": 1,
      "kind": "fewshot",
      "config": {"models": [...], "model_kwargs": {model: {...}}, "tasks": [...], "shots": [5, 10, ...],
                 "episodes": 100, "seed": 0, "policy": "chemical_system", "min_systems": 30,
                 "max_query": 1000, "max_rows": 5000, "featurizers": "composition", "n_jobs": 2,
                 "versions": {"metamat": ..., "numpy": ..., "scikit-learn": ..., "python": ...},
                 "notes": [...]},
      "tasks": {task: {"n", "kind", "units", "quantity", "transform", "mad", "mad_model",
                       "n_chemical_systems", "policy"}},
      "results": {task: {model: {k: {metric: {"mean", "ci_low", "ci_high", "n"}}}}},
      "summary": {model: {k: {metric: {"mean", "ci_low", "ci_high", "n_tasks", "n_episodes"}}}},
      "skipped": [{"task", "k", "episode", "reason"}], "failures": [{"task", "model", "k", "episode", "error"}],
      "timing": {"total_seconds", "build_seconds": {task: s}, "fit_predict_seconds": {model: s},
                 "fit_predict_cpu_seconds": {model: s}}
    }

``fit_predict_seconds`` sums wall time of fit + predict + scoring per model over all workers,
``fit_predict_cpu_seconds`` the CPU time of the same (on a loaded machine the two differ).
``mean`` is the mean over episodes, ``[ci_low, ci_high]`` its two-sided 95% t-interval, ``n`` the number of
episodes with a finite value. ``mad`` is the task's MAD in original units, ``mad_model`` in model space
(equal for identity tasks). ``policy`` is the policy used for the task: ``chemical_system`` falls back to
``random`` for a task with fewer than ``min_systems`` chemical systems (e.g. matbench_steels: 312 alloys in
12 element sets, where holding out the support's systems leaves a handful of atypical query rows).
``summary`` averages the scale-free metrics (``smae``, ``r2``/``r2_log10`` excluded) across tasks: for each
episode index the metric is averaged over the tasks that have it, and mean and CI are taken over episode
indices (tasks fixed, the interval reflects episode sampling). Summary metrics: :data:`SUMMARY_METRICS`.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from metamat.errors import InputError
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
from metamat.files import atomic_path, atomic_write
from metamat.models import registry
from metamat.models.baselines import DummyClassifier
from metamat.tasks.splits import POLICIES, sample_episode
from metamat.tasks.task import Episode, Task

SCHEMA_VERSION = 1
DEFAULT_MODELS: tuple[str, ...] = ("dummy", "ridge", "knn", "gp", "rf")
DEFAULT_SHOTS: tuple[int, ...] = (5, 10, 20, 50)
DEFAULT_EPISODES = 100
DEFAULT_MAX_QUERY = 1000
DEFAULT_MAX_ROWS = 5000
DEFAULT_MIN_SYSTEMS = 30
FEWSHOT_RF_TREES = 100
#: Metrics averaged across tasks in ``summary`` (scale-free ones only).
SUMMARY_METRICS: tuple[str, ...] = ("smae", "coverage90", "calibration_error", "roc_auc", "accuracy",
                                    "balanced_accuracy")
#: Classifier used for a 0/1 task when a regressor name is asked for (from the model registry).
CLASSIFIER_FOR: dict[str, str] = registry.classifier_map()
_LN10 = math.log(10.0)


# ----------------------------------------------------------------------------------------------- models
PriorClassifier = DummyClassifier  # the registry's ``dummy_clf``
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


# --------------------------------------------------------------------------------------------- scoring
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


def predict_model_space(model: Any, episode: Episode) -> tuple[np.ndarray, np.ndarray | None]:
    """Fit ``model`` on the support and predict the query in model space (undoing the support scaler)."""
    model.fit(episode.X_support, episode.y_support_fit)
    out = model.predict(episode.X_query, return_std=True)
    mean, std = out if isinstance(out, tuple) else (out, None)
    z_mu = episode.scaler.inverse(np.asarray(mean, dtype=float))
    z_std = None if std is None else episode.scaler.inverse_std(np.asarray(std, dtype=float))
    return z_mu, z_std


def score_model(model: Any, episode: Episode) -> dict[str, float]:
    """Fit on the episode's support, score on its query."""
    if episode.task.kind == "classification":
        model.fit(episode.X_support, episode.y_support_fit)
        return classification_scores(episode.task, episode.query, model.predict_proba(episode.X_query))
    z_mu, z_std = predict_model_space(model, episode)
    return regression_scores(episode.task, episode.query, z_mu, z_std)


# -------------------------------------------------------------------------------------------- episodes
def task_key(task: Task) -> int:
    """Stable integer for a task's episodes: crc32 of its name."""
    return zlib.crc32(task.name.encode("utf-8"))


def effective_policy(task: Task, policy: str, min_systems: int = DEFAULT_MIN_SYSTEMS) -> str:
    """``policy``, or ``random`` when ``chemical_system`` is degenerate (< ``min_systems`` systems)."""
    if policy == "chemical_system" and len(np.unique(task.system_codes)) < min_systems:
        return "random"
    return policy


def make_episode(task: Task, k: int, i: int, *, seed: int = 0, policy: str = "chemical_system",
                 max_query: int | None = DEFAULT_MAX_QUERY) -> Episode:
    """Episode ``i`` of ``task`` at ``k`` shots: a pure function of (seed, task name, k, i, policy)."""
    rng = np.random.default_rng([int(seed), task_key(task), int(k), int(i)])
    return sample_episode(task, int(k), n_query=max_query, policy=policy, rng=rng)


def model_seed(seed: int, key: int, k: int, i: int) -> int:
    return int(np.random.SeedSequence([int(seed), key, int(k), int(i), 1]).generate_state(1)[0] % (2**31 - 1))


def run_chunk(task: Task, k: int, episodes: Sequence[int], specs: Sequence[ModelSpec], *, seed: int,
              policy: str, max_query: int | None) -> list[dict[str, Any]]:
    """Evaluate every model on episodes ``episodes`` of (task, k); one record per (episode, model).

    Runs with one BLAS/OpenMP thread (so the numbers do not depend on the worker count). A failing model
    fit gives a record with ``error`` instead of metrics; an episode that cannot be drawn gives one
    record with ``skipped``.
    """
    from threadpoolctl import threadpool_limits

    key = task_key(task)
    records: list[dict[str, Any]] = []
    with threadpool_limits(1):
        torch_threads = _torch_threads(1)
        try:
            for i in episodes:
                base = {"task": task.name, "k": int(k), "episode": int(i)}
                try:
                    episode = make_episode(task, k, i, seed=seed, policy=policy, max_query=max_query)
                except ValueError as exc:
                    records.append({**base, "skipped": str(exc)})
                    continue
                mseed = model_seed(seed, key, k, i)
                for spec in specs:
                    start, cpu = time.perf_counter(), time.process_time()
                    try:
                        metrics = score_model(spec.build(task.kind, mseed), episode)
                        rec = {**base, "model": spec.name, "metrics": metrics}
                    except Exception as exc:  # a model failing on one episode is recorded, not fatal
                        rec = {**base, "model": spec.name, "error": f"{type(exc).__name__}: {exc}"}
                    rec["seconds"] = time.perf_counter() - start
                    rec["cpu_seconds"] = time.process_time() - cpu
                    records.append(rec)
        finally:
            _torch_threads(torch_threads)
    return records


def _torch_threads(n: int | None) -> int | None:
    """Set torch's intra-op threads if torch is already imported; returns the previous value."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None or n is None:
        return None
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    return old


# ----------------------------------------------------------------------------------------- aggregation
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


# ------------------------------------------------------------------------------------------ the runner
def task_info(task: Task, policy: str) -> dict[str, Any]:
    return {"n": len(task), "kind": task.kind, "units": task.units, "quantity": task.quantity,
            "transform": task.transform.kind, "mad": task.mad, "mad_model": task_mad_model(task),
            "n_chemical_systems": int(len(np.unique(task.system_codes))), "policy": policy}


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("metamat", "numpy", "scipy", "scikit-learn", "torch"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def run_fewshot_tasks(tasks: Sequence[Task], models: Sequence[str | ModelSpec] = DEFAULT_MODELS, *,
                      shots: Sequence[int] = DEFAULT_SHOTS, episodes: int = DEFAULT_EPISODES, seed: int = 0,
                      policy: str = "chemical_system", min_systems: int = DEFAULT_MIN_SYSTEMS,
                      max_query: int | None = DEFAULT_MAX_QUERY, n_jobs: int = 1, chunk_size: int = 10,
                      rf_trees: int = FEWSHOT_RF_TREES, progress: Callable[[int, int], None] | None = None,
                      extra_config: Mapping[str, Any] | None = None, keep_records: bool = False
                      ) -> dict[str, Any]:
    """Evaluate ``models`` on episodes of already built ``tasks``; returns the results document.

    ``progress(done, total)`` is called as model fits complete (counted in episode x model units).
    ``n_jobs > 1`` runs chunks of ``chunk_size`` episodes in that many processes (joblib/loky); the
    numbers are identical for every ``n_jobs``. With ``keep_records`` the per-episode records are kept
    under ``"episodes"`` (not written to results.json by :func:`write_fewshot`).
    """
    start = time.perf_counter()
    specs = model_specs(models, rf_trees=rf_trees)
    shots = _check_shots(shots)
    if episodes < 1:
        raise InputError("episodes must be at least 1", field="--episodes", value=episodes)
    if policy not in POLICIES:
        raise InputError(f"unknown policy {policy!r}; choose from {', '.join(POLICIES)}", field="--policy",
                         value=policy)
    if max_query is not None and max_query < 1:
        raise InputError("max_query must be positive", field="--max-query", value=max_query)
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise InputError(f"task names must be unique: {names}", field="--tasks")
    for t in tasks:  # fail early on a wrong model/task kind pairing
        for s in specs:
            if s.factory is None:
                resolve_model_name(s.name, t.kind)
    policies = {t.name: effective_policy(t, policy, min_systems) for t in tasks}
    jobs = [(t, k, list(range(lo, min(lo + chunk_size, episodes))))
            for k in sorted(shots, reverse=True) for t in tasks for lo in range(0, episodes, chunk_size)]
    total = len(tasks) * len(shots) * episodes * len(specs)
    done = 0
    records: list[dict[str, Any]] = []

    def consume(chunk: list[dict[str, Any]]) -> None:
        nonlocal done
        records.extend(chunk)
        done += sum(len(specs) if "skipped" in r else 1 for r in chunk)
        if progress is not None:
            progress(done, total)

    kw = {"seed": seed, "max_query": max_query}
    if progress is not None:
        progress(0, total)
    if n_jobs == 1:
        for t, k, eps in jobs:
            consume(run_chunk(t, k, eps, specs, policy=policies[t.name], **kw))
    else:
        from joblib import Parallel, delayed

        parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        for chunk in parallel(delayed(run_chunk)(t, k, eps, specs, policy=policies[t.name], **kw)
                              for t, k, eps in jobs):
            consume(chunk)
    records.sort(key=lambda r: (names.index(r["task"]), r["k"], r["episode"],
                                [s.name for s in specs].index(r["model"]) if "model" in r else -1))
    fit_seconds = {s.name: 0.0 for s in specs}
    fit_cpu = {s.name: 0.0 for s in specs}
    for r in records:
        if "seconds" in r:
            fit_seconds[r["model"]] += r["seconds"]
            fit_cpu[r["model"]] += r["cpu_seconds"]
    config = {"models": [s.name for s in specs], "model_kwargs": {s.name: dict(s.kwargs) for s in specs},
              "tasks": names, "shots": list(shots), "episodes": episodes, "seed": seed, "policy": policy,
              "min_systems": min_systems, "max_query": max_query, "n_jobs": n_jobs, "versions": versions(),
              "notes": [f"random forests use {rf_trees} trees in few-shot episodes (the matbench runner uses "
                        "500)", "every model runs with one BLAS/OpenMP/torch thread"]}
    config.update(extra_config or {})
    doc = {"schema_version": SCHEMA_VERSION, "kind": "fewshot", "config": config,
           "tasks": {t.name: task_info(t, policies[t.name]) for t in tasks},
           "results": aggregate(records), "summary": summarize(records),
           "skipped": [{"task": r["task"], "k": r["k"], "episode": r["episode"], "reason": r["skipped"]}
                       for r in records if "skipped" in r],
           "failures": [{key: r[key] for key in ("task", "model", "k", "episode", "error")}
                        for r in records if "error" in r],
           "timing": {"total_seconds": time.perf_counter() - start, "fit_predict_seconds": fit_seconds,
                      "fit_predict_cpu_seconds": fit_cpu}}
    if keep_records:
        doc["episodes"] = records
    return doc


def _check_shots(shots: Sequence[int]) -> list[int]:
    out = []
    for k in shots:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InputError(f"shots must be positive integers, got {k!r}", field="--shots", value=k)
        out.append(int(k))
    if not out or len(set(out)) != len(out):
        raise InputError(f"shots must be distinct and non-empty, got {list(shots)}", field="--shots")
    return sorted(out)


def parse_int_list(text: str, field: str) -> list[int]:
    """``"5,10,20"`` -> ``[5, 10, 20]``; anything else raises :class:`InputError` naming ``field``."""
    try:
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise InputError(f"expected comma-separated integers, got {text!r}", field=field, value=text) from None


def build_tasks(names: str | Sequence[str], *, data_dir: str | os.PathLike | None = None,
                max_rows: int | None = DEFAULT_MAX_ROWS, featurizers: str = "composition", seed: int = 0
                ) -> tuple[list[Task], dict[str, float]]:
    """Build catalogue tasks by name or group (``'meta-test'``); unknown names list the valid ones."""
    from metamat.tasks.catalog import TASKS, build_task, resolve_tasks

    text = names if isinstance(names, str) else ",".join(names)
    try:
        specs = resolve_tasks(text)
    except KeyError:
        known = [t.name for t in TASKS]
        bad = [n.strip() for n in text.split(",") if n.strip() and n.strip() not in known]
        raise InputError(f"unknown task(s) {bad}; use meta-test, meta-val, meta-train, all or names from: "
                         f"{', '.join(known)}", field="--tasks", value=text) from None
    if not specs:
        raise InputError("no task given", field="--tasks", value=text)
    tasks, seconds = [], {}
    for spec in specs:
        start = time.perf_counter()
        tasks.append(build_task(spec, data_dir=data_dir, featurizers=featurizers, max_rows=max_rows, seed=seed))
        seconds[spec.name] = time.perf_counter() - start
    return tasks, seconds


def run_fewshot(tasks: str | Sequence[str] = "meta-test", models: Sequence[str | ModelSpec] = DEFAULT_MODELS, *,
                shots: Sequence[int] = DEFAULT_SHOTS, episodes: int = DEFAULT_EPISODES, seed: int = 0,
                policy: str = "chemical_system", min_systems: int = DEFAULT_MIN_SYSTEMS,
                max_query: int | None = DEFAULT_MAX_QUERY, max_rows: int | None = DEFAULT_MAX_ROWS,
                featurizers: str = "composition", n_jobs: int = 1, rf_trees: int = FEWSHOT_RF_TREES,
                data_dir: str | os.PathLike | None = None, progress: Callable[[int, int], None] | None = None,
                keep_records: bool = False) -> dict[str, Any]:
    """Build catalogue tasks (``'meta-test'`` or names) and run :func:`run_fewshot_tasks` on them."""
    start = time.perf_counter()
    model_specs(models, rf_trees=rf_trees)  # validate names before loading any data
    _check_shots(shots)
    built, build_seconds = build_tasks(tasks, data_dir=data_dir, max_rows=max_rows, featurizers=featurizers,
                                       seed=seed)
    doc = run_fewshot_tasks(built, models, shots=shots, episodes=episodes, seed=seed, policy=policy,
                            min_systems=min_systems, max_query=max_query, n_jobs=n_jobs, rf_trees=rf_trees,
                            progress=progress, keep_records=keep_records,
                            extra_config={"max_rows": max_rows, "featurizers": featurizers,
                                          "task_selection": tasks if isinstance(tasks, str) else ",".join(tasks)})
    doc["timing"]["build_seconds"] = build_seconds
    doc["timing"]["total_seconds"] = time.perf_counter() - start
    return doc


# ----------------------------------------------------------------------------------------------- output
def jsonable(obj: Any) -> Any:
    """Recursively convert numpy scalars/arrays and paths to JSON types; NaN/inf become None."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write JSON atomically (temporary file in the same folder, then ``os.replace``)."""
    path = Path(path)
    with atomic_write(path, "w") as fh:
        json.dump(jsonable(obj), fh, indent=1, allow_nan=False)
        fh.write("\n")
    return path


def write_fewshot(doc: Mapping[str, Any], out_dir: str | os.PathLike,
                  plot_metrics: Sequence[str] = ("smae", "coverage90", "roc_auc")) -> list[Path]:
    """Write ``out_dir/results.json``, ``episodes.csv.gz`` (when the doc has records) and
    ``fewshot_<metric>.png`` for each metric present; returns the paths written."""
    from metamat.evaluate.plots import plot_fewshot

    out = Path(out_dir)
    body = {k: v for k, v in doc.items() if k != "episodes"}
    paths = [write_json(out / "results.json", body)]
    if doc.get("episodes"):
        paths.append(write_episodes(doc["episodes"], out / "episodes.csv.gz"))
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
    with atomic_path(path) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False, float_format="%.6g",
                                  compression="gzip" if path.name.endswith(".gz") else None)
    return path


def format_cell(stat: Mapping[str, Any] | None, digits: int = 3) -> str:
    """``"0.812 [0.790, 0.834]"`` (or ``"-"``)."""
    if not stat or stat.get("mean") is None or not np.isfinite(stat["mean"]):
        return "-"
    lo, hi = stat.get("ci_low"), stat.get("ci_high")
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{stat['mean']:.{digits}f}"
    return f"{stat['mean']:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def table_rows(doc: Mapping[str, Any], metric: str = "smae", task: str | None = None,
               digits: int = 3) -> tuple[list[str], list[list[str]]]:
    """Header and rows (model, one cell per k) of ``metric`` for one task, or of the summary (``task=None``)."""
    shots = [str(k) for k in doc["config"]["shots"]]
    source = doc["summary"] if task is None else doc["results"].get(task, {})
    rows = [[model] + [format_cell(source.get(model, {}).get(k, {}).get(metric), digits) for k in shots]
            for model in doc["config"]["models"] if model in source]
    return ["model"] + [f"k={k}" for k in shots], rows


def markdown_table(doc: Mapping[str, Any], metric: str = "smae", task: str | None = None, digits: int = 3) -> str:
    header, rows = table_rows(doc, metric, task, digits)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)
