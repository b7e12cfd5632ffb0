"""Every meta-learner and every baseline on the meta-test tasks at k = 5, 10, 20, 50 (95% CIs).

    METAMAT_DATA_DIR=/work/shared/data python benchmarks/meta_learners.py \
        [--meta default=metamat/pretrained/default,maml=runs/models/maml,...] [--baselines dummy,ridge,knn,gp,rf]

``--meta`` items are ``label=path`` or ``label=path:param~JSON;param~JSON`` (constructor overrides, e.g.
``transfer_last=runs/models/transfer_head:finetune~"last"``).

Episodes: ``--episodes`` per (task, k), support of k materials, query of up to ``--n-query`` materials in
chemical systems absent from the support (``chemical_system`` policy); every model sees the same episodes.
Models fit model-space targets (log10 for conductivities and SuperCon Tc) standardized with the support.
Metrics, in model space: scale-free MAE = query MAE / the task's mean absolute deviation, and the share of
query points inside the central 90% interval (mean +- 1.645 std). Per model and k: mean over tasks of
per-task means; 95% CI from the t-distribution over episode index (each episode averaged over tasks).
Writes ``benchmarks/results/meta_learners.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch

Z90 = 1.6448536269514722


def load_models(meta: str, baselines: str):
    from metamat.models.baselines import make_model
    from metamat.models.io import load_model

    models = {}
    import re

    for item in filter(None, (s.strip() for s in re.split(r",(?![^\[]*\])", meta))):
        name, _, rest = item.partition("=")
        path, _, opts = rest.partition(":")
        kw = {a: json.loads(b) for a, b in (o.split("~") for o in opts.split(";") if o)} if opts else {}
        models[name] = ("meta", lambda p=path, kw=kw: load_model(p, **kw))
    for name in filter(None, (s.strip() for s in baselines.split(","))):
        models[name] = ("baseline", lambda n=name: make_model(n, seed=0))
    return models


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default="meta-test")
    ap.add_argument("--ks", default="5,10,20,50")
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--n-query", type=int, default=500)
    ap.add_argument("--max-rows", type=int, default=5000)
    ap.add_argument("--meta", default="dkgp=metamat/pretrained/default")
    ap.add_argument("--baselines", default="dummy,ridge,knn,gp,rf")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--policy", default="chemical_system", help="episode policy: chemical_system or random")
    ap.add_argument("--out", default="benchmarks/results/meta_learners")
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")

    from metamat.evaluate.metrics import mean_ci
    from metamat.tasks.catalog import build_task, resolve_tasks
    from metamat.tasks.splits import sample_episode

    tasks = [build_task(s, max_rows=args.max_rows, seed=args.seed) for s in resolve_tasks(args.tasks)]
    tasks = [t for t in tasks if t.kind == "regression"]
    ks = [int(k) for k in args.ks.split(",")]
    models = load_models(args.meta, args.baselines)
    loaded = {n: f() if kind == "meta" else None for n, (kind, f) in models.items()}
    rows = []  # (model, task, k, episode, sf_mae, coverage, seconds)
    t0 = time.perf_counter()
    for ti, task in enumerate(tasks):
        ym = task.y_model
        mad = float(np.mean(np.abs(ym - ym.mean())))
        for k in ks:
            rng = np.random.default_rng([args.seed, ti, k])
            for e in range(args.episodes):
                ep = sample_episode(task, k, n_query=args.n_query, policy=args.policy, rng=rng)
                ys = ep.y_support_fit
                zq = ep.scaler.transform(ym[ep.query])
                for name, (kind, make) in models.items():
                    m = loaded[name] if kind == "meta" else make()
                    t = time.perf_counter()
                    m.fit(ep.X_support, ys)
                    mu, sd = m.predict(ep.X_query, return_std=True)
                    sec = time.perf_counter() - t
                    err = np.abs(zq - mu)
                    rows.append((name, task.name, k, e, float(err.mean() * ep.scaler.scale_ / mad),
                                 float(np.mean(err <= Z90 * sd)), sec))
        print(f"[{time.perf_counter() - t0:6.0f} s] {task.name} done", flush=True)

    import pandas as pd

    df = pd.DataFrame(rows, columns=["model", "task", "k", "episode", "sf_mae", "coverage90", "seconds"])
    summary: dict = {}
    for (name, k), g in df.groupby(["model", "k"]):
        per_ep = g.groupby("episode")[["sf_mae", "coverage90"]].mean()
        m, lo, hi = mean_ci(per_ep["sf_mae"].to_numpy())
        c, clo, chi = mean_ci(per_ep["coverage90"].to_numpy())
        per_task = g.groupby("task")["sf_mae"].mean().round(4).to_dict()
        summary.setdefault(name, {})[str(k)] = {
            "sf_mae": m, "sf_mae_ci95": [lo, hi], "coverage90": c, "coverage90_ci95": [clo, chi],
            "seconds_per_episode": float(g["seconds"].mean()), "per_task_sf_mae": per_task}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {"conditions": {"tasks": [t.name for t in tasks], "ks": ks, "episodes": args.episodes,
                             "n_query": args.n_query, "max_rows": args.max_rows, "policy": args.policy,
                             "seed": args.seed, "meta": args.meta, "metric_space": "model space (log10 where "
                             "the task has a log10 transform)"},
              "summary": summary}
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(out.with_suffix(".json"))
    print(f"{'model':16s} " + " ".join(f"{'k=' + str(k):>22s}" for k in ks))
    for name, r in summary.items():
        print(f"{name:16s} " + " ".join(f"{r[str(k)]['sf_mae']:.3f} ({r[str(k)]['coverage90']:.2f} cov)".rjust(22)
                                       for k in ks))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for name, r in summary.items():
        m = [r[str(k)]["sf_mae"] for k in ks]
        ci = np.array([r[str(k)]["sf_mae_ci95"] for k in ks])
        ax[0].errorbar(ks, m, yerr=[np.array(m) - ci[:, 0], ci[:, 1] - np.array(m)], label=name, capsize=2, marker="o")
        ax[1].plot(ks, [r[str(k)]["coverage90"] for k in ks], marker="o", label=name)
    ax[0].set(xscale="log", xlabel="support size k", ylabel="scale-free MAE (meta-test mean)")
    ax[1].axhline(0.9, color="k", ls="--", lw=1)
    ax[1].set(xscale="log", xlabel="support size k", ylabel="90% interval coverage")
    ax[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=110)


if __name__ == "__main__":
    main()
