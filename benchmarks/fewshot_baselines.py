"""Few-shot baseline benchmark on the meta-test tasks (the reference table for meta-learners to beat).

    METAMAT_DATA_DIR=../shared/data python benchmarks/fewshot_baselines.py [--episodes 100] [--n-jobs 2]
        [--models dummy,ridge,knn,gp,rf] [--tasks meta-test] [--shots 5,10,20,50] [--quick]

Models dummy, ridge, knn, gp and rf (100 trees) on every meta-test task at k = 5, 10, 20, 50, 100 episodes
each, chemical-system episodes (query = materials outside the support's chemical systems; random episodes
for tasks with fewer than 30 chemical systems), at most 1000 query materials, tasks subsampled to 5000 rows.
gbm and mlp are left out of the default: on these supports one episode costs them 0.5-3 s (three boosted
models / a 5-network ensemble), which alone would exceed the 15-minute budget on 2 cores.
``--quick`` is the tiny version (2 tasks, k = 5 and 10, 5 episodes, 2 models) for a smoke test.

Writes ``benchmarks/results/fewshot_baselines/``: results.json (schema in metamat.evaluate.running),
episodes.csv.gz (per-episode metrics), fewshot_smae.png, fewshot_coverage90.png and summary.md (tables).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from metamat.evaluate.reporting import summary_markdown, write_benchmark
from metamat.evaluate.running import parse_int_list, run_benchmark

RESULTS = Path(__file__).resolve().parent / "results" / "fewshot_baselines"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="dummy,ridge,knn,gp,rf")
    ap.add_argument("--tasks", default="meta-test")
    ap.add_argument("--shots", default="5,10,20,50")
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--quick", action="store_true", help="tiny smoke-test version")
    args = ap.parse_args(argv)
    if args.quick:
        args.tasks, args.shots, args.episodes, args.models = "matbench_steels,matbench_jdft2d", "5,10", 5, "dummy,rf"
        if args.out == RESULTS:
            args.out = RESULTS.with_name("fewshot_baselines_quick")
    if not os.environ.get("METAMAT_DATA_DIR"):
        print("set METAMAT_DATA_DIR to the shared data folder (e.g. ../shared/data)", file=sys.stderr)
        return 2
    start = time.perf_counter()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 30 or done == total:
            last[0] = now
            print(f"  {done}/{total} fits, {now - start:.0f} s", file=sys.stderr, flush=True)

    doc = run_benchmark(args.tasks, args.models.split(","), shots=parse_int_list(args.shots, "--shots"),
                      episodes=args.episodes, seed=args.seed, n_jobs=args.n_jobs, progress=progress,
                      keep_records=True)
    wall = time.perf_counter() - start
    doc["timing"]["wall_seconds"] = wall
    doc["timing"]["cpu_count"] = os.cpu_count()
    paths = write_benchmark(doc, args.out)  # results.json, episodes, summary.md (the tables), plots
    print(summary_markdown(doc))
    print(f"wrote {', '.join(map(str, paths))}", file=sys.stderr)
    print(f"wall time {wall:.1f} s; {len(doc['failures'])} failed fits, {len(doc['skipped'])} skipped episodes",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
