"""Composition featurization speed: metamat vs matminer on the same formulas, on one core.

    python benchmarks/featurize_speed.py [--n 100000] [--matminer-n 100000] [--repeats 5]

Strings in, feature matrix out. metamat is timed cold (first call in the process) and warm (median of
``--repeats`` calls); matminer (``ElementProperty.from_preset("magpie")`` on ``pymatgen.Composition``,
one process) runs on the first ``--matminer-n`` of the same formulas. The values of the two are compared.
Formulas: the unique formulas of OQMD (CrabNet benchmark copy) when ``METAMAT_DATA_DIR`` points at the
shared data, else the Ricci transport table shipped in the matminer wheel, repeated to ``--n``.
Writes ``benchmarks/results/featurize_speed.json`` and ``.png``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one core, before numpy loads
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import tarfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def load_formulas(n: int) -> tuple[list[str], str]:
    data_dir = os.environ.get("METAMAT_DATA_DIR")
    oqmd = Path(data_dir or "/nonexistent") / "crabnet_benchmark" / "OQMD_Bandgap.csv.gz"
    if oqmd.exists():
        formulas = pd.read_csv(oqmd, usecols=["formula"])["formula"].drop_duplicates()
        return formulas.sample(n, random_state=0).tolist(), f"OQMD unique formulas ({oqmd})"
    import matminer

    archive = Path(matminer.__file__).parent / "utils/data_files/mp_transport/transport_database.tar.xz"
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(".csv"))
        formulas = pd.read_csv(tar.extractfile(member), usecols=["pretty_formula"])["pretty_formula"]
    reps = -(-n // len(formulas))
    return (formulas.tolist() * reps)[:n], "Ricci transport formulas from the matminer wheel (repeated)"


def time_metamat(formulas: list[str], preset: str, repeats: int) -> dict:
    from metamat.featurize.pipeline import featurize_formulas

    start = time.perf_counter()
    result = featurize_formulas(formulas, preset)
    cold = time.perf_counter() - start
    warm = []
    for _ in range(repeats):
        start = time.perf_counter()
        featurize_formulas(formulas, preset)
        warm.append(time.perf_counter() - start)
    median = statistics.median(warm)
    return {"preset": preset, "n_features": result.values.shape[1], "cold_s": cold, "warm_median_s": median,
            "warm_runs_s": warm, "cold_per_s": len(formulas) / cold, "warm_per_s": len(formulas) / median,
            "values": result.values, "labels": result.labels}


def time_matminer(formulas: list[str]) -> dict:
    from matminer.featurizers.composition import ElementProperty
    from pymatgen.core import Composition

    featurizer = ElementProperty.from_preset("magpie")
    from tqdm import tqdm

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = [featurizer.featurize(Composition(f)) for f in tqdm(formulas, desc="matminer", mininterval=2)]
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "per_s": len(formulas) / elapsed, "values": np.array(rows, dtype=float),
            "labels": featurizer.feature_labels()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--matminer-n", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    formulas, origin = load_formulas(args.n)
    print(f"{len(formulas)} formulas: {origin}")
    magpie = time_metamat(formulas, "magpie", args.repeats)
    composition = time_metamat(formulas, "composition", args.repeats)
    for r in (magpie, composition):
        print(f"metamat {r['preset']:>11} ({r['n_features']} features): cold {r['cold_per_s']:,.0f}/s, "
              f"warm median {r['warm_per_s']:,.0f}/s")
    m = min(args.matminer_n, len(formulas))
    mm = time_matminer(formulas[:m])
    assert mm["labels"] == magpie["labels"]
    ref, ours = mm["values"], magpie["values"][:m]
    scale = np.maximum(np.abs(ref), 1e-12)
    max_rel = float(np.nanmax(np.abs(ours - ref) / scale))
    speedup = magpie["warm_per_s"] / mm["per_s"]
    print(f"matminer magpie on {m}: {mm['per_s']:,.0f}/s; speed-up (warm) {speedup:,.0f}x, "
          f"(cold) {magpie['cold_per_s'] / mm['per_s']:,.0f}x; max relative difference {max_rel:.2e}")
    out = {
        "formulas": origin, "n": len(formulas), "cores": 1, "python": platform.python_version(),
        "machine": platform.machine(), "cpu_count": os.cpu_count(),
        "metamat": [{k: v for k, v in r.items() if k not in {"values", "labels"}} for r in (magpie, composition)],
        "matminer": {"n": m, "seconds": mm["seconds"], "per_s": mm["per_s"]},
        "speedup_warm": speedup, "speedup_cold": magpie["cold_per_s"] / mm["per_s"],
        "max_relative_difference_vs_matminer": max_rel,
        "targets": {"per_s": 100_000, "speedup": 100, "relative_difference": 1e-6},
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "featurize_speed.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=2))
    os.replace(tmp, path)
    plot(out, RESULTS / "featurize_speed.png")
    print(f"wrote {path}")


def plot(out: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["matminer magpie"] + [f"metamat {r['preset']}\n(warm)" for r in out["metamat"]]
    rates = [out["matminer"]["per_s"]] + [r["warm_per_s"] for r in out["metamat"]]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(names, rates, color=["grey", "tab:blue", "tab:blue"])
    ax.set_yscale("log")
    ax.axhline(100_000, color="tab:red", ls="--", label="target 100k/s")
    ax.set_ylabel("compositions per second (1 core)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
