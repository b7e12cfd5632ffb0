"""Running the few-shot benchmark: many support/query episodes per task and shot count, every model on
the same episodes.

For each task, each k in ``shots`` and each episode index ``i`` one episode is drawn with
:func:`~metamat.tasks.splits.sample_episode` from the generator ``np.random.default_rng([seed,
crc32(task name), k, i])``. The episode depends only on the seed, the task's name and rows, k and i: every
model sees the same support and query, and adding or removing tasks or models changes nothing for the
others. A model is fitted on ``episode.y_support_fit`` (transformed, standardized with support statistics
only) and its predictions are mapped back with the support scaler; query targets are read only when
scoring. All fits run with one BLAS/OpenMP thread, so results are identical for any ``n_jobs``.

Since issue 13 (the "honest yardstick"): the default model set holds the median variants (``median``,
``rf_median``); ``srmse`` (RMSE / the task's std, in model space) sits beside ``smae``;
``interval_coverage90`` is the coverage of each model's own ``predict_interval`` (conformal where the model
has one) beside the Gaussian ``coverage90``; ``summary_families`` and ``families`` count correlated tasks
(one quantity group, e.g. the four Ricci transport targets) as one family, with bootstrap CIs over
families, tasks and episodes (:mod:`metamat.evaluate.uncertainty`); ``leakage`` records the check of every
pretrained model against every task's quantity (an overlap is refused unless ``allow_leakage``). Episode
drawing is unchanged, so earlier numbers reproduce.

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
      "summary_families": {model: {k: {metric: {"mean", "ci_low", "ci_high", "n_families", "n_tasks"}}}},
      "families": {family: {"tasks": [...], "results": {model: {k: {metric: {"mean", "ci_low", "ci_high"}}}}}},
      "families_method": {"method", "level", "n_boot", "family_of": {task: family}},
      "leakage": [{"model", "task", "task_quantities", "overlap", "status", "override", ...}],
      "choices": {model: {task: {k: {candidate: episodes}}}} (models that choose per support: auto),
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

import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from metamat.errors import InputError
from metamat.evaluate.episodes import (
    DEFAULT_MAX_QUERY,
    DEFAULT_MIN_SYSTEMS,
    check_shots,
    effective_policy,
    make_episode,
    model_seed,
    task_key,
)
from metamat.evaluate.model_specs import FEWSHOT_RF_TREES, ModelSpec, model_specs, resolve_model_name
from metamat.evaluate.reporting import versions
from metamat.evaluate.scoring import aggregate, score_model, summarize, task_mad_model
from metamat.tasks.splits import POLICIES
from metamat.tasks.task import Task
from metamat.threads import limit_threads

SCHEMA_VERSION = 1
#: The baseline set (issue 13, section 0): mean- and median-predicting floors and forests, and every learner a
#: practitioner would try on a few rows. Scores are MAEs, so the median variants are the fair floors.
DEFAULT_MODELS: tuple[str, ...] = ("dummy", "median", "ridge", "knn", "gp", "rf", "rf_median")
DEFAULT_SHOTS: tuple[int, ...] = (5, 10, 20, 50)
DEFAULT_EPISODES = 100
DEFAULT_MAX_ROWS = 5000


def run_chunk(task: Task, k: int, episodes: Sequence[int], specs: Sequence[ModelSpec], *, seed: int,
              policy: str, max_query: int | None) -> list[dict[str, Any]]:
    """Evaluate every model on episodes ``episodes`` of (task, k); one record per (episode, model).

    Runs with one BLAS/OpenMP thread (so the numbers do not depend on the worker count). A failing model
    fit gives a record with ``error`` instead of metrics; an episode that cannot be drawn gives one
    record with ``skipped``.
    """
    key = task_key(task)
    records: list[dict[str, Any]] = []
    with limit_threads(1):
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
                    model = spec.build(task.kind, mseed)
                    if "exclude_quantities" in getattr(model, "get_params", dict)():
                        # a model with a pretrained part (auto) drops it when it saw this task's quantity
                        model.set_params(exclude_quantities=(task.quantity,))
                    metrics = score_model(model, episode)
                    rec = {**base, "model": spec.name, "metrics": metrics}
                    if hasattr(model, "choice_"):  # auto: which candidate it used on this support
                        rec["chosen"] = model.choice_["chosen"]
                except Exception as exc:  # a model failing on one episode is recorded, not fatal
                    rec = {**base, "model": spec.name, "error": f"{type(exc).__name__}: {exc}"}
                rec["seconds"] = time.perf_counter() - start
                rec["cpu_seconds"] = time.process_time() - cpu
                records.append(rec)
    return records


def task_info(task: Task, policy: str) -> dict[str, Any]:
    return {"n": len(task), "kind": task.kind, "units": task.units, "quantity": task.quantity,
            "transform": task.transform.kind, "mad": task.mad, "mad_model": task_mad_model(task),
            "n_chemical_systems": int(len(np.unique(task.system_codes))), "policy": policy}


def run_episodes(tasks: Sequence[Task], models: Sequence[str | ModelSpec] = DEFAULT_MODELS, *,
                      shots: Sequence[int] = DEFAULT_SHOTS, episodes: int = DEFAULT_EPISODES, seed: int = 0,
                      policy: str = "chemical_system", min_systems: int = DEFAULT_MIN_SYSTEMS,
                      max_query: int | None = DEFAULT_MAX_QUERY, n_jobs: int = 1, chunk_size: int = 10,
                      rf_trees: int = FEWSHOT_RF_TREES, progress: Callable[[int, int], None] | None = None,
                      extra_config: Mapping[str, Any] | None = None, keep_records: bool = False,
                      allow_leakage: bool = False) -> dict[str, Any]:
    """Evaluate ``models`` on episodes of already built ``tasks``; returns the results document.

    ``progress(done, total)`` is called as model fits complete (counted in episode x model units).
    ``n_jobs > 1`` runs chunks of ``chunk_size`` episodes in that many processes (joblib/loky); the
    numbers are identical for every ``n_jobs``. With ``keep_records`` the per-episode records are kept
    under ``"episodes"`` (not written to results.json by :func:`~metamat.evaluate.reporting.write_benchmark`).
    """
    start = time.perf_counter()
    specs = model_specs(models, rf_trees=rf_trees)
    shots = check_shots(shots)
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
    leakage = check_pretrained_leakage(specs, tasks, allow=allow_leakage)
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
           **_families(records, tasks), "leakage": leakage, "choices": _choices(records),
           "skipped": [{"task": r["task"], "k": r["k"], "episode": r["episode"], "reason": r["skipped"]}
                       for r in records if "skipped" in r],
           "failures": [{key: r[key] for key in ("task", "model", "k", "episode", "error")}
                        for r in records if "error" in r],
           "timing": {"total_seconds": time.perf_counter() - start, "fit_predict_seconds": fit_seconds,
                      "fit_predict_cpu_seconds": fit_cpu}}
    if keep_records:
        doc["episodes"] = records
    return doc


def _choices(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``{model: {task: {k: {chosen candidate: episodes}}}}`` for models that choose per support (``auto``)."""
    out: dict[str, Any] = {}
    for r in records:
        if "chosen" in r:
            cell = out.setdefault(r["model"], {}).setdefault(r["task"], {}).setdefault(str(r["k"]), {})
            cell[r["chosen"]] = cell.get(r["chosen"], 0) + 1
    return out


