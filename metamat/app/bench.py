"""`metamat bench ...`: evaluation commands (few-shot curves, cross-validation, matbench).

Each command parses options, calls one library function of :mod:`metamat.evaluate`, writes its outputs
and prints a short table. Bad input raises :class:`~metamat.errors.InputError` (exit status 2 through
``metamat.cli.main``).
"""

from __future__ import annotations

from pathlib import Path

import typer

from metamat.app.console import ProgressBar, console, err_console, out_dir, print_table

bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks: few-shot curves, cross-validation, matbench.")

DataDirOption = typer.Option(None, "--data-dir", help="Folder of the shared datasets (default: $METAMAT_DATA_DIR).")


# ----------------------------------------------------------------------------------------------- fewshot
@bench_app.command("fewshot")
def fewshot(
    models: str = typer.Option("dummy,median,ridge,knn,gp,rf,rf_median", "--models",
                               help="Comma-separated model names (auto, pretrained, any baseline)."),
    tasks: str = typer.Option("meta-test", "--tasks",
                              help="Task names (comma-separated) or meta-test, meta-val, meta-train, all."),
    shots: str = typer.Option("5,10,20,50", "--shots", help="Support sizes k, comma-separated."),
    episodes: int = typer.Option(100, "--episodes", help="Episodes per task and k."),
    out: Path = typer.Option(..., "--out", help="Output folder for results.json and plots."),
    seed: int = typer.Option(0, "--seed", help="Seed of every episode (results are reproducible)."),
    policy: str = typer.Option("chemical_system", "--policy",
                               help="Episode policy: chemical_system, random, group or element."),
    max_query: int = typer.Option(1000, "--max-query", help="At most this many query materials per episode."),
    max_rows: int = typer.Option(5000, "--max-rows", help="Subsample larger tasks to this many rows."),
    n_jobs: int = typer.Option(2, "--n-jobs", help="Worker processes (one thread each)."),
    rf_trees: int = typer.Option(100, "--rf-trees", help="Trees of the random forest in episodes."),
    features: str = typer.Option("composition", "--features",
                                 help="Composition featurizers or preset (e.g. composition+knowledge: predicted "
                                      "DFT properties, same-quantity surrogates removed per task)."),
    allow_leakage: bool = typer.Option(False, "--allow-leakage", help="Run a pretrained model even on tasks whose "
                                                                      "quantity it was trained on (recorded)."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Few-shot curves: fit every model on k-shot supports, score on held-out chemical systems."""
    from metamat.evaluate.reporting import table_rows, write_benchmark
    from metamat.evaluate.running import parse_int_list, run_benchmark

    out = out_dir(out)
    with ProgressBar("episodes x models") as progress:
        doc = run_benchmark(tasks, [m.strip() for m in models.split(",") if m.strip()],
                            shots=parse_int_list(shots, "--shots"), episodes=episodes, seed=seed, policy=policy,
                          max_query=max_query, max_rows=max_rows, featurizers=features, n_jobs=n_jobs,
                          rf_trees=rf_trees, data_dir=data_dir, progress=progress, keep_records=True,
                          allow_leakage=allow_leakage)
    for task in doc["results"]:
        info = doc["tasks"][task]
        metric, label = ("smae", "scale-free MAE") if info["kind"] == "regression" else ("roc_auc", "ROC-AUC")
        header, rows = table_rows(doc, metric, task)
        print_table(f"{task} (n={info['n']}, {info['transform']}, {info['policy']} episodes): {label}",
                    header, rows)
    for fam, entry in doc.get("families", {}).items():
        if len(entry["tasks"]) > 1:
            header, rows = table_rows(doc, "smae", family=fam)
            print_table(f"family {fam} ({', '.join(entry['tasks'])}): scale-free MAE (bootstrap 95% CI)", header, rows)
    for metric in ("smae", "srmse", "interval_coverage90", "roc_auc"):
        header, rows = table_rows(doc, metric)
        if any(cell != "-" for row in rows for cell in row[1:]):  # skip metrics no task has (e.g. ROC-AUC)
            print_table(f"mean over tasks: {metric} (95% CI over episodes)", header, rows)
    for metric in ("smae", "srmse", "interval_coverage90"):
        header, rows = table_rows(doc, metric, summary="summary_families")
        if any(cell != "-" for row in rows for cell in row[1:]):
            print_table(f"family-weighted mean: {metric} (bootstrap 95% CI over families, tasks, episodes)",
                        header, rows)
    for rec in doc.get("leakage", []):
        if rec.get("override") and rec.get("status") != "clean":
            err_console.print(f"leakage override: {rec['model']} on {rec['task']} ({rec['status']}: {rec['overlap']})")
    if doc["failures"] or doc["skipped"]:
        err_console.print(f"{len(doc['failures'])} model fits failed, {len(doc['skipped'])} episodes skipped "
                          "(listed in results.json)")
    paths = write_benchmark(doc, out)
    err_console.print(f"wrote {', '.join(str(p) for p in paths)} in {doc['timing']['total_seconds']:.0f} s")


# ---------------------------------------------------------------------------------------------------- cv
@bench_app.command("cv")
def cv(
    data: Path = typer.Option(..., "--data", help="Table (CSV, TSV, Excel, parquet) with formulas and the target."),
    target: str = typer.Option(..., "--target", help="Target column."),
    model: str = typer.Option("rf", "--model", help="Model name (rf becomes rf_clf for 0/1 targets)."),
    scheme: str = typer.Option("loo", "--cv", help="loo, kfold or group."),
    group_column: str | None = typer.Option(None, "--group-column",
                                            help="Column of group labels for --cv group (default: chemical system)."),
    formula_column: str | None = typer.Option(None, "--formula-column", help="Formula column (guessed if omitted)."),
    n_splits: int = typer.Option(5, "--n-splits", help="Folds for kfold and group."),
    features: str = typer.Option("composition", "--features",
                                 help="Composition featurizers or preset (e.g. composition+knowledge: predicted "
                                      "DFT properties, same-quantity surrogates removed per task)."),
    transform: str | None = typer.Option(None, "--transform", help="identity or log10 (positive targets)."),
    kind: str = typer.Option("auto", "--kind", help="auto (0/1 targets = classification), regression, classification."),
    seed: int = typer.Option(0, "--seed", help="Seed of the folds and the model."),
    n_jobs: int = typer.Option(1, "--n-jobs", help="Threads of the model (random forest)."),
    out: Path = typer.Option(..., "--out", help="Output folder for results.json, predictions.csv and the plot."),
) -> None:
    """Cross-validate a model on your own small table (leave-one-out, k-fold or group k-fold)."""
    from metamat.evaluate.crossval import cross_validate_file, write_cv
    from metamat.evaluate.reporting import format_cell

    out = out_dir(out)
    with ProgressBar("folds") as progress:
        doc = cross_validate_file(data, target, model, scheme, group_column=group_column,
                                  formula_column=formula_column, n_splits=n_splits, featurizers=features,
                                  transform=transform, kind=kind, seed=seed, n_jobs=n_jobs, progress=progress)
    err_console.print(doc["data"]["report"], highlight=False, markup=False)
    rows = [[k, f"{v:.4g}" if v is not None else "-", format_cell(doc["ci"].get(k) or doc["fold_summary"].get(k), 4)]
            for k, v in doc["metrics"].items() if k != "n"]
    cfg = doc["config"]
    print_table(f"{cfg['model']} on {data.name}:{target}, {cfg['cv']} ({cfg['n_folds']} folds, "
                f"{doc['data']['n']} rows, units {doc['data']['units'] or '-'})",
                 ["metric", "pooled", "mean [95% CI]"], rows)
    paths = write_cv(doc, out)
    err_console.print(f"wrote {', '.join(str(p) for p in paths)}")


# ---------------------------------------------------------------------------------------------- matbench
@bench_app.command("matbench")
def matbench(
    task: str = typer.Option("matbench_steels", "--task", help="Matbench v0.1 task, e.g. matbench_steels."),
    model: str = typer.Option("rf", "--model", help="Model name (default: the RF-SCM/Magpie random forest)."),
    features: str = typer.Option("magpie", "--features", help="Composition featurizers (magpie = the RF baseline)."),
    n_estimators: int = typer.Option(500, "--n-estimators", help="Trees of the random forest."),
    n_jobs: int = typer.Option(2, "--n-jobs", help="Threads of the model."),
    allow_leakage: bool = typer.Option(False, "--allow-leakage", help="Run a pretrained model even if it was "
                                                                      "trained on this task's quantity (recorded)."),
    folds: str | None = typer.Option(None, "--folds", help="Run only these folds, e.g. 0,1 (default: all 5)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the model."),
    out: Path | None = typer.Option(None, "--out", help="Output folder for results.json and the plot."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Official matbench v0.1 folds of one task, side by side with the published leaderboard."""
    from metamat.evaluate.matbench_runner import run_matbench, write_matbench
    from metamat.evaluate.running import parse_int_list

    if out is not None:
        out = out_dir(out)
    with ProgressBar("folds") as progress:
        doc = run_matbench(task, model, featurizers=features, n_estimators=n_estimators, n_jobs=n_jobs, seed=seed,
                           data_dir=data_dir, folds=None if folds is None else parse_int_list(folds, "--folds"),
                           progress=progress, allow_leakage=allow_leakage)
    metric, unit = doc["metric"], doc["units"]
    cols = ["fold", "n_train", "n_test", metric] + (["rmse", "max_error"] if metric == "mae" else [])
    print_table(f"{doc['task']}: {doc['model']} on {doc['config']['featurizers']} features ({unit or 'no unit'})",
                cols, [[str(f[c]) if isinstance(f[c], int) else f"{f[c]:.4f}" for c in cols] for f in doc["folds"]])
    console.print(f"mean {metric} = {doc[f'mean_{metric}']:.4f} ± {doc[f'std_{metric}']:.4f} (std over folds)")
    if doc.get("reference"):
        ref = doc["reference"]
        console.print(f"{ref['algorithm']} on the leaderboard: {ref['mean_mae']:.4f} "
                      f"(this run {ref['rel_diff']:+.1%})")
    entries = (doc.get("leaderboard") or {}).get("entries", [])
    if entries:
        print_table(f"published leaderboard ({doc['leaderboard']['source']})", ["algorithm", "mean MAE", "std MAE"],
                    [[e["algorithm"] + (" (structure)" if e["uses_structure"] else ""), f"{e['mean_mae']:.4f}",
                       f"{e['std_mae']:.4f}"] for e in entries])
    for note in doc.get("notes", []):
        err_console.print(f"note: {note}", highlight=False, markup=False)
    if out is not None:
        paths = write_matbench(doc, out)
        err_console.print(f"wrote {', '.join(str(p) for p in paths)}")


# ------------------------------------------------------------------------------------------- campaign
@bench_app.command("campaign")
def campaign(
    out: Path = typer.Option(..., "--out", help="Output folder for campaign.json and one PNG per task."),
    seeds: int = typer.Option(10, "--seeds", help="Seeds per (task, strategy, batch); the full run uses 30."),
    budget: int = typer.Option(40, "--budget", help="Experiments per campaign (initial random ones included)."),
    n_init: int = typer.Option(3, "--n-init", help="Random materials measured first."),
    batches: str = typer.Option("1,5", "--batches", help="Batch sizes, comma-separated."),
    strategies: str = typer.Option("random,rf_ucb,rf_ei,gp_ei,meta_ei,greedy", "--strategies",
                                    help="Comma-separated strategies to compare."),
    max_pool: int = typer.Option(1000, "--max-pool", help="Subsample each task's pool to this many materials."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Closed-loop campaigns on registry tasks: experiments until a top-1%/5% material, acceleration factors."""
    from metamat.app.bench_campaign import bench_campaign

    bench_campaign(out_dir(out), seeds=seeds, budget=budget, n_init=n_init, batches=batches,
                   strategies=strategies, max_pool=max_pool, data_dir=data_dir)
