"""Polymorphs: do structure-aware predictions differ between same-composition structures and track the targets?

    METAMAT_DATA_DIR=/work/shared/data python benchmarks/structure_polymorphs.py [--episodes 30]

1. CDVAE carbon_24 (every structure is pure carbon: one composition, 4062 polymorphs; target energy per atom):
   few-shot episodes with k = 10 and 20 support structures and 500 query structures; per episode the Spearman
   rank correlation between predicted and true energies of the query. A composition-only model predicts one
   value for all (correlation 0 by definition here).
2. 2DMatPedia polymorph groups (same reduced formula, >= 2 structures; targets band gap and decomposition
   energy): 5-fold CV with every group kept inside one fold (the model never saw the group's other
   polymorphs), then per group the pairwise ordering accuracy (pairs with different targets; a tie in the
   predictions counts 1/2, so a composition-only model scores exactly 0.5) and, for groups of >= 3, Spearman.

Models: RF / GP / kNN on composition + physics + ionic descriptors, RF on composition + SID/ACSF descriptors,
the shipped structure model (deep-kernel GP on the packed crystal graph + composition), RF / GP / kNN on
composition + the frozen pretrained graph embedding (``graph_pretrained``; ``--encoder`` another saved encoder,
e.g. one pretrained without the carbon_24 energies: the shipped one saw them), RF on composition only, and
(part 1 only) the structure ``auto`` of ``fewshot --model auto --structure-column`` without its graph candidate,
with how often it chose structure inputs.
Means with 95% bootstrap CIs over episodes (1) or groups (2). Writes
``benchmarks/results/structure_polymorphs/{structure_polymorphs.json,.png,COMMAND.txt}`` (``--out``);
``--models`` runs a subset (comma-separated names).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "structure_polymorphs"


def bootstrap_ci(values, seed: int = 0, n: int = 2000) -> dict:
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return {"mean": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "n": 0}
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), (n, len(v)))].mean(1)
    return {"mean": float(v.mean()), "ci_low": float(np.percentile(means, 2.5)),
            "ci_high": float(np.percentile(means, 97.5)), "n": int(len(v))}


def pair_accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    i, j = np.triu_indices(len(y), 1)
    keep = y[i] != y[j]
    if not keep.any():
        return float("nan")
    dp, dy = np.sign(pred[i] - pred[j])[keep], np.sign(y[i] - y[j])[keep]
    return float(np.mean(np.where(dp == 0, 0.5, (dp == dy).astype(float))))


def models():
    from metamat.models.baselines import make_model

    return {"rf[comp]": ("composition", lambda: make_model("rf", n_estimators=200)),
            "rf[comp+struct]": ("descriptors", lambda: make_model("rf", n_estimators=200)),
            "rf[comp+phys]": ("physics", lambda: make_model("rf", n_estimators=200)),
            "gp[comp+phys]": ("physics", lambda: make_model("gp")),
            "knn[comp+phys]": ("physics", lambda: make_model("knn")),
            "rf[comp+emb]": ("embedding", lambda: make_model("rf", n_estimators=200)),
            "gp[comp+emb]": ("embedding", lambda: make_model("gp")),
            "knn[comp+emb]": ("embedding", lambda: make_model("knn")),
            "pretrained structure (dkgp graph)": ("graph", None),
            "auto[struct]": ("physics", structure_auto)}


def structure_auto():
    """``fewshot --model auto --structure-column`` without its graph candidate (evaluated on its own above)."""
    from metamat.models.structure_auto import StructureAutoRegressor

    return StructureAutoRegressor(blocks={"composition": (0, 148), "structure": (148, None)}, graph_model=None)


FEWSHOT_ONLY = {"auto[struct]"}  # cross-validates ~10 models per fit: few-shot part only
NO_CI = {"mean": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "n": 0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--episodes", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", default="", help="comma-separated subset of the models (default: all)")
    ap.add_argument("--encoder", default=None, help="saved graph encoder for the [comp+emb] models (default: shipped)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--parts", default="carbon,2d", help="carbon (part 1), 2d (part 2) or both")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    out_dir = args.out
    warnings.filterwarnings("ignore")
    import torch
    from scipy.stats import spearmanr

    torch.set_num_threads(2)
    from metamat.fewshot import load_fewshot_model
    from metamat.files import atomic_write, write_json
    from metamat.tasks.structure_tasks import (
        get_structure_task_spec,
        load_structure_rows,
        model_inputs,
        structure_inputs,
    )

    t0 = time.perf_counter()
    shipped = load_fewshot_model(structure=True)
    specs = models()
    if args.models:
        wanted = args.models.split(",")
        unknown = set(wanted) - set(specs)
        if unknown:
            ap.error(f"unknown model(s) {sorted(unknown)}; choose from {list(specs)}")
        specs = {n: specs[n] for n in wanted}

    def inputs(rows, kind):
        if kind == "graph":
            return model_inputs(shipped, rows.crystals, rows.formulas)
        if kind == "embedding":
            from metamat.featurize.graph_embedding import GraphEmbedding
            from metamat.featurize.structure import featurize_structures

            emb, _ = featurize_structures(rows.crystals, [GraphEmbedding(args.encoder)])
            return np.hstack([structure_inputs(rows.crystals, rows.formulas, "composition"), emb])
        return structure_inputs(rows.crystals, rows.formulas, kind)

    def fitted(name, X, y):
        kind, make = specs[name]
        m = shipped if make is None else make()
        return m.fit(X, y)

    out = {"carbon24": {}, "2dmatpedia": {}}
    # ---- 1. carbon polymorphs, few-shot
    rows = load_structure_rows(get_structure_task_spec("carbon24:energy_per_atom"))
    X = {kind: inputs(rows, kind) for kind in {k for k, _ in specs.values()}} if "carbon" in parts else {}
    rng = np.random.default_rng(args.seed)
    for k in (10, 20) if "carbon" in parts else ():
        scores = {name: [] for name in specs}
        chosen: dict[str, int] = {}
        for _ in range(args.episodes):
            idx = rng.permutation(len(rows.y))
            s, q = idx[:k], idx[k:k + 500]
            for name, (kind, _) in specs.items():
                m = fitted(name, X[kind][s], rows.y[s])
                pred = m.predict(X[kind][q])
                if hasattr(m, "choice_"):
                    chosen[m.choice_["chosen"]] = chosen.get(m.choice_["chosen"], 0) + 1
                rho = 0.0 if np.ptp(pred) < 1e-12 else float(spearmanr(pred, rows.y[q]).statistic)
                scores[name].append(rho)
        out["carbon24"][str(k)] = {name: bootstrap_ci(v, args.seed) for name, v in scores.items()}
        out["carbon24"][f"auto_choices_k{k}"] = chosen
        for name, v in out["carbon24"][str(k)].items():
            print(f"carbon24 k={k:2d} {name:36s} Spearman {v['mean']:.3f} [{v['ci_low']:.3f}, {v['ci_high']:.3f}]",
                  flush=True)
    # ---- 2. 2DMatPedia polymorph groups, grouped CV
    from pymatgen.core import Composition

    for task in ("2dmatpedia:band_gap", "2dmatpedia:decomposition_energy") if "2d" in parts else ():
        rows = load_structure_rows(get_structure_task_spec(task))
        reduced = np.array([Composition(f).reduced_formula for f in rows.formulas])
        _, group, counts = np.unique(reduced, return_inverse=True, return_counts=True)
        X = {kind: inputs(rows, kind) for kind in {k for k, _ in specs.values()}}
        fold = np.random.default_rng(args.seed).permutation(group.max() + 1)[group] % 5
        multi = np.flatnonzero(counts >= 2)
        res = {}
        for name, (kind, _) in specs.items():
            if name in FEWSHOT_ONLY:
                continue
            pred = np.empty(len(rows.y))
            for f in range(5):
                tr, te = fold != f, fold == f
                pred[te] = fitted(name, X[kind][tr], rows.y[tr]).predict(X[kind][te])
            acc = [pair_accuracy(pred[group == g], rows.y[group == g]) for g in multi]
            rho = [spearmanr(pred[group == g], rows.y[group == g]).statistic for g in multi if counts[g] >= 3]
            res[name] = {"pair_accuracy": bootstrap_ci(acc, args.seed), "spearman_groups_ge3": bootstrap_ci(rho),
                         "mae": float(np.mean(np.abs(pred - rows.y)))}
            a = res[name]["pair_accuracy"]
            print(f"{task} {name:36s} pair accuracy {a['mean']:.3f} [{a['ci_low']:.3f}, {a['ci_high']:.3f}] "
                  f"over {a['n']} groups; MAE {res[name]['mae']:.3f}", flush=True)
        out["2dmatpedia"][task] = {"groups": int(len(multi)), "structures_in_groups": int(counts[multi].sum()),
                                   "results": res}
    out["seconds"] = time.perf_counter() - t0
    out["encoder"] = args.encoder or "shipped (metamat/pretrained/graph_encoder)"
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "structure_polymorphs.json", out)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from metamat.evaluate.plots import save_figure

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True)
    names = list(specs)
    y = np.arange(len(names))
    for ax, (title, getter) in zip(axes, [
            ("carbon24 Spearman (k=20)", lambda n: out["carbon24"].get("20", {}).get(n, NO_CI)),
            ("2DMatPedia gap: pair accuracy", lambda n: out["2dmatpedia"].get("2dmatpedia:band_gap", {})
             .get("results", {}).get(n, {"pair_accuracy": NO_CI})["pair_accuracy"]),
            ("2DMatPedia E_decomp: pair accuracy",
             lambda n: out["2dmatpedia"].get("2dmatpedia:decomposition_energy", {}).get("results", {})
             .get(n, {"pair_accuracy": NO_CI})["pair_accuracy"])],
            strict=True):
        v = [getter(n) for n in names]
        ax.barh(y, [r["mean"] for r in v], xerr=[[r["mean"] - r["ci_low"] for r in v],
                                                 [r["ci_high"] - r["mean"] for r in v]], color="tab:blue")
        ax.set_title(title, fontsize=9)
    axes[0].set_yticks(y, names, fontsize=7)
    axes[1].axvline(0.5, color="k", lw=0.5, ls=":")
    axes[2].axvline(0.5, color="k", lw=0.5, ls=":")
    fig.tight_layout()
    save_figure(fig, out_dir / "structure_polymorphs.png")
    extra = (f" --models '{args.models}'" if args.models else "") \
        + (f" --encoder {args.encoder}" if args.encoder else "") \
        + (f" --parts {args.parts}" if parts != {"carbon", "2d"} else "")
    with atomic_write(out_dir / "COMMAND.txt", "w") as fh:
        fh.write(f"# regenerates this folder ({out['seconds']:.0f} s on the shared 2 cores; run from the repository "
                 "root)\nMETAMAT_DATA_DIR=/work/shared/data PYTHONPATH=. python benchmarks/structure_polymorphs.py "
                 f"--episodes {args.episodes} --seed {args.seed}{extra} --out {out_dir}\n")


if __name__ == "__main__":
    main()
