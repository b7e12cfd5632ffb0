"""`metamat demo`: what exists so far, end to end on built-in data (no network, no shared data needed).

Load the Ricci transport table (shipped in the matminer wheel), validate it, featurize it, split it by
chemical system and fit baselines, then print a small table.
"""

from __future__ import annotations

import time

import numpy as np
from rich.console import Console
from rich.table import Table


def run_demo(n: int = 4000, target: str = "S_p", seed: int = 0, console: Console | None = None) -> dict:
    """Run the demo and return its numbers (also printed)."""
    from metamat.data.registry import load_dataset
    from metamat.errors import InputError
    from metamat.evaluate.metrics import regression_metrics
    from metamat.models.registry import make_model, run_options
    from metamat.tasks.splits import ChemicalSystemSplit, first_split
    from metamat.tasks.task import TargetTransform

    console = console or Console()
    t0 = time.perf_counter()
    table = load_dataset("ricci_transport")
    console.rule("[bold]1. load and validate[/]")
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

    console.rule("[bold]2. featurize[/]")
    t = time.perf_counter()
    fm = table.featurize("composition")
    seconds = time.perf_counter() - t
    transform = TargetTransform(spec.transform)
    X, y = fm.values[rows], transform.forward(y_all[rows])
    console.print(f"{len(table)} compositions -> {fm.values.shape[1]} features in {seconds:.2f} s "
                  f"({len(table) / seconds:,.0f}/s)")

    console.rule("[bold]3. baselines, split by chemical system (no system on both sides)[/]")
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
