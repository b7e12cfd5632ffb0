"""``auto``'s 90% intervals where the CV+ rank exceeds the support (k <= 8), per small-sample method, on META-TRAIN tasks.

The sibling of ``auto_small_support_cv.py`` (same 10 meta-train tasks, same episodes, ``auto`` as shipped but
without the meta-learner, whose training tasks these are). Each episode fits ``auto`` ONCE; the fold
predictions at the query are computed once and every interval method of
:mod:`metamat.models.small_n_interval` is applied to them (then the physical-bound clip, as in ``auto``).
Scored in the fitted space: coverage of the 90% interval and its mean width divided by the query's mean
absolute deviation from its median (scale-free, the denominator of the scale-free MAE). k = 10 is the
control (the rank fits: every method is CV+). The method is chosen here: among those whose mean coverage
over tasks lies in [0.85, 0.95] at every k below the switch, the smallest mean scale-free width.

    METAMAT_DATA_DIR=../shared/data PYTHONPATH=. python benchmarks/auto_small_n_interval.py   # ~6 min, 2 shared cores
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from auto_small_support_cv import TASKS  # noqa: E402  (the same meta-train tasks)

from metamat.evaluate.episodes import make_episode  # noqa: E402
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


def summarize(records: list[dict], shots: list[int]) -> dict:
    tasks = list(dict.fromkeys(x["task"] for x in records))
    out: dict = {"per_k": {}, "per_task": {}}
    for k in shots:
        r = [x for x in records if x["k"] == k]
        out["per_k"][str(k)] = {
            "rank_fits": conformal_reaches(k, LEVEL), "smae": float(np.mean([x["smae"] for x in r])),
            **{v: {s: float(np.mean([x[v][s] for x in r])) for s in ("coverage90", "width")} for v in METHODS}}
        out["per_task"][str(k)] = {t: {v: {s: float(np.mean([x[v][s] for x in r if x["task"] == t]))
                                           for s in ("coverage90", "width")} for v in METHODS} for t in tasks}
    small = [str(k) for k in shots if not conformal_reaches(k, LEVEL)]
    ok = [v for v in METHODS if all(TARGET[0] <= out["per_k"][k][v]["coverage90"] <= TARGET[1] for k in small)]
    width = {v: float(np.mean([out["per_k"][k][v]["width"] for k in small])) for v in METHODS}
    out["choice"] = {"rule": f"mean coverage over tasks in {list(TARGET)} at every k in {small}, then the smallest "
                             "mean scale-free width over those k",
                     "eligible": ok, "mean_width_small_k": width,
                     "chosen": min(ok, key=width.get) if ok else None}
    return out


def table(summary: dict, shots: list[int]) -> str:
    lines = ["| method | " + " | ".join(f"k={k} coverage / width" for k in shots) + " |",
             "|---|" + "---|" * len(shots)]
    for v in METHODS:
        cells = [f"{summary['per_k'][str(k)][v]['coverage90']:.3f} / {summary['per_k'][str(k)][v]['width']:.2f}"
                 for k in shots]
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
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default=TASKS)
    ap.add_argument("--shots", default="5,6,8,10")
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
        print(task.name, "done", flush=True)
    summary = summarize(records, shots)
    print(table(summary, shots))
    print("chosen:", summary["choice"]["chosen"], "eligible:", summary["choice"]["eligible"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", {"config": vars(args), "level": LEVEL, "summary": summary, "episodes": records})
    with atomic_write(out / "summary.md", "w") as fh:
        fh.write(table(summary, shots) + "\n")
    plot(summary, shots, out / "coverage_width.png")


if __name__ == "__main__":
    main()
