"""Crystal-graph building and graph-encoder throughput on the 1,224 2DMatPedia structures.

    python benchmarks/graph_encoder_speed.py [--threads 1] [--repeats 3]

Reads ``$METAMAT_DATA_DIR/2dmatpedia_subset/2dmatpedia_subset_structures.extxyz.gz``, prints the layout
statistics at the default cutoff (largest site and neighbour counts), then times

- graph building: the batched neighbour search alone and :func:`graph_features` (search + packing);
- encoding (float32, ``torch.no_grad``) of the packed rows (flat edge list, ``index_add``), for node widths
  64 and 128; one forward + backward pass as in deep-kernel / protonet / transfer meta-training;
- one second-order MAML meta-gradient with the graph encoder (the loop over tasks MAML uses for it).

Throughputs are structures per second (best of ``--repeats``). Writes
``benchmarks/results/graph_encoder_speed.json``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy/torch load
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gzip  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
STRUCTURES = "2dmatpedia_subset/2dmatpedia_subset_structures.extxyz.gz"


def best_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def load_crystals() -> tuple[list, float, str]:
    import ase.io

    from metamat.data.structures import to_crystal

    path = Path(os.environ.get("METAMAT_DATA_DIR", "/work/shared/data")) / STRUCTURES
    start = time.perf_counter()
    with gzip.open(path, "rt") as fh:
        frames = ase.io.read(fh, index=":", format="extxyz")
    crystals = [to_crystal(a) for a in frames]
    return crystals, time.perf_counter() - start, str(path)


def encode_in_batches(enc: torch.nn.Module, X: torch.Tensor, batch: int) -> None:
    for s in range(0, len(X), batch):
        enc(X[s:s + batch])


def time_maml(G, layout, repeats: int) -> dict:
    """Seconds per second-order MAML meta-gradient on random 2DMatPedia episodes (8 tasks x (10 + 32))."""
    from metamat.models.base import FeaturePrep
    from metamat.models.meta import make_meta_model

    torch.manual_seed(0)
    from metamat.featurize.graphs import HEADER

    m = make_meta_model("maml", hidden=(64,), embed_dim=32, inner_steps=5, encoder="cgcnn",
                        encoder_options=layout.to_dict())
    m.prep_ = FeaturePrep(passthrough=HEADER).fit(G[:64, :HEADER])
    m._build(HEADER)
    B, k, q = 8, 10, 32
    idx = np.random.default_rng(0).choice(len(G), (B, k + q))
    X = torch.as_tensor(G[idx], dtype=torch.float32)
    y = torch.randn(B, k + q)
    params = [p for p in m.net_.parameters() if p.requires_grad]

    def step() -> None:
        torch.autograd.grad(m.batch_loss(X[:, :k], y[:, :k], X[:, k:], y[:, k:]), params, allow_unused=True)

    return {"tasks": B, "support": k, "query": q, "inner_steps": 5, "node_width": 64,
            "seconds_per_iteration": best_time(step, repeats)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64, help="structures per encoder call")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from metamat.data.structures import StructureBatch, neighbor_list
    from metamat.featurize.graphs import DEFAULT_CUTOFF, GraphLayout, graph_features, graph_layout_report
    from metamat.models.meta.encoders import build_encoder

    crystals, load_s, path = load_crystals()
    n = len(crystals)
    stats = graph_layout_report(crystals, DEFAULT_CUTOFF)
    layout = GraphLayout(DEFAULT_CUTOFF)
    print(f"{n} structures from {path} (read + convert {load_s:.1f} s)")
    print(f"layout at cutoff {DEFAULT_CUTOFF} Å: max sites {stats['max_sites']} (mean {stats['mean_sites']:.1f}, "
          f"p95 {stats['p95_sites']:.0f}), max neighbours {stats['max_neighbors']} (mean of per-structure max "
          f"{stats['mean_max_neighbors']:.1f}, p95 {stats['p95_max_neighbors']:.0f})")

    batch = StructureBatch.from_crystals(crystals)
    edges = neighbor_list(batch, DEFAULT_CUTOFF)
    t_nl = best_time(lambda: neighbor_list(StructureBatch.from_crystals(crystals), DEFAULT_CUTOFF), args.repeats)
    t_gf = best_time(lambda: graph_features(crystals, layout), args.repeats)
    G = graph_features(crystals, layout)
    print(f"graph building: neighbour list {n / t_nl:,.0f} structures/s, graph_features {n / t_gf:,.0f} "
          f"structures/s ({G.nbytes / 2**20:.0f} MiB float64 packed rows, width {G.shape[1]}; "
          f"{len(edges.center):,} directed edges)")

    X = torch.as_tensor(G, dtype=torch.float32)
    encoders = []
    for width in (64, 128):
        torch.manual_seed(0)
        enc = build_encoder({"type": "cgcnn", "in_dim": 3, "hidden": [width], "out_dim": 64,
                             **layout.to_dict()}).eval()
        n_params = sum(p.numel() for p in enc.parameters())
        with torch.no_grad():
            t_sparse = best_time(lambda e=enc: encode_in_batches(e, X, args.batch), args.repeats)

        def train_pass(e=enc) -> None:
            for s in range(0, n, args.batch):
                e(X[s:s + args.batch]).square().mean().backward()

        t_train = best_time(train_pass, 1)
        row = {"node_width": width, "parameters": n_params, "sparse_inference_per_s": n / t_sparse,
               "sparse_forward_backward_per_s": n / t_train}
        encoders.append(row)
        print(f"cgcnn hidden={width} ({n_params:,} parameters): inference {row['sparse_inference_per_s']:,.0f}/s "
              f"; forward+backward {row['sparse_forward_backward_per_s']:,.0f}/s")

    maml = time_maml(G, layout, args.repeats)
    print(f"MAML meta-iteration (second order, 8 tasks x (10 + 32) structures, 5 inner steps, hidden 64): "
          f"{maml['seconds_per_iteration']:.2f} s (loop over tasks)")
    out = {"structures": n, "source": path, "read_seconds": load_s, "cutoff": DEFAULT_CUTOFF,
           "layout": layout.to_dict(), "row_width": int(G.shape[1]), "layout_stats": stats,
           "edges": int(len(edges.center)),
           "neighbor_list_per_s": n / t_nl, "graph_features_per_s": n / t_gf, "encoders": encoders,
           "maml": maml,
           "batch": args.batch, "torch_threads": args.threads, "repeats": args.repeats,
           "machine": {"python": platform.python_version(), "torch": torch.__version__,
                       "cpu_count": os.cpu_count()}}
    RESULTS.mkdir(parents=True, exist_ok=True)
    from metamat.files import write_json

    target = write_json(RESULTS / "graph_encoder_speed.json", out)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
