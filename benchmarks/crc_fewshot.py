"""Few-shot learning of measured thermochemistry of inorganic solids (CRC Handbook via the chemicals package):
does ``metamat fewshot`` beat what a practitioner would fit to the same rows, and which physics carries the gain?

Two held-out experimental properties (:mod:`metamat.data.sources.chemicals_tables`; in no registry table and
seen by no pretrained part of metamat):
- ``heat_capacity``: molar heat capacity at 298.15 K, J/(mol K) per formula unit (extensive);
- ``formation_enthalpy``: standard enthalpy of formation, eV/atom (measured; DFT counterpart: the OQMD and
  MP (Bartel) formation-energy knowledge surrogates, trained on DFT values, never on these measurements; DFT
  values of many of the same compositions were in their training rows: the usual multi-fidelity setting).
Per episode: k measured solids as support, up to ``--max-query`` others as queries, ``random`` or
``chemical_system`` (no query shares its element set with a support material); the same episodes for every
learner (paired).

Learners:
- ``fewshot``: :func:`metamat.predict_fewshot` as ``metamat fewshot`` runs it (``auto``; heat capacity: the
  basis is guessed from the column name, per formula unit, so it learns per atom with physics inputs;
  formation enthalpy: ``--low-fidelity auto`` matches the formation-energy surrogates);
- the ablation: ``fewshot[intensive]`` (``basis="intensive"``) or ``fewshot[no-lf]`` (``low_fidelity="none"``);
- baselines fitted to the same k rows: ``rf``, ``rf_median`` (tree-median forest), ``gp`` on composition
  features and on composition + physics (heat capacity, suffix ``+ph``) or + knowledge (formation enthalpy,
  ``+kn``), the support median, and a physics baseline fitted to the rows: the support median per atom times
  the atoms per formula unit (``median_per_atom``), or the DFT surrogate plus the support median of the
  difference (``dft_shift``); unfitted references: Dulong-Petit 3nR, or the DFT surrogate alone (``dft``).
Scores: scale-free MAE (MAE / mean absolute deviation of the whole table), RMSE / std, each learner's own 90%
interval coverage; ratio to the best fitted baseline (lowest mean scale-free MAE at that k and policy) with a
paired bootstrap CI over episodes.

    PYTHONPATH=. python benchmarks/crc_fewshot.py --property heat_capacity        # ~6 min on 2 shared cores
    PYTHONPATH=. python benchmarks/crc_fewshot.py --property formation_enthalpy   # ~8 min
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
R = 8.314462618
FITTED = ("rf", "rf_median", "gp")


def episodes(codes: np.ndarray, k: int, n_episodes: int, max_query: int, policy: str, seed: int):
    """(support, query) index pairs; ``chemical_system``: queries outside the support's element sets."""
    rng = np.random.default_rng([seed, k, 0 if policy == "random" else 1])
    n = len(codes)
    for _ in range(n_episodes):
        sup = rng.choice(n, size=k, replace=False)
        pool = np.setdiff1d(np.arange(n), sup)
        if policy == "chemical_system":
            pool = pool[~np.isin(codes[pool], codes[sup])]
        yield sup, rng.permutation(pool)[:max_query]


def baseline_predictions(name: str, X: np.ndarray, y: np.ndarray, Xq: np.ndarray, seed: int, trees: int):
    from metamat.models.registry import make_model

    opts = {"n_estimators": trees, "n_jobs": 1} if name.startswith("rf") else {}
    m = make_model(name, seed=seed, **opts).fit(X, y)
    mean, _, lo, hi = m.predict_dist(Xq, level=0.9)
    return mean, lo, hi


