"""Train the shipped formation-energy model (metamat/pretrained/formation_energy.safetensors + .json).

Data: the CrabNet copies of the OQMD formation enthalpies (120,000 of the 341,700 rows by default, to keep
training at a few minutes on one core) and the CritExam formation
energies of Bartel et al. (85,014 Materials Project compositions); see /work/shared/data/SOURCES.md. The
CritExam ``val`` split is held out to measure the residual std (and the MAE reported in the JSON). Same
seed -> same weights (one torch thread).

    METAMAT_DATA_DIR=/work/shared/data python scripts/train_formation_model.py [--epochs 25] [--members 3]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from metamat.featurize.pipeline import featurize_formulas
from metamat.screen.formation import FEATURES, FormationEnergyModel, shipped_formation_model_path


def load(data_dir: Path, oqmd_rows: int, seed: int) -> pd.DataFrame:
    frames = []
    for name, source in (("CritExam__Ef", 0), ("OQMD_Formation_Enthalpy", 1)):
        df = pd.read_csv(data_dir / "crabnet_benchmark" / f"{name}.csv.gz")
        df["source"] = source
        if source == 1 and 0 < oqmd_rows < len(df):
            df = df.sample(n=oqmd_rows, random_state=seed)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir", default=os.environ.get("METAMAT_DATA_DIR", "/work/shared/data"))
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--members", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--oqmd-rows", type=int, default=120_000, help="random OQMD rows used (0: all 341,700)")
    ap.add_argument("--hidden", default="256,128,64", help="hidden layer widths")
    ap.add_argument("--out", default=str(shipped_formation_model_path()))
    args = ap.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    df = load(Path(args.data_dir), args.oqmd_rows, args.seed)
    fm = featurize_formulas(df["formula"].tolist(), FEATURES)
    X, y, source = fm.values.astype(np.float32), df["target"].to_numpy(), df["source"].to_numpy()
    held = ((df["source"] == 0) & (df["split"] == "val")).to_numpy()
    hidden = tuple(int(h) for h in args.hidden.split(","))
    model = FormationEnergyModel(hidden=hidden, n_members=args.members, epochs=args.epochs, seed=args.seed)
    model.fit(X[~held], y[~held], source[~held], X[held], y[held], source[held],
              progress=lambda m, n: print(f"member {m}/{n} done after {time.perf_counter() - start:.0f} s",
                                          flush=True))
    mean = model.predict(X[held])
    mae = float(np.mean(np.abs(mean - y[held])))
    model.save(args.out, extra={"training": {
        "data": f"CritExam__Ef (source 0) + {args.oqmd_rows or 'all'} random rows of OQMD_Formation_Enthalpy "
                "(source 1), CrabNet copies",
        "rows": int((~held).sum()), "held_out": "CritExam__Ef split=val", "held_out_rows": int(held.sum()),
        "held_out_mae_eV_per_atom": mae, "seconds": time.perf_counter() - start}})
    print(f"held-out CritExam val MAE {mae:.4f} eV/atom, residual std {model.residual_std_:.4f}; "
          f"saved {args.out} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
