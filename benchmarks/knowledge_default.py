"""Issue 13, section 6: does a default meta-learner with knowledge inputs beat the shipped one?

Compares saved Meta-SGD models on the meta-validation and meta-test tasks with the episodes of ``bench
fewshot`` (policy chemical_system, same seeds, so every model sees the same supports and queries): the
shipped default (``composition`` inputs) against candidates trained by ``scripts/train_default_model.py
--features composition+knowledge`` (their tasks are built with ``fixed_width``: a surrogate of the task's
own quantity, here the elastic-anisotropy one on that meta-val task, is a NaN column, never a value), and
``rf_median`` (the best baseline of ``bench fewshot``) as the yardstick. Reported per split: the
family-weighted scale-free MAE with bootstrap CIs (:mod:`metamat.evaluate.uncertainty`), coverage, and
the paired difference of each candidate to the shipped default with a bootstrap CI over episodes.

    METAMAT_DATA_DIR=../shared/data PYTHONPATH=. python benchmarks/knowledge_default.py \\
        --model know0=PATH [--model know1=PATH ...] --out benchmarks/results/knowledge_default
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np


def paired_diff(records: list[dict], a: str, b: str, k: int, families: dict[str, str], n_boot: int = 2000,
                seed: int = 0) -> dict[str, float]:
    """Family-weighted mean of smae(a) - smae(b) over shared episodes, with the hierarchical bootstrap."""
    from metamat.evaluate.uncertainty import hierarchical_ci

    vals: dict[str, dict[int, dict[str, float]]] = {}
    for r in records:
        if r.get("k") == k and r.get("model") in (a, b) and "metrics" in r:
            vals.setdefault(r["task"], {}).setdefault(r["episode"], {})[r["model"]] = r["metrics"]["smae"]
    groups: dict[str, dict[str, np.ndarray]] = {}
    for task, eps in vals.items():
        d = np.array([e[a] - e[b] for e in eps.values() if a in e and b in e])
        groups.setdefault(families[task], {})[task] = d
    m, lo, hi = hierarchical_ci(groups, n_boot=n_boot, seed=seed)
    return {"mean": m, "ci_low": lo, "ci_high": hi}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", default=[], help="LABEL=PATH of a composition+knowledge model")
    ap.add_argument("--composition-model", action="append", default=[],
                    help="LABEL=PATH of another composition-input model (e.g. a second seed of the default)")
    ap.add_argument("--splits", default="meta-val,meta-test")
    ap.add_argument("--shots", default="10,50")
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--max-query", type=int, default=300)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results/knowledge_default")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()

    from metamat.evaluate.model_specs import ModelSpec, model_specs
    from metamat.evaluate.running import run_episodes
    from metamat.evaluate.uncertainty import family_summary
    from metamat.files import write_json
    from metamat.models.leakage import seen_quantities
    from metamat.models.registry import MetaModelFactory, training_info
    from metamat.tasks.catalog import build_task, resolve_tasks

    start = time.perf_counter()
    shots = [int(k) for k in args.shots.split(",")]
    comp = [ModelSpec("default", factory=MetaModelFactory("default")), *model_specs(["rf_median"])]
    comp += [ModelSpec(lab, factory=MetaModelFactory(p))
             for lab, p in (m.split("=", 1) for m in args.composition_model)]
    know = [ModelSpec(lab, factory=MetaModelFactory(p)) for lab, p in (m.split("=", 1) for m in args.model)]
    doc: dict[str, Any] = {"kind": "knowledge_default", "config": vars(args), "splits": {}}
    seen = set().union(*(seen_quantities(training_info(p)) for p in
                         [m.split("=", 1)[1] for m in args.model + args.composition_model] + ["default"]))
    for split in args.splits.split(","):
        specs = resolve_tasks(split)
        dropped = [] if split == "meta-val" else [s.name for s in specs if s.group in seen]
        specs = [s for s in specs if s.name not in dropped]  # a model trained on it (--include): left out for all
        records: list[dict] = []
        families: dict[str, str] = {}
        leakage: list = []
        for features, models in (("composition", comp), ("composition+knowledge", know)):
            if not models:
                continue
            tasks = [build_task(s, data_dir=args.data_dir, featurizers=features, max_rows=5000, seed=args.seed,
                                fixed_width=features != "composition") for s in specs]
            families.update({t.name: t.quantity for t in tasks})
            res = run_episodes(tasks, models, shots=shots, episodes=args.episodes, seed=args.seed,
                               max_query=args.max_query, n_jobs=args.n_jobs, keep_records=True,
                               allow_leakage=split == "meta-val")  # meta-val chose the early-stopping step
            records += res.pop("episodes")
            leakage += res["leakage"]
        fam = family_summary(records, families, metrics=("smae", "srmse", "interval_coverage90"))
        labels = [s.name for s in comp + know]
        doc["splits"][split] = {
            "summary_families": fam["summary"], "families": fam["families"], "leakage": leakage,
            "dropped_tasks": dropped,
            "vs_default": {lab: {str(k): paired_diff(records, lab, "default", k, families) for k in shots}
                           for lab in labels if lab != "default"}}
        print(split, f"(left out, seen in training by a model: {dropped})" if dropped else "")
        for lab in labels:
            cells = "  ".join(f"k={k}: {fam['summary'][lab][str(k)]['smae']['mean']:.3f} "
                              f"[{fam['summary'][lab][str(k)]['smae']['ci_low']:.3f}, "
                              f"{fam['summary'][lab][str(k)]['smae']['ci_high']:.3f}]" for k in shots)
            diff = "" if lab == "default" else "  diff vs default " + "  ".join(
                f"{d['mean']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"
                for d in doc["splits"][split]["vs_default"][lab].values())
            print(f"  {lab:12s} {cells}{diff}", flush=True)
    doc["seconds"] = time.perf_counter() - start
    write_json(Path(args.out) / "results.json", doc)


if __name__ == "__main__":
    main()
