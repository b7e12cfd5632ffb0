"""Coverage of the baselines' 90% intervals (``predict_interval``) on real few-shot episodes.

For a few matbench composition tasks, draws episodes (support k, 200 queries, chemical-system split) and
records for each baseline the share of queries inside its central 90% interval and the mean interval
width relative to the query target MAD. Writes ``benchmarks/results/baseline_intervals/results.json``
(+ ``COMMAND.txt``). Default: 3 tasks x k in (10, 50) x 10 episodes (about 2 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from metamat.files import atomic_write, write_json
from metamat.models.registry import make_model, run_options
from metamat.tasks import Task
from metamat.tasks.splits import sample_episode

TASKS = ("matbench_expt_gap", "matbench_steels", "matbench_log_kvrh")
MODELS = ("dummy", "median", "ridge", "knn", "gp", "rf", "rf_median")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--ks", default="10,50")
    ap.add_argument("--out", default="benchmarks/results/baseline_intervals")
    args = ap.parse_args()
    data = Path(os.environ.get("METAMAT_DATA_DIR", "/work/shared/data")) / "crabnet_matbench_composition"
    ks = [int(k) for k in args.ks.split(",")]
    rows = []
    t0 = time.perf_counter()
    for name in TASKS:
        path = data / f"{name}.csv.gz"
        if not path.exists():
            continue
        df = pd.read_csv(path)
        if df["target"].nunique() <= 2:  # 0/1 task: no interval
            continue
        task = Task.from_formulas(name, df["formula"], df["target"], featurizers="composition")
        rng = np.random.default_rng(0)
        for k in ks:
            for _ in range(args.episodes):
                ep = sample_episode(task, k, n_query=200, rng=rng)
                yq = ep.task.y[ep.query]
                mad = float(np.mean(np.abs(yq - np.median(yq))))
                for m in MODELS:
                    model = make_model(m, seed=0, **run_options(m, 1, 100))
                    lo, hi = model.fit(ep.X_support, ep.task.y[ep.support]).predict_interval(ep.X_query, 0.9)
                    inside = (yq >= lo) & (yq <= hi)
                    rows.append({"task": name, "k": k, "model": m, "coverage90": float(np.mean(inside)),
                                 "width_over_mad": float(np.mean(hi - lo) / mad)})
        print(f"{name} done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    df = pd.DataFrame(rows)
    summary = df.groupby(["model", "k"])[["coverage90", "width_over_mad"]].mean().reset_index()
    out = Path(args.out)
    write_json(out / "results.json", {"episodes": args.episodes, "ks": ks, "tasks": sorted(set(df["task"])),
                                      "summary": summary.to_dict(orient="records"),
                                      "seconds": time.perf_counter() - t0})
    with atomic_write(out / "COMMAND.txt", "w") as fh:
        fh.write("METAMAT_DATA_DIR=/work/shared/data python benchmarks/baseline_intervals.py "
                 f"--episodes {args.episodes} --ks {args.ks}\n")
    print(summary.to_string(index=False))


if __name__ == "__main__":
    main()
