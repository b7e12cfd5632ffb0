"""Refit-free vs per-fold-refit cross-validation inside ``auto`` at small supports, on META-TRAIN tasks.

For each episode (drawn as ``metamat bench fewshot`` draws them) ``auto`` (candidates gp, rf, rf_median,
median, ridge; the meta-learner left out: these are its training tasks) is fitted twice on the support,
with ``refit_cv=True`` (every candidate refitted per fold) and with the refit-free CV
(:mod:`metamat.models.fast_cv`, ``refit_below=0``), and scored on the query in the fitted space: coverage of
its 90% interval, scale-free MAE (MAE / mean absolute deviation of the query from its median), the model it
chose and the median interval width. This chose ``AutoRegressor.refit_below`` (refits below 10 rows).

    METAMAT_DATA_DIR=../shared/data PYTHONPATH=. python benchmarks/auto_small_support_cv.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from metamat.evaluate.episodes import make_episode
from metamat.evaluate.plots import save_figure
from metamat.evaluate.running import build_tasks
from metamat.evaluate.scoring import pass_scaling
from metamat.files import write_json
from metamat.models.registry import make_model

OUT = Path(__file__).resolve().parent / "results" / "auto_small_support_cv"
TASKS = ("aflow__Egap,matbench_dielectric,CritExam__Ef,OQMD_Volume_per_atom,aflow__ael_bulk_modulus_vrh,"
         "matbench_log_gvrh,aflow__ael_debye_temperature,matbench_phonons,mp_mu_b,c2db:e_above_hull")
VARIANTS = {"refit": {"refit_cv": True}, "fast": {"refit_cv": False, "refit_below": 0}}


def score_episode(task, k: int, i: int, seed: int) -> dict:
    ep = make_episode(task, k, i, seed=seed)
    zq = ep.scaler.transform(task.y_model[ep.query])
    mad = float(np.mean(np.abs(zq - np.median(zq))))
    rec: dict = {"task": task.name, "k": k, "episode": i}
    for label, options in VARIANTS.items():
        m = make_model("auto", candidates=("gp", "rf", "rf_median", "median", "ridge"), rf_trees=100, n_jobs=1,
                       seed=seed, **options)
        pass_scaling(m, ep).fit(ep.X_support, ep.y_support_fit)
        mu, _, lo, hi = m.predict_dist(ep.X_query)
        rec[label] = {"coverage90": float(np.mean((zq >= lo) & (zq <= hi))),
                      "smae": float(np.mean(np.abs(zq - mu)) / mad), "chosen": m.chosen_,
                      "median_width": float(np.median(hi - lo))}
    return rec


def summarize(records: list[dict], shots: list[int]) -> dict:
    out: dict = {}
    for k in shots:
        r = [x for x in records if x["k"] == k]
        out[str(k)] = {lab: {"coverage90": float(np.mean([x[lab]["coverage90"] for x in r])),
                             "smae": float(np.mean([x[lab]["smae"] for x in r])),
                             "chosen": {c: sum(x[lab]["chosen"] == c for x in r)
                                        for c in sorted({x[lab]["chosen"] for x in r})}}
                       for lab in VARIANTS}
    return out


def plot(records: list[dict], shots: list[int], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(x["task"] for x in records))
    fig, axes = plt.subplots(1, len(shots), figsize=(5 * len(shots), 4), sharey=True, squeeze=False)
    for ax, k in zip(axes[0], shots, strict=True):
        for j, lab in enumerate(VARIANTS):
            cov = [np.mean([x[lab]["coverage90"] for x in records if x["k"] == k and x["task"] == t]) for t in tasks]
            ax.bar(np.arange(len(tasks)) + 0.4 * j, cov, width=0.4, label=lab)
        ax.axhline(0.9, color="k", lw=0.8, ls="--")
        ax.set_xticks(np.arange(len(tasks)) + 0.2, tasks, rotation=70, fontsize=7)
        ax.set_title(f"k = {k}: 90% interval coverage")
        ax.set_ylim(0.5, 1.0)
    axes[0][0].legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default=TASKS)
    ap.add_argument("--shots", default="5,10")
    ap.add_argument("--episodes", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    shots = [int(v) for v in args.shots.split(",")]
    tasks, _ = build_tasks(args.tasks.split(","), max_rows=5000, seed=args.seed)
    records = []
    for task in tasks:
        for k in shots:
            records += [score_episode(task, k, i, args.seed) for i in range(args.episodes)]
            print(task.name, k, "done", flush=True)
    summary = summarize(records, shots)
    for k, s in summary.items():
        print(f"k={k}: " + "; ".join(f"{lab} coverage {v['coverage90']:.3f} smae {v['smae']:.3f} chose {v['chosen']}"
                                     for lab, v in s.items()))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", {"config": vars(args), "summary": summary, "episodes": records})
    plot(records, shots, out / "coverage.png")


if __name__ == "__main__":
    main()
