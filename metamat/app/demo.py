"""`metamat demo`: what exists so far, end to end on built-in data (no network, no shared data needed).

Load the Ricci transport table (shipped in the matminer wheel), validate it, featurize it, split it by
chemical system and fit baselines, then print a small table (:func:`run_demo`); then a few-shot run of the
default model (``auto``) on k measured materials beside the meta-learner and the baselines
(:func:`run_fewshot_demo`).
"""

from __future__ import annotations

import time
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from metamat.app.console import console as default_console
from metamat.app.console import section


def run_demo(n: int = 4000, target: str = "S_p", seed: int = 0, console: Console | None = None) -> dict:
    """Run the demo and return its numbers (also printed)."""
    import numpy as np

    from metamat.data.registry import load_dataset
    from metamat.errors import InputError
    from metamat.evaluate.metrics import regression_metrics
    from metamat.featurize.pipeline import featurize_table
    from metamat.models.registry import make_model, run_options
    from metamat.tasks.splits import ChemicalSystemSplit, first_split
    from metamat.tasks.task import TargetTransform

    console = console or default_console
    t0 = time.perf_counter()
    table = load_dataset("ricci_transport")
    section("[bold]1. load and validate[/]", console)
    console.print(table.report.summary(), highlight=False)
    if target not in table.targets:
        raise InputError(f"unknown target {target!r}; choose from {sorted(table.targets)}", field="--target")
    spec = table.targets[target]
    y_all = table.target(target)
    usable = np.flatnonzero(np.isfinite(y_all))
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(usable, size=min(n, len(usable)), replace=False))
    console.print(f"target {target} ({spec.unit or 'no unit'}, {spec.quantity or spec.description}): "
                  f"{len(usable)} usable values, sampled {len(rows)} materials (seed {seed})")

    section("[bold]2. featurize[/]", console)
    t = time.perf_counter()
    fm = featurize_table(table, "composition")
    seconds = time.perf_counter() - t
    transform = TargetTransform(spec.transform)
    X, y = fm.values[rows], transform.forward(y_all[rows])
    console.print(f"{len(table)} compositions -> {fm.values.shape[1]} features in {seconds:.2f} s "
                  f"({len(table) / seconds:,.0f}/s)")

    section("[bold]3. baselines, split by chemical system (no system on both sides)[/]", console)
    train, test = first_split(ChemicalSystemSplit(n_splits=5), X, groups=table.formulas[rows], seed=seed)
    results = {}
    out = Table(title=f"{target}: test set of {len(test)} materials in unseen chemical systems")
    for column in ("model", "MAE", "RMSE", "R2", "90% coverage", "fit s"):
        out.add_column(column, justify="right")
    for name in ("dummy", "ridge", "knn", "rf"):
        model = make_model(name, seed=seed, **run_options(name, n_threads=2, n_estimators=100))
        t = time.perf_counter()
        model.fit(X[train], y[train])
        mean, std = model.predict(X[test], return_std=True)
        fit_seconds = time.perf_counter() - t
        metrics = regression_metrics(transform.inverse(y[test]), transform.inverse(mean),
                                     transform.inverse_std(mean, std))
        results[name] = {**metrics, "seconds": fit_seconds}
        coverage = metrics.get("coverage90", float("nan"))
        out.add_row(name, f"{metrics['mae']:.4g}", f"{metrics['rmse']:.4g}", f"{metrics['r2']:.3f}",
                    "-" if np.isnan(coverage) else f"{coverage:.0%}", f"{fit_seconds:.1f}")
    console.print(out)
    console.print(f"units: {spec.unit or '-'}; total {time.perf_counter() - t0:.0f} s")
    return results


