"""Paired comparison of ``auto`` with each other model on stored few-shot episodes (no refit).

Per episode the difference (and ratio) of scale-free MAE, auto minus the other model on the same support and
query; family-weighted mean with the bootstrap over families, tasks and episodes of
:mod:`metamat.evaluate.uncertainty`.

    PYTHONPATH=. python benchmarks/fewshot_paired.py benchmarks/results/fewshot_auto_20ep/episodes.csv.gz \
        rf_median,pretrained,rf,gp,median benchmarks/results/fewshot_auto_20ep/paired.json
"""
import sys

import pandas as pd

from metamat.evaluate.uncertainty import family_summary
from metamat.files import write_json
from metamat.tasks.catalog import TASKS

df = pd.read_csv(sys.argv[1])
fam = {t.name: t.group for t in TASKS}
piv = df.pivot_table(index=["task","k","episode"], columns="model", values="smae").reset_index()
out = {}
for other in sys.argv[2].split(","):
    recs = [{"task": r.task, "model": other, "k": int(r.k), "episode": int(r.episode),
             "metrics": {"d": float(r.auto - getattr(r, other)), "ratio": float(r.auto / getattr(r, other))}}
            for r in piv.itertuples()]
    s = family_summary(recs, fam, metrics=("d","ratio"))
    for k in ("5","10","20","50"):
        c, q = s["summary"][other][k]["d"], s["summary"][other][k]["ratio"]
        # plain (tasks fixed) paired mean over episodes: mean over tasks per episode
        sub = piv[piv.k == int(k)]
        per_ep = sub.assign(d=sub["auto"] - sub[other]).groupby("episode")["d"].mean()
        out.setdefault(other, {})[k] = {"family_d": c, "ratio": q, "task_mean_d": float(per_ep.mean())}
        print(f"auto - {other:10s} k={k:>2}: family-weighted diff {c['mean']:+.3f} "
              f"[{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]  "
              f"ratio {q['mean']:.3f} [{q['ci_low']:.3f}, {q['ci_high']:.3f}]  (task mean diff {per_ep.mean():+.3f})")
write_json(sys.argv[3], out, indent=1)