def property_inputs(prop: str, formulas: list[str]) -> dict:
    """Feature blocks of the baselines and the physics of ``prop``: atoms per formula unit or the DFT surrogate."""
    from metamat.featurize.pipeline import featurize_formulas

    comp = featurize_formulas(formulas, "composition").values
    if prop == "heat_capacity":
        phys = featurize_formulas(formulas, "physics").values
        return {"inputs": {"": comp, "+ph": np.column_stack([comp, phys])}, "n_atoms": phys[:, 0],
                "ablation": ("fewshot[intensive]", {"basis": "intensive"})}
    from metamat.featurize.knowledge import same_quantity_columns

    kn = featurize_formulas(formulas, "knowledge")
    low = kn.values[:, same_quantity_columns(kn.labels, "formation energy")].mean(axis=1)
    return {"inputs": {"": comp, "+kn": np.column_stack([comp, kn.values])}, "dft": low,
            "ablation": ("fewshot[no-lf]", {"low_fidelity": "none"})}


def load(prop: str):
    from metamat.data.sources import chemicals_tables as ct

    if prop == "heat_capacity":
        return ct.load_crc_heat_capacity(), ct.TARGET
    return ct.load_crc_formation_enthalpy(), ct.HF_TARGET


def run(args) -> dict:
    from metamat import predict_fewshot
    from metamat.evaluate.metrics import mean_absolute_deviation
    from metamat.tasks.splits import chemical_system_codes

    table, target = load(args.property)
    df = table.data[["formula", target]].reset_index(drop=True)
    y = df[target].to_numpy(float)
    formulas = df["formula"].tolist()
    p = property_inputs(args.property, formulas)
    codes = chemical_system_codes(formulas)
    mad, sd = mean_absolute_deviation(y), float(np.std(y))
    ablation, options = p["ablation"]
    records = []
    for policy in args.policies.split(","):
        for k in [int(s) for s in args.shots.split(",")]:
            t0 = time.perf_counter()
            for e, (s, q) in enumerate(episodes(codes, k, args.episodes, args.max_query, policy, args.seed)):
                preds: dict[str, tuple] = {}
                for label, opts in (("fewshot", {}), (ablation, options)):
                    out = predict_fewshot(df.iloc[s], df.iloc[q][["formula"]], target=target, **opts)
                    preds[label] = (out["prediction"].to_numpy(), out["lower90"].to_numpy(),
                                    out["upper90"].to_numpy())
                    if label == "fewshot":
                        preds[label] += (out.attrs["fewshot"]["model"],)
                for name in FITTED:
                    for suffix, X in p["inputs"].items():
                        preds[name + suffix] = baseline_predictions(name, X[s], y[s], X[q], args.seed + e, args.trees)
                preds["median"] = (np.full(len(q), np.median(y[s])), None, None)
                if "n_atoms" in p:
                    n = p["n_atoms"]
                    preds["median_per_atom"] = (np.median(y[s] / n[s]) * n[q], None, None)
                    preds["dulong_petit"] = (3 * R * n[q], None, None)
                else:
                    low = p["dft"]
                    preds["dft_shift"] = (low[q] + np.median(y[s] - low[s]), None, None)
                    preds["dft"] = (low[q], None, None)
                for name, pr in preds.items():
                    err = pr[0] - y[q]
                    rec = {"policy": policy, "k": k, "episode": e, "model": name,
                           "smae": float(np.mean(np.abs(err)) / mad), "srmse": float(np.sqrt(np.mean(err ** 2)) / sd),
                           "mae": float(np.mean(np.abs(err)))}
                    if pr[1] is not None:
                        rec["coverage90"] = float(np.mean((y[q] >= pr[1]) & (y[q] <= pr[2])))
                        rec["lowest_lower"] = float(np.min(pr[1]))
                    if len(pr) > 3:
                        rec["chosen"] = pr[3]
                    records.append(rec)
            print(f"{policy} k={k}: {time.perf_counter() - t0:.0f} s", flush=True)
    return {"records": records, "target": target, "n_rows": len(y), "mad": mad, "std": sd,
            "report": table.report.summary()}


