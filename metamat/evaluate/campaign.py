"""Closed-loop campaign simulations: pool-based sequential learning on real datasets.

Each run hides the targets of a pool of materials, measures ``n_init`` random ones, then repeatedly fits a
model on what is measured and picks the next batch (:func:`metamat.active.batch.select_batch`); a picked
material's value is revealed only then. Metrics follow the sequential-learning literature (Rohr et al.,
Chem. Sci. 11, 2696 (2020)):

- experiments until a top-``q`` material (top 1% / 5% of the pool) is first measured (initial random
  materials included; censored at the budget);
- acceleration factor: median experiments random sampling needs (exact: hypergeometric, pool ``N`` with
  ``K`` top materials) / the strategy's median over seeds (bootstrap CI over seeds); undefined (NaN) when
  the strategy's median is not reached within the budget;
- enhancement factor at budget ``b``: fraction of the top-5% materials found by ``b`` experiments / the
  fraction random finds in expectation (``b / N``);
- best-found curve: percentile (within the pool) of the best value measured so far, per experiment.

Strategies: ``random``; ``rf_ucb``, ``rf_ei`` (random forest, 100 trees, raw composition features);
``gp_ei`` (GP on the first 30 principal components of the standardized pool features); ``meta_ei`` (the
shipped meta-learned default model, adapted with ``fit`` on the measured rows); ``greedy`` (GP mean). Every
model is refitted at every step. Batches: GP and meta-model use kriging believer + local penalization, the
forest local penalization only (its bootstrap spread does not collapse at a fantasized point, and refitting
it per pick would double the cost).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from metamat.active.acquisition import Goal
from metamat.active.batch import select_batch

STRATEGIES: dict[str, tuple[str | None, str | None]] = {
    "random": (None, None), "rf_ucb": ("rf", "ucb"), "rf_ei": ("rf", "ei"), "gp_ei": ("gp", "ei"),
    "meta_ei": ("default", "ei"), "greedy": ("gp", "greedy")}


@dataclass(frozen=True)
class Pool:
    """One task's pool: raw features ``X``, PCA features ``Z`` (for the GP), targets ``y``."""

    name: str
    X: np.ndarray
    Z: np.ndarray
    y: np.ndarray
    goal: Goal
    unit: str = ""


def pca_features(X: np.ndarray, n_components: int = 30) -> np.ndarray:
    """First ``n_components`` principal components of the standardized columns (NaN -> column mean)."""
    mu, sd = np.nanmean(X, axis=0), np.nanstd(X, axis=0)
    Zs = np.nan_to_num((X - mu) / np.where(sd > 0, sd, 1.0))
    _, _, vt = np.linalg.svd(Zs - Zs.mean(axis=0), full_matrices=False)
    return Zs @ vt[:n_components].T


def make_pool(name: str, X: np.ndarray, y: np.ndarray, goal: Goal, max_pool: int = 1000, seed: int = 0,
              unit: str = "") -> Pool:
    """Rows with finite targets and features, subsampled (fixed ``seed``) to ``max_pool``."""
    ok = np.isfinite(y) & np.isfinite(X).any(axis=1)
    idx = np.flatnonzero(ok)
    if len(idx) > max_pool:
        idx = np.sort(np.random.default_rng(seed).choice(idx, max_pool, replace=False))
    X, y = X[idx], y[idx]
    return Pool(name, X, pca_features(X), y, goal, unit)


DEFAULT_TASKS = {"matbench_steels": "target", "matbench_expt_gap": "target", "matbench_phonons": "target",
                 "jarvis_epc_tc": "Tc_K"}


def registry_pools(tasks: dict[str, str] | None = None, max_pool: int = 1000, data_dir=None) -> list[Pool]:
    """Pools (goal: maximize) from registry datasets ``{name: target column}``, composition features."""
    from metamat.data.registry import load_dataset

    pools = []
    for name, target in (tasks or DEFAULT_TASKS).items():
        table = load_dataset(name, data_dir=data_dir).for_target(target)
        X = table.featurize("composition").values
        pools.append(make_pool(name, X, table.target(target), Goal("max"), max_pool,
                               unit=table.targets[target].unit or ""))
    return pools


