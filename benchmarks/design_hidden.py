"""Inverse-design benchmark (issue 15): hide the best 5% of matbench_steels (yield strength) and count how
often ``design``'s top-20 proposals land within fraction-L1 < 0.1 of a hidden alloy.

Compared, per seed (5 seeds):
- design (two goals): evolutionary search over the 14-element space (step 0.01), seeded with the measured
  alloys, trust radius 0.2 (fraction L1) around them, designs >= 0.05 apart, ranked by P(goal) under a
  random forest (100 trees) fitted on the measured 95%; goal ``max`` = P(y > best measured), goal ``q90`` =
  P(y >= 90th percentile of the measured);
- uniform random: 20 points drawn uniformly from the simplex of the same 14 elements (the issue's baseline);
- random mutants: 20 random mutants of measured alloys (the design's own mutation operator, no model);
- best measured: the 20 strongest measured alloys themselves (what a chemist would vary first).

Writes benchmarks/results/design/design_hidden.json + .png + COMMAND.txt.

    METAMAT_DATA_DIR=/work/shared/data python benchmarks/design_hidden.py
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from metamat.active.acquisition import Goal
from metamat.active.design import design, snap_to_grid
from metamat.data.compositions import parse_formulas
from metamat.data.formula import ELEMENTS
from metamat.data.registry import load_dataset
from metamat.files import atomic_path, atomic_write, write_json
from metamat.models.baselines import make_model

OUT = Path(__file__).parent / "results" / "design"
STEP, TOP, SEEDS, HIDE, RADIUS = 0.01, 20, 5, 0.05, 0.1


def min_l1(P: np.ndarray, H: np.ndarray) -> np.ndarray:
    return np.abs(P[:, None, :] - H[None, :, :]).sum(axis=2).min(axis=1)


def random_mutants(F: np.ndarray, n: int, rng: np.random.Generator, moves: int = 3) -> np.ndarray:
    """``n`` measured alloys, each with ``moves`` random moves of 1-3 grid steps between two elements."""
    child = F[rng.integers(len(F), size=n)].copy()
    rows = np.arange(n)
    for _ in range(moves):
        i, j = rng.integers(F.shape[1], size=(2, n))
        amount = np.minimum(STEP * rng.integers(1, 4, size=n), child[rows, i])
        child[rows, i] -= amount
        child[rows, j] += amount
    return snap_to_grid(child, STEP)


def main() -> None:
    t0 = time.perf_counter()
    table = load_dataset("matbench_steels").for_target("target")
    y = table.target("target")
    X = table.featurize("composition").values
    parsed = parse_formulas(list(table.formulas))
    dense = parsed.compositions.dense_fractions()[parsed.codes]
    cols = np.flatnonzero(dense.any(axis=0))
    symbols = [ELEMENTS[c] for c in cols]
    F = dense[:, cols]
    k = int(round(HIDE * len(y)))
    hidden = np.argsort(-y)[:k]
    measured = np.setdiff1d(np.arange(len(y)), hidden)
    H, Fm = F[hidden], F[measured]
    snap_err = float(np.abs(snap_to_grid(H, STEP) - H).sum(axis=1).max())
    res = {"task": "matbench_steels", "target": "yield strength (MPa)", "n": len(y), "hidden": k,
           "hidden_min_value": float(y[hidden].min()), "best_measured": float(y[measured].max()),
           "elements": symbols, "step": STEP, "top": TOP, "radius_l1": RADIUS, "seeds": SEEDS,
           "max_grid_snap_error_l1_of_hidden": snap_err,
           "runs": {n: [] for n in ("design_max", "design_q90", "uniform_random", "random_mutants", "best_measured")}}
    best_measured = Fm[np.argsort(-y[measured])[:TOP]]
    q90 = float(np.quantile(y[measured], 0.9))
    for seed in range(SEEDS):
        rng = np.random.default_rng(seed)
        props = {}
        for name, goal in (("design_max", Goal("max")), ("design_q90", Goal("range", q90, 1e12))):
            out = design(make_model("rf", seed=seed, n_estimators=100), X[measured], y[measured], symbols, goal,
                         step=STEP, top=TOP, seeds=Fm, seed=seed, max_grid=0, population=1000, generations=10,
                         trust_radius=0.2, min_separation=0.05)
            props[name] = out.table[[f"x_{s}" for s in symbols]].to_numpy()
        props["uniform_random"] = snap_to_grid(rng.dirichlet(np.ones(len(symbols)), size=TOP), STEP)
        props["random_mutants"] = random_mutants(Fm, TOP, rng)
        props["best_measured"] = best_measured
        for name, P in props.items():
            d = min_l1(P, H)
            res["runs"][name].append({"hits": int((d < RADIUS).sum()), "hit_fraction": float((d < RADIUS).mean()),
                                      "hits_l1_0.2": int((d < 0.2).sum()),
                                      "median_l1_to_hidden": float(np.median(d)),
                                      "median_l1_to_measured": float(np.median(min_l1(P, Fm)))})
        print(f"seed {seed}: " + ", ".join(f"{n} {res['runs'][n][-1]['hits']}/{TOP}" for n in res["runs"]), flush=True)
    res["summary"] = {n: {"mean_hit_fraction": float(np.mean([r["hit_fraction"] for r in runs])),
                          "mean_hits_l1_0.2": float(np.mean([r["hits_l1_0.2"] for r in runs])),
                          "mean_median_l1_to_hidden": float(np.mean([r["median_l1_to_hidden"] for r in runs]))}
                      for n, runs in res["runs"].items()}
    res["seconds"] = time.perf_counter() - t0
    write_json(OUT / "design_hidden.json", res)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    names = list(res["runs"])
    vals = [[r["hit_fraction"] * 100 for r in res["runs"][n]] for n in names]
    ax.bar(range(len(names)), [np.mean(v) for v in vals], color=["C0", "C1", "C7", "C8", "C2"])
    ax.set_xticks(range(len(names)), [n.replace("_", "\n") for n in names], fontsize=8)
    for i, v in enumerate(vals):
        ax.scatter(np.full(len(v), i), v, color="k", s=10, zorder=3)
    ax.set_ylabel(f"% of top-{TOP} within L1 < {RADIUS} of a hidden alloy")
    ax.set_title(f"steels: best {k} alloys hidden ({SEEDS} seeds)", fontsize=9)
    fig.tight_layout()
    with atomic_path(OUT / "design_hidden.png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    with atomic_write(OUT / "COMMAND.txt", "w") as fh:
        fh.write("METAMAT_DATA_DIR=/work/shared/data python benchmarks/design_hidden.py\n")
    print(res["summary"], f"{res['seconds']:.0f} s")


if __name__ == "__main__":
    main()
