"""Train the shipped knowledge surrogates (metamat/pretrained/knowledge/) from the CrabNet benchmark tables.

    METAMAT_DATA_DIR=/work/shared/data python scripts/train_knowledge_surrogates.py

The same tables ship in the ``crabnet`` wheel on PyPI (``crabnet/data/benchmark_data/<table>/{train,val,
test}.csv``); ``--data-dir`` may point at a folder holding ``crabnet_benchmark/<table>.csv.gz`` with
columns formula, target, split. One torch thread; about 4 minutes on this machine. Same seed -> same weights.

Leakage guard for the expt_gap benchmark: every composition of matbench_expt_gap (all five official test
folds together cover all of them) is kept out of the band-gap surrogates' training and validation rows.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from metamat.featurize.knowledge import KNOWLEDGE_DIR, SURROGATE_SPECS, save_surrogates  # noqa: E402
from metamat.featurize.knowledge_training import TrainConfig, train_surrogate  # noqa: E402
from metamat.files import atomic_write  # noqa: E402


def expt_gap_keys(data_dir: str) -> set[str]:
    from metamat.data.compositions import parse_formulas
    from metamat.data.registry import load_dataset

    table = load_dataset("matbench_expt_gap", data_dir=data_dir)
    parsed = parse_formulas(list(table.formulas), errors="raise")
    return set(parsed.compositions.reduced_keys()[parsed.codes])


def model_card(surrogates, cfg: TrainConfig, seconds: float) -> str:
    lines = [
        "# Knowledge surrogates (composition -> DFT property)",
        "",
        "One MLP ensemble per DFT table of the CrabNet benchmark (`shared/data/crabnet_benchmark`, MIT; data from",
        "OQMD, AFLOW, Materials Project and Bartel et al.). Input: the 148 `composition` features. Output: the",
        "property in its learned space (log10 for positive heavy-tailed ones) with std = sqrt(ensemble spread^2 +",
        "validation residual^2). Produced by `scripts/train_knowledge_surrogates.py` "
        f"(seed {cfg.seed}, {seconds / 60:.1f} min on one torch thread).",
        "",
        f"Training: {cfg.n_members} members x MLP {'-'.join(map(str, cfg.hidden))} (SiLU), L1 loss, AdamW lr {cfg.lr},",
        f"batch {cfg.batch_size}, at most {cfg.max_epochs} epochs, early stopping on the CrabNet `val` split (patience",
        f"{cfg.patience}); at most {cfg.max_train} seeded `train` rows and {cfg.max_val} `val` rows per table.",
        "Test MAE is on the whole CrabNet `test` split, in the property's unit (the ensemble mean mapped back).",
        "The train-median column is the MAE of predicting the training median everywhere (a floor to beat).",
        "Published composition-only references on the same splits (CrabNet, Roost, ElemNet; Wang et al. 2021, Table 2)",
        "could not be retrieved offline here and are not quoted; compare with that table before citing these numbers.",
        "",
        "Leakage: every matbench_expt_gap composition (reduced formula) is excluded from the band-gap surrogates'",
        "train and val rows. `KnowledgeFeaturizer(exclude_quantities=...)` drops surrogates of a task's quantity.",
        "",
        "| surrogate | table | quantity group | unit | learned as | train rows | excluded | test rows | test MAE |"
        " train-median MAE | 90% coverage |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in surrogates:
        c, sp = s.card, s.spec
        lines.append(f"| {sp.name} | {sp.table} | {sp.group} | {sp.unit or '-'} | {sp.transform} | "
                     f"{c['train_rows']} | {c['excluded_rows']} | {c['test_rows']} | {c['test_mae']:.4g} | "
                     f"{c['train_median_test_mae']:.4g} | {c['test_coverage_90']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("METAMAT_DATA_DIR"))
    ap.add_argument("--out", default=str(KNOWLEDGE_DIR))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default=None, help="comma-separated surrogate names (default: all)")
    args = ap.parse_args()
    if not args.data_dir:
        sys.exit("set METAMAT_DATA_DIR or pass --data-dir")
    cfg = TrainConfig(seed=args.seed)
    specs = [s for s in SURROGATE_SPECS if args.only is None or s.name in args.only.split(",")]
    exclude = {"band gap": expt_gap_keys(args.data_dir)}
    start = time.perf_counter()
    out = []
    for i, spec in enumerate(specs):
        sur = train_surrogate(spec, args.data_dir, cfg, exclude.get(spec.group))
        out.append(sur)
        print(f"[{i + 1}/{len(specs)}] {spec.name}: test MAE {sur.card['test_mae']:.4g} {spec.unit} "
              f"(train median {sur.card['train_median_test_mae']:.4g}), {sur.card['seconds']} s", flush=True)
    seconds = time.perf_counter() - start
    save_surrogates(out, args.out, meta={"seed": args.seed, "config": cfg.__dict__, "seconds": round(seconds, 1)})
    with atomic_write(Path(args.out) / "MODEL_CARD.md", "w") as fh:
        fh.write(model_card(out, cfg, seconds))
    print(f"wrote {args.out} in {seconds:.0f} s")


if __name__ == "__main__":
    main()
