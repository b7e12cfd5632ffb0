"""Speed of few-shot adaptation: fit on k = 50 support materials + predict mean and std for 10,000 queries.

    python benchmarks/fewshot_speed.py [--model default|PATH] [--threads 1] [--repeats 30]

Features are computed once beforehand (composition featurization is timed separately by
``featurize_speed.py``); wall time and process CPU time are both reported (CPU time is the honest figure
when other jobs share the cores); the timed call is ``model.fit(X_support, y_support)`` followed by
``model.predict(X_query, return_std=True)``. Reports the median and quartiles over ``--repeats`` runs and
writes ``benchmarks/results/fewshot_speed.json``. Target: median under 50 ms on CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default")
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--n-query", type=int, default=10000)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="benchmarks/results/fewshot_speed.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from metamat.featurize.pipeline import featurize_formulas
    from metamat.fewshot import load_fewshot_model
    from metamat.train.synthetic import random_formulas

    rng = np.random.default_rng(0)
    X = featurize_formulas(random_formulas(args.k + args.n_query, rng)).values
    y = rng.normal(size=args.k)
    Xs, Xq = X[:args.k], X[args.k:]
    model = load_fewshot_model(args.model)
    for _ in range(3):  # warm-up
        model.fit(Xs, y).predict(Xq, return_std=True)
    times, fit_t, cpu = [], [], []
    for _ in range(args.repeats):
        t, c = time.perf_counter(), time.process_time()
        model.fit(Xs, y)
        t1 = time.perf_counter()
        model.predict(Xq, return_std=True)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        fit_t.append(t1 - t)
    ms = np.array(times) * 1e3
    res = {"k": args.k, "n_query": args.n_query, "threads": args.threads, "repeats": args.repeats,
           "model": args.model, "median_ms": float(np.median(ms)), "q25_ms": float(np.percentile(ms, 25)),
           "q75_ms": float(np.percentile(ms, 75)), "median_fit_ms": float(np.median(fit_t) * 1e3),
           "median_cpu_ms": float(np.median(cpu) * 1e3), "load_average": list(os.getloadavg()),
           "target_ms": 50.0, "python": platform.python_version(), "torch": torch.__version__}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(res, indent=1))
    tmp.replace(out)
    print(f"fit k={args.k} + predict {args.n_query} (mean+std): median {res['median_ms']:.1f} ms "
          f"[{res['q25_ms']:.1f}, {res['q75_ms']:.1f}] (fit alone {res['median_fit_ms']:.1f} ms); "
          f"process CPU time {res['median_cpu_ms']:.1f} ms; load average {res['load_average'][0]:.1f} on "
          f"{os.cpu_count()} cores; "
          f"{args.threads} thread(s); target < 50 ms")


if __name__ == "__main__":
    main()
