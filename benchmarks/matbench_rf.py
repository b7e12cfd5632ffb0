"""The matbench RF-SCM/Magpie anchors: a 500-tree random forest on Magpie features, official 5 folds.

    METAMAT_DATA_DIR=../shared/data python benchmarks/matbench_rf.py [--tasks matbench_steels,matbench_expt_gap]
        [--n-jobs 2] [--seed 0]

Reproduces the leaderboard's RF-SCM/Magpie row for the composition tasks (matbench
``benchmarks/matbench_v0.1_rf``: RandomForestRegressor(n_estimators=500), Magpie features only for
composition problems, features with > 1% missing values dropped, the rest mean-filled). Needs the official
folds from ``pip install --no-deps matbench==0.6``. The anchor passes when the mean MAE is within 10% of the
published value (steels 103.51 MPa, expt_gap 0.4461 eV).

Writes ``benchmarks/results/matbench_rf/<task>/results.json`` and ``<task>.png`` per task, and
``benchmarks/results/matbench_rf/summary.json`` (mean MAE vs the published value per task).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from metamat.evaluate.matbench_runner import run_matbench, write_matbench
from metamat.evaluate.reporting import RESULTS_INDENT
from metamat.files import write_json

RESULTS = Path(__file__).resolve().parent / "results" / "matbench_rf"
TOLERANCE = 0.10


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", default="matbench_steels,matbench_expt_gap")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if not os.environ.get("METAMAT_DATA_DIR"):
        print("set METAMAT_DATA_DIR to the shared data folder (e.g. ../shared/data)", file=sys.stderr)
        return 2
    summary = {"tolerance": TOLERANCE, "tasks": {}}
    ok = True
    for task in [t.strip() for t in args.tasks.split(",") if t.strip()]:
        start = time.perf_counter()
        doc = run_matbench(task, "rf", featurizers="magpie", n_estimators=500, n_jobs=args.n_jobs, seed=args.seed)
        paths = write_matbench(doc, args.out / doc["task"])
        ref = doc["reference"]
        within = ref is not None and abs(ref["rel_diff"]) <= TOLERANCE
        ok &= within or ref is None
        summary["tasks"][doc["task"]] = {
            "mae": doc["mae"], "mean_mae": doc["mean_mae"], "std_mae": doc["std_mae"], "units": doc["units"],
            "published": None if ref is None else ref["mean_mae"],
            "rel_diff": None if ref is None else ref["rel_diff"], "within_tolerance": within,
            "seconds": time.perf_counter() - start}
        line = f"{doc['task']}: MAE per fold {[round(m, 4) for m in doc['mae']]}, mean {doc['mean_mae']:.4f} " \
               f"± {doc['std_mae']:.4f} {doc['units']}"
        if ref is not None:
            line += f"; published {ref['algorithm']} {ref['mean_mae']:.4f} ({ref['rel_diff']:+.1%}, " \
                    f"{'within' if within else 'OUTSIDE'} {TOLERANCE:.0%})"
        print(line)
        print(f"  wrote {', '.join(map(str, paths))} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    write_json(args.out / "summary.json", summary, indent=RESULTS_INDENT)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
