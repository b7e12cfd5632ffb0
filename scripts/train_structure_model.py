"""Train the structure-aware model shipped in ``metamat/pretrained/structure`` (crystal-graph encoder +
composition features), used by ``metamat fewshot --structure-column``.

    METAMAT_DATA_DIR=/work/shared/data python scripts/train_structure_model.py [--model dkgp] [--minutes 5]

Meta-train tasks: every structure task of :mod:`metamat.tasks.structure_tasks` (bulk perovskites, carbon
polymorphs, JARVIS-EPC superconductors incl. relaxed volumes, 2DMatPedia and JARVIS-DFT 2D properties), each
capped at ``--max-rows`` rows; JARVIS-EPC Tc is held out for early stopping and std calibration. The graph
layout (sites, neighbours within 4 Å) is fitted on all structures with 25% headroom; larger structures are
rejected with a clear message at prediction time.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

VAL_TASK = "jarvis_epc:Tc"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "metamat" / "pretrained" / "structure"))
    ap.add_argument("--model", default="dkgp", help="registry meta-learner (dkgp: the best graph learner)")
    ap.add_argument("--encoder", default="cgcnn")
    ap.add_argument("--max-rows", type=int, default=2000)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--cutoff", type=float, default=4.0, help="graph cutoff (Å)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint-dir", default="runs/structure_model")
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from metamat.app.console import ProgressBar
    from metamat.featurize.graphs import GraphLayout
    from metamat.models.meta import make_meta_model
    from metamat.models.registry import save_model
    from metamat.tasks.structure_tasks import STRUCTURE_TASKS, build_structure_task, load_structure_rows

    t0 = time.perf_counter()
    rows = {s.name: load_structure_rows(s, max_rows=args.max_rows, seed=args.seed) for s in STRUCTURE_TASKS}
    layout = GraphLayout.fit([c for r in rows.values() for c in r.crystals], cutoff=args.cutoff)
    tasks = {n: build_structure_task(r, "graph", layout=layout) for n, r in rows.items()}
    train = [t for n, t in tasks.items() if n != VAL_TASK]
    val = [tasks[VAL_TASK]]
    print(f"{len(train)} train tasks, layout {layout}, loaded in {time.perf_counter() - t0:.0f} s", flush=True)
    model = make_meta_model(args.model, seed=args.seed, encoder=args.encoder, hidden=(64,),
                            encoder_options={**layout.to_dict(), "extra_dim": train[0].X.shape[1] - layout.width})
    t1 = time.perf_counter()
    with ProgressBar("meta-train") as bar:
        model.meta_fit(train, val, steps=100_000, max_minutes=args.minutes, checkpoint_dir=args.checkpoint_dir,
                       resume=args.resume, progress=bar, batch=4, n_query=32)
    info = {"model": args.model, "encoder": args.encoder, "train_tasks": [t.name for t in train],
            "val_tasks": [VAL_TASK], "max_rows": args.max_rows, "train_seconds": time.perf_counter() - t1,
            "threads": args.threads, "seed": args.seed, "python": platform.python_version(),
            "torch": torch.__version__, "graph_layout": layout.to_dict()}
    save_model(model, args.out, extra={"training": info})
    print(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
