"""``metamat bench campaign``: run the closed-loop campaign simulation and print its table."""

from __future__ import annotations

import time
from pathlib import Path

from metamat.app.console import ProgressBar, err_console, print_table
from metamat.errors import InputError
from metamat.threads import limit_threads


def bench_campaign(out: Path, *, seeds: int, budget: int, n_init: int, batches: str, strategies: str,
                   max_pool: int, data_dir=None) -> dict:
    """Simulate, write ``campaign.json`` + PNGs into ``out``, print the summary; returns the document.

    Runs single-threaded (torch, BLAS and OpenMP limited to one thread: many tiny fits are slower with more).
    """
    import torch  # noqa: F401  (loaded first, so limit_threads also limits torch)

    from metamat.evaluate.campaign import STRATEGIES, registry_pools, simulate, table_rows, write_campaign

    names = [s.strip() for s in strategies.split(",") if s.strip()]
    bad = [s for s in names if s not in STRATEGIES]
    if bad:
        raise InputError(f"unknown strategies {bad}; choose from {sorted(STRATEGIES)}", field="--strategies")
    try:
        sizes = [int(b) for b in batches.split(",") if b.strip()]
    except ValueError:
        raise InputError(f"batch sizes must be integers, got {batches!r}", field="--batches") from None
    if n_init < 2 or budget <= n_init or seeds < 1 or any(b < 1 for b in sizes):
        raise InputError("need seeds >= 1, n_init >= 2, budget > n_init and batch sizes >= 1", field="--budget")
    start = time.perf_counter()
    with limit_threads(1):
        pools = registry_pools(max_pool=max_pool, data_dir=data_dir)
        with ProgressBar("campaigns") as progress:
            doc = simulate(pools, names, sizes, seeds, budget, n_init, progress=progress)
    doc["settings"]["max_pool"] = max_pool
    doc["seconds"] = time.perf_counter() - start
    paths = write_campaign(doc, out)
    header, rows = table_rows(doc)
    print_table(f"campaigns: {seeds} seeds, budget {budget}, {n_init} random starts, pools <= {max_pool}", header, rows)
    err_console.print(f"wrote {', '.join(map(str, paths))} in {doc['seconds']:.0f} s")
    return doc
