"""Choosing the selection rule of ``auto`` on META-VALIDATION tasks (never meta-test).

For every episode (drawn exactly as ``metamat bench fewshot`` draws them) of the meta-val tasks at
k = 5, 10, 20, 50, this records each candidate's cross-validation errors on the support (as ``auto``
computes them) and its scale-free MAE on the query when fitted on the whole support. Rules are then
replayed offline: the arg-min of the CV MAE, and the margin rule (winner must beat a fallback by
``margin`` standard errors of the paired CV differences) for several fallbacks and margins. Every rule's
mean scale-free MAE comes with a 95% bootstrap CI over episodes (the seed noise of the selection) so a
setting is only preferred when it beats the others beyond that noise.

    PYTHONPATH=. python benchmarks/auto_rule_metaval.py --episodes 20 --out benchmarks/results/auto_rule_metaval

Two extensions (issue 13; META-TRAIN tasks only, ``--no-meta``):

- ``--hurdle``: every support with at least one value on the physical bound 0 also gets the ``hurdle``
  candidate, and the share of the support on the bound is recorded; rules ``hurdle from t`` offer it only
  when that share is >= t (t = 0.1 ... 0.5), ``... (fallback)`` also make it the fallback then;
- ``--low-fidelity``: tasks are built on ``composition+knowledge`` with the same-quantity surrogates kept
  (``keep_quantities``), those columns are ``auto``'s low-fidelity input, and rules with and without the
  ``lowfi``/``delta``/``delta_slope`` candidates (and with ``delta`` as the fallback) are replayed.
  Use it only on tasks whose rows the same-quantity surrogates were not trained on (e.g. the C2DB gaps
  and heats of formation: 2D materials, the surrogates learned OQMD/AFLOW bulk tables).
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
from metamat.models.auto import (
    DEFAULT_CANDIDATES,
    HURDLE,
    HURDLE_FALLBACK,
    LOW_FIDELITY_CANDIDATES,
    ZERO_INFLATION,
    margin_choice,
)
from metamat.models.registry import make_model
from metamat.threads import limit_threads

SHOTS = (5, 10, 20, 50)
FALLBACKS = ("pretrained", "rf_median", "median", "rf")
MARGINS = (0.0, 0.5, 1.0, 2.0)


def one_chunk(task, k: int, episodes: list[int], seed: int, candidates: tuple[str, ...] = DEFAULT_CANDIDATES,
              low_fidelity: tuple[int, ...] = (), hurdle: bool = False) -> list[dict]:
    out = []
    with limit_threads(1):
        for i in episodes:
            ep = make_episode(task, k, i, seed=seed)
            mseed = model_seed(seed, task_key(task), k, i)
            auto = make_model("auto", seed=mseed, candidates=candidates, low_fidelity=low_fidelity,
                              zero_inflation=1e-9 if hurdle else None,
                              fit_scaling=(ep.scaler.mean_, ep.scaler.scale_)).fit(ep.X_support, ep.y_support_fit)
            query = {}
            for c in auto.cv_errors_:
                if c == auto.chosen_:
                    m = auto.model_
                else:
                    m = auto._make(c, auto.template_).fit(auto._inputs(c, ep.X_support, auto.template_),
                                                          ep.y_support_fit)
                z = ep.scaler.inverse(np.asarray(m.predict(auto._inputs(c, ep.X_query, auto.template_)), float))
                query[c] = regression_scores(task, ep.query, z)["smae"]
            out.append({"task": task.name, "k": k, "episode": i, "query_smae": query,
                        "zero_share": auto.choice_["zero_inflation"]["share_on_bound"],
                        "cv_errors": {c: e.tolist() for c, e in auto.cv_errors_.items()}})
    return out


def replay(records: list[dict], rule, shots=SHOTS) -> dict[str, dict]:
    """{k: {mean, ci_low, ci_high, picks}} of the query sMAE of the model ``rule(cv_errors)`` picks; the mean
    over tasks per episode index, bootstrap CI over episode indices."""
    out = {}
    for k in shots:
        recs = [r for r in records if r["k"] == k]
        by_ep: dict[int, list[float]] = {}
        picks: dict[str, int] = {}
        for r in recs:
            e = {n: np.asarray(v) for n, v in r["cv_errors"].items()}
            c = rule(e, r.get("zero_share", 0.0)) if getattr(rule, "wants_share", False) else rule(
                _offered(e, 0.0, None, False))
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


def _offered(e: dict, share: float, hurdle_from: float | None, lowfi: bool) -> dict:
    """The candidates a rule offers: ``hurdle`` only when the support's share on the bound 0 is >=
    ``hurdle_from`` (``None``: never), the low-fidelity candidates only when ``lowfi``."""
    drop = set() if lowfi else set(LOW_FIDELITY_CANDIDATES)
    if hurdle_from is None or share < hurdle_from:
        drop.add(HURDLE)
    return {c: v for c, v in e.items() if c not in drop}


def _rule(hurdle_from: float | None, hurdle_fallback: bool, lowfi: bool, lowfi_fallback: str | None,
          e: dict, share: float) -> str:
    """The margin-1 rule over rf_median with the given hurdle trigger / low-fidelity options (as ``auto``)."""
    e = _offered(e, share, hurdle_from, lowfi)
    fb = "rf_median"
    if HURDLE in e and hurdle_fallback:
        fb = HURDLE
    if lowfi and lowfi_fallback in e:
        fb = lowfi_fallback
    return margin_choice(e, fb, 1.0)[0]


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
    ap.add_argument("--hurdle", action="store_true", help="record the hurdle candidate and the share on the bound 0")
    ap.add_argument("--low-fidelity", action="store_true",
                    help="composition+knowledge inputs, same-quantity surrogate columns as auto's low fidelity")
    ap.add_argument("--shots", default=",".join(map(str, SHOTS)))
    ap.add_argument("--max-rows", type=int, default=5000)
    args = ap.parse_args(argv)
    start = time.perf_counter()
    shots = tuple(int(k) for k in args.shots.split(","))
    candidates = tuple(c for c in DEFAULT_CANDIDATES if not (args.no_meta and c == "pretrained"))
    names = args.tasks if args.tasks.startswith("meta-") else args.tasks.split(",")
    if args.low_fidelity:
        from metamat.featurize.knowledge import same_quantity_columns
        from metamat.tasks.catalog import build_task, resolve_tasks

        tasks = [build_task(s, featurizers="composition+knowledge", max_rows=args.max_rows, seed=args.seed,
                            keep_quantities=True) for s in resolve_tasks(",".join(names) if isinstance(names, list)
                                                                         else names)]
        lowcols = {t.name: tuple(same_quantity_columns(t.feature_labels, t.quantity, t.transform.kind))
                   for t in tasks}
    else:
        tasks, _ = build_tasks(names, max_rows=args.max_rows, seed=args.seed)
        lowcols = {t.name: () for t in tasks}
    jobs = [(t, k, list(range(lo, min(lo + 5, args.episodes)))) for t in tasks for k in shots
            for lo in range(0, args.episodes, 5)]
    from joblib import Parallel, delayed

    records = [r for chunk in Parallel(n_jobs=args.n_jobs)(
        delayed(one_chunk)(t, k, e, args.seed, candidates, lowcols[t.name], args.hurdle) for t, k, e in jobs)
        for r in chunk]
    rules = {"argmin": _argmin}
    for c in candidates:
        rules[f"always {c}"] = partial(_always, c)
    for fb in (f for f in FALLBACKS if f in candidates):
        for mg in MARGINS:
            rules[f"margin {mg:g} over {fb}"] = partial(_margin, fb, mg)
    extra = {}
    if args.hurdle:
        for t in (0.1, 0.2, 0.3, 0.4, 0.5):
            extra[f"margin 1 over rf_median, hurdle from {t:g}"] = partial(_rule, t, False, False, None)
            extra[f"margin 1 over rf_median, hurdle from {t:g} (fallback)"] = partial(_rule, t, True, False, None)
    if any(lowcols.values()):
        hz = (ZERO_INFLATION if args.hurdle else None, HURDLE_FALLBACK)  # the shipped hurdle rule
        tag = f" (hurdle from {hz[0]:g})" if args.hurdle else ""
        extra[f"margin 1 over rf_median{tag}"] = partial(_rule, *hz, False, None)
        extra[f"margin 1 over rf_median{tag} + low-fidelity candidates"] = partial(_rule, *hz, True, None)
        for fb in ("delta", "lowfi", "delta_slope"):
            extra[f"margin 1 over {fb}{tag} + low-fidelity candidates"] = partial(_rule, *hz, True, fb)
        extra["argmin incl. low-fidelity candidates"] = lambda e, share: _argmin(e)
    for fn in extra.values():
        fn.wants_share = True
    rules.update(extra)
    rules["oracle (best on the query)"] = None
    table = {}
    for name, rule in rules.items():
        if rule is None:
            continue
        table[name] = replay(records, rule, shots)
    oracle = {}
    for k in shots:
        by_ep: dict[int, list[float]] = {}
        for r in records:
            if r["k"] == k:
                by_ep.setdefault(r["episode"], []).append(min(r["query_smae"].values()))
        vals = np.array([np.mean(v) for _, v in sorted(by_ep.items())])
        oracle[str(k)] = dict(zip(("mean", "ci_low", "ci_high"), bootstrap_mean_ci(vals, seed=0), strict=True))
    table["oracle (best on the query)"] = oracle
    doc = {"kind": "auto_rule_metaval", "tasks": [t.name for t in tasks], "shots": list(shots),
           "low_fidelity_columns": {t.name: [t.feature_labels[i] for i in lowcols[t.name]] for t in tasks},
           "zero_share_mean": {t.name: float(np.mean([r["zero_share"] for r in records if r["task"] == t.name]))
                               for t in tasks},
           "episodes": args.episodes, "seed": args.seed, "rules": table, "records": records,
           "seconds": time.perf_counter() - start}
    write_json(args.out / "results.json", doc, indent=1)
    with atomic_write(args.out / "COMMAND.txt", "w") as fh:
        fh.write(f"PYTHONPATH=. python benchmarks/auto_rule_metaval.py --episodes {args.episodes} --tasks {args.tasks}"
                 f"{' --no-meta' if args.no_meta else ''}{' --hurdle' if args.hurdle else ''}"
                 f"{' --low-fidelity' if args.low_fidelity else ''} --shots {args.shots} --max-rows {args.max_rows}"
                 f" --out {args.out}\n")
    for name, row in table.items():
        print(f"{name:32s} " + "  ".join(f"k={k}: {row[k]['mean']:.3f} [{row[k]['ci_low']:.3f},{row[k]['ci_high']:.3f}]"
                                         for k in row), file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
