"""Structure-descriptor speed: structures per second on the 1,224 2DMatPedia structures, one core.

    METAMAT_DATA_DIR=/work/shared/data python benchmarks/structure_descriptors_speed.py [--repeats 3] [--n 1224]

Each descriptor is timed over the whole set through ``featurize_structures`` (neighbour search included):
cold (first call in the process, imports and numba/dscribe set-up included) and warm (median of
``--repeats``). The physics and ionic descriptors are also timed on one 400-site disordered cell (issue 14:
"well under a second"). The default pair (sorted inverse distance + ACSF, one shared neighbour search) and the
neighbour search alone (6 Å) are timed too. Reads
``$METAMAT_DATA_DIR/2dmatpedia_subset/2dmatpedia_subset_structures.extxyz.gz`` with ``ase.io.read``.
Writes ``benchmarks/results/structure_descriptors_speed.json``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # one core, before numpy loads

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DATA = Path("2dmatpedia_subset") / "2dmatpedia_subset_structures.extxyz.gz"


def load_crystals(n: int | None) -> tuple[list, str]:
    import ase.io

    from metamat.data.structures import to_crystal, validate_crystal

    path = Path(os.environ["METAMAT_DATA_DIR"]) / DATA
    frames = ase.io.read(path, index=":")
    crystals = [validate_crystal(to_crystal(a)) for a in frames[:n]]
    return crystals, str(path)


def big_disordered_cell():
    """400 sites: rocksalt NaCl 5 x 5 x 2 conventional cells, each cation site Na 0.5 + Li 0.45 (5% vacant)."""
    from ase.build import bulk

    from metamat.data.structures import Crystal, to_crystal

    c = to_crystal(bulk("NaCl", "rocksalt", a=5.64, cubic=True).repeat((5, 5, 2)))
    cation = c.species[:, 0] == 11
    species = np.c_[c.species, np.where(cation, 3, 0)]
    occupancy = np.c_[np.where(cation, 0.5, 1.0), np.where(cation, 0.45, 0.0)]
    rattle = np.random.default_rng(0).normal(0, 0.05, c.positions.shape)
    return Crystal(c.positions + rattle, c.cell, c.pbc, species, occupancy)


def timed(fn: Callable[[], object], repeats: int) -> dict:
    start = time.perf_counter()
    fn()
    cold = time.perf_counter() - start
    warm = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - start)
    return {"cold_s": cold, "warm_runs_s": warm, "warm_median_s": statistics.median(warm)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n", type=int, default=None, help="first n structures only (default: all)")
    args = parser.parse_args()
    if not os.environ.get("METAMAT_DATA_DIR") or not (Path(os.environ["METAMAT_DATA_DIR"]) / DATA).is_file():
        print(f"set METAMAT_DATA_DIR to the shared data folder holding {DATA}", file=sys.stderr)
        return 2
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    from metamat.data.structures import StructureBatch, neighbor_list
    from metamat.featurize.structure import featurize_structures, resolve_structure_featurizers

    crystals, origin = load_crystals(args.n)
    sites = np.array([c.n_sites for c in crystals])
    print(f"{len(crystals)} structures ({sites.mean():.1f} sites on average, max {sites.max()}): {origin}")
    rows = []
    nl = timed(lambda: neighbor_list(StructureBatch.from_crystals(crystals), 6.0), args.repeats)
    n_edges = len(neighbor_list(StructureBatch.from_crystals(crystals), 6.0).center)
    rows.append({"descriptor": "neighbour search only (6 Å)", "n_features": 0, "edges": n_edges, **nl})
    for names in (["sorted_inverse_distance"], ["acsf"], ["soap"], ["sorted_inverse_distance", "acsf"],
                  ["physics"], ["ionic"], ["physics", "ionic"]):
        feats = resolve_structure_featurizers(names)
        result = {}

        def run(names=names, result=result) -> None:
            result["X"] = featurize_structures(crystals, names)[0]

        t = timed(run, args.repeats)
        rows.append({"descriptor": "+".join(names), "settings": [repr(f) for f in feats],
                     "n_features": result["X"].shape[1], "all_finite": bool(np.isfinite(result["X"]).all()), **t})
    for r in rows:
        r["cold_per_s"] = len(crystals) / r["cold_s"]
        r["warm_per_s"] = len(crystals) / r["warm_median_s"]
        print(f"{r['descriptor']:>40} ({r['n_features']:3d} features): cold {r['cold_per_s']:8,.0f}/s, "
              f"warm {r['warm_per_s']:8,.0f} structures/s")
    big = big_disordered_cell()
    large = []
    for names in (["physics"], ["ionic"], ["physics", "ionic"]):
        t = timed(lambda names=names: featurize_structures([big], names), args.repeats)
        large.append({"descriptor": "+".join(names), **t})
        print(f"{'+'.join(names):>40}: one {big.n_sites}-site disordered cell in {t['warm_median_s'] * 1e3:.0f} ms "
              f"(cold {t['cold_s'] * 1e3:.0f} ms)")
    out = {"structures": origin, "n": len(crystals), "mean_sites": float(sites.mean()),
           "max_sites": int(sites.max()), "cores": 1, "python": platform.python_version(),
           "machine": platform.machine(), "cpu_count": os.cpu_count(), "results": rows,
           "large_cell": {"structure": f"rocksalt (Na0.5Li0.45)Cl 5x5x2 conventional cells, rattled 0.05 Å: "
                                       f"{big.n_sites} sites, mixed/vacant cation sites", "results": large}}
    from metamat.files import write_json

    path = write_json(RESULTS / "structure_descriptors_speed.json", out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
