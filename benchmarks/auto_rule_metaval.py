"""Choosing the selection rule of ``auto`` on META-VALIDATION tasks (never meta-test).

For every episode (drawn exactly as ``metamat bench fewshot`` draws them) of the meta-val tasks at
k = 5, 10, 20, 50, this records each candidate's cross-validation errors on the support (as ``auto``
computes them) and its scale-free MAE on the query when fitted on the whole support. Rules are then
replayed offline: the arg-min of the CV MAE, and the margin rule (winner must beat a fallback by
``margin`` standard errors of the paired CV differences) for several fallbacks and margins. Every rule's
mean scale-free MAE comes with a 95% bootstrap CI over episodes (the seed noise of the selection) so a
setting is only preferred when it beats the others beyond that noise.

    PYTHONPATH=. python benchmarks/auto_rule_metaval.py --episodes 20 --out benchmarks/results/auto_rule_metaval
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

from metamat.evaluate.episodes import make_episode, model_seed, task_key
from metamat.evaluate.running import build_tasks
from metamat.evaluate.scoring import regression_scores
from metamat.evaluate.uncertainty import bootstrap_mean_ci
from metamat.files import atomic_write, write_json
from metamat.models.auto import DEFAULT_CANDIDATES, margin_choice
from metamat.models.registry import make_model
from metamat.threads import limit_threads

SHOTS = (5, 10, 20, 50)
FALLBACKS = ("pretrained", "rf_median", "median", "rf")
MARGINS = (0.0, 0.5, 1.0, 2.0)


def one_chunk(task, k: int, episodes: list[int], seed: int, candidates: tuple[str, ...] = DEFAULT_CANDIDATES
              ) -> list[dict]:
    out = []
    with limit_threads(1):
        for i in episodes:
            ep = make_episode(task, k, i, seed=seed)
            mseed = model_seed(seed, task_key(task), k, i)
            auto = make_model("auto", seed=mseed, candidates=candidates).fit(ep.X_support, ep.y_support_fit)
            query = {}
            for c in auto.cv_errors_:
                if c == auto.chosen_:
                    m = auto.model_
                elif c == "pretrained":
                    m = auto._make(c, auto.template_).fit(ep.X_support, ep.y_support_fit)
                else:
                    m = auto._make(c, None).fit(ep.X_support, ep.y_support_fit)
                z = ep.scaler.inverse(np.asarray(m.predict(ep.X_query), float))
                query[c] = regression_scores(task, ep.query, z)["smae"]
            out.append({"task": task.name, "k": k, "episode": i, "query_smae": query,
                        "cv_errors": {c: e.tolist() for c, e in auto.cv_errors_.items()}})
    return out


def replay(records: list[dict], rule) -> dict[str, dict]:
    """{k: {mean, ci_low, ci_high, picks}} of the query sMAE of the model ``rule(cv_errors)`` picks; the mean
    over tasks per episode index, bootstrap CI over episode indices."""
    out = {}
    for k in SHOTS:
        recs = [r for r in records if r["k"] == k]
        by_ep: dict[int, list[float]] = {}
        picks: dict[str, int] = {}
        for r in recs:
            c = rule({n: np.asarray(e) for n, e in r["cv_errors"].items()})
            picks[c] = picks.get(c, 0) + 1
            by_ep.setdefault(r["episode"], []).append(r["query_smae"][c])
        vals = np.array([np.mean(v) for _, v in sorted(by_ep.items())])
        m, lo, hi = bootstrap_mean_ci(vals, seed=0)
        out[str(k)] = {"mean": m, "ci_low": lo, "ci_high": hi, "picks": picks}
    return out


def _argmin(e: dict) -> str:
    return min(e, key=lambda c: e[c].mean())


def _always(c: str, e: dict) -> str:
    return c if c in e else "rf_median"


def _margin(fb: str, mg: float, e: dict) -> str:
    return margin_choice(e, fb if fb in e else "rf_median", mg)[0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/auto_rule_metaval"))
    ap.add_argument("--tasks", default="meta-val",
                    help="task group or comma-separated names (meta-train tasks: pass --no-meta, the shipped "
                         "meta-learner saw them)")
    ap.add_argument("--no-meta", action="store_true", help="leave the shipped meta-learner out of the candidates")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    candidates = tuple(c for c in DEFAULT_CANDIDATES if not (args.no_meta and c == "pretrained"))
    names = args.tasks if args.tasks.startswith("meta-") else args.tasks.split(",")
    tasks, _ = build_tasks(names, max_rows=5000, seed=args.seed)
    jobs = [(t, k, list(range(lo, min(lo + 5, args.episodes)))) for t in tasks for k in SHOTS
            for lo in range(0, args.episodes, 5)]
    from joblib import Parallel, delayed

    records = [r for chunk in Parallel(n_jobs=args.n_jobs)(delayed(one_chunk)(t, k, e, args.seed, candidates)
                                                            for t, k, e in jobs) for r in chunk]
    rules = {"argmin": _argmin}
    for c in candidates:
        rules[f"always {c}"] = partial(_always, c)
    for fb in (f for f in FALLBACKS if f in candidates):
        for mg in MARGINS:
            rules[f"margin {mg:g} over {fb}"] = partial(_margin, fb, mg)
    rules["oracle (best on the query)"] = None
    table = {}
    for name, rule in rules.items():
        if rule is None:
            continue
        table[name] = replay(records, rule)
    oracle = {}
    for k in SHOTS:
        by_ep: dict[int, list[float]] = {}
        for r in records:
            if r["k"] == k:
                by_ep.setdefault(r["episode"], []).append(min(r["query_smae"].values()))
        vals = np.array([np.mean(v) for _, v in sorted(by_ep.items())])
        oracle[str(k)] = dict(zip(("mean", "ci_low", "ci_high"), bootstrap_mean_ci(vals, seed=0), strict=True))
    table["oracle (best on the query)"] = oracle
    doc = {"kind": "auto_rule_metaval", "tasks": [t.name for t in tasks], "shots": list(SHOTS),
           "episodes": args.episodes, "seed": args.seed, "rules": table, "records": records,
           "seconds": time.perf_counter() - start}
    write_json(args.out / "results.json", doc, indent=1)
    with atomic_write(args.out / "COMMAND.txt", "w") as fh:
        fh.write(f"PYTHONPATH=. python benchmarks/auto_rule_metaval.py --episodes {args.episodes} --tasks {args.tasks}"
                 f"{' --no-meta' if args.no_meta else ''} --out {args.out}\n")
    for name, row in table.items():
        print(f"{name:32s} " + "  ".join(f"k={k}: {row[k]['mean']:.3f} [{row[k]['ci_low']:.3f},{row[k]['ci_high']:.3f}]"
                                         for k in row), file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
