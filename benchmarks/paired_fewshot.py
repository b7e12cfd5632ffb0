"""Paired comparison of one model between two ``metamat bench fewshot`` runs (same tasks, k, episodes, seed):
per k, the geometric mean over episodes of smae_after / smae_before with a bootstrap 95% CI over episodes, the
mean smae, interval coverage and CPU seconds per episode of each run, and the share of episodes with the
same MAE (same choice, same numbers).

    python benchmarks/paired_fewshot.py BEFORE_DIR AFTER_DIR [--model auto] [--out FILE.json]

Used for the refit-free cross-validation of ``auto`` (``results/fewshot_speed/auto_paired_bench.json``):
BEFORE_DIR from commit 63264ff (every candidate refitted per fold), AFTER_DIR from the branch ``fastauto``,
both with ``metamat bench fewshot --models auto,rf_median --episodes 10 --shots 10,50 --max-query 300
--n-jobs 1``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd


def paired(before: Path, after: Path, model: str, n_boot: int = 4000) -> dict:
    b = pd.read_csv(before / "episodes.csv.gz")
    a = pd.read_csv(after / "episodes.csv.gz")
    m = b.merge(a, on=["task", "model", "k", "episode"], suffixes=("_b", "_a"))
    m = m[m.model == model]
    out = {}
    rng = np.random.default_rng(0)
    for k, g in m.groupby("k"):
        r = np.log(g.smae_a.to_numpy() / g.smae_b.to_numpy())
        boot = np.exp(r[rng.integers(0, len(r), (n_boot, len(r)))].mean(axis=1))
        out[str(int(k))] = {
            "paired_smae_ratio": float(np.exp(r.mean())), "ci95": [float(x) for x in np.percentile(boot, [2.5, 97.5])],
            "per_task_ratio": {t: float(np.exp(v)) for t, v in g.assign(r=r).groupby("task").r.mean().items()},
            "smae_before": float(g.smae_b.mean()), "smae_after": float(g.smae_a.mean()),
            "interval_coverage90_before": float(g.interval_coverage90_b.mean()),
            "interval_coverage90_after": float(g.interval_coverage90_a.mean()),
            "cpu_s_per_episode_before": float(g.cpu_seconds_b.mean()),
            "cpu_s_per_episode_after": float(g.cpu_seconds_a.mean()),
            "episodes_same_mae": float(np.isclose(g.mae_a, g.mae_b).mean()), "episodes": int(len(g))}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--model", default="auto")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    res = paired(args.before, args.after, args.model)
    text = json.dumps({"model": args.model, "before": str(args.before), "after": str(args.after), "by_k": res},
                      indent=1)
    if args.out:
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(args.out)
    print(text)


if __name__ == "__main__":
    main()
