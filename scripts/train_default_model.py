"""Train the default meta-model shipped in ``metamat/pretrained/`` (Meta-SGD, composition features), or
any other registry meta-learner with ``--model`` (``dkgp``, ``maml``, ``anil``, ``transfer_head``, ...).

    METAMAT_DATA_DIR=/work/shared/data python scripts/train_default_model.py [--minutes 2.5] [--out DIR]

Meta-train tasks: every regression task of the registry's meta-train groups (each capped at
``--max-rows`` rows, seeded); meta-val groups (work function, elastic anisotropy, Poisson ratio) for early
stopping and std calibration. Meta-test groups are never loaded. Checkpoints go to ``--checkpoint-dir``;
rerun with ``--resume`` after an interruption. Training runs a fixed ``--steps`` budget (3,600: 2.5 minutes
on one thread here, plus about 20 s of data loading and a few seconds of calibration), so the same seed
gives the same weights on any machine; ``--minutes`` is only a safety cap.

``--exclude TASK,...`` leaves those registry tasks out of meta-training and meta-validation together with
their quantity groups and the groups tied to them (band gap <-> metallicity, ...: the knowledge
surrogates' ``RELATED_GROUPS``), e.g. before an experimental hold-out check
(``benchmarks/experimental_holdout.py``); ``--exclude-groups`` names groups directly. Both are recorded in
the model's ``training`` block, which the leakage guard reads.

``--include TASK,...`` adds meta-test (or meta-val) tasks to meta-training, e.g. every experimental
regression table of the registry (``matbench_steels,supercon_tc_stanev``; ``matbench_expt_gap`` already
trains); their groups are then recorded as seen and ``bench`` refuses the model on them.

``--features composition+knowledge`` meta-trains on composition + knowledge-surrogate inputs (predicted
DFT properties). Every task keeps the same column layout: a surrogate of the task's own quantity (or a
tied one) is masked as NaN (the training column mean after feature preparation), never used.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "metamat" / "pretrained" / "default"))
    ap.add_argument("--model", default="metasgd", help="registry name (metasgd = the shipped default; dkgp, maml, ...)")
    ap.add_argument("--max-rows", type=int, default=5000)
    ap.add_argument("--steps", type=int, default=3600, help="training steps (the shipped default: 3,600)")
    ap.add_argument("--minutes", type=float, default=15.0, help="safety cap on the training time")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--patience", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1, help="1 is fastest here: the matrices are tiny")
    ap.add_argument("--val-ks", default="10,50")
    ap.add_argument("--param", action="append", default=[], help="model parameter NAME=JSON (repeatable)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint-dir", default="runs/default_model")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--exclude-groups", default="", help="quantity groups left out of meta-training, comma-separated "
                                                         "(e.g. 'band gap,metallicity' before testing on a gap task)")
    ap.add_argument("--exclude", default="", help="registry task names left out of meta-training and meta-val "
                                                  "together with their quantity groups and tied groups")
    ap.add_argument("--include", default="", help="registry tasks of the meta-val/meta-test side added to "
                                                  "meta-training (e.g. the experimental matbench_steels,"
                                                  "supercon_tc_stanev); their groups are recorded, so the leakage "
                                                  "guard then refuses those tasks")
    ap.add_argument("--features", default="composition",
                    help="input features: composition (the shipped default) or composition+knowledge")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from metamat.app.console import ProgressBar
    from metamat.models.meta import make_meta_model
    from metamat.models.registry import save_model
    from metamat.tasks.catalog import build_task, excluded_groups, get_task_spec, task_specs

    t0 = time.perf_counter()
    excluded = excluded_groups(args.exclude, args.exclude_groups)
    opts = {"data_dir": args.data_dir, "max_rows": args.max_rows, "seed": args.seed, "featurizers": args.features,
            "fixed_width": args.features != "composition"}
    added = [get_task_spec(n.strip()) for n in args.include.split(",") if n.strip()]
    train = [build_task(s, **opts) for s in [*task_specs("train"), *added] if s.group not in excluded]
    val = [build_task(s, **opts) for s in task_specs("val") if s.group not in excluded]
    load_s = time.perf_counter() - t0
    print(f"loaded {len(train)} meta-train and {len(val)} meta-val tasks in {load_s:.0f} s", flush=True)

    params = {k: json.loads(v) for k, v in (p.split("=", 1) for p in args.param)}
    model = make_meta_model(args.model, seed=args.seed, **params)
    t1 = time.perf_counter()
    with ProgressBar("meta-train") as bar:
        model.meta_fit(train, val, steps=args.steps, batch=args.batch, eval_every=args.eval_every,
                       patience=args.patience, max_minutes=args.minutes, checkpoint_dir=args.checkpoint_dir,
                       resume=args.resume, seed=args.seed, val_ks=tuple(int(k) for k in args.val_ks.split(",")),
                       progress=bar)
    train_s = time.perf_counter() - t1
    used = [t for t in train if t.kind in model.task_kinds]
    info = {
        "training": {
            "meta_train_tasks": [{"name": t.name, "quantity": t.quantity, "rows": len(t)} for t in used],
            "meta_val_tasks": [{"name": t.name, "quantity": t.quantity, "rows": len(t)} for t in val],
            "held_out_groups": sorted(({s.group for s in task_specs("test")} - {s.group for s in added}) | excluded),
            "excluded_tasks": [n.strip() for n in args.exclude.split(",") if n.strip()],
            "excluded_groups": sorted(excluded), "features": args.features, "included_tasks": [s.name for s in added],
            "masked_features": {t.name: list(t.removed_features) for t in [*used, *val] if t.removed_features},
            "max_rows_per_task": args.max_rows, "seed": args.seed, "steps": model.history_["step"],
            "best_step": model.history_["best_step"], "best_val_log_mae_ratio": model.history_["best_score"],
            "stopped": model.history_["stopped"], "train_seconds": round(train_s, 1),
            "load_seconds": round(load_s, 1), "threads": args.threads, "torch": torch.__version__,
            "python": platform.python_version(),
        }
    }
    base = save_model(model, args.out, extra=info)
    print(json.dumps(info["training"] | {"meta_train_tasks": len(used)}, indent=1))
    print(f"saved {base}.safetensors / .json after {train_s / 60:.1f} min of training")


if __name__ == "__main__":
    main()