def run_fewshot_demo(target: str = "S_p", k: int = 20, seed: int = 0, n_query: int | None = 5000,
                     console: Console | None = None) -> dict[str, Any]:
    """Few-shot on built-in data: ``k`` measured materials of one Ricci transport target as the support
    (drawn so that no query material shares a chemical system with them), predict the rest with the default
    of ``metamat fewshot`` (``auto``), and compare MAE and 90% coverage with the shipped meta-learner alone
    and the baselines a practitioner would fit to the same rows (random forest, tree-median forest, support
    median). No data directory needed."""
    import numpy as np

    from metamat.data.registry import load_dataset
    from metamat.fewshot import load_fewshot_model
    from metamat.models.registry import display_name, make_model, registry_name
    from metamat.tasks.splits import sample_episode
    from metamat.tasks.task import Task

    console = console or default_console
    t0 = time.perf_counter()
    table = load_dataset("ricci_transport").for_target(target)
    spec = table.targets[target]
    log = spec.transform == "log10"
    task = Task.from_formulas(f"ricci_transport:{target}", table.formulas, table.target(target),
                              units=spec.unit, transform=spec.transform)
    ep = sample_episode(task, k, n_query=n_query, policy="chemical_system", rng=seed)
    console.print(f"[bold]few-shot demo[/]: {target} ({spec.unit}; a quantity no training task measures), "
                  f"{k} support materials, {len(ep.query)} query materials in other chemical systems")
    zt = task.transform.forward
    yq = zt(ep.y_query)
    # (label, model, fitted in target units and back-transformed by itself?) -- the baselines are fitted in
    # model space (log10 for conductivities), as `bench fewshot` does
    auto = load_fewshot_model("auto", log_target=log)
    meta = load_fewshot_model("default", log_target=log)
    entries = [("auto", auto, True), ("meta", meta, True)]
    entries += [(name, make_model(name, seed=seed), False) for name in ("rf", "rf_median", "median")]
    res: dict[str, Any] = {"target": target, "k": k, "n_query": len(yq), "seed": seed}
    for key, model, own_transform in entries:
        t = time.perf_counter()
        model.fit(ep.X_support, ep.y_support if own_transform else zt(ep.y_support))
        mean, _, lo, hi = model.predict_dist(ep.X_query)
        if own_transform:
            mean, lo, hi = zt(mean), zt(lo), zt(hi)
        res[key] = {"model": registry_name(model), "mae_model_space": float(np.mean(np.abs(yq - mean))),
                    "coverage90": float(np.mean((yq >= lo) & (yq <= hi))), "seconds": time.perf_counter() - t}
    res["auto"]["chosen"] = auto.choice_["chosen"]
    res["auto"]["why"] = auto.choice_["why"]
    dummy_mae = float(np.mean(np.abs(yq - zt(ep.y_support).mean())))
    res["support_mean_mae_model_space"] = dummy_mae
    tab = Table(title=f"{target}: k={k} support, {len(yq)} unseen-chemistry queries"
                       + (" (errors in log10 units)" if log else ""))
    for c in ("model", "MAE", "MAE / mean", "90% cover", "s"):
        tab.add_column(c)
    labels = {"auto": f"auto (default) -> {res['auto']['chosen']}",
              "meta": f"{display_name(res['meta']['model'])} alone",
              "rf": "random forest", "rf_median": "tree-median forest", "median": "support median"}
    for key, label in labels.items():
        r = res[key]
        tab.add_row(label, f"{r['mae_model_space']:.4g}", f"{r['mae_model_space'] / dummy_mae:.2f}",
                    f"{r['coverage90']:.0%}", f"{r['seconds']:.2f}")
    console.print(tab)
    console.print(f"auto: {res['auto']['why']}")
    res["seconds"] = time.perf_counter() - t0
    console.print(f"total {res['seconds']:.1f} s")
    return res


def demo(n: int = typer.Option(4000, help="Materials to sample from the built-in table."),
         target: str = typer.Option("S_p", help="Target column of the Ricci transport table."),
         seed: int = typer.Option(0, help="Random seed.")) -> None:
    """The main job on built-in data: validate, featurize, baselines, then a few-shot run of `auto`."""
    run_demo(n=n, target=target, seed=seed)
    section("[bold]4. few-shot: 20 measured materials, the rest predicted by the default model (auto)[/]",
            default_console)
    run_fewshot_demo(target=target, k=20, seed=seed)
