"""``auto``'s 90% intervals where the CV+ rank exceeds the support (k <= 8), per small-sample method, meta-train.

The sibling of ``auto_small_support_cv.py`` (same 10 meta-train tasks, same episodes, ``auto`` as shipped but
without the meta-learner, whose training tasks these are). Each episode fits ``auto`` ONCE; the fold
predictions at the query are computed once and every interval method of
:mod:`metamat.models.small_n_interval` is applied to them (then the physical-bound clip, as in ``auto``).
Scored in the fitted space: coverage of the 90% interval and its mean width divided by the query's mean
absolute deviation from its median (scale-free, the denominator of the scale-free MAE). k = 10 is the
control (the rank fits: every method is CV+). The method is chosen here: among those whose mean coverage
over tasks stays in [0.85, 0.95] at every k below the switch with the lower end of its 95% bootstrap interval
over tasks too (CV+ covers about 0.02 less on the meta-test than here at k = 5 and 10, so a mean just above
0.85 is not enough), the smallest mean scale-free width; the plain rule (mean in the band) is reported beside.

    METAMAT_DATA_DIR=../shared/data PYTHONPATH=. python benchmarks/auto_small_n_interval.py \
        --episodes 20   # ~9 min on 2 shared cores (8 episodes, the default: ~4 min)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from auto_small_support_cv import TASKS  # noqa: E402  (the same meta-train tasks)

from metamat.evaluate.episodes import make_episode  # noqa: E402
from metamat.evaluate.plots import save_figure  # noqa: E402
from metamat.evaluate.running import build_tasks  # noqa: E402
from metamat.evaluate.scoring import pass_scaling  # noqa: E402
from metamat.files import atomic_write, write_json  # noqa: E402
from metamat.models.base import check_X  # noqa: E402
from metamat.models.registry import make_model  # noqa: E402
from metamat.models.small_n_interval import METHODS, conformal_reaches  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "auto_small_n_interval"
LEVEL = 0.9
TARGET = (0.85, 0.95)


def score_episode(task, k: int, i: int, seed: int) -> dict:
    ep = make_episode(task, k, i, seed=seed)
    zq = ep.scaler.transform(task.y_model[ep.query])
    mad = float(np.mean(np.abs(zq - np.median(zq))))
    m = make_model("auto", candidates=("gp", "rf", "rf_median", "median", "ridge"), rf_trees=100, n_jobs=1,
                   seed=seed)
    pass_scaling(m, ep).fit(ep.X_support, ep.y_support_fit)
    with m._threads():
        parts = m.interval_parts(check_X(ep.X_query, m.n_features_in_))
        rec: dict = {"task": task.name, "k": k, "episode": i, "chosen": m.chosen_, "n_query": len(zq)}
        for method in METHODS:
            mu, lo, hi = m.interval_from_parts(*parts, LEVEL, method=method)
            rec[method] = {"coverage90": float(np.mean((zq >= lo) & (zq <= hi))),
                           "width": float(np.mean(hi - lo)) / mad}
    rec["smae"] = float(np.mean(np.abs(zq - mu)) / mad)
    return rec


def task_ci(per_task: list[float], seed: int = 0, n_boot: int = 2000) -> tuple[float, float]:
    """95% bootstrap interval over tasks of the mean of per-task values."""
    v = np.asarray(per_task, dtype=float)
    rng = np.random.default_rng(seed)
    boot = v[rng.integers(0, len(v), (n_boot, len(v)))].mean(axis=1)
    return float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))


def summarize(records: list[dict], shots: list[int]) -> dict:
    tasks = list(dict.fromkeys(x["task"] for x in records))
    out: dict = {"per_k": {}, "per_task": {}}
    for k in shots:
        r = [x for x in records if x["k"] == k]
        per_task = {t: {v: {s: float(np.mean([x[v][s] for x in r if x["task"] == t])) for s in ("coverage90", "width")}
                        for v in METHODS} for t in tasks}
        row: dict = {"rank_fits": conformal_reaches(k, LEVEL), "smae": float(np.mean([x["smae"] for x in r]))}
        for v in METHODS:
            cov = [per_task[t][v]["coverage90"] for t in tasks]
            widths = [x[v]["width"] for x in r]
            row[v] = {"coverage90": float(np.mean(cov)), "coverage90_ci_tasks": task_ci(cov),
                      "min_task_coverage90": float(np.min(cov)), "width": float(np.mean(widths)),
                      "median_width": float(np.median(widths))}
        out["per_k"][str(k)] = row
        out["per_task"][str(k)] = per_task
    small = [str(k) for k in shots if not conformal_reaches(k, LEVEL)]
    width = {v: float(np.mean([out["per_k"][k][v]["width"] for k in small])) for v in METHODS}
    plain = [v for v in METHODS if all(TARGET[0] <= out["per_k"][k][v]["coverage90"] <= TARGET[1] for k in small)]
    strict = [v for v in METHODS if all(out["per_k"][k][v]["coverage90_ci_tasks"][0] >= TARGET[0]
                                        and out["per_k"][k][v]["coverage90"] <= TARGET[1] for k in small)]
    out["choice"] = {
        "rule": f"at every k in {small}: the 95% bootstrap interval over tasks of the mean coverage starts at "
                f">= {TARGET[0]} and the mean is <= {TARGET[1]}; then the smallest mean scale-free width over those k",
        "plain_rule": f"mean coverage over tasks in {list(TARGET)} at every k in {small}, then the smallest width",
        "eligible": strict, "eligible_plain": plain, "mean_width_small_k": width,
        "chosen": min(strict, key=width.get) if strict else None,
        "chosen_plain": min(plain, key=width.get) if plain else None}
    return out


def table(summary: dict, shots: list[int]) -> str:
    lines = ["| method | " + " | ".join(f"k={k} coverage [95% CI over tasks] / mean width" for k in shots) + " |",
             "|---|" + "---|" * len(shots)]
    for v in METHODS:
        cells = []
        for k in shots:
            c = summary["per_k"][str(k)][v]
            cells.append(f"{c['coverage90']:.3f} [{c['coverage90_ci_tasks'][0]:.3f}, {c['coverage90_ci_tasks'][1]:.3f}]"
                         f" / {c['width']:.2f}")
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(summary: dict, shots: list[int], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    for v in METHODS:
        cov = [summary["per_k"][str(k)][v]["coverage90"] for k in shots]
        wid = [summary["per_k"][str(k)][v]["width"] for k in shots]
        ax.plot(wid, cov, marker="o", label=v)
        ax.annotate(f"k={shots[0]}", (wid[0], cov[0]), fontsize=6)
    ax.axhspan(*TARGET, color="0.9")
    ax.axhline(LEVEL, color="k", lw=0.8, ls="--")
    ax.set_xlabel("mean 90% interval width / query MAD")
    ax.set_ylabel("90% interval coverage (mean over tasks)")
    ax.set_title(f"auto on meta-train, k = {', '.join(map(str, shots))}")
    ax.legend(fontsize=6)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default=TASKS)
    ap.add_argument("--shots", default="5,6,8,10")
    ap.add_argument("--episodes", type=int, default=8)
    ap.add_argument("--first-episode", type=int, default=0, help="episode indices first .. first + episodes - 1")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--resummarize", action="store_true",
                    help="recompute the summary, table and plot from the episodes in OUT/results.json (no fits)")
    args = ap.parse_args()
    out = Path(args.out)
    if args.resummarize:
        saved = json.loads((out / "results.json").read_text())
        config, records = saved["config"], saved["episodes"]
    else:
        config, records = vars(args), []
        tasks, _ = build_tasks(args.tasks.split(","), max_rows=5000, seed=args.seed)
        episodes = range(args.first_episode, args.first_episode + args.episodes)
        for task in tasks:
            for k in [int(v) for v in args.shots.split(",")]:
                records += [score_episode(task, k, i, args.seed) for i in episodes]
            print(task.name, "done", flush=True)
    shots = [int(v) for v in config["shots"].split(",")]
    summary = summarize(records, shots)
    print(table(summary, shots))
    c = summary["choice"]
    print("chosen:", c["chosen"], "eligible:", c["eligible"], "| plain rule:", c["chosen_plain"], c["eligible_plain"])
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", {"config": config, "level": LEVEL, "summary": summary, "episodes": records})
    with atomic_write(out / "summary.md", "w") as fh:
        fh.write(table(summary, shots) + "\n")
    plot(summary, shots, out / "coverage_width.png")


if __name__ == "__main__":
    main()
