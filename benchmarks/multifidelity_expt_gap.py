"""Multi-fidelity learning DFT -> experiment on matbench_expt_gap (official matbench v0.1 folds).

Low fidelity per composition: the median OQMD/AFLOW/Materials Project (matbench_mp_gap, PBE) DFT band gap
over every entry with the same reduced composition (all polymorphs; computed values, so no experimental
value reaches training), else the shipped
``oqmd_band_gap`` knowledge surrogate (trained with every matbench_expt_gap composition removed from its
train/val rows, see scripts/train_knowledge_surrogates.py). Learners on the 148 ``composition`` features:

- single fidelity: ``rf`` (the matbench RF-SCM/Magpie learner's setting, fewer trees here), ``rf_median``
  (median over the trees), ``hurdle`` (a forest classifier for gap > 0 times a median forest on the
  non-metals; the predictive distribution is the mixture, its median the point), ``gp`` (curve only);
- ``rf+low``: extra input columns: each table's median gap (OQMD, AFLOW, MP; the combined value where a
  table lacks the composition), the surrogate's prediction, the combined low-fidelity gap and a
  "from a table" flag;
- ``rf_median+low`` (curve only), ``hurdle+low``: the same learners with these columns;
- ``delta-rf_median``: delta learning, median forest on y - low (same inputs), clipped at 0 eV;
- ``koh-gp``: Kennedy-O'Hagan co-kriging, y = rho * low + b + GP delta (at most ``--koh-rows`` rows);
- ``low``: the low-fidelity value itself.

Learning curve: n = 10, 20, 50, 100, 200 training gaps drawn (seeded) from each fold's training rows, scored
on that fold's full test set; "all" is the full folds. Writes results.json, mae_by_model.png,
learning_curve.png and COMMAND.txt into benchmarks/results/multifidelity_expt_gap/.

    METAMAT_DATA_DIR=/work/shared/data python benchmarks/multifidelity_expt_gap.py
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PUBLISHED = {"Darwin": 0.2865, "MODNet": 0.3327, "CrabNet": 0.3463, "RF-SCM/Magpie": 0.4461}
CURVE_SIZES = (10, 20, 50, 100, 200)


def build_models(trees: int, koh_rows: int, seed: int, curve: bool) -> dict:
    from metamat.models.baselines import GPRegressor, RFClassifier, RFMedianRegressor, RFRegressor
    from metamat.models.multifidelity import DeltaRegressor, KOHRegressor
    from metamat.models.physics import BoundedRegressor, HurdleRegressor

    rf = RFRegressor(n_estimators=trees, n_jobs=2, seed=seed)
    rfm = RFMedianRegressor(n_estimators=trees, n_jobs=2, seed=seed)
    clf = RFClassifier(n_estimators=trees, n_jobs=2, seed=seed)
    models = {
        "rf": ("composition", rf),
        "rf_median": ("composition", rfm),
        "hurdle": ("composition", HurdleRegressor(clf, rfm)),
        "rf+low": ("composition+low", rf),
        "rf_median+low": ("composition+low", rfm),
        "delta-rf_median": ("composition+low", BoundedRegressor(DeltaRegressor(rfm, low_column=-2), low=0.0,
                                                                transform="clip")),
        "hurdle+low": ("composition+low", HurdleRegressor(clf, rfm)),
        "koh-gp": ("composition+low", BoundedRegressor(KOHRegressor(low_column=-2, n_restarts=0, seed=seed),
                                                       low=0.0, transform="clip")),
    }
    if curve:
        models["gp"] = ("composition", GPRegressor(n_restarts=0, seed=seed))
        models.pop("rf+low")
    else:
        models.pop("rf_median+low")
    return models


def score(name, inputs, model, X, Xlow, y, train, test, koh_rows, rng):
    from sklearn.base import clone

    A = X if inputs == "composition" else Xlow
    if name == "koh-gp" and len(train) > koh_rows:
        train = np.sort(rng.choice(train, koh_rows, replace=False))
    m = clone(model).fit(A[train], y[train])
    pred = m.predict(A[test])
    lo, hi = m.predict_interval(A[test], 0.9)
    err = pred - y[test]
    return {"mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err**2))),
            "coverage_90": float(np.mean((y[test] >= lo) & (y[test] <= hi))), "n_train": int(len(train)),
            "min_pred": float(pred.min()), "min_lower": float(lo.min())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("METAMAT_DATA_DIR"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/multifidelity_expt_gap"))
    ap.add_argument("--trees", type=int, default=100, help="RF trees (matbench RF: 500)")
    ap.add_argument("--koh-rows", type=int, default=600, help="training rows for co-kriging (GP is O(n^3))")
    ap.add_argument("--folds", default="0,1,2,3,4")
    ap.add_argument("--skip-curve", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--replot", action="store_true", help="only redraw the PNGs from results.json")
    args = ap.parse_args()
    if args.replot:
        import json

        plot(json.loads((Path(args.out) / "results.json").read_text()), Path(args.out))
        return
    if not args.data_dir:
        sys.exit("set METAMAT_DATA_DIR or pass --data-dir")
    from metamat.data.registry import load_dataset
    from metamat.evaluate.matbench_runner import fold_indices
    from metamat.featurize.low_fidelity import low_fidelity
    from metamat.featurize.pipeline import featurize_formulas
    from metamat.files import atomic_write, write_json
    from metamat.threads import limit_threads

    start = time.perf_counter()
    table = load_dataset("matbench_expt_gap", data_dir=args.data_dir)
    y = table.target("target")
    X = featurize_formulas(table.formulas, "composition").values
    low = low_fidelity(table.formulas, data_dir=args.data_dir)
    # per-table medians (missing -> the combined value), the surrogate's prediction, then the combined
    # low-fidelity value and its from-table flag last (delta learning and co-kriging use column -2)
    per = [np.where(np.isfinite(v), v, low.value) for v in low.per_table.values()]
    Xlow = np.column_stack([X, *per, low.surrogate, low.value, low.from_table.astype(float)])
    splits = fold_indices(table.ids, "matbench_expt_gap")
    folds = [int(f) for f in args.folds.split(",")]
    rng = np.random.default_rng(args.seed)
    full: dict[str, list] = {}
    curve: dict[str, dict[str, list]] = {}
    with limit_threads(1):
        for f in folds:
            train, test = splits[f]
            full.setdefault("low", []).append({"mae": float(np.mean(np.abs(low.value[test] - y[test])))})
            for name, (inputs, model) in build_models(args.trees, args.koh_rows, args.seed, False).items():
                rec = score(name, inputs, model, X, Xlow, y, train, test, args.koh_rows, rng)
                full.setdefault(name, []).append(rec)
                print(f"fold {f} {name}: MAE {full[name][-1]['mae']:.4f}", flush=True)
            if args.skip_curve:
                continue
            for n in CURVE_SIZES:
                sub = np.sort(rng.choice(train, n, replace=False))
                for name, (inputs, model) in build_models(args.trees, args.koh_rows, args.seed, True).items():
                    rec = score(name, inputs, model, X, Xlow, y, sub, test, args.koh_rows, rng)
                    curve.setdefault(name, {}).setdefault(str(n), []).append(rec["mae"])
            print(f"fold {f} curve done ({time.perf_counter() - start:.0f} s)", flush=True)
    summary = {name: {"mean_mae": float(np.mean([r["mae"] for r in recs])),
                      "mae_per_fold": [r["mae"] for r in recs],
                      **({"mean_rmse": float(np.mean([r["rmse"] for r in recs])),
                          "mean_coverage_90": float(np.mean([r["coverage_90"] for r in recs])),
                          "min_prediction": float(min(r["min_pred"] for r in recs)),
                          "min_interval_lower": float(min(r["min_lower"] for r in recs))} if "rmse" in recs[0] else {})}
               for name, recs in full.items()}
    curve_summary = {name: {n: float(np.mean(v)) for n, v in d.items()} for name, d in curve.items()}
    for name in curve_summary:
        if name in summary:
            curve_summary[name]["all"] = summary[name]["mean_mae"]
    doc = {
        "benchmark": "multifidelity_expt_gap", "task": "matbench_expt_gap", "folds": folds, "units": "eV",
        "low_fidelity": {"source": low.source, "rows_from_table": int(low.from_table.sum()),
                         "rows_per_table": {k: int(np.isfinite(v).sum()) for k, v in low.per_table.items()},
                         "rows_from_surrogate": int((~low.from_table).sum()),
                         "leakage": "table values are DFT (computed, not experimental); the band-gap surrogate "
                                    "was trained with every matbench_expt_gap composition removed"},
        "config": {"rf_trees": args.trees, "koh_rows": args.koh_rows, "seed": args.seed,
                   "features": "composition (148)",
                   "full_run": "--trees 500 --koh-rows 2000 (not run here: shared 2-core machine)"},
        "results": summary, "learning_curve": curve_summary, "curve_sizes": list(CURVE_SIZES),
        "published_composition_only_mae": PUBLISHED, "seconds": round(time.perf_counter() - start, 1),
        "n_train_all": float(np.mean([len(splits[f][0]) for f in folds])),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", doc)
    plot(doc, out)
    with atomic_write(out / "COMMAND.txt", "w") as fh:
        fh.write("METAMAT_DATA_DIR=/work/shared/data python benchmarks/multifidelity_expt_gap.py "
                 + " ".join(sys.argv[1:]) + "\n")
    for name, s in summary.items():
        print(f"{name:10s} MAE {s['mean_mae']:.4f} eV")


def plot(doc: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from metamat.files import atomic_path

    res = doc["results"]
    names = list(res) + list(PUBLISHED)
    values = [res[n]["mean_mae"] for n in res] + list(PUBLISHED.values())
    colors = ["tab:blue"] * len(res) + ["tab:gray"] * len(PUBLISHED)
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(names, values, color=colors)
    ax.axhline(0.30, color="tab:red", ls="--", label="target 0.30 eV")
    ax.set_ylabel("MAE (eV), official folds")
    ax.set_title("matbench_expt_gap: multi-fidelity (blue) vs published composition-only (gray)")
    ax.tick_params(axis="x", rotation=30)
    ax.legend()
    fig.tight_layout()
    with atomic_path(out / "mae_by_model.png") as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    curve = doc["learning_curve"]
    if not curve:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    n_all = doc.get("n_train_all", 3683)  # 4/5 of the 4,604 rows
    for name, d in curve.items():
        xs = [n_all if n == "all" else int(n) for n in d]
        ax.plot(xs, list(d.values()), marker="o", label=name)
    low = doc["results"]["low"]["mean_mae"]
    ax.axhline(low, color="k", ls=":", label="low fidelity alone")
    ax.set_xscale("log")
    ax.set_xlabel("experimental training gaps (rightmost: full folds)")
    ax.set_ylabel("test MAE (eV)")
    ax.legend()
    fig.tight_layout()
    with atomic_path(out / "learning_curve.png") as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
