"""Paired comparisons on stored structure few-shot episodes (no refit): structure-aware vs composition-only.

    PYTHONPATH=. python benchmarks/structure_fewshot_paired.py benchmarks/results/structure_fewshot_auto [MORE ...]

Several folders (runs of the same tasks, shots, episodes and seed, hence the same episodes, with different
models) are joined on (task, k, episode); a model present in more than one folder is taken from the first.

Per (task, k, episode) the relative change of scale-free MAE, ``smae(a) / smae(b) - 1`` (negative: ``a`` is
better), for each pair ``a`` vs ``b``; per task and k the mean with a 95% bootstrap CI over episodes, and the
mean over tasks (bootstrap resamples episodes within every task). Reads ``episodes.csv.gz`` and the
``auto_choices`` of ``results.json`` in the folders; writes ``paired.json`` into the first.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

PAIRS = (("auto[struct]", "auto[comp]"), ("knn[comp+phys]", "knn[comp]"), ("rf[comp+phys]", "rf[comp]"),
         ("auto[struct]", "knn[comp]"), ("auto[struct+emb]", "auto[struct]"), ("auto[struct+emb]", "auto[comp]"),
         ("rf_median[comp+emb]", "rf_median[comp]"), ("knn[comp+emb]", "knn[comp]"),
         ("rf_median[comp+emb]", "auto[comp]"), ("knn[comp+emb]", "knn[comp+phys]"), ("rf_median[comp]", "auto[comp]"))


def main() -> None:
    from metamat.files import write_json

    folders = [Path(a) for a in sys.argv[1:]]
    folder = folders[0]
    frames, seen = [], set()
    for f in folders:
        d = pd.read_csv(f / "episodes.csv.gz")
        d = d[~d["model"].isin(seen)]
        seen |= set(d["model"])
        frames.append(d)
    df = pd.concat(frames, ignore_index=True)
    piv = df.pivot_table(index=["task", "k", "episode"], columns="model", values="smae").reset_index()
    rng = np.random.default_rng(0)
    out: dict = {}
    for a, b in PAIRS:
        if a not in piv or b not in piv:
            continue
        key = f"{a} vs {b}"
        out[key] = {}
        for k, sub in piv.groupby("k"):
            per_task, boots = {}, []
            for task, t in sub.groupby("task"):
                rel = (t[a] / t[b] - 1.0).to_numpy()
                draws = rel[rng.integers(0, len(rel), (2000, len(rel)))].mean(1)
                boots.append(draws)
                per_task[task] = {"mean": float(rel.mean()), "ci_low": float(np.percentile(draws, 2.5)),
                                  "ci_high": float(np.percentile(draws, 97.5)), "n": int(len(rel))}
            overall = np.mean(boots, axis=0)
            out[key][str(k)] = {"tasks": per_task, "mean_over_tasks": float(np.mean([v["mean"] for v in
                                                                                    per_task.values()])),
                                "ci_low": float(np.percentile(overall, 2.5)),
                                "ci_high": float(np.percentile(overall, 97.5))}
            print(f"{key:32s} k={k}: {out[key][str(k)]['mean_over_tasks']:+.1%} "
                  f"[{out[key][str(k)]['ci_low']:+.1%}, {out[key][str(k)]['ci_high']:+.1%}]")
    out["auto_choices"], out["variance_share"] = {}, {}
    for f in folders:
        results = json.loads((f / "results.json").read_text())
        out["auto_choices"].update(results.get("auto_choices", {}))
        out["variance_share"].update(results.get("variance_share", {}))
    out["folders"] = [str(f) for f in folders]
    write_json(folder / "paired.json", out)


if __name__ == "__main__":
    main()
