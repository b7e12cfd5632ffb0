"""How far can the few-shot error fall? A random forest given n = 10 ... all materials of the very property.

    METAMAT_DATA_DIR=../shared/data python benchmarks/fewshot_ceiling.py [--episodes 4] [--n-jobs 2]

For each meta-test task and each of the first ``--episodes`` k = 10 episodes of ``metamat bench fewshot``
(same seed, so the same query materials), a random forest (500 trees, the registry's ``rf`` default, on
composition features; the "support" column is the same 500-tree forest on the k = 10 support, while
``bench fewshot`` runs 100 trees) is trained on n rows drawn from every material outside the query's
chemical systems (n = 10, 50, 200, 1000 and all of them) and scored on that query.

What it bounds and what it does not (issue 13): "all" is what a composition-only forest reaches when the
new property has been measured on every other eligible material; for the large tasks (SuperCon: ~2,100
rows; the four Ricci targets: ~3,600 rows) it approximates a ceiling for a k = 10 learner that sees only
composition. For four tasks "all" is tiny, because the query's chemical systems remove most rows:
jarvis_epc_tc 40-44 rows, matbench_steels 10, matbench_jdft2d 12-18, 2DMatPedia exfoliation 18-31; there
the column is no ceiling at all (a forest on 10-44 rows), and the mean over tasks mixes the two kinds. It
does not bound learners that use other inputs (structure, knowledge features, physics), nor models other
than a random forest, nor random-query episodes. The ``n_all`` column (median training rows of "all") is
printed beside each task. The meta-learner target of issue 4 (30% below RF at k = 10) is compared to it.

Writes benchmarks/results/fewshot_ceiling.{json,png} and prints a markdown table. Cost: the forests on all
rows of the large tasks take most of the time (4 episodes: about 10 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from metamat.evaluate.episodes import DEFAULT_MAX_QUERY, effective_policy, make_episode, model_seed, task_key
from metamat.evaluate.model_specs import make_eval_model
from metamat.evaluate.plots import save_figure
from metamat.evaluate.reporting import RESULTS_INDENT
from metamat.evaluate.running import build_tasks
from metamat.evaluate.scoring import score_model
from metamat.files import write_json
from metamat.tasks.task import Episode, Task

RESULTS = Path(__file__).resolve().parent / "results"
SIZES: tuple[int | None, ...] = (10, 50, 200, 1000, None)  # None: every eligible material
K = 10


def eligible_rows(task: Task, episode: Episode, policy: str) -> np.ndarray:
    """Rows outside the query (and outside its chemical systems for chemical-system episodes)."""
    blocked = np.zeros(len(task), dtype=bool)
    blocked[episode.query] = True
    if policy == "chemical_system":
        codes = task.system_codes
        seen = np.zeros(int(codes.max()) + 1, dtype=bool)
        seen[codes[episode.query]] = True
        blocked |= seen[codes]
    return np.flatnonzero(~blocked)


def run_episode(task: Task, i: int, policy: str, seed: int) -> list[dict]:
    episode = make_episode(task, K, i, seed=seed, policy=policy, max_query=DEFAULT_MAX_QUERY)
    pool = eligible_rows(task, episode, policy)
    rng = np.random.default_rng([seed, task_key(task), i, 7])
    mseed = model_seed(seed, task_key(task), K, i)
    rows = [{"task": task.name, "episode": i, "n": "support", "n_train": K,
             "smae": score_model(make_eval_model("rf", mseed), episode)["smae"]}]
    for n in SIZES:
        train = pool if n is None or n >= len(pool) else rng.choice(pool, size=n, replace=False)
        ep = Episode(task, np.sort(train), episode.query)
        rows.append({"task": task.name, "episode": i, "n": "all" if n is None else n, "n_train": len(train),
                     "smae": score_model(make_eval_model("rf", mseed), ep)["smae"]})
    return rows


def plot(table: dict, target: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [str(s) if s is not None else "all" for s in SIZES]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, row in table["tasks"].items():
        ax.plot(labels, [row[lab] for lab in labels], "o-", lw=1, alpha=0.6, label=name)
    ax.plot(labels, [table["mean"][lab] for lab in labels], "k-o", lw=2.5, label="mean over tasks")
    ax.axhline(target, color="r", ls="--", label="issue-4 target at k = 10 (0.7 x RF@10)")
    ax.set_xlabel("training materials of the new property (outside the query's chemical systems)")
    ax.set_ylabel("scale-free MAE on the k = 10 queries")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episodes", type=int, default=4)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if not os.environ.get("METAMAT_DATA_DIR"):
        print("set METAMAT_DATA_DIR to the shared data folder (e.g. ../shared/data)", file=sys.stderr)
        return 2
    start = time.perf_counter()
    tasks, _ = build_tasks("meta-test", seed=args.seed)
    jobs = [(t, i, effective_policy(t, "chemical_system")) for t in tasks if t.kind == "regression"
            for i in range(args.episodes)]
    out = Parallel(n_jobs=args.n_jobs, verbose=5)(delayed(run_episode)(t, i, p, args.seed) for t, i, p in jobs)
    records = [r for chunk in out for r in chunk]
    labels = ["support"] + [str(s) if s is not None else "all" for s in SIZES]
    per_task = {}
    for t in tasks:
        rec = [r for r in records if r["task"] == t.name]
        if rec:
            per_task[t.name] = {lab: float(np.mean([r["smae"] for r in rec if str(r["n"]) == lab])) for lab in labels}
            per_task[t.name]["n_all_median"] = float(np.median([r["n_train"] for r in rec if r["n"] == "all"]))
    mean = {lab: float(np.mean([row[lab] for row in per_task.values()])) for lab in labels}
    target = 0.7 * mean["support"]
    doc = {"k": K, "episodes": args.episodes, "seed": args.seed, "model": "rf (500 trees, composition)",
           "tasks": per_task, "mean": mean, "target_0p7_rf_at_k10": target,
           "wall_s": time.perf_counter() - start, "records": records}
    write_json(RESULTS / "fewshot_ceiling.json", doc, indent=RESULTS_INDENT)
    plot(doc, target, RESULTS / "fewshot_ceiling.png")
    print("| task | RF k=10 (support) | " + " | ".join(f"n={lab}" for lab in labels[1:]) + " | n_all |")
    print("|---" * (len(labels) + 2) + "|")
    for name, row in {**per_task, "mean": mean}.items():
        n_all = f"{row['n_all_median']:.0f}" if "n_all_median" in row else "-"
        print(f"| {name} | " + " | ".join(f"{row[lab]:.3f}" for lab in labels) + f" | {n_all} |")
    print(f"target (0.7 x RF@10): {target:.3f}; wall {doc['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
