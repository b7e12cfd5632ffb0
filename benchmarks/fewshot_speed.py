"""Speed of few-shot prediction at k = 50 support materials + 10,000 queries, part by part, on 1 and 2 threads.

    python benchmarks/fewshot_speed.py [--k 50] [--n-query 10000] [--repeats 7] [--threads 1,2]
                                       [--before BEFORE.json]

Imports ``metamat`` from the repository the script lives in. Per thread count T (``--threads``; torch may
use T threads, ``auto`` runs with ``n_jobs=T``; its numbers do not depend on T), times (median over
``--repeats``, wall clock and process CPU; the load average is recorded, the machine is shared):

- ``parse formulas``, ``featurize composition``: the vectorized parser / the 148 composition features;
- ``knowledge surrogates, stacked``: the 14 knowledge surrogates on the queries' composition features;
- ``featurize composition+knowledge, cold`` (empty knowledge cache) and ``warm`` (every composition cached);
- ``adapt+predict shipped``: the shipped meta-learner, ``fit`` on k rows + ``predict_dist`` on the queries;
- ``auto part: ...``: the parts of ``auto`` at k = 50 (forest fit, GP fit, meta-learner CV, the trees on
  the queries, the tree median, the CV+ interval);
- ``adapt+predict auto k=K``: ``auto`` (every candidate, CV on the support, CV+ intervals) on cached
  composition+knowledge features, for each K of ``--auto-k``; ``end to end auto k=K``: featurize support +
  queries (cold / warm knowledge cache) + auto;
- ``end to end auto k=50, fresh process``: the first call after ``import`` in a new Python process (knowledge
  weights, the meta-learner and the featurizer tables loaded by that call), median of ``--fresh`` processes.

``--before``: a results.json of this script run on the code before (same machine), embedded for the table.
Writes ``benchmarks/results/fewshot_speed/results.json`` and ``speed.png``. Target of issue 13: k = 50 +
10,000 queries including knowledge features under 100 ms.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "benchmarks" / "results" / "fewshot_speed"
FRESH = """
import sys, time
t = time.perf_counter()
sys.path.insert(0, {root!r})
import numpy as np, torch
torch.set_num_threads({threads})
from metamat.featurize.pipeline import featurize_formulas
from metamat.models.registry import make_model
from metamat.train.synthetic import random_formulas
rng = np.random.default_rng(0)
f = random_formulas({k} + {q}, rng)
sup, qry = f[:{k}], f[{k}:]
y = rng.normal(size={k})
imported = time.perf_counter() - t
t = time.perf_counter()
Xs = featurize_formulas(sup, "composition+knowledge").values
Xq = featurize_formulas(qry, "composition+knowledge").values
make_model("auto", meta_prefix=True, **{kw}).fit(Xs, y).predict_dist(Xq)
print(time.perf_counter() - t, imported)
"""


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
            "wall_min_ms": float(np.min(wall) * 1e3), "repeats": repeats, "load": os.getloadavg()[0]}


def accepts(fn, name: str) -> bool:
    return name in inspect.signature(fn).parameters


def auto_kwargs(threads: int) -> dict:
    return {"n_jobs": threads}


def time_parts(res: dict, Xs: np.ndarray, y: np.ndarray, Xq: np.ndarray, threads: int, repeats: int) -> None:
    """The big parts of ``auto`` at this support (module docstring)."""
    from metamat.models import fast_cv
    from metamat.models.baselines import _rf_tree_predictions
    from metamat.models.registry import make_model

    opts = {"n_jobs": threads}
    res["auto part: forest fit (100 trees)"] = timed(
        lambda: make_model("rf_median", n_estimators=100, **opts).fit(Xs, y), repeats)
    res["auto part: GP fit (3 optimizer starts)"] = timed(lambda: make_model("gp").fit(Xs, y), repeats)
    auto = make_model("auto", meta_prefix=True, **auto_kwargs(threads)).fit(Xs, y)
    template = auto.template_
    if template is not None:
        res["auto part: meta-learner CV (all folds)"] = timed(
            lambda: fast_cv.meta_cv(auto._make("pretrained", template), Xs[:, :template.prep_.n_features_in_], y,
                                    auto.fold_of_row_), repeats)
    rf = make_model("rf_median", n_estimators=100, **opts).fit(Xs, y)
    Zq = rf._prepare_predict(Xq)
    tree_kw = {"n_jobs": threads} if accepts(_rf_tree_predictions, "n_jobs") else {}
    res["auto part: 100 trees on the queries"] = timed(lambda: _rf_tree_predictions(rf.model_, Zq, **tree_kw),
                                                       repeats)
    per_tree = _rf_tree_predictions(rf.model_, Zq, **tree_kw)
    res["auto part: median over trees"] = timed(lambda: np.median(per_tree, axis=0), repeats)
    loo = np.random.default_rng(0).normal(size=(len(y), len(Xq)))
    conf_kw = {"n_jobs": threads} if accepts(fast_cv.conformal_plus, "n_jobs") else {}
    res["auto part: CV+ interval"] = timed(lambda: fast_cv.conformal_plus(loo, np.abs(y), 0.9, **conf_kw), repeats)


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


def fresh_process(args, threads: int) -> dict[str, float]:
    """End to end auto in new processes (module docstring)."""
    code = FRESH.format(root=str(ROOT), threads=threads, k=args.k, q=args.n_query, kw=auto_kwargs(threads))
    runs = []
    for _ in range(args.fresh):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
        runs.append([float(v) for v in out.stdout.split()[-2:]])
    runs = np.array(runs)
    return {"wall_ms": float(np.median(runs[:, 0]) * 1e3), "wall_min_ms": float(np.min(runs[:, 0]) * 1e3),
            "import_s": float(np.median(runs[:, 1])), "repeats": args.fresh, "load": os.getloadavg()[0]}


def run_threads(args, threads: int, choices: dict) -> dict[str, dict]:
    from metamat.data.compositions import parse_formulas
    from metamat.featurize.knowledge import clear_knowledge_cache, input_features, load_surrogates, surrogate_stacks
    from metamat.featurize.pipeline import featurize_formulas
    from metamat.fewshot import load_fewshot_model
    from metamat.models.registry import make_model
    from metamat.train.synthetic import random_formulas

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    formulas = random_formulas(args.k + args.n_query, rng)
    sup, qry = formulas[:args.k], formulas[args.k:]
    y = rng.normal(size=args.k)
    featurize_formulas(qry[:10], "composition+knowledge")  # imports, weights loaded
    res: dict[str, dict] = {}
    res["parse formulas"] = timed(lambda: parse_formulas(qry), args.repeats)
    res["featurize composition"] = timed(lambda: featurize_formulas(qry, "composition"), args.repeats)
    Xc = input_features(parse_formulas(qry).compositions)
    surrogates = load_surrogates()
    res["knowledge surrogates, stacked"] = timed(
        lambda: [stack.predict(Xc) for _, stack in surrogate_stacks(surrogates)], args.repeats)
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
    width = Xs_c.shape[1]
    res["end to end shipped + knowledge, warm cache"] = timed(end_to_end(shipped, sup, qry, y, False, width),
                                                            args.repeats)
    Xq = featurize_formulas(qry, "composition+knowledge").values
    for k in (int(v) for v in args.auto_k.split(",")):
        sup_k = random_formulas(k, np.random.default_rng(k))
        Xs = featurize_formulas(sup_k, "composition+knowledge").values
        y_k = Xs[:, width] + 0.3 * np.random.default_rng(k + 1).normal(size=k)  # some signal: a knowledge column
        if k == args.k:
            from metamat.threads import limit_threads

            with limit_threads(1):  # as auto runs them: one BLAS/torch thread, n_jobs Python threads
                time_parts(res, Xs, y_k, Xq, threads, args.repeats)
        auto = make_model("auto", meta_prefix=True, **auto_kwargs(threads))
        auto.fit(Xs, y_k).predict_dist(Xq)  # warm-up
        row = f"adapt+predict auto k={k}"
        choices.setdefault(f"{row}, {threads} thread(s)", [])

        def run(auto=auto, Xs=Xs, y_k=y_k, row=row):
            auto.fit(Xs, y_k).predict_dist(Xq)
            choices[f"{row}, {threads} thread(s)"].append(auto.chosen_)

        res[row] = timed(run, args.repeats)
        res[f"end to end auto k={k} + knowledge, cold cache"] = timed(end_to_end(auto, sup_k, qry, y_k, True),
                                                                    args.repeats)
        res[f"end to end auto k={k} + knowledge, warm cache"] = timed(end_to_end(auto, sup_k, qry, y_k, False),
                                                                    args.repeats)
    if args.fresh:
        res[f"end to end auto k={args.k}, fresh process"] = fresh_process(args, threads)
    return res


def plot(path: Path, record: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = [(f"{t} thread(s)", rows) for t, rows in record["timings"].items()]
    if record.get("before"):
        series.insert(0, (f"before ({record['before']['label']}, 1 thread)", record["before"]["timings"]["1"]))
    names = list(dict.fromkeys(n for _, rows in series for n in rows))
    fig, ax = plt.subplots(figsize=(11, 0.42 * len(names) + 1.8))
    h = 0.8 / len(series)
    for i, (label, rows) in enumerate(series):
        ax.barh(np.arange(len(names)) + i * h, [rows.get(n, {}).get("wall_ms", np.nan) for n in names], h,
                label=label)
    ax.set_yticks(np.arange(len(names)) + 0.4 - h / 2, names, fontsize=8)
    ax.axvline(100, color="tab:red", ls="--", label="target 100 ms")
    ax.set_xscale("log")
    ax.set_xlabel(f"wall ms (median of repeats), k = {record['k']}, {record['n_query']:,} queries; "
                  f"load average {record['load_average'][0]:.1f} on {record['cpus']} cores")
    ax.invert_yaxis()
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=len(series) + 1, fontsize=8)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    tmp.replace(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--n-query", type=int, default=10000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    ap.add_argument("--auto-k", default="10,50", help="support sizes of the auto rows")
    ap.add_argument("--fresh", type=int, default=3, help="fresh processes for the cold end-to-end row (0: none)")
    ap.add_argument("--before", default=None, help="results.json of this script on the code before")
    ap.add_argument("--before-label", default="before")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    choices: dict[str, list[str]] = {}
    uptime_before = os.getloadavg()
    timings = {t: run_threads(args, int(t), choices) for t in args.threads.split(",")}
    record = {"k": args.k, "n_query": args.n_query, "threads": args.threads, "timings": timings,
              "auto_chose": choices, "load_average_at_start": list(uptime_before),
              "load_average": list(os.getloadavg()), "cpus": os.cpu_count(), "target_ms": 100.0,
              "python": platform.python_version(), "torch": torch.__version__,
              "metamat": str(ROOT)}
    if args.before:
        before = json.loads(Path(args.before).read_text())
        record["before"] = {"label": args.before_label, "timings": before["timings"],
                            "load_average": before.get("load_average")}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "results.json.tmp"
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(out / "results.json")
    plot(out / "speed.png", record)
    for t, rows in timings.items():
        for n, r in rows.items():
            print(f"{t} thr  {n:55s} wall {r['wall_ms']:8.1f} ms (min {r['wall_min_ms']:7.1f})  "
                  f"cpu {r.get('cpu_ms', float('nan')):8.1f} ms  load {r['load']:.1f}")
    print(f"auto chose {choices}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
