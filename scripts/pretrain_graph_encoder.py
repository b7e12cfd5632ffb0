"""Pretrain the crystal-graph encoder on large structure sets with supervised multi-task heads.

    METAMAT_DATA_DIR=/work/shared/data PYTHONPATH=. python scripts/pretrain_graph_encoder.py [--epochs 40]

Writes ``metamat/pretrained/graph_encoder.{safetensors,json}`` (the frozen featurizer ``graph_pretrained`` of
:mod:`metamat.featurize.graph_embedding`). About 7 minutes on one core with the defaults (shared machine).

Encoder: CGCNN-style (:class:`~metamat.featurize.graph_encoder.CrystalGraphEncoder`), node width 64, three
convolutions, cutoff 4 Å, pooled output 64 (the embedding), no composition columns (element embeddings +
element properties enter through the nodes). Heads: one linear layer on SiLU(embedding), one output per task,
targets standardized per task, loss = mean squared error over the labelled (structure, task) entries.

Tasks (none is a quantity the 2D few-shot benchmark tests: 2DMatPedia band gap, decomposition energy and
exfoliation energy, JARVIS-2D exfoliation energy; the leakage record lists their quantity groups):

- perov_5 heat of formation (formation energy), carbon_24 energy per atom (total energy), JARVIS-EPC
  superconducting Tc (log(1 + Tc/K));
- log volume per atom of every set, bulk and 2D (2DMatPedia and the JARVIS-2D structures), one head per
  set. Volume per atom is a function of the input structure itself (cell volume / sites): it carries no
  information about any label, and it is what a user's query structure already states, so training on it
  for the 2D structures of the test tables leaks nothing; it makes the encoder see 2D bonding environments
  (layers, vacuum) at all. For the 2D sets it mostly measures the vacuum and layer thickness.

10% of every set (seeded) is held out; the JSON records per-task held-out R² and MAE. Same seed -> same bits
(one torch thread, fixed batches, numpy Generator shuffling, torch init under a forked RNG).
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from dataclasses import dataclass

import numpy as np
import torch

DEFAULT_OUT = "metamat/pretrained/graph_encoder"
CUTOFF = 4.0
WIDTH = 64

#: (task name, dataset, target (or "volume_per_atom"), quantity group, transform)
TASKS = (
    ("perov5:heat_of_formation", "perov_5", "heat_all", "formation energy", "identity"),
    ("carbon24:energy_per_atom", "carbon_24", "energy_per_atom", "total energy", "identity"),
    ("jarvis_epc:Tc", "jarvis_epc_tc", "Tc_K", "superconducting Tc", "log1p"),
    ("perov5:volume_per_atom", "perov_5", "volume_per_atom", "volume per atom", "log"),
    ("carbon24:volume_per_atom", "carbon_24", "volume_per_atom", "volume per atom", "log"),
    ("jarvis_epc:volume_per_atom", "jarvis_epc_tc", "volume_per_atom", "volume per atom", "log"),
    ("2dmatpedia:volume_per_atom", "2dmatpedia_structures", "volume_per_atom", "volume per atom", "log"),
    ("jdft2d:volume_per_atom", "matbench_jdft2d_structures", "volume_per_atom", "volume per atom", "log"),
)
#: Quantity groups the 2D few-shot benchmark tests: never a pretraining target.
TEST_GROUPS = ("band gap", "thermodynamic stability", "exfoliation energy")


@dataclass
class PretrainSet:
    crystals: list
    Y: np.ndarray  # (n, tasks), NaN = not labelled
    dataset: np.ndarray  # (n,) dataset index
    names: list[str]


def _transform(y: np.ndarray, how: str) -> np.ndarray:
    if how == "log":
        return np.log(y)
    return np.log1p(np.clip(y, 0, None)) if how == "log1p" else y


def load_sets(max_rows: dict[str, int], seed: int, tasks=TASKS) -> PretrainSet:
    """Every dataset's validated crystals once, with a label matrix over ``tasks``."""
    from metamat.tasks.structure_tasks import StructureTaskSpec, load_structure_rows

    assert not {t[3] for t in tasks} & set(TEST_GROUPS), "a pretraining task measures a tested quantity"
    datasets = list(dict.fromkeys(t[1] for t in tasks))
    crystals, labels, origin = [], [], []
    for d, dataset in enumerate(datasets):
        # one load per dataset (volume per atom keeps every valid structure); other targets by row id
        spec = StructureTaskSpec(f"{dataset}:volume_per_atom", dataset, "volume_per_atom", "volume per atom", "")
        rows = load_structure_rows(spec, max_rows=max_rows.get(dataset), seed=seed)
        Y = np.full((len(rows.y), len(tasks)), np.nan)
        for t, (_, ds, target, _, how) in enumerate(tasks):
            if ds != dataset:
                continue
            if target == "volume_per_atom":
                y = rows.y
            else:
                full = load_structure_rows(StructureTaskSpec("x", dataset, target, "", ""))
                by_id = dict(zip(full.ids.tolist(), full.y.tolist(), strict=True))
                y = np.array([by_id.get(i, np.nan) for i in rows.ids.tolist()])
            Y[:, t] = _transform(y, how)
        crystals += rows.crystals
        labels.append(Y)
        origin.append(np.full(len(rows.y), d))
        print(f"  {dataset}: {len(rows.y)} structures ({len(rows.rejected)} rejected)", flush=True)
    return PretrainSet(crystals, np.vstack(labels), np.concatenate(origin), datasets)


