"""matbench_jdft2d exfoliation energy: 5-fold CV on the 508 structures we have, structure-aware vs composition.

    METAMAT_DATA_DIR=/work/shared/data python benchmarks/jdft2d_structure_cv.py [--meta label=path,...]

NOT the official matbench test: ../shared/data holds only the 508 structures of the official fold-0
train+val set (the 128 fold-0 test structures are missing), so this is a shuffled 5-fold CV (seed 0) on those
508. Published matbench figures (5 official folds on all 636) are quoted beside it as a reference scale only:
MODNet v0.1.12 33.19 meV/atom, CGCNN 49.24, RF-SCM/Magpie 50.04, Dummy 67.29.

Models: random forests (500 trees) on composition features, on composition + structure descriptors
(sorted inverse distances, ACSF), on composition + physics descriptors (``names="physics"``) and on all of
them; GPs on composition + descriptors / physics; the same fitted to log10 of the (positive, heavy-tailed)
exfoliation energy and scored back in meV/atom (RF, GP); RF and GP on composition (+ physics) + the frozen
pretrained graph embedding (``graph_pretrained``), log10; and meta-trained models from
``benchmarks/structure_fewshot.py`` if given (``--meta``), adapted on each training fold.
Writes benchmarks/results/jdft2d_structure_cv.json and .png.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
RUNS = HERE.parent / "runs" / "structure_fewshot"
PUBLISHED = {"MODNet v0.1.12": 33.1918, "CGCNN v2019": 49.2440, "RF-SCM/Magpie": 50.0440, "Dummy": 67.2851}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--meta", default="", help="label=path,... of meta-trained graph models, e.g. "
                    f"dkgp[graph]={RUNS / 'dkgp_cgcnn'} (trained by benchmarks/structure_fewshot.py)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "jdft2d_structure_cv.json")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kinds", default="", help="comma-separated input kinds to (re)run, e.g. physics,all:log10; "
                    "the other models' results are kept from the existing --out file (same folds and seed)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)

    from metamat.evaluate.crossval import cross_validate
    from metamat.evaluate.model_specs import BaselineFactory, ModelSpec
    from metamat.evaluate.plots import save_figure
    from metamat.files import write_json
    from metamat.models.meta.registry import MetaModelFactory
    from metamat.tasks.structure_tasks import (
        build_structure_task,
        get_structure_task_spec,
        load_structure_rows,
        model_layout,
    )


    t0 = time.perf_counter()
    rows = load_structure_rows(get_structure_task_spec("jdft2d:exfoliation_energy"))
    def rf(label: str) -> ModelSpec:
        return ModelSpec(label, factory=BaselineFactory("rf", n_estimators=500))

    # kind[:log10] -> models; ":log10" fits log10(E_exf) and scores the back-transformed predictions
    specs = {"composition": [rf("rf[comp]")], "composition:log10": [rf("rf[comp] log10")],
             "descriptors": [rf("rf[comp+struct]"), ModelSpec("gp[comp+struct]", factory=BaselineFactory("gp"))],
             "physics": [rf("rf[comp+phys]"), ModelSpec("gp[comp+phys]", factory=BaselineFactory("gp"))],
             "all": [rf("rf[comp+struct+phys]")],
             "physics:log10": [rf("rf[comp+phys] log10"), ModelSpec("gp[comp+phys] log10",
                                                                    factory=BaselineFactory("gp"))],
             "all:log10": [rf("rf[comp+struct+phys] log10")],
             # the frozen pretrained graph-encoder embedding (scripts/pretrain_graph_encoder.py; 64 columns)
             "embedding:log10": [rf("rf[comp+emb] log10"),
                                 ModelSpec("gp[comp+emb] log10", factory=BaselineFactory("gp"))],
             "physics+embedding:log10": [rf("rf[comp+phys+emb] log10"),
                                         ModelSpec("gp[comp+phys+emb] log10", factory=BaselineFactory("gp"))]}
    layouts = {}
    for item in filter(None, args.meta.split(",")):
        label, path = item.split("=", 1)
        if Path(path).with_suffix(".safetensors").exists():
            layouts[label] = model_layout(MetaModelFactory(path)("regression", 0))
            specs.setdefault(f"graph:{label}", []).append(ModelSpec(label, factory=MetaModelFactory(path)))
        else:
            print(f"skipping {label}: {path}.safetensors not found (run benchmarks/structure_fewshot.py first)")
    results = {}
    if args.kinds:
        import json

        keep = set(args.kinds.split(","))
        old = json.loads(args.out.read_text())["results"] if args.out.exists() else {}
        for kind in [k for k in specs if k not in keep]:
            for spec in specs.pop(kind):
                if spec.name in old:
                    results[spec.name] = {**old[spec.name], "from_previous_run": True}
    for kind, models in specs.items():
        layout = layouts.get(kind.split(":", 1)[1]) if kind.startswith("graph:") else None
        transform = "log10" if kind.endswith(":log10") else None
        task = build_structure_task(rows, kind.split(":")[0], layout=layout, transform=transform)
        for spec in models:
            res = cross_validate(task, spec, cv="kfold", n_splits=5, seed=args.seed)
            results[spec.name] = {"mae": res["ci"]["mae"], "fold_mae": [f["metrics"]["mae"] for f in res["folds"]],
                                  "r2": res["metrics"]["r2"], "coverage90": res["metrics"].get("coverage90"),
                                  "seconds": res["seconds"]}
            print(f"{spec.name:24s} MAE {res['ci']['mae']['mean']:.2f} meV/atom "
                  f"[{res['ci']['mae']['ci_low']:.2f}, {res['ci']['mae']['ci_high']:.2f}]  {res['seconds']:.0f} s")
    doc = {"task": "matbench_jdft2d exfoliation energy (meV/atom)", "n": len(rows.y), "cv": "5-fold shuffled, seed 0",
           "caveat": "508 fold-0 train+val structures only; not the official matbench test",
           "results": results, "published_matbench_mae": PUBLISHED, "seconds": time.perf_counter() - t0}
    write_json(args.out, doc)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    names = list(results) + [f"{k} (published)" for k in PUBLISHED]
    vals = [results[n]["mae"]["mean"] for n in results] + list(PUBLISHED.values())
    err = [[results[n]["mae"]["mean"] - results[n]["mae"]["ci_low"] for n in results] + [0] * len(PUBLISHED),
           [results[n]["mae"]["ci_high"] - results[n]["mae"]["mean"] for n in results] + [0] * len(PUBLISHED)]
    ax.barh(names, vals, xerr=err, color=["C0"] * len(results) + ["0.7"] * len(PUBLISHED))
    ax.invert_yaxis()
    ax.set_xlabel("MAE (meV/atom)")
    ax.set_title("jdft2d exfoliation energy: 5-fold CV on 508 structures (grey: published matbench)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, args.out.with_suffix(".png"))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
