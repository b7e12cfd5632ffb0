"""Speed of few-shot prediction at k = 50 support materials + 10,000 queries, part by part.

    python benchmarks/fewshot_speed.py [--k 50] [--n-query 10000] [--repeats 5] [--threads 1]

Times (median over ``--repeats``, wall clock and process CPU; CPU time is the honest figure when other jobs
share the cores):

- ``parse formulas``: the vectorized parser alone (each distinct string once);
- ``featurize composition``: parse + the 148 composition features of the queries;
- ``knowledge, reference path``: the per-surrogate path (:meth:`Surrogate.predict`, one member and one layer
  at a time, as before the stacked version) on precomputed composition features;
- ``knowledge surrogates, stacked``: the same 14 surrogates as one network (:class:`SurrogateStack`);
- ``featurize composition+knowledge, cold`` (empty cache) and ``warm`` (every composition cached);
- ``adapt+predict shipped``: the shipped meta-learner, ``fit`` on k rows + ``predict_dist`` on the queries;
- ``adapt+predict auto``: ``auto`` (every candidate, CV on the support, CV+ intervals) on
  composition+knowledge inputs;
- end to end for the shipped model with knowledge features: featurize (cold / warm) + adapt + predict;
- ``auto`` at each k of ``--auto-k`` (default 10 and 50): adapt+predict on cached features with the
  refit-free cross-validation (default, :mod:`metamat.models.fast_cv`) and with ``refit_cv=True`` (every
  candidate refitted per fold: the version before), and end to end (featurize support + queries, cold /
  warm knowledge cache, + auto).

Writes ``benchmarks/results/fewshot_speed/results.json`` and ``speed.png``. Target of issue 13: k = 50 +
10,000 queries including knowledge features under 100 ms.
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

OUT = Path(__file__).resolve().parent / "results" / "fewshot_speed"


def timed(fn, repeats: int, setup=None) -> dict[str, float]:
    wall, cpu = [], []
    for _ in range(repeats):
        if setup is not None:
            setup()
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return {"wall_ms": float(np.median(wall) * 1e3), "cpu_ms": float(np.median(cpu) * 1e3),
            "wall_min_ms": float(np.min(wall) * 1e3), "repeats": repeats}


def time_auto(res: dict, choices: dict, k: int, qry: list[str], Xq: np.ndarray, width: int,
              rng: np.random.Generator, args) -> None:
    """``auto`` rows at support size ``k`` (module docstring); the support is k further random formulas."""
    from metamat.featurize.pipeline import featurize_formulas
    from metamat.models.registry import make_model
    from metamat.train.synthetic import random_formulas

    sup = random_formulas(k, rng)
    Xs = featurize_formulas(sup, "composition+knowledge").values
    y = Xs[:, width] + 0.3 * rng.normal(size=k)  # a target with some signal: the first knowledge column
    for label, refit in (("refit CV (before)", True), ("fast CV", False)):
        auto = make_model("auto", meta_prefix=True, refit_cv=refit)
        auto.fit(Xs, y).predict_dist(Xq)  # warm-up
        row = f"adapt+predict auto k={k}, {label}"
        choices[row] = []

        def run(auto=auto, row=row):
            auto.fit(Xs, y).predict_dist(Xq)
            choices[row].append(auto.chosen_)

        res[row] = timed(run, args.auto_repeats if refit else args.repeats)
    auto = make_model("auto", meta_prefix=True)
    res[f"end to end auto k={k} + knowledge features, cold cache"] = timed(end_to_end(auto, sup, qry, y, True),
                                                                         args.repeats)
    res[f"end to end auto k={k} + knowledge features, warm cache"] = timed(end_to_end(auto, sup, qry, y, False),
                                                                         args.repeats)


def end_to_end(model, sup: list[str], qry: list[str], y: np.ndarray, cold: bool, width: int | None = None):
    """A timed run: composition + knowledge features of support and queries (after emptying the knowledge
    cache when ``cold``), then fit and predict ``model`` on the first ``width`` columns (all when None)."""
    from metamat.featurize.knowledge import clear_knowledge_cache
    from metamat.featurize.pipeline import featurize_formulas

    def run():
        if cold:
            clear_knowledge_cache()
        Xs_k = featurize_formulas(sup, "composition+knowledge").values
        Xq_k = featurize_formulas(qry, "composition+knowledge").values
        model.fit(Xs_k[:, :width], y).predict_dist(Xq_k[:, :width])
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--n-query", type=int, default=10000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--auto-repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--auto-k", default="10,50", help="support sizes of the auto rows")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from metamat.data.compositions import parse_formulas
    from metamat.featurize.knowledge import (
        clear_knowledge_cache,
        input_features,
        load_surrogates,
        surrogate_stacks,
    )
    from metamat.featurize.pipeline import featurize_formulas
    from metamat.fewshot import load_fewshot_model
    from metamat.train.synthetic import random_formulas

    rng = np.random.default_rng(0)
    formulas = random_formulas(args.k + args.n_query, rng)
    sup, qry = formulas[:args.k], formulas[args.k:]
    n_unique = len(set(qry))
    y = rng.normal(size=args.k)
    featurize_formulas(qry[:10], "composition+knowledge")  # imports, weights loaded
    res: dict[str, dict] = {}
    res["parse formulas"] = timed(lambda: parse_formulas(qry), args.repeats)
    res["featurize composition"] = timed(lambda: featurize_formulas(qry, "composition"), args.repeats)
    Xc = input_features(parse_formulas(qry).compositions)
    surrogates = load_surrogates()

    def reference():
        for s in surrogates:
            s.predict(Xc)

    res["knowledge, reference path (surrogates only)"] = timed(reference, max(1, args.repeats // 2))

    def stacked():
        for _, stack in surrogate_stacks(surrogates):
            stack.predict(Xc)

    res["knowledge surrogates, stacked"] = timed(stacked, args.repeats)
    res["featurize composition+knowledge, cold"] = timed(
        lambda: featurize_formulas(qry, "composition+knowledge"), args.repeats, setup=clear_knowledge_cache)
    featurize_formulas(qry, "composition+knowledge")
    res["featurize composition+knowledge, warm"] = timed(
        lambda: featurize_formulas(qry, "composition+knowledge"), args.repeats)

    Xs_c = featurize_formulas(sup, "composition").values
    Xq_c = featurize_formulas(qry, "composition").values
    shipped = load_fewshot_model("default")
    shipped.fit(Xs_c, y).predict_dist(Xq_c)  # warm-up
    res["adapt+predict shipped (composition)"] = timed(lambda: shipped.fit(Xs_c, y).predict_dist(Xq_c),
                                                       args.repeats)

    Xq = featurize_formulas(qry, "composition+knowledge").values
    width = Xs_c.shape[1]

    res["end to end shipped + knowledge features, cold cache"] = timed(end_to_end(shipped, sup, qry, y, True, width),
                                                                     args.repeats)
    res["end to end shipped + knowledge features, warm cache"] = timed(end_to_end(shipped, sup, qry, y, False, width),
                                                                     args.repeats)
    choices: dict[str, list[str]] = {}
    for k in (int(v) for v in args.auto_k.split(",")):
        time_auto(res, choices, k, qry, Xq, width, rng, args)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record = {"k": args.k, "n_query": args.n_query, "unique_query_formulas": n_unique, "threads": args.threads,
              "timings": res, "auto_chose": choices, "load_average": list(os.getloadavg()), "cpus": os.cpu_count(),
              "target_ms": 100.0, "python": platform.python_version(), "torch": torch.__version__}
    tmp = out / "results.json.tmp"
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(out / "results.json")
    (out / "COMMAND.txt").write_text(f"python benchmarks/fewshot_speed.py --k {args.k} --n-query {args.n_query} "
                                     f"--repeats {args.repeats} --auto-repeats {args.auto_repeats} "
                                     f"--threads {args.threads} --auto-k {args.auto_k}\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(res)
    fig, ax = plt.subplots(figsize=(10, 0.35 * len(names) + 1.5))
    ax.barh(names, [res[n]["cpu_ms"] for n in names], color="tab:blue", label="process CPU time")
    ax.axvline(100, color="tab:red", ls="--", label="target 100 ms")
    ax.set_xscale("log")
    ax.set_xlabel(f"ms (median of repeats), k = {args.k}, {args.n_query:,} queries, {args.threads} thread(s)")
    ax.invert_yaxis()
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    fig.tight_layout()
    tmp_png = out / "speed.tmp.png"
    fig.savefig(tmp_png, dpi=110)
    tmp_png.replace(out / "speed.png")
    for n in names:
        print(f"{n:55s} wall {res[n]['wall_ms']:9.1f} ms  cpu {res[n]['cpu_ms']:9.1f} ms")
    print(f"auto chose {choices}; {n_unique} unique query formulas; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")


if __name__ == "__main__":
    main()
