"""Speed of one energy+forces call on a 64-atom Si cell: metamat potential vs CHGNet and SevenNet-0.

    python benchmarks/potentials_speed.py [--model DIR] [--calls 50] [--threads 2]

Writes benchmarks/results/potentials_speed.json. Each call sees new positions (no caching), the neighbour
list is included. CHGNet / SevenNet are timed only if installed (they are benchmark-only, never metamat
dependencies); otherwise the figures measured on this machine type (DESIGN.md) are quoted and marked so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch
from ase.build import bulk

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
QUOTED_MS = {"chgnet_0.4.2": 78.0, "sevennet_0": 218.0}  # DESIGN.md, same machine type, 2 threads


def si64(seed: int = 0):
    atoms = bulk("Si", "diamond", a=5.43, cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.05, seed=seed)
    return atoms


def time_calculator(calc, calls: int, warmup: int = 3) -> dict:
    """Median / quartiles (ms) of energy+forces calls, each on freshly rattled positions."""
    atoms = si64()
    atoms.calc = calc
    base = atoms.positions.copy()
    rng = np.random.default_rng(0)
    times = []
    for k in range(warmup + calls):
        atoms.positions = base + rng.normal(0, 0.01, base.shape)
        t0 = time.perf_counter()
        atoms.get_potential_energy()
        atoms.get_forces()
        if k >= warmup:
            times.append(1e3 * (time.perf_counter() - t0))
    q = statistics.quantiles(times, n=4)
    return {"median_ms": statistics.median(times), "q1_ms": q[0], "q3_ms": q[2], "calls": calls}


def metamat_model(model_dir: str | None):
    from metamat.potentials import Potential, load_potential
    from metamat.potentials.dataset import fit_scaling_from_frames

    if model_dir:
        return load_potential(model_dir), model_dir
    default = RESULTS / "potentials_mlearn" / "Si" / "model"
    if (default / "config.json").exists():
        return load_potential(default), str(default.relative_to(HERE.parent))
    torch.manual_seed(0)  # untrained weights cost exactly as much as trained ones
    model = fit_scaling_from_frames(Potential(["Si"]), [si64(1)])
    return model.eval(), "untrained (default architecture)"


def chgnet_calculator():
    # chgnet imports the NVML binding `nvidia_smi` at import time; on CPU it is never used, so a stub
    # avoids installing an NVIDIA package into a CPU-only environment.
    sys.modules.setdefault("nvidia_smi", types.ModuleType("nvidia_smi"))
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    return CHGNetCalculator(CHGNet.load(verbose=False), use_device="cpu")


def sevennet_calculator():
    from sevenn.calculator import SevenNetCalculator

    return SevenNetCalculator("7net-0", device="cpu")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="saved metamat potential directory")
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-others", action="store_true", help="do not time CHGNet / SevenNet")
    ap.add_argument("--out", default=str(RESULTS / "potentials_speed.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from metamat.potentials import PotentialCalculator
    from metamat.potentials.evaluation import atomic_write_text

    model, source = metamat_model(args.model)
    results: dict = {"structure": "Si diamond 2x2x2 conventional, 64 atoms, rattled 0.05 Å",
                     "threads": args.threads, "load_average_at_start": os.getloadavg(),
                     "python": platform.python_version(), "torch": torch.__version__, "models": {}}
    results["models"]["metamat"] = {"model": source, "cutoff": model.settings.cutoff,
                                    "angular_cutoff": model.settings.angular_cutoff,
                                    "n_features": model.descriptor.n_features,
                                    **time_calculator(PotentialCalculator(model), args.calls)}
    fast = type(model).from_config(model.config())
    fast.load_state_dict(model.state_dict())
    results["models"]["metamat_float32"] = {"model": source + " (float32)",
                                            **time_calculator(PotentialCalculator(fast.float()), args.calls)}
    if not args.skip_others:
        for name, make in (("chgnet_0.4.2", chgnet_calculator), ("sevennet_0", sevennet_calculator)):
            try:
                entry = {"measured": True, **time_calculator(make(), max(10, args.calls // 2))}
            except Exception as exc:  # not installed or failed: quote the figure measured earlier
                entry = {"measured": False, "median_ms": QUOTED_MS[name],
                         "note": f"quoted from DESIGN.md ({type(exc).__name__}: {exc})"}
            results["models"][name] = entry
    ours = results["models"]["metamat"]["median_ms"]
    results["speedup_vs"] = {k: v["median_ms"] / ours for k, v in results["models"].items() if k != "metamat"}
    atomic_write_text(args.out, json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
