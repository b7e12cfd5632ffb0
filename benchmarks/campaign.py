"""Closed-loop campaign benchmark (issue 15): writes benchmarks/results/campaign/ (JSON, PNG per task,
COMMAND.txt). Default: 10 seeds per setting (812 s on one core at load ~4; the committed results); the
issue's full run is ``--seeds 30`` (about 3x longer). ``--rescore`` recomputes the statistics of the saved
campaign.json from its per-seed counts without rerunning the simulations.

    METAMAT_DATA_DIR=/work/shared/data python benchmarks/campaign.py [--seeds 30]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from metamat.app.bench_campaign import bench_campaign
from metamat.files import atomic_write

OUT = Path(__file__).parent / "results" / "campaign"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budget", type=int, default=40)
    ap.add_argument("--max-pool", type=int, default=1000)
    ap.add_argument("--batches", default="1,5")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--rescore", action="store_true", help="recompute the statistics of the saved campaign.json "
                                                           "from its per-seed counts (no new simulations)")
    args = ap.parse_args()

    def show(title, header, rows):
        print(title)
        print(" | ".join(header))
        for r in rows:
            print(" | ".join(r))

    def bar(_description):
        class Progress:
            def __enter__(self):
                def update(done, total):
                    if done % 10 == 0 or done == total:
                        print(f"  {done}/{total} campaigns", file=sys.stderr, flush=True)
                return update

            def __exit__(self, *exc):
                return None
        return Progress()

    if args.rescore:
        import json

        from metamat.evaluate.campaign import rescore, table_rows, write_campaign

        doc = rescore(json.loads((args.out / "campaign.json").read_text()))
        write_campaign(doc, args.out)
        show("rescored campaign.json", *table_rows(doc))
        return
    bench_campaign(args.out, seeds=args.seeds, budget=args.budget, n_init=3, batches=args.batches,
                   strategies="random,rf_ucb,rf_ei,gp_ei,meta_ei,greedy", max_pool=args.max_pool, bar=bar,
                   print_table=show)
    extra = "" if args.out == OUT else f" --out {args.out}"
    with atomic_write(args.out / "COMMAND.txt", "w") as fh:
        fh.write(f"METAMAT_DATA_DIR=/work/shared/data python benchmarks/campaign.py --seeds {args.seeds} "
                 f"--budget {args.budget} --max-pool {args.max_pool} --batches {args.batches}{extra}\n")


if __name__ == "__main__":
    main()
