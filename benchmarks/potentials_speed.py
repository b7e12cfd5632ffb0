"""Speed of one energy+forces call on a 64-atom Si cell: metamat potential vs CHGNet and SevenNet-0.

    python benchmarks/potentials_speed.py [--model DIR] [--calls 50] [--threads 2]

Writes benchmarks/results/potentials_speed.json. Each call sees new positions (no caching), the neighbour
list is included. The calculators take turns (in rotating order) on the same positions, one call each per
round, so a load change on the (shared) machine hits all of them alike; ``paired_speedup`` is the median
over rounds of ``time(other) / time(metamat)``. ``metamat`` is the default calculator (float64, one
intra-op thread), ``metamat_float32`` uses ``dtype="float32"``, ``metamat_threads`` all ``--threads``.
CHGNet / SevenNet are timed only if installed (they are benchmark-only, never metamat dependencies);
otherwise the figures measured on this machine type (the project's design notes) are quoted and marked so.
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
QUOTED_MS = {"chgnet_0.4.2": 78.0, "sevennet_0": 218.0}  # project design notes, same machine type, 2 threads


def si64(seed: int = 0):
    atoms = bulk("Si", "diamond", a=5.43, cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.05, seed=seed)
    return atoms


def time_calculators(calcs: dict, calls: int, warmup: int = 3) -> tuple[dict, dict]:
    """Median / quartiles (ms) of energy+forces calls, each round on freshly rattled positions, and the
    per-round times (ms) of every calculator."""
    base = si64()
    systems = {}
    for name, calc in calcs.items():
        systems[name] = base.copy()
        systems[name].calc = calc
    rng = np.random.default_rng(0)
    times: dict[str, list[float]] = {name: [] for name in calcs}
    names = list(systems)
    for k in range(warmup + calls):
        positions = base.positions + rng.normal(0, 0.01, base.positions.shape)
        for name in names[k % len(names):] + names[:k % len(names)]:  # rotated: nobody always follows SevenNet
            atoms = systems[name]
            atoms.positions = positions
            t0 = time.perf_counter()
            atoms.get_potential_energy()
            atoms.get_forces()
            if k >= warmup:
                times[name].append(1e3 * (time.perf_counter() - t0))
    stats = {}
    for name, ts in times.items():
        q = statistics.quantiles(ts, n=4)
        stats[name] = {"median_ms": statistics.median(ts), "q1_ms": q[0], "q3_ms": q[2], "calls": calls}
    return stats, times


def metamat_model(model_dir: str | None):
    from metamat.potentials import Potential, load_potential
    from metamat.potentials.dataset import fit_scaling_from_frames

    if model_dir and model_dir != "untrained":
        return load_potential(model_dir), model_dir
    default = RESULTS / "potentials_mlearn" / "Si" / "model"
    if model_dir is None and (default / "config.json").exists():
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
    ap.add_argument("--model", help="saved metamat potential directory, or 'untrained' for the default "
                                    "architecture (default: the mlearn Si model if present)")
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-others", action="store_true", help="do not time CHGNet / SevenNet")
    ap.add_argument("--out", default=str(RESULTS / "potentials_speed.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from metamat.files import write_json
    from metamat.potentials import PotentialCalculator

    model, source = metamat_model(args.model)
    results: dict = {"structure": "Si diamond 2x2x2 conventional, 64 atoms, rattled 0.05 Å",
                     "threads": args.threads, "load_average_at_start": os.getloadavg(),
                     "python": platform.python_version(), "torch": torch.__version__, "models": {}}
    calcs = {"metamat": PotentialCalculator(model),
             "metamat_float32": PotentialCalculator(model, dtype="float32"),
             "metamat_threads": PotentialCalculator(model, threads=None)}
    notes = {"metamat": {"model": source, "cutoff": model.settings.cutoff,
                         "angular_cutoff": model.settings.angular_cutoff, "n_features": model.descriptor.n_features,
                         "calculator": "PotentialCalculator(model): float64, 1 intra-op thread"},
             "metamat_float32": {"calculator": "PotentialCalculator(model, dtype='float32')"},
             "metamat_threads": {"calculator": f"PotentialCalculator(model, threads=None): {args.threads} threads"}}
    quoted = {}
    if not args.skip_others:
        for name, make in (("chgnet_0.4.2", chgnet_calculator), ("sevennet_0", sevennet_calculator)):
            try:
                calcs[name] = make()
                notes[name] = {"measured": True}
            except Exception as exc:  # not installed or failed: quote the figure measured earlier
                quoted[name] = {"measured": False, "median_ms": QUOTED_MS[name],
                                "note": f"quoted from the project design notes ({type(exc).__name__}: {exc})"}
    stats, times = time_calculators(calcs, args.calls)
    results["models"] = {name: {**notes[name], **stats[name]} for name in calcs} | quoted
    ours = results["models"]["metamat"]["median_ms"]
    results["speedup_vs"] = {k: v["median_ms"] / ours for k, v in results["models"].items() if k != "metamat"}
    results["paired_speedup"] = {k: statistics.median(np.array(times[k]) / np.array(times["metamat"]))
                                 for k in times if k != "metamat"}
    results["load_average_at_end"] = os.getloadavg()
    write_json(args.out, results)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