def _families(records: Sequence[Mapping[str, Any]], tasks: Sequence[Task]) -> dict[str, Any]:
    """``summary_families`` (family-weighted means, bootstrap CIs) and ``families`` (per-family table)."""
    from metamat.evaluate.uncertainty import family_summary

    fam = family_summary(records, {t.name: t.quantity or t.name for t in tasks},
                         metrics=("smae", "srmse", "coverage90", "interval_coverage90"))
    return {"summary_families": fam["summary"], "families": fam["families"],
            "families_method": {"method": fam["method"], "level": fam["level"], "n_boot": fam["n_boot"],
                                "family_of": {t.name: t.quantity or t.name for t in tasks}}}


def check_pretrained_leakage(specs: Sequence[ModelSpec], tasks: Sequence[Task], *, allow: bool = False
                             ) -> list[dict[str, Any]]:
    """Leakage records of every pretrained model spec on every task (see :mod:`metamat.models.leakage`);
    raises :class:`~metamat.models.leakage.LeakageError` on an overlap unless ``allow``. ``auto`` drops its
    meta-learner per task instead (recorded in its ``choice_``), so it is listed with ``handled_by``."""
    from metamat.models.leakage import check_leakage
    from metamat.models.registry import MetaModelFactory, training_info

    out = []
    for s in specs:
        if isinstance(s.factory, MetaModelFactory):
            info = training_info(s.factory.spec)
            out += [check_leakage(info, t.name, [t.quantity], model=s.name, allow=allow) for t in tasks
                    if t.kind == "regression" or s.factory.classifier is not None]
        elif s.name == "auto":
            out.append({"model": "auto", "handled_by": "auto drops its meta-learner on tasks whose quantity it "
                                                       "saw (exclude_quantities = the task's quantity)"})
    return out


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


def run_benchmark(tasks: str | Sequence[str] = "meta-test", models: Sequence[str | ModelSpec] = DEFAULT_MODELS, *,
                shots: Sequence[int] = DEFAULT_SHOTS, episodes: int = DEFAULT_EPISODES, seed: int = 0,
                policy: str = "chemical_system", min_systems: int = DEFAULT_MIN_SYSTEMS,
                max_query: int | None = DEFAULT_MAX_QUERY, max_rows: int | None = DEFAULT_MAX_ROWS,
                featurizers: str = "composition", n_jobs: int = 1, rf_trees: int = FEWSHOT_RF_TREES,
                data_dir: str | os.PathLike | None = None, progress: Callable[[int, int], None] | None = None,
                keep_records: bool = False, allow_leakage: bool = False) -> dict[str, Any]:
    """Build catalogue tasks (``'meta-test'`` or names) and run :func:`run_episodes` on them."""
    start = time.perf_counter()
    model_specs(models, rf_trees=rf_trees)  # validate names before loading any data
    check_shots(shots)
    built, build_seconds = build_tasks(tasks, data_dir=data_dir, max_rows=max_rows, featurizers=featurizers,
                                       seed=seed)
    doc = run_episodes(built, models, shots=shots, episodes=episodes, seed=seed, policy=policy,
                            min_systems=min_systems, max_query=max_query, n_jobs=n_jobs, rf_trees=rf_trees,
                            progress=progress, keep_records=keep_records, allow_leakage=allow_leakage,
                            extra_config={"max_rows": max_rows, "featurizers": featurizers,
                                          "task_selection": tasks if isinstance(tasks, str) else ",".join(tasks)})
    doc["timing"]["build_seconds"] = build_seconds
    doc["timing"]["total_seconds"] = time.perf_counter() - start
    doc["config"]["removed_features"] = {t.name: list(t.removed_features) for t in built if t.removed_features}
    return doc
