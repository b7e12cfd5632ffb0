"""Which knowledge properties and physics inputs carry gains at k = 10? An ablation on registry tasks.

For each task (leakage: knowledge surrogates of the task's quantity group and tied groups are removed by
``build_task``, and recorded), 10 episodes of k = 10 support rows, with random and chemical-system queries
(the evaluator's seeded episodes). Learners (fitted on the task's model-space target):

- floors: support ``median``, support ``mean``;
- forests (100 trees): ``rf`` (mean of trees), ``rf_median`` (median over the trees' predictions, a
  sklearn forest + np.median over ``estimators_``), each on composition (``C``), composition + knowledge
  (``C+K``) and composition + physics (``C+P``);
- ``gp`` and ``ridge`` on C and C+K;
- knowledge as a prior mean / low-fidelity signal: ``rf_median+prior`` and ``gp+prior`` = delta learning
  (``ResidualRegressor``, scale fitted by least squares) on the knowledge column most rank-correlated
  with the target *on the support* (never the query), ``rf_median+prior_shrunk`` (the slope shrunk by
  its t statistic on the support) and ``koh`` (co-kriging on that column).

Score: scale-free MAE (MAE / mean absolute deviation of the task's targets), averaged over episodes; the
ratio to the best floor/forest baseline per task. Writes results.json + ablation.png + COMMAND.txt into
benchmarks/results/knowledge_ablation/.

    METAMAT_DATA_DIR=/work/shared/data python benchmarks/knowledge_ablation.py
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

TASKS = ("matbench_steels", "matbench_expt_gap", "matbench_jdft2d", "supercon_tc_stanev", "mp_poisson_ratio",
         "matbench_phonons")
BASELINES = ("median", "mean", "rf:C", "rf_median:C")


class ForestMedian:
    """A scikit-learn forest whose prediction is the median over its trees."""

    def __init__(self, trees: int, seed: int):
        from sklearn.ensemble import RandomForestRegressor

        self.forest = RandomForestRegressor(n_estimators=trees, random_state=seed)

    def fit(self, X, y):
        self.forest.fit(np.nan_to_num(X), y)
        return self

    def predict(self, X):
        X = np.nan_to_num(X)
        return np.median(np.stack([t.predict(X) for t in self.forest.estimators_]), axis=0)


def ForestMedianRegressor(trees: int, seed: int):
    """The registry's ``rf_median`` (median over the trees) as a protocol Regressor, for the wrappers."""
    from metamat.models.baselines import RFMedianRegressor

    return RFMedianRegressor(n_estimators=trees, seed=seed)


