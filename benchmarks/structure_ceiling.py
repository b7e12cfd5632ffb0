"""From how many training materials do structure descriptors pay? Learning curves on the 2D tasks.

    METAMAT_DATA_DIR=/work/shared/data PYTHONPATH=. python benchmarks/structure_ceiling.py [--subsets 5,5,5,5,3,3]

For each 2D task of the structure few-shot benchmark (2DMatPedia band gap, decomposition and exfoliation
energy; JARVIS-DFT 2D exfoliation energy): 5-fold cross-validation grouped by chemical system
(:class:`~metamat.tasks.splits.ChemicalSystemSplit`, so every held-out material is in a chemical system
absent from training, as the few-shot queries are). In each fold, seeded random subsets of n training
materials (n = 10, 20, 50, 100, 200, 500 and all of the fold's training rows; ``--subsets`` per n; sizes at or
above the fold's training rows are skipped) fit the same learners on

(a) composition features (148, what the composition-only ``auto`` reads) and
(b) composition + physics + ionic descriptors (``featurize_structures(names=("physics", "ionic"))``, the
    structure candidates of the structure ``auto``),

on identical subsets, scored on the whole held-out fold. Learners: ``rf_median`` and ``rf`` (one seeded forest
of ``--trees`` trees, as inside ``auto``, read with the median and the mean over trees: the two registry
models fitted with the same seed grow identical trees), ``knn`` and ``gp`` (``gp`` up to ``--gp-max`` rows).
Metric: scale-free MAE, MAE / MAD of the whole task (as ``structure_fewshot.py``: ``regression_scores``).

Reported: per task, inputs, learner and n the mean scale-free MAE with a 95% bootstrap CI over the (fold,
subset) units; the paired relative structure gain ``1 - smae(b) / smae(a)`` per unit, its mean and 95%
bootstrap CI (mean over tasks: units resampled within each task); the same for the best learner on (b) vs
the best on (a) (chosen by mean, a mild optimistic selection for both sides); the smallest n whose mean gain
reaches 10% (``pays_10pct``: point estimate, and with the CI's lower end above 10%); and the within-formula
variance share of each task (``structure_fewshot.within_composition_share``): what structure could add for a
model that knew every composition's mean. It is no bound for queries in unseen chemical systems: jdft2d has
no within-formula variance and the largest structure gain (descriptors also carry chemistry across systems).

Writes benchmarks/results/structure_ceiling/{results.json,summary.md,units.csv.gz,structure_ceiling.png}. The
default (3 subsets for n <= 100, 2 for 200, 1 for 500 and all; 100 trees; GP up to 20 rows) took 694 s on the
shared 2 cores; the fuller run is ``--subsets 5,5,5,5,3,3,1`` (``--gp-max 200`` adds GPs up to 200 rows, about
3-13 s per fit here). ``--from-units`` re-summarizes a folder's units.csv.gz without fitting.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "structure_ceiling"
COMP_DIM = 148  # composition features in front of the descriptors
INPUTS = ("comp", "comp+phys")
TARGET_GAIN = 0.10  # the target: 10% lower scale-free MAE than composition-only


def parse_sizes(text: str) -> list[int | None]:
    """``"10,20,all"`` -> ``[10, 20, None]`` (``None``: every training row of the fold)."""
    return [None if s == "all" else int(s) for s in text.split(",") if s]


def label(n: int | None) -> str:
    return "all" if n is None else str(n)


def load_tasks(names: list[str], max_rows: int | None, seed: int) -> dict:
    """Per task: (composition task, composition + physics/ionic task, rows), identical rows."""
    from metamat.tasks.structure_tasks import build_structure_task, get_structure_task_spec, load_structure_rows

    out = {}
    for name in names:
        t0 = time.perf_counter()
        rows = load_structure_rows(get_structure_task_spec(name), max_rows=max_rows, seed=seed)
        phys = build_structure_task(rows, "physics")
        comp = build_structure_task(rows, "composition")
        assert comp.X.shape[1] == COMP_DIM and np.array_equal(phys.X[:, :COMP_DIM], comp.X), "column layout changed"
        out[name] = (comp, phys, rows)
        print(f"{name}: {len(rows.y)} rows, {phys.X.shape[1] - COMP_DIM} descriptors "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return out


def score_learners(task, support: np.ndarray, query: np.ndarray, models: list[str], trees: int, gp_max: int,
                   seed: int) -> dict[str, float]:
    """Scale-free MAE on ``query`` of each learner fitted on ``support``."""
    from metamat.evaluate.scoring import predict_model_space, regression_scores
    from metamat.models.baselines import RFRegressor, make_model
    from metamat.tasks.task import Episode

    ep = Episode(task, support, query)
    out: dict[str, float] = {}
    if {"rf", "rf_median"} & set(models):
        forest = make_model("rf_median", seed=seed, n_estimators=trees, n_jobs=1)
        z_median, _ = predict_model_space(forest, ep)
        mean_view = copy.copy(forest)  # the same fitted trees, centre = mean over trees (= registry "rf")
        mean_view.__class__ = RFRegressor
        z_mean = ep.scaler.inverse(np.asarray(mean_view.predict(ep.X_query), float))
        for name, z in (("rf_median", z_median), ("rf", z_mean)):
            if name in models:
                out[name] = regression_scores(task, query, z)["smae"]
    for name in models:
        if name in out or name in ("rf", "rf_median") or (name == "gp" and len(support) > gp_max):
            continue
        z, _ = predict_model_space(make_model(name, seed=seed), ep)
        out[name] = regression_scores(task, query, z)["smae"]
    return out


def run_task(index: int, comp, phys, sizes, subsets, models, trees, gp_max, folds, seed) -> list[dict]:
    from metamat.tasks.splits import ChemicalSystemSplit

    records = []
    t0 = time.perf_counter()
    for fold, (train, test) in enumerate(ChemicalSystemSplit(folds).split(phys, seed=seed)):
        print(f"  {phys.name} fold {fold + 1}/{folds}: {len(train)} train, {len(test)} test "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
        for n, reps in zip(sizes, subsets, strict=True):
            if n is not None and n >= len(train):
                continue
            rng = np.random.default_rng([seed, index, fold, len(train) if n is None else n])
            for rep in range(1 if n is None else reps):
                support = train if n is None else np.sort(rng.choice(train, n, replace=False))
                for inputs, task in zip(INPUTS, (comp, phys), strict=True):
                    smae = score_learners(task, support, test, models, trees, gp_max, seed + rep)
                    records += [{"task": phys.name, "fold": fold, "n": label(n), "n_train": len(support),
                                 "subset": rep, "inputs": inputs, "model": m, "smae": v} for m, v in smae.items()]
    return records


def boot_mean(values: np.ndarray, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    return values[rng.integers(0, len(values), (n_boot, len(values)))].mean(axis=1)


def ci(point: float, draws: np.ndarray, **extra) -> dict:
    return {"mean": float(point), "ci_low": float(np.percentile(draws, 2.5)),
            "ci_high": float(np.percentile(draws, 97.5)), **extra}


def _over_tasks(cells: dict, draws: dict, tasks: list[str], n: str, **extra) -> dict | None:
    """Mean over the tasks that have size ``n`` (bootstrap draws averaged task by task), or ``None``."""
    have = [t for t in tasks if (t, n) in draws]
    if not have:
        return None
    return ci(np.mean([cells[t][n]["mean"] for t in have]), np.mean([draws[t, n] for t in have], axis=0),
              tasks=len(have), **extra)


def summarize(df: pd.DataFrame, sizes: list[str], n_boot: int, seed: int) -> dict:
    """Curves, paired gains (per learner and best vs best), means over tasks, and the 10% thresholds.

    Every table is keyed task -> (inputs ->) learner -> n in the order of ``sizes``; the mean over tasks at a
    size uses the tasks that have it (``tasks``: how many; n = 500 is above the jdft2d training folds)."""
    rng = np.random.default_rng(seed)
    piv = df.pivot_table(index=["task", "n", "fold", "subset", "model"], columns="inputs", values="smae")
    piv = piv.dropna().reset_index()
    piv["gain"] = 1.0 - piv["comp+phys"] / piv["comp"]
    tasks = list(dict.fromkeys(df["task"]))
    models = list(dict.fromkeys(df["model"]))
    mean = "mean over tasks"
    curves = {t: {i: {m: {} for m in models} for i in INPUTS} for t in [*tasks, mean]}
    gains = {t: {m: {} for m in models} for t in [*tasks, mean]}
    best: dict = {t: {} for t in [*tasks, mean]}
    groups = {key: g for key, g in piv.groupby(["task", "n"])}
    n_train = df.groupby(["task", "n"])["n_train"].median()
    for model in models:
        curve_draws: dict = {i: {} for i in INPUTS}
        gain_draws: dict = {}
        for task in tasks:
            for n in sizes:
                if (task, n) not in groups:
                    continue
                g = groups[task, n]
                g = g[g.model == model]
                if g.empty:
                    continue
                extra = {"n_units": len(g), "n_train": int(n_train[task, n])}
                for inputs in INPUTS:
                    v = g[inputs].to_numpy()
                    curve_draws[inputs][task, n] = d = boot_mean(v, rng, n_boot)
                    curves[task][inputs][model][n] = ci(v.mean(), d, **extra)
                v = g["gain"].to_numpy()
                gain_draws[task, n] = d = boot_mean(v, rng, n_boot)
                gains[task][model][n] = ci(v.mean(), d, **extra)
        for n in sizes:
            if (cell := _over_tasks({t: gains[t][model] for t in tasks}, gain_draws, tasks, n)) is not None:
                gains[mean][model][n] = cell
            for inputs in INPUTS:
                cell = _over_tasks({t: curves[t][inputs][model] for t in tasks}, curve_draws[inputs], tasks, n)
                if cell is not None:
                    curves[mean][inputs][model][n] = cell
    # the best learner on (b) vs the best on (a) (chosen by their mean), paired per (fold, subset) unit
    best_draws: dict = {}
    for task in tasks:
        for n in sizes:
            if (task, n) not in groups:
                continue
            g = groups[task, n]
            means = g.groupby("model")[list(INPUTS)].mean()
            a, b = means["comp"].idxmin(), means["comp+phys"].idxmin()
            units = g.pivot_table(index=["fold", "subset"], columns="model", values=list(INPUTS)).dropna()
            v = (1.0 - units["comp+phys"][b] / units["comp"][a]).to_numpy()
            best_draws[task, n] = d = boot_mean(v, rng, n_boot)
            best[task][n] = ci(v.mean(), d, comp_model=a, struct_model=b, comp_smae=float(means["comp"][a]),
                               struct_smae=float(means["comp+phys"][b]), n_units=len(v))
    for n in sizes:
        cell = _over_tasks(best, best_draws, tasks, n)
        if cell is not None:
            have = [t for t in tasks if n in best[t]]
            best[mean][n] = {**cell, "comp_smae": float(np.mean([best[t][n]["comp_smae"] for t in have])),
                             "struct_smae": float(np.mean([best[t][n]["struct_smae"] for t in have]))}
    pays: dict = {}
    for task in gains:
        pays[task] = {}
        for model, cells in [*gains[task].items(), ("best vs best", best[task])]:
            ordered = [n for n in sizes if n in cells]
            point = next((n for n in ordered if cells[n]["mean"] >= TARGET_GAIN), None)
            sure = next((n for n in ordered if cells[n]["ci_low"] >= TARGET_GAIN), None)
            pays[task][model] = {"mean_gain_reaches_10pct_at_n": point, "ci_low_reaches_10pct_at_n": sure}
    return {"curves": curves, "gain": gains, "best_vs_best": best, "pays_10pct": pays}


def plot(summary: dict, sizes: list[str], n_all: dict, path: Path) -> None:
    from metamat.evaluate.plots import _pyplot, save_figure

    plt = _pyplot()
    panels = list(summary["curves"])
    fig, axes = plt.subplots(2, len(panels), figsize=(3.6 * len(panels), 6.8), sharex=True)
    colours = dict(zip(["rf_median", "rf", "knn", "gp"], ["C0", "C1", "C2", "C3"], strict=True))

    def xpos(task: str, n: str) -> float:
        return float(n_all.get(task, np.median(list(n_all.values()))) if n == "all" else n)

    for j, task in enumerate(panels):
        top, bottom = axes[0, j], axes[1, j]
        for inputs, style in zip(INPUTS, ("--", "-"), strict=True):
            for model, cells in summary["curves"][task][inputs].items():
                ns = [n for n in sizes if n in cells]
                top.plot([xpos(task, n) for n in ns], [cells[n]["mean"] for n in ns], style, marker="o", ms=3,
                         color=colours.get(model, "k"), label=f"{model} [{inputs}]")
        for model, cells in [*summary["gain"][task].items(), ("best vs best", summary["best_vs_best"][task])]:
            ns = [n for n in sizes if n in cells]
            x = [xpos(task, n) for n in ns]
            c = colours.get(model, "k")
            bottom.plot(x, [100 * cells[n]["mean"] for n in ns], "-o", ms=3, color=c, label=model,
                        lw=2.2 if model == "best vs best" else 1.2)
            bottom.fill_between(x, [100 * cells[n]["ci_low"] for n in ns], [100 * cells[n]["ci_high"] for n in ns],
                                color=c, alpha=0.12)
        bottom.axhline(100 * TARGET_GAIN, color="r", ls=":", lw=1)
        bottom.axhline(0, color="0.5", lw=0.8)
        top.set_title(task, fontsize=9)
        top.set_xscale("log")
        bottom.set_xlabel("training materials n (log; 'all' at the fold's size)")
    axes[0, 0].set_ylabel("scale-free MAE\n(dashed: comp, solid: comp+phys)")
    axes[1, 0].set_ylabel("structure gain, % [95% CI]\n(red: the 10% target)")
    axes[0, -1].legend(fontsize=6, ncol=2)
    axes[1, -1].legend(fontsize=6)
    fig.tight_layout()
    save_figure(fig, path)


def markdown(summary: dict, shares: dict, labels: list[str]) -> str:
    """Tables: the best-vs-best structure gain per task and n, and rf_median's scale-free MAE on both inputs."""
    def cell(c: dict | None) -> str:
        if not c:
            return ""
        more = f" ({c['tasks']} tasks)" if c.get("tasks", 4) < 4 else ""
        return f"{100 * c['mean']:+.1f}% [{100 * c['ci_low']:+.1f}, {100 * c['ci_high']:+.1f}]{more}"

    head = "| task | " + " | ".join(f"n={n}" for n in labels) + " |"
    rule = "|---" * (len(labels) + 1) + "|"
    lines = ["Structure gain 1 - smae(comp+phys) / smae(comp), best learner on each side (mean [95% CI]):", "",
             head, rule]
    for task, cells in summary["best_vs_best"].items():
        share = shares.get(task, {}).get("within_composition_variance_share")
        name = task if share is None else f"{task} (within-formula variance {share:.2f})"
        lines.append(f"| {name} | " + " | ".join(cell(cells.get(n)) for n in labels) + " |")
    lines += ["", "Scale-free MAE of rf_median, composition -> composition + physics/ionic:", "", head, rule]
    for task, by_inputs in summary["curves"].items():
        a, b = by_inputs["comp"].get("rf_median", {}), by_inputs["comp+phys"].get("rf_median", {})
        lines.append(f"| {task} | " + " | ".join(f"{a[n]['mean']:.3f} -> {b[n]['mean']:.3f}" if n in a and n in b
                                                 else "" for n in labels) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default="2dmatpedia:band_gap,2dmatpedia:decomposition_energy,"
                                        "2dmatpedia:exfoliation_energy,jdft2d:exfoliation_energy")
    ap.add_argument("--sizes", default="10,20,50,100,200,500,all")
    ap.add_argument("--subsets", default="3,3,3,3,2,1,1", help="seeded training subsets per size (all: 1)")
    ap.add_argument("--models", default="rf_median,rf,knn,gp")
    ap.add_argument("--trees", type=int, default=100, help="trees of the forest (auto's forests have 100)")
    ap.add_argument("--gp-max", type=int, default=20, help="largest training set the GP is fitted on")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--max-rows", type=int, default=None, help="cap rows per task (seeded); default: all")
    ap.add_argument("--boot", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--from-units", action="store_true",
                    help="no fitting: summarize the units.csv.gz already in --out again (e.g. after a change here)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")

    from structure_fewshot import within_composition_share  # benchmarks/ is the script's directory

    from metamat.evaluate.reporting import RESULTS_INDENT
    from metamat.files import atomic_write, write_json, write_table
    from metamat.tasks.structure_tasks import get_structure_task_spec, load_structure_rows

    t0 = time.perf_counter()
    sizes = parse_sizes(args.sizes)
    subsets = [int(s) for s in args.subsets.split(",")]
    if len(subsets) != len(sizes):
        ap.error(f"--subsets has {len(subsets)} values for {len(sizes)} sizes")
    models = [m for m in args.models.split(",") if m]
    names = [t for t in args.tasks.split(",") if t]
    if args.from_units:
        df = pd.read_csv(args.out / "units.csv.gz", dtype={"n": str})
        names = list(dict.fromkeys(df["task"]))
        rows = {n: load_structure_rows(get_structure_task_spec(n), max_rows=args.max_rows, seed=args.seed)
                for n in names}
        seconds = json.loads((args.out / "results.json").read_text())["timing"]["total_seconds"]
    else:
        tasks = load_tasks(names, args.max_rows, args.seed)
        rows = {n: t[2] for n, t in tasks.items()}
        records = []
        for i, name in enumerate(names):
            comp, phys, _ = tasks[name]
            records += run_task(i, comp, phys, sizes, subsets, models, args.trees, args.gp_max, args.folds,
                                args.seed)
            print(f"{name}: done ({time.perf_counter() - t0:.0f} s)", flush=True)
        df = pd.DataFrame(records)
        seconds = time.perf_counter() - t0
    labels = [label(n) for n in sizes]
    summary = summarize(df, labels, args.boot, args.seed)
    n_all = {t: int(np.median(g["n_train"])) for t, g in df[df.n == "all"].groupby("task")}
    doc = {"config": {**{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                      "inputs": {"comp": "composition (148)", "comp+phys": "composition + physics + ionic descriptors"},
                      "metric": "scale-free MAE = MAE / MAD of the whole task; "
                                "gain = 1 - smae(comp+phys) / smae(comp)"},
           "variance_share": {n: within_composition_share(rows[n]) for n in names},
           "n_train_all": n_all, **summary,
           "timing": {"total_seconds": seconds}}
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "results.json", doc, indent=RESULTS_INDENT)
    if not args.from_units:
        write_table(df, args.out / "units.csv.gz", precision=None)
    plot(summary, labels, n_all, args.out / "structure_ceiling.png")
    text = markdown(summary, doc["variance_share"], labels)
    with atomic_write(args.out / "summary.md", "w") as fh:
        fh.write(text)
    print("\n" + text)
    print(f"total {time.perf_counter() - t0:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
