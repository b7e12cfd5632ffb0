"""Does every structure we have run through the structure few-shot flow? (issue 14 target 1)

    METAMAT_DATA_DIR=/work/shared/data python benchmarks/structure_coverage.py

For every structure dataset of :mod:`metamat.tasks.structure_tasks` (CDVAE perov_5 and carbon_24, JARVIS-EPC,
2DMatPedia, matbench_jdft2d), the disordered alpha-AgI CIF of the tests (plus its 3x3x3 supercell) and the
CIFs in ASE's installed test data (COD minerals, all ordered; pymatgen's wheel ships no CIFs) with their
4x4x4 supercells (up to 1152 sites): read
and validate every structure, build the shipped structure model's inputs (packed crystal graph + composition)
and predict after a 10-structure support (target: volume per atom). Counts per dataset: rows, structures read,
rejected by validation (with reasons), predicted (finite), size errors, and how many would have been refused by
the old padded layout (more than 50 sites or 67 neighbours within 4 Å). Writes
``benchmarks/results/structure_coverage/{structure_coverage.json,structure_coverage.png,COMMAND.txt}``.
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "structure_coverage"
OLD_LAYOUT = {"max_sites": 50, "max_neighbors": 67, "cutoff": 4.0}  # the shipped model's padded layout


def _predict_all(model, crystals, chunk: int = 256) -> tuple[np.ndarray, list[str]]:
    from metamat.featurize.structure import crystal_formula
    from metamat.tasks.structure_tasks import model_inputs

    vpa = np.array([c.volume / c.site_occupancy.sum() for c in crystals[:10]])
    support = model_inputs(model, crystals[:10], [crystal_formula(c) for c in crystals[:10]])
    model.fit(support, vpa)
    preds, errors = [], []
    for s in range(0, len(crystals), chunk):
        part = crystals[s:s + chunk]
        try:
            X = model_inputs(model, part, [crystal_formula(c) for c in part])
            preds.append(model.predict(X))
        except Exception as exc:  # noqa: BLE001 - counted and reported, that is the point of this script
            errors.append(f"{type(exc).__name__}: {exc}"[:200])
            preds.append(np.full(len(part), np.nan))
    return np.concatenate(preds), errors


def _dataset_structures(name: str):
    from metamat.data.registry import load_dataset
    from metamat.data.structures import crystals_from_objects

    table = load_dataset(name)
    crystals, problems = crystals_from_objects(table.structures, name, "structure")
    return len(table), [c for c in crystals if c is not None], problems


def main() -> None:
    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(2)
    from metamat.data.structures import to_crystal
    from metamat.featurize.graphs import graph_stats
    from metamat.fewshot import load_fewshot_model
    from metamat.files import atomic_write, write_json
    from metamat.tasks.structure_tasks import STRUCTURE_TASKS

    model = load_fewshot_model(structure=True)
    t0 = time.perf_counter()
    rows = []
    agi = to_crystal((HERE.parent / "tests" / "data" / "alpha_AgI.cif").read_text())
    sources = [(d, None) for d in dict.fromkeys(s.dataset for s in STRUCTURE_TASKS)]
    sources.append(("alpha-AgI CIF (disordered) + 3x3x3 supercell", [agi, agi.supercell((3, 3, 3))] * 5))
    import ase

    minerals = sorted((Path(ase.__file__).parent / "test" / "testdata" / "minerals").glob("*.cif"))
    if minerals:  # ASE's test CIFs (COD minerals; all ordered) and their 4x4x4 supercells
        cs = [to_crystal(str(p)) for p in minerals]
        sources.append((f"ASE test CIFs ({len(cs)}) + 4x4x4", cs + [c.supercell((4, 4, 4)) for c in cs]))
    for name, given in sources:
        if given is None:
            n_rows, crystals, problems = _dataset_structures(name)
        else:
            n_rows, crystals, problems = len(given), given, []
        sites, degree = graph_stats(crystals, OLD_LAYOUT["cutoff"])
        pred, errors = _predict_all(model, crystals)
        row = {"dataset": name, "rows": n_rows, "read": len(crystals), "rejected": len(problems),
               "rejected_reasons": dict(Counter(p.reason.split(":")[0][:80] for p in problems).most_common(5)),
               "predicted": int(np.isfinite(pred).sum()), "size_errors": sum("site" in e for e in errors),
               "errors": errors[:5], "max_sites": int(sites.max()), "max_neighbors_4A": int(degree.max()),
               "disordered": int(sum(not c.is_ordered for c in crystals)),
               "old_layout_refused": int(((sites > OLD_LAYOUT["max_sites"]) |
                                          (degree > OLD_LAYOUT["max_neighbors"])).sum())}
        rows.append(row)
        print(f"{name:45s} rows {n_rows:6d} read {row['read']:6d} rejected {row['rejected']:4d} predicted "
              f"{row['predicted']:6d} size errors {row['size_errors']} (old layout refused "
              f"{row['old_layout_refused']}; max sites {row['max_sites']}, disordered {row['disordered']})",
              flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    write_json(OUT / "structure_coverage.json", {"datasets": rows, "old_layout": OLD_LAYOUT,
                                                 "seconds": time.perf_counter() - t0})
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from metamat.evaluate.plots import save_figure

    fig, ax = plt.subplots(figsize=(8, 3.5))
    y = np.arange(len(rows))
    ax.barh(y - 0.2, [r["read"] for r in rows], 0.4, label="structures read", color="tab:gray")
    ax.barh(y + 0.2, [r["predicted"] for r in rows], 0.4, label="predicted (packed graph)", color="tab:green")
    ax.scatter([r["old_layout_refused"] for r in rows], y, color="tab:red", marker="x", zorder=3,
               label="refused by the old padded layout")
    ax.set_yticks(y, [r["dataset"][:30] for r in rows], fontsize=7)
    ax.set_xscale("symlog")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, OUT / "structure_coverage.png")
    with atomic_write(OUT / "COMMAND.txt", "w") as fh:
        fh.write("# regenerates this folder (run from the repository root)\n"
                 "METAMAT_DATA_DIR=/work/shared/data python benchmarks/structure_coverage.py\n")


if __name__ == "__main__":
    main()
