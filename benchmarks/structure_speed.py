"""Structure featurization speed at realistic cell sizes (issue 14): large disordered cells and many 100-site
cells, for the physics descriptors, the packed crystal graph and the graph encoder.

    python benchmarks/structure_speed.py [--n 1000] [--threads 2]

- one disordered alpha-AgI supercell (14-site Im-3m cell with Ag spread over 12d sites at occupancy 1/6,
  3x3x3 = 378 sites and 4x3x3 = 504 sites; hand-written from Strock 1934 / Cava et al. 1977);
- ``--n`` rattled and strained 100-site supercells of wurtzite ZnO, perovskite SrTiO3, fcc Cu and rocksalt NaCl;
- timings (best of ``--repeats``): ``featurize_structures(names="physics")``, ``graph_features`` at 4 and 5 Å,
  the default descriptor set (sorted inverse distances + ACSF), and one forward pass of a 64-wide CGCNN encoder
  on the packed rows (batches of 64).

Writes ``benchmarks/results/structure_speed/structure_speed.{json,png}`` and ``COMMAND.txt``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy/torch load
    os.environ.setdefault(_var, "2")

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "structure_speed"
AGI_CIF = Path(__file__).resolve().parents[1] / "tests" / "data" / "alpha_AgI.cif"


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def agi_cell():
    from metamat.data.structures import to_crystal

    return to_crystal(AGI_CIF.read_text())  # hand-written, sources in its header


def hundred_site_cells(n: int, seed: int = 0) -> list:
    from ase.build import bulk

    from metamat.data.structures import Crystal, to_crystal

    protos = [(bulk("ZnO", "wurtzite", a=3.25, c=5.207), (5, 5, 1)), (_perovskite(), (5, 4, 1)),
              (bulk("Cu", "fcc", a=3.615), (5, 5, 4)), (bulk("NaCl", "rocksalt", a=5.64), (5, 5, 2))]
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        atoms, reps = protos[k % len(protos)]
        c = to_crystal(atoms.repeat(reps))
        strain = np.eye(3) + 0.02 * rng.normal(size=(3, 3))
        out.append(Crystal(c.positions @ strain + 0.05 * rng.normal(size=c.positions.shape), c.cell @ strain,
                           c.pbc, c.species, c.occupancy))
    assert all(c.n_sites == 100 for c in out)
    return out


def _perovskite():
    from ase import Atoms

    a = 3.905
    return Atoms("SrTiO3", scaled_positions=[[0, 0, 0], [.5, .5, .5], [.5, .5, 0], [.5, 0, .5], [0, .5, .5]],
                 cell=np.eye(3) * a, pbc=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from metamat.featurize.graphs import graph_features
    from metamat.featurize.structure import featurize_structures
    from metamat.files import write_json
    from metamat.models.meta.encoders import build_encoder

    agi = agi_cell()
    rows = []
    for reps in ((3, 3, 3), (4, 3, 3)):
        big = agi.supercell(reps)
        for label, fn in (("physics", lambda b=big: featurize_structures([b], "physics")),
                          ("graph 4 A", lambda b=big: graph_features([b], 4.0)),
                          ("graph 5 A", lambda b=big: graph_features([b], 5.0)),
                          ("sid+acsf", lambda b=big: featurize_structures([b]))):
            t = best_time(fn, args.repeats)
            rows.append({"case": f"AgI {big.n_sites} sites (disordered)", "what": label, "seconds": t})
            print(f"{rows[-1]['case']:32s} {label:10s} {t:7.3f} s", flush=True)
    cells = hundred_site_cells(args.n)
    for label, fn in (("physics", lambda: featurize_structures(cells, "physics")),
                      ("graph 4 A", lambda: graph_features(cells, 4.0)),
                      ("sid+acsf", lambda: featurize_structures(cells))):
        t = best_time(fn, 1)
        rows.append({"case": f"{args.n} x 100 sites", "what": label, "seconds": t})
        print(f"{rows[-1]['case']:32s} {label:10s} {t:7.2f} s", flush=True)
    G = torch.as_tensor(graph_features(cells, 4.0), dtype=torch.float32)
    torch.manual_seed(0)
    enc = build_encoder({"type": "cgcnn", "in_dim": 3, "hidden": [64], "out_dim": 64, "cutoff": 4.0}).eval()
    with torch.no_grad():
        t = best_time(lambda: [enc(G[s:s + 64]) for s in range(0, len(G), 64)], 1)
    rows.append({"case": f"{args.n} x 100 sites", "what": "cgcnn forward (64 wide)", "seconds": t})
    print(f"{rows[-1]['case']:32s} cgcnn fwd  {t:7.2f} s; packed rows {G.shape[1]} wide, "
          f"{G.numel() * 8 / 2**20:.0f} MiB as float64", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    out = {"rows": rows, "n": args.n, "threads": args.threads, "repeats": args.repeats,
           "targets": {"400-site disordered cell": "well under 1 s", "1000 x 100 sites": "under 60 s on 2 cores"},
           "note": "machine shared with other jobs while measured",
           "machine": {"python": platform.python_version(), "torch": torch.__version__, "cpu_count": os.cpu_count()}}
    write_json(OUT / "structure_speed.json", out)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from metamat.evaluate.plots import save_figure

    fig, ax = plt.subplots(figsize=(8, 4))
    labels = [f"{r['case']}\n{r['what']}" for r in rows]
    ax.barh(range(len(rows)), [r["seconds"] for r in rows], color="tab:blue")
    ax.set_yticks(range(len(rows)), labels, fontsize=6)
    ax.set_xscale("log")
    ax.set_xlabel("seconds (best of repeats)")
    ax.axvline(1.0, color="k", lw=0.5, ls=":")
    ax.axvline(60.0, color="r", lw=0.5, ls=":")
    fig.tight_layout()
    save_figure(fig, OUT / "structure_speed.png")
    from metamat.files import atomic_write

    with atomic_write(OUT / "COMMAND.txt", "w") as fh:
        fh.write(f"# regenerates this folder (run from the repository root)\npython benchmarks/structure_speed.py "
                 f"--n {args.n} --threads {args.threads} --repeats {args.repeats}\n")


if __name__ == "__main__":
    main()