def summarize(records: list[dict], n_boot: int, seed: int) -> dict:
    df = pd.DataFrame(records)
    rng = np.random.default_rng(seed)
    out: dict = {}
    for (policy, k), g in df.groupby(["policy", "k"]):
        piv = g.pivot(index="episode", columns="model", values="smae")
        fitted = [c for c in piv.columns if c.split("+")[0] in FITTED or c.startswith("median") or c == "dft_shift"]
        best = min(fitted, key=lambda c: piv[c].mean())
        idx = rng.integers(0, len(piv), size=(n_boot, len(piv)))
        rows = {}
        for m in piv.columns:
            ratio = piv[m].to_numpy()[idx].mean(1) / piv[best].to_numpy()[idx].mean(1)
            gm = g[g.model == m]
            rows[m] = {"smae": float(piv[m].mean()), "mae": float(gm["mae"].mean()),
                       "srmse": float(gm["srmse"].mean()),
                       "ratio_to_best_baseline": float(piv[m].mean() / piv[best].mean()),
                       "ci": [float(np.quantile(ratio, 0.025)), float(np.quantile(ratio, 0.975))],
                       "coverage90": float(gm["coverage90"].mean()) if "coverage90" in gm else None}
            if "lowest_lower" in gm and gm["lowest_lower"].notna().any():
                rows[m]["lowest_interval_end"] = float(gm["lowest_lower"].min())
        chosen = g[g.model == "fewshot"]["chosen"].value_counts().to_dict()
        out.setdefault(policy, {})[str(k)] = {"best_baseline": best, "models": rows, "fewshot_chose": chosen}
    return out


def plot(summary: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from metamat.evaluate.plots import save_figure

    fig, axes = plt.subplots(1, len(summary), figsize=(6 * len(summary), 4), squeeze=False)
    for ax, (policy, ks) in zip(axes[0], summary.items(), strict=True):
        shots = sorted(ks, key=int)
        models = list(ks[shots[0]]["models"])
        colors = plt.get_cmap("tab20")(np.linspace(0, 1, len(models)))
        for m, c in zip(models, colors, strict=True):
            ax.plot([int(k) for k in shots], [ks[k]["models"][m]["smae"] for k in shots], marker="o", label=m,
                    color=c, lw=2.5 if m.startswith("fewshot") else 1, ls="--" if "median" in m else "-")
        ax.set(xlabel="k measured solids", ylabel="scale-free MAE", title=f"{title}, {policy}")
        ax.set_xscale("log")
        ax.set_xticks([int(k) for k in shots], [str(k) for k in shots])
        ax.minorticks_off()
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--property", choices=("heat_capacity", "formation_enthalpy"), default="heat_capacity")
    ap.add_argument("--out", default=None, help="default: results/crc_<property>_fewshot")
    ap.add_argument("--shots", default="5,10,20")
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--policies", default="random,chemical_system")
    ap.add_argument("--max-query", type=int, default=300)
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--n-boot", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from metamat.files import write_json

    t0 = time.perf_counter()
    doc = run(args)
    summary = summarize(doc["records"], args.n_boot, args.seed)
    out = Path(args.out or HERE / "results" / f"crc_{args.property}_fewshot")
    write_json(out / "results.json", {"kind": "crc_fewshot", "config": vars(args), **doc,
                                      "summary": summary, "seconds": time.perf_counter() - t0})
    plot(summary, out / "crc_fewshot.png", f"CRC {args.property.replace('_', ' ')}")
    for policy, ks in summary.items():
        for k, s in ks.items():
            print(f"\n{policy} k={k}: best baseline {s['best_baseline']}; fewshot chose {s['fewshot_chose']}")
            for m, r in sorted(s["models"].items(), key=lambda kv: kv[1]["smae"]):
                cov = "" if r["coverage90"] is None or np.isnan(r["coverage90"]) else f" cov90 {r['coverage90']:.2f}"
                print(f"  {m:20s} smae {r['smae']:.3f} MAE {r['mae']:8.3f} ratio "
                      f"{r['ratio_to_best_baseline']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]{cov}")
    print(json.dumps({"seconds": round(time.perf_counter() - t0)}))


if __name__ == "__main__":
    main()