def shrunk_slope(b: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y on b shrunk by max(0, 1 - 1/t^2) (t: its t statistic on the support), so a
    column that only looks related on 10 rows contributes little."""
    bb, yy = b - b.mean(), y - y.mean()
    if bb @ bb == 0 or len(b) < 4:
        return 0.0
    slope = float(bb @ yy / (bb @ bb))
    r2 = float(np.corrcoef(b, y)[0, 1] ** 2) if np.std(y) > 0 else 0.0
    t2 = (len(b) - 2) * r2 / max(1e-12, 1 - r2)
    return slope * max(0.0, 1.0 - 1.0 / max(t2, 1e-12))


def best_column(Ks: np.ndarray, y: np.ndarray) -> int:
    """Index of the knowledge column with the largest |Spearman rho| with y on the support rows."""
    from scipy.stats import spearmanr

    best, score = 0, -1.0
    for j in range(Ks.shape[1]):
        if np.ptp(Ks[:, j]) == 0:
            continue
        r = abs(float(spearmanr(Ks[:, j], y).statistic))
        if np.isfinite(r) and r > score:
            best, score = j, r
    return best


def run_episode(task, ep, cols: dict[str, np.ndarray], trees: int, seed: int) -> tuple[dict[str, float], int]:
    from metamat.models.baselines import make_model
    from metamat.models.multifidelity import KOHRegressor
    from metamat.models.physics import ResidualRegressor

    s, q = ep.support, ep.query
    y = task.y_model
    ys, yq = y[s], y[q]
    C, K, P = (task.X[:, c] for c in (cols["C"], cols["K"], cols["P"]))
    feats = {"C": C, "C+K": np.hstack([C, K]), "C+P": np.hstack([C, P])}
    out: dict[str, float] = {"median": np.mean(np.abs(np.median(ys) - yq)), "mean": np.mean(np.abs(ys.mean() - yq))}

    def add(name, model, X):
        out[name] = float(np.mean(np.abs(model.fit(X[s], ys).predict(X[q]) - yq)))

    for f in ("C", "C+K", "C+P"):
        add(f"rf:{f}", make_model("rf", seed=seed, n_estimators=trees), feats[f])
        add(f"rf_median:{f}", ForestMedian(trees, seed), feats[f])
    for f in ("C", "C+K"):
        add(f"gp:{f}", make_model("gp", seed=seed, n_restarts=0), feats[f])
        add(f"ridge:{f}", make_model("ridge", seed=seed), feats[f])
    j = best_column(K[s], ys) if K.shape[1] else -1
    if j >= 0:
        XC = np.column_stack([C, K[:, j]])
        add("rf_median+prior", ResidualRegressor(ForestMedianRegressor(trees, seed), scale=None, shrink=0.0), XC)
        add("rf_median+prior_shrunk", ResidualRegressor(ForestMedianRegressor(trees, seed),
                                                        scale=shrunk_slope(K[s, j], ys)), XC)
        add("gp+prior", ResidualRegressor(make_model("gp", seed=seed, n_restarts=0), scale=None, shrink=0.0), XC)
        add("koh", KOHRegressor(n_restarts=0, max_iter=5, seed=seed), XC)
    return out, j


def per_property(task, ep, cols: dict[str, np.ndarray], labels: np.ndarray, trees: int, seed: int
                 ) -> dict[str, float]:
    """MAE of the tree-median forest on composition plus ONE knowledge column, for each column, and on
    composition alone (``none``): which property carries the gain."""
    s, q = ep.support, ep.query
    y = task.y_model
    C = task.X[:, cols["C"]]
    out = {"none": float(np.mean(np.abs(ForestMedian(trees, seed).fit(C[s], y[s]).predict(C[q]) - y[q])))}
    for c in cols["K"]:
        X = np.column_stack([C, task.X[:, c]])
        out[str(labels[c])] = float(np.mean(np.abs(ForestMedian(trees, seed).fit(X[s], y[s]).predict(X[q]) - y[q])))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("METAMAT_DATA_DIR"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/knowledge_ablation"))
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--max-rows", type=int, default=3000)
    ap.add_argument("--max-query", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-property", action="store_true",
                    help="instead: tree-median forest on composition + one knowledge column at a time (random queries)")
    args = ap.parse_args()
    if not args.data_dir:
        sys.exit("set METAMAT_DATA_DIR or pass --data-dir")
    from metamat.evaluate.episodes import effective_policy, make_episode, model_seed, task_key
    from metamat.evaluate.scoring import task_mad_model
    from metamat.files import atomic_write, write_json
    from metamat.tasks.catalog import build_task, get_task_spec
    from metamat.threads import limit_threads

    start = time.perf_counter()
    results: dict[str, dict] = {}
    with limit_threads(1):
        for name in args.tasks.split(","):
            task = build_task(get_task_spec(name), data_dir=args.data_dir, featurizers="composition+knowledge+physics",
                              max_rows=args.max_rows, seed=args.seed)
            labels = np.array(task.feature_labels)
            is_k = np.char.startswith(labels.astype(str), "knowledge ")
            cols = {"C": np.arange(148), "K": np.flatnonzero(is_k), "P": np.arange(len(labels) - 3, len(labels))}
            mad = task_mad_model(task)
            if args.per_property:
                recs = [per_property(task, make_episode(task, args.k, i, seed=args.seed, policy="random",
                                                        max_query=args.max_query), cols, labels, args.trees,
                                     model_seed(args.seed, task_key(task), args.k, i)) for i in range(args.episodes)]
                base = np.array([r["none"] for r in recs])
                results[name] = {"removed_features": list(task.removed_features),
                                 "ratio_to_composition_only": {m: float(np.mean([r[m] for r in recs]) / base.mean())
                                                               for m in recs[0] if m != "none"},
                                 "smae_composition_only": float(base.mean() / mad)}
                print(name, {m.removeprefix("knowledge ")[:24]: round(v, 3) for m, v in
                             results[name]["ratio_to_composition_only"].items()}, flush=True)
                continue
            task_res: dict[str, dict] = {"removed_features": list(task.removed_features),
                                         "n_rows": len(task), "quantity": task.quantity}
            for policy in ("random", "chemical_system"):
                pol = effective_policy(task, policy)
                recs, chosen = [], []
                for i in range(args.episodes):
                    ep = make_episode(task, args.k, i, seed=args.seed, policy=pol, max_query=args.max_query)
                    r, j = run_episode(task, ep, cols, args.trees, model_seed(args.seed, task_key(task), args.k, i))
                    recs.append({m: v / mad for m, v in r.items()})
                    if j >= 0:
                        chosen.append(str(labels[cols["K"][j]]))
                models = list(recs[0])
                smae = {m: float(np.mean([r[m] for r in recs])) for m in models}
                best_base = min(smae[b] for b in BASELINES)
                task_res[policy] = {"policy_used": pol, "smae": smae,
                                    "ratio_to_best_baseline": {m: smae[m] / best_base for m in models},
                                    "best_baseline": min(BASELINES, key=lambda b: smae[b]),
                                    "prior_column_chosen": {c: chosen.count(c) for c in sorted(set(chosen))}}
                print(f"{name} {policy}: best baseline {task_res[policy]['best_baseline']} {best_base:.3f}; "
                      + ", ".join(f"{m} {smae[m] / best_base:.2f}" for m in models), flush=True)
            results[name] = task_res
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.per_property:
        doc = {"benchmark": "knowledge_ablation_per_property", "k": args.k, "episodes": args.episodes,
               "learner": "tree-median forest on composition + one knowledge column", "policy": "random",
               "metric": "mean query MAE with the column / without it (paired episodes)", "tasks": results,
               "seconds": round(time.perf_counter() - start, 1)}
        write_json(out / "results.json", doc)
        plot_per_property(doc, out)
        with atomic_write(out / "COMMAND.txt", "w") as fh:
            fh.write("METAMAT_DATA_DIR=/work/shared/data python benchmarks/knowledge_ablation.py "
                     + " ".join(sys.argv[1:]) + "\n")
        return
    models = list(next(iter(results.values()))["random"]["smae"])
    geo = {pol: {m: float(np.exp(np.mean([np.log(results[t][pol]["ratio_to_best_baseline"][m]) for t in results])))
                 for m in models} for pol in ("random", "chemical_system")}
    doc = {"benchmark": "knowledge_ablation", "k": args.k, "episodes": args.episodes, "rf_trees": args.trees,
           "max_rows": args.max_rows, "max_query": args.max_query, "seed": args.seed, "baselines": list(BASELINES),
           "metric": "scale-free MAE (MAE / MAD of the task's model-space targets), mean over episodes",
           "tasks": results, "geomean_ratio_to_best_baseline": geo, "seconds": round(time.perf_counter() - start, 1)}
    write_json(out / "results.json", doc)
    plot(doc, out)
    with atomic_write(out / "COMMAND.txt", "w") as fh:
        fh.write("METAMAT_DATA_DIR=/work/shared/data python benchmarks/knowledge_ablation.py "
                 + " ".join(sys.argv[1:]) + "\n")


def plot(doc: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from metamat.files import atomic_path

    tasks = list(doc["tasks"])
    fig, axes = plt.subplots(1, 2, figsize=(13, 5), sharey=True)
    for ax, pol in zip(axes, ("random", "chemical_system"), strict=True):
        models = list(doc["geomean_ratio_to_best_baseline"][pol])
        M = np.array([[doc["tasks"][t][pol]["ratio_to_best_baseline"][m] for t in tasks] for m in models])
        im = ax.imshow(M, cmap="RdBu_r", vmin=0.7, vmax=1.3, aspect="auto")
        ax.set_xticks(range(len(tasks)), tasks, rotation=40, ha="right", fontsize=8)
        ax.set_yticks(range(len(models)), models, fontsize=8)
        for a in range(M.shape[0]):
            for b in range(M.shape[1]):
                ax.text(b, a, f"{M[a, b]:.2f}", ha="center", va="center", fontsize=6)
        ax.set_title(f"k = {doc['k']}, {pol} queries: MAE / best baseline")
    fig.colorbar(im, ax=axes, shrink=0.8)
    with atomic_path(out / "ablation.png") as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)


def plot_per_property(doc: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from metamat.files import atomic_path

    tasks = list(doc["tasks"])
    props = sorted({p for t in tasks for p in doc["tasks"][t]["ratio_to_composition_only"]})
    M = np.array([[doc["tasks"][t]["ratio_to_composition_only"].get(p, np.nan) for t in tasks] for p in props])
    fig, ax = plt.subplots(figsize=(9, 6))
    im = ax.imshow(M, cmap="RdBu_r", vmin=0.9, vmax=1.1, aspect="auto")
    ax.set_xticks(range(len(tasks)), tasks, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(len(props)), [p.removeprefix("knowledge ") for p in props], fontsize=7)
    for a in range(M.shape[0]):
        for b in range(M.shape[1]):
            if np.isfinite(M[a, b]):
                ax.text(b, a, f"{M[a, b]:.3f}", ha="center", va="center", fontsize=6)
    ax.set_title(f"k = {doc['k']}: MAE with one knowledge column / composition only (blank: removed)")
    fig.colorbar(im, ax=ax, shrink=0.8)
    with atomic_path(out / "per_property.png") as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)


if __name__ == "__main__":
    main()