def _model(kind: str, seed: int):
    from metamat.models.baselines import make_model

    if kind == "rf":
        return make_model("rf", seed=seed, n_estimators=100, n_jobs=1)
    if kind == "gp":
        return make_model("gp", seed=seed, n_restarts=0)
    from metamat.pretrained import load_default

    return load_default()


def run_campaign(pool: Pool, strategy: str, batch: int, budget: int, n_init: int, seed: int, model=None
                 ) -> np.ndarray:
    """Indices of the pool in the order measured (length ``budget``). The first ``n_init`` are random
    (the same for every strategy at a given seed)."""
    kind, acq = STRATEGIES[strategy]
    n = len(pool.y)
    init = np.random.default_rng([seed, 7]).choice(n, n_init, replace=False)
    rng = np.random.default_rng([seed, 11])
    order = list(init)
    left = np.ones(n, bool)
    left[init] = False
    if kind is not None and model is None:
        model = _model(kind, seed)
    X = pool.Z if kind == "gp" else pool.X
    fantasy = "none" if kind == "rf" else "believer"
    while len(order) < budget:
        b = min(batch, budget - len(order))
        rest = np.flatnonzero(left)
        if kind is None:
            picks = rng.choice(rest, b, replace=False)
        else:
            m = np.asarray(order)
            sel = select_batch(model, X[m], pool.y[m], X[rest], pool.goal, acq, b, rng=rng, fantasy=fantasy)
            picks = rest[sel.indices]
        order += [int(p) for p in picks]
        left[picks] = False
    return np.asarray(order[:budget])


# ------------------------------------------------------------------------------------------- metrics
def top_mask(y: np.ndarray, goal: Goal, q: float) -> np.ndarray:
    """The top ``q`` fraction of the pool by the goal (at least one material)."""
    s = goal.score(y)
    k = max(1, int(round(q * len(y))))
    return s >= np.sort(s)[-k]


def experiments_to_find(order: np.ndarray, top: np.ndarray) -> float:
    """1-based experiment count at which a ``top`` material is first measured (inf if never)."""
    hit = np.flatnonzero(top[order])
    return float(hit[0] + 1) if len(hit) else float("inf")


def random_median_experiments(n: int, k: int) -> int:
    """Median draws without replacement until one of ``k`` marked items out of ``n`` is drawn (exact)."""
    t = np.arange(1, n - k + 2)
    with np.errstate(divide="ignore"):  # P(no marked item in the first t draws); log(0) at the end
        log_miss = np.cumsum(np.log((n - k - t + 1) / (n - t + 1)))
    return int(t[np.argmax(np.exp(log_miss) <= 0.5)])