def make_batches(data: PretrainSet, idx: np.ndarray, batch: int, rng: np.random.Generator
                 ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Fixed batches of packed graph rows (float32) and standardized labels; membership drawn once."""
    from metamat.featurize.graphs import graph_features

    order = rng.permutation(idx)
    out = []
    for a in range(0, len(order), batch):
        b = order[a:a + batch]
        X = graph_features([data.crystals[i] for i in b], CUTOFF)
        out.append((torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(data.Y[b], dtype=torch.float32)))
    return out


def masked_mse(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    mask = torch.isfinite(y)
    return ((pred - torch.where(mask, y, 0.0)) ** 2 * mask).sum() / mask.sum().clamp_min(1)


def build(seed: int, n_tasks: int):
    from metamat.featurize.graph_encoder import CrystalGraphEncoder

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        encoder = CrystalGraphEncoder(0, hidden=(WIDTH,), out_dim=WIDTH, cutoff=CUTOFF, extra_dim=0, n_conv=3)
        heads = torch.nn.Linear(WIDTH, n_tasks)
    return encoder, heads


def train(data: PretrainSet, epochs: int, batch: int, lr: float, seed: int, val_share: float = 0.1,
          log=print, tasks=TASKS) -> dict:
    """Train encoder + heads; returns the modules, the standardization and per-epoch / held-out records."""
    rng = np.random.default_rng(seed)
    n = len(data.crystals)
    val = np.zeros(n, bool)
    for d in np.unique(data.dataset):  # hold out val_share of every set
        members = np.flatnonzero(data.dataset == d)
        val[rng.choice(members, size=max(1, int(round(val_share * len(members)))), replace=False)] = True
    train_idx, val_idx = np.flatnonzero(~val), np.flatnonzero(val)
    mu = np.nanmean(data.Y[train_idx], 0)
    sd = np.nanstd(data.Y[train_idx], 0)
    data = PretrainSet(data.crystals, (data.Y - mu) / sd, data.dataset, data.names)
    t0 = time.perf_counter()
    batches = make_batches(data, train_idx, batch, rng)
    val_batches = make_batches(data, val_idx, 256, rng)
    log(f"graphs built in {time.perf_counter() - t0:.0f} s: {len(batches)} train batches, {len(val_idx)} held out")
    encoder, heads = build(seed, len(tasks))
    params = list(encoder.parameters()) + list(heads.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    steps = epochs * len(batches)
    history = []
    step = 0
    for epoch in range(epochs):
        encoder.train()
        total, t1 = 0.0, time.perf_counter()
        for k in rng.permutation(len(batches)):
            X, y = batches[k]
            for g in opt.param_groups:  # cosine decay to 5% of lr
                g["lr"] = lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / steps)))
            loss = masked_mse(heads(torch.nn.functional.silu(encoder(X))), y)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            total += float(loss.detach())
            step += 1
        held = evaluate(encoder, heads, val_batches)
        history.append({"epoch": epoch + 1, "train_loss": total / len(batches), "val_loss": held["loss"],
                        "seconds": time.perf_counter() - t1})
        log(f"epoch {epoch + 1}/{epochs}: train loss {total / len(batches):.4f}, held-out loss {held['loss']:.4f} "
            f"({time.perf_counter() - t1:.0f} s)")
    held = evaluate(encoder, heads, val_batches)
    per_task = {tasks[t][0]: {"r2": held["r2"][t], "mae_standardized": held["mae"][t], "n": held["n"][t]}
                for t in range(len(tasks))}
    return {"encoder": encoder, "heads": heads, "mean": mu, "std": sd, "history": history, "held_out": per_task,
            "n_train": int(len(train_idx)), "n_val": int(len(val_idx))}


def evaluate(encoder, heads, batches) -> dict:
    encoder.eval()
    with torch.no_grad():
        P = torch.cat([heads(torch.nn.functional.silu(encoder(X))) for X, _ in batches]).numpy()
    Y = torch.cat([y for _, y in batches]).numpy()
    mask = np.isfinite(Y)
    r2, mae, n = [], [], []
    for t in range(Y.shape[1]):
        m = mask[:, t]
        y, p = Y[m, t], P[m, t]
        r2.append(float(1 - ((y - p) ** 2).sum() / ((y - y.mean()) ** 2).sum()) if m.sum() > 1 else float("nan"))
        mae.append(float(np.abs(y - p).mean()) if m.any() else float("nan"))
        n.append(int(m.sum()))
    return {"loss": float(((np.where(mask, Y, 0) - P) ** 2 * mask).sum() / mask.sum()), "r2": r2, "mae": mae,
            "n": n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--max-perov", type=int, default=None, help="subsample perov_5 (default: all 7,572)")
    ap.add_argument("--max-carbon", type=int, default=None, help="subsample carbon_24 (default: all 4,062)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--drop-tasks", default="", help="comma-separated task names to leave out (ablations, e.g. "
                    "carbon24:energy_per_atom for a clean carbon polymorph test)")
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    torch.set_num_threads(1)
    from metamat.featurize.graph_embedding import save_encoder

    t0 = time.perf_counter()
    print("loading structure sets", flush=True)
    drop = {t for t in args.drop_tasks.split(",") if t}
    unknown = drop - {t[0] for t in TASKS}
    if unknown:
        ap.error(f"unknown task(s) {sorted(unknown)}; choose from {[t[0] for t in TASKS]}")
    tasks = tuple(t for t in TASKS if t[0] not in drop)
    data = load_sets({"perov_5": args.max_perov, "carbon_24": args.max_carbon}, args.seed, tasks)
    result = train(data, args.epochs, args.batch, args.lr, args.seed, log=lambda s: print(s, flush=True),
                   tasks=tasks)
    enc, heads = result["encoder"], result["heads"]
    tensors = {**{f"encoder.{k}": v for k, v in enc.state_dict().items()},
               **{f"head.{k}": v for k, v in heads.state_dict().items()}}
    counts = np.isfinite(data.Y).sum(0)
    training = {"script": "scripts/pretrain_graph_encoder.py", "seed": args.seed, "epochs": args.epochs,
                "batch": args.batch, "lr": args.lr, "held_out_share": 0.1,
                "meta_train_tasks": [{"name": t[0], "quantity": t[3], "rows": int(c), "transform": t[4]}
                                     for t, c in zip(tasks, counts, strict=True)],
                "meta_val_tasks": [], "held_out_groups": list(TEST_GROUPS),
                "rows_train": result["n_train"], "rows_held_out": result["n_val"],
                "history": result["history"], "held_out": result["held_out"],
                "target_mean": result["mean"].tolist(), "target_std": result["std"].tolist(),
                "seconds": time.perf_counter() - t0, "torch": torch.__version__, "python": platform.python_version()}
    enc_cfg = enc.config()
    path = save_encoder(args.out, tensors, {"encoder": enc_cfg, "heads": [t[0] for t in tasks],
                                            "embedding": "encoder output (pooled, before the heads' SiLU)",
                                            "training": training})
    print(f"saved {path} in {time.perf_counter() - t0:.0f} s")
    for name, r in result["held_out"].items():
        print(f"  held-out {name:30s} R2 {r['r2']:.3f} (n={r['n']})")


if __name__ == "__main__":
    main()