def bootstrap_ci(values: np.ndarray, stat: Callable[[np.ndarray], float], rng: np.random.Generator,
                 n_boot: int = 2000, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of ``stat`` over ``values`` (resampled rows). Quantiles are order statistics
    (no interpolation), so a statistic that is infinite in many resamples gives an infinite bound."""
    values = np.asarray(values)
    idx = rng.integers(len(values), size=(n_boot, len(values)))
    boots = np.array([stat(values[i]) for i in idx])
    a = (1 - level) / 2
    return (float(np.quantile(boots, a, method="inverted_cdf")),
            float(np.quantile(boots, 1 - a, method="inverted_cdf")))


def step_stats(steps: np.ndarray, n: int, k: int, rng: np.random.Generator) -> dict:
    """Experiments-to-find statistics over seeds (``inf`` = not found within the budget): median with a
    bootstrap CI, and the acceleration factor over random with its CI (NaN where undefined)."""
    steps = np.asarray(steps, float)
    med = float(np.median(steps))
    lo, hi = bootstrap_ci(steps, np.median, rng)
    r_med = random_median_experiments(n, k)

    def fin(x: float) -> float:
        return x if np.isfinite(x) else float("nan")

    return {"k": k, "experiments": np.where(np.isfinite(steps), steps, -1).astype(int).tolist(),
            "found_fraction": float(np.isfinite(steps).mean()), "median": fin(med), "median_ci": [fin(lo), fin(hi)],
            "random_median_exact": r_med, "acceleration": r_med / med if np.isfinite(med) else float("nan"),
            "acceleration_ci": [r_med / hi if np.isfinite(hi) else 0.0, r_med / lo]}


def summarize(pool: Pool, orders: np.ndarray, budgets: Sequence[int] = (10, 20, 40), early: int = 20,
              seed: int = 0) -> dict:
    """Metrics of one (strategy, batch) over seeds; ``orders`` is (n_seeds, budget)."""
    rng = np.random.default_rng(seed)
    n = len(pool.y)
    score = pool.goal.score(pool.y)
    pct = np.argsort(np.argsort(score)) / (n - 1)  # percentile rank in the pool, 1 = best
    best_curve = np.maximum.accumulate(pct[orders], axis=1)
    out: dict = {"best_percentile_mean": best_curve.mean(axis=0).tolist(),
                 "best_percentile_lo": np.quantile(best_curve, 0.1, axis=0).tolist(),
                 "best_percentile_hi": np.quantile(best_curve, 0.9, axis=0).tolist()}
    auc = best_curve[:, :early].mean(axis=1)
    out[f"mean_best_percentile_first{early}"] = float(auc.mean())
    out[f"mean_best_percentile_first{early}_ci"] = bootstrap_ci(auc, np.mean, rng)
    for q in (0.01, 0.05):
        top = top_mask(pool.y, pool.goal, q)
        steps = np.array([experiments_to_find(o, top) for o in orders])
        out[f"top{int(q * 100)}"] = step_stats(steps, n, int(top.sum()), rng)
    top5 = top_mask(pool.y, pool.goal, 0.05)
    ef = {}
    for b in budgets:
        if b <= orders.shape[1]:
            frac = top5[orders[:, :b]].sum(axis=1) / top5.sum()
            ef[str(b)] = {"enhancement": float(frac.mean() / (b / n)),
                          "ci": [x / (b / n) for x in bootstrap_ci(frac, np.mean, rng)]}
    out["enhancement_top5"] = ef
    return out


def rescore(doc: dict, seed: int = 0) -> dict:
    """Recompute the experiments-to-find statistics of a saved document from its per-seed counts (-1 = not
    found), e.g. after a change of the statistics; the simulations themselves are not rerun."""
    rng = np.random.default_rng(seed)
    for res in doc["tasks"].values():
        for r in res["runs"].values():
            for key in ("top1", "top5"):
                steps = np.array([np.inf if e < 0 else e for e in r[key]["experiments"]], float)
                r[key] = step_stats(steps, res["n_pool"], r[key]["k"], rng)
    return doc


def simulate(pools: Sequence[Pool], strategies: Sequence[str], batches: Sequence[int], seeds: int, budget: int,
             n_init: int = 3, progress: Callable[[int, int], None] | None = None) -> dict:
    """Run every (pool, strategy, batch, seed) and summarize. Returns a JSON-able dict."""
    total = len(pools) * len(strategies) * len(batches) * seeds
    done = 0
    results: dict = {}
    for pool in pools:
        top5, top1 = top_mask(pool.y, pool.goal, 0.05), top_mask(pool.y, pool.goal, 0.01)
        res = {"n_pool": len(pool.y), "goal": str(pool.goal), "unit": pool.unit,
               "top5_threshold": float(pool.y[top5].min() if pool.goal.kind == "max" else pool.y[top5].max()),
               "top1_threshold": float(pool.y[top1].min() if pool.goal.kind == "max" else pool.y[top1].max()),
               "runs": {}}
        for strategy in strategies:
            kind = STRATEGIES[strategy][0]
            model = _model(kind, 0) if kind == "default" else None  # load the meta-model once
            for b in batches:
                orders = []
                for s in range(seeds):
                    orders.append(run_campaign(pool, strategy, b, budget, n_init, s, model=model))
                    done += 1
                    if progress:
                        progress(done, total)
                orders = np.asarray(orders)
                res["runs"][f"{strategy}/batch{b}"] = {"strategy": strategy, "batch": b, **summarize(pool, orders)}
        results[pool.name] = res
    return {"settings": {"strategies": list(strategies), "batches": list(batches), "seeds": seeds, "budget": budget,
                         "n_init": n_init}, "tasks": results}


# ------------------------------------------------------------------------------------------- report
LABELS = {"random": "random", "rf_ucb": "RF + UCB", "rf_ei": "RF + EI", "gp_ei": "GP + EI",
          "meta_ei": "meta prior + EI", "greedy": "greedy (GP mean)"}


def plot_task(name: str, res: dict, path) -> None:
    """Best-found percentile vs experiments, one panel per batch size (mean over seeds, 10-90% band)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from metamat.files import atomic_path

    batches = sorted({r["batch"] for r in res["runs"].values()})
    fig, axes = plt.subplots(1, len(batches), figsize=(5 * len(batches), 4), squeeze=False, sharey=True)
    for ax, b in zip(axes[0], batches, strict=True):
        for r in res["runs"].values():
            if r["batch"] != b:
                continue
            m = np.asarray(r["best_percentile_mean"]) * 100
            x = np.arange(1, len(m) + 1)
            line, = ax.plot(x, m, label=LABELS.get(r["strategy"], r["strategy"]))
            ax.fill_between(x, np.asarray(r["best_percentile_lo"]) * 100, np.asarray(r["best_percentile_hi"]) * 100,
                            color=line.get_color(), alpha=0.12)
        ax.axhline(95, color="k", ls=":", lw=0.8)
        ax.axhline(99, color="k", ls="--", lw=0.8)
        ax.set_xlabel("experiments")
        ax.set_title(f"{name} (pool {res['n_pool']}), batch {b}", fontsize=9)
        ax.set_ylim(50, 100.5)
    axes[0][0].set_ylabel("best found: percentile in pool (mean, 10-90% band)")
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def write_campaign(doc: dict, out) -> list:
    """``campaign.json`` plus one PNG per task in ``out``; returns the paths."""
    from pathlib import Path

    from metamat.files import write_json

    out = Path(out)
    paths = [write_json(out / "campaign.json", doc)]
    for name, res in doc["tasks"].items():
        p = out / f"campaign_{name}.png"
        plot_task(name, res, p)
        paths.append(p)
    return paths


def table_rows(doc: dict) -> tuple[list[str], list[list[str]]]:
    """Rows of the summary table: task, strategy/batch, top-5% median (CI), accel, top-1% found, EF@20,
    mean best percentile over the first 20 experiments."""
    header = ["task", "strategy", "batch", "exp. to top-5% (median, 95% CI)", "accel. top-5%", "top-1% found",
              "accel. top-1%", "EF@20", "best pct. first 20"]
    rows = []
    budget = doc["settings"]["budget"]

    def f(x, fmt="{:.1f}"):
        return "-" if x is None or not np.isfinite(x) else fmt.format(x)

    for task, res in doc["tasks"].items():
        for r in res["runs"].values():
            t5, t1 = r["top5"], r["top1"]
            ef = r["enhancement_top5"].get("20", {}).get("enhancement", float("nan"))
            rows.append([task, LABELS.get(r["strategy"], r["strategy"]), str(r["batch"]),
                         f"{f(t5['median'], '{:.0f}')} [{f(t5['median_ci'][0], '{:.0f}')}, "
                         f"{f(t5['median_ci'][1], '{:.0f}')}] (random {t5['random_median_exact']})".replace(
                             "-", f">{budget}"),
                         f(t5["acceleration"]), f"{t1['found_fraction']:.0%}", f(t1["acceleration"]), f(ef),
                         f(100 * r["mean_best_percentile_first20"], "{:.1f}")])
    return header, rows
