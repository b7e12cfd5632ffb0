"""Few-shot learning of 2D-material properties: structure encoder vs composition encoder vs baselines.

    METAMAT_DATA_DIR=/work/shared/data python benchmarks/structure_fewshot.py [--episodes 50] [--minutes 5]

Family split: meta-learners train on bulk crystals only (perov_5 heat of formation, carbon_24 energy, and
the relaxed volume per atom of perov_5 / carbon_24 / JARVIS-EPC structures; JARVIS-EPC Tc for early
stopping and calibration) and are tested on 2D materials (2DMatPedia band gap, decomposition energy and
exfoliation energy; JARVIS-DFT 2D exfoliation energy, the matbench_jdft2d structures). Training tasks never
measure a test quantity (the perovskite gaps are left out because the 2D band gap is tested).

Models, all on the same episodes (support of k materials; query of up to 500 materials in chemical
systems absent from the support):
- meta-learners (Meta-SGD and transfer with last-layer fine-tuning) with the crystal-graph encoder
  (graph + composition features) and with the composition MLP encoder, meta-trained here;
- baselines fitted on the support only: RF, GP, kNN, ridge on composition features, RF and GP on
  composition + structure descriptors (sorted inverse distances, ACSF), GP, RF and kNN on composition +
  physics and ionic descriptors (``featurize_structures(names=("physics", "ionic"))``), and the support
  mean (dummy); ``--comp-models`` / ``--phys-models`` / ``--desc-models`` choose them.
- ``auto[comp]``: the composition-only ``auto`` (:class:`~metamat.models.auto.AutoRegressor`), and
  ``auto[struct]``: the structure ``auto`` of ``fewshot --model auto --structure-column``
  (:class:`~metamat.models.structure_auto.StructureAutoRegressor`: composition-only auto unless a model on
  composition + physics + ionic descriptors wins in CV on the support), here without its graph-model
  candidate: the shipped graph model was meta-trained on these 2D tasks (leakage) and costs ~10 s per fit.
  ``--graph-learners "" --comp-learners ""`` runs the baselines only (no meta-training, 2D tasks only).
- ``--emb-models rf_median,knn,auto``: models on composition + the frozen pretrained graph-encoder embedding
  (``graph_pretrained``, ``scripts/pretrain_graph_encoder.py``), and ``auto[struct+emb]``, the structure auto
  with the opt-in embedding candidates (``--emb-candidates``) next to its descriptor candidates. Runs with the
  same tasks, shots, episodes and seed draw the same episodes, so ``structure_fewshot_paired.py`` can pair
  models from several results folders.

Also reported (``variance_share``): per 2D task, the share of the target variance that lies within groups
of identical reduced composition: what any structure input could add for a model that knew every composition's
mean (no bound for queries in unseen chemical systems: see ``structure_ceiling.py``).
Writes benchmarks/results/structure_fewshot/{results.json,episodes.csv.gz,fewshot_*.png} and the trained models
under runs/structure_fewshot/ (not committed).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "structure_fewshot"
RUNS = HERE.parent / "runs" / "structure_fewshot"
TEST_GROUPS = ("band gap", "thermodynamic stability", "exfoliation energy")
VAL_TASK = "jarvis_epc:Tc"
GRAPH_CUTOFF = 4.0  # Å; 5 Å doubles the edges (carbon polymorphs have ~130 neighbours within 5 Å)
GRAPH_TRAIN = {"batch": 4, "n_query": 32}  # episodes of graphs are ~10x costlier than feature rows
COMP_DIM = 148  # composition features in front of every task input


def build_all(max_rows: int, seed: int, kinds=("composition", "descriptors", "physics", "graph"),
              families=("bulk", "2D")):
    from metamat.featurize.graphs import GraphLayout
    from metamat.tasks.structure_tasks import STRUCTURE_TASKS, build_structure_task, load_structure_rows

    rows = {s.name: load_structure_rows(s, max_rows=max_rows if s.family == "bulk" else None, seed=seed)
            for s in STRUCTURE_TASKS if s.family in families}
    layout = GraphLayout(cutoff=GRAPH_CUTOFF)
    tasks = {kind: {n: build_structure_task(r, kind, layout=layout) for n, r in rows.items()}
             for kind in kinds}
    return rows, layout, tasks


class StructureAutoFactory:
    """``factory(kind, seed)``: the structure auto on ``physics`` task inputs (148 composition columns, then
    the descriptors), without the graph candidate; with ``embedding_candidates`` on ``physics+embedding``
    inputs (the descriptors are the next ``physics_dim`` columns, then the pretrained graph embedding)."""

    def __init__(self, embedding_candidates: tuple[str, ...] = (), physics_dim: int | None = None):
        self.embedding_candidates, self.physics_dim = embedding_candidates, physics_dim

    def __call__(self, kind: str, seed: int):
        from metamat.models.structure_auto import StructureAutoRegressor

        if not self.embedding_candidates:
            return StructureAutoRegressor(blocks={"composition": (0, COMP_DIM), "structure": (COMP_DIM, None)},
                                          graph_model=None, seed=seed)
        stop = COMP_DIM + self.physics_dim
        return StructureAutoRegressor(blocks={"composition": (0, COMP_DIM), "structure": (COMP_DIM, stop),
                                              "embedding": (stop, None)}, graph_model=None,
                                      embedding_candidates=self.embedding_candidates, seed=seed)


def within_composition_share(rows) -> dict:
    """Share of the target variance within groups of identical reduced composition (all rows), and the share
    of rows whose composition has more than one structure."""
    from pymatgen.core import Composition

    y = np.asarray(rows.y, float)
    reduced = {f: Composition(f).reduced_formula for f in set(rows.formulas)}
    _, group = np.unique([reduced[f] for f in rows.formulas], return_inverse=True)
    size = np.bincount(group)
    mean = np.bincount(group, y) / size
    total = float(((y - y.mean()) ** 2).sum())
    within = float(((y - mean[group]) ** 2).sum())
    return {"n": int(len(y)), "compositions": int(len(size)),
            "rows_in_polymorph_groups": float((size[group] > 1).mean()),
            "within_composition_variance_share": within / total if total > 0 else float("nan")}


def auto_choices(records) -> dict:
    """Per auto model, task and k: how often each input set / model was chosen."""
    out: dict = {}
    for r in records:
        if "chosen" in r:
            key = f"{r['model']} | {r['task']} | k={r['k']}"
            out.setdefault(key, {})
            out[key][r["chosen"]] = out[key].get(r["chosen"], 0) + 1
    return out


def meta_train(name: str, encoder: str, train, val, layout, minutes: float, seed: int, out: Path) -> Path:
    from metamat.models.meta.registry import make_meta_model
    from metamat.models.registry import save_model

    kw, train_kw = {}, {}
    if encoder != "mlp":
        kw = {"encoder": encoder, "hidden": (64,), "encoder_options": {**layout.to_dict(), "extra_dim": 148}}
        train_kw = GRAPH_TRAIN
    model = make_meta_model(name, seed=seed, **kw)
    t0 = time.perf_counter()
    model.meta_fit(train, val, steps=100_000, max_minutes=minutes, progress=True, **train_kw)
    path = out / f"{name}_{encoder}"
    save_model(model, path, extra={"train_tasks": [t.name for t in train], "val_tasks": [t.name for t in val],
                                   "train_seconds": time.perf_counter() - t0})
    print(f"{name} [{encoder}] trained in {time.perf_counter() - t0:.0f} s -> {path}")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--shots", default="5,10,20,50")
    ap.add_argument("--minutes", type=float, default=5.0, help="meta-training budget per model")
    ap.add_argument("--max-rows", type=int, default=2000, help="rows per bulk training task")
    ap.add_argument("--graph-learners", default="anil,dkgp,transfer_last")
    ap.add_argument("--comp-learners", default="metasgd,transfer_last")
    ap.add_argument("--max-query", type=int, default=500, help="query materials per episode")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--comp-models", default="dummy,ridge,knn,gp,rf,auto")
    ap.add_argument("--desc-models", default="gp,rf")
    ap.add_argument("--phys-models", default="gp,rf,knn,auto")
    ap.add_argument("--emb-models", default="",
                    help="models on composition + the pretrained graph embedding (e.g. rf_median,knn,gp); 'auto' "
                         "here is the structure auto with an embedding candidate (--emb-candidates)")
    ap.add_argument("--emb-candidates", default="rf,knn", help="the structure auto's embedding candidates")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--reuse", action="store_true", help="reuse models already trained under runs/")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)

    from metamat.evaluate.model_specs import BaselineFactory, ModelSpec
    from metamat.evaluate.reporting import write_benchmark
    from metamat.evaluate.running import run_episodes
    from metamat.evaluate.scoring import aggregate, summarize
    from metamat.models.meta.registry import MetaModelFactory
    from metamat.tasks.structure_tasks import structure_task_specs

    t0 = time.perf_counter()
    meta = bool(args.graph_learners or args.comp_learners)
    emb = [n for n in args.emb_models.split(",") if n]
    kinds = ("composition", "descriptors", "physics") + (("graph",) if meta else ()) + \
        (("embedding",) if set(emb) - {"auto"} else ()) + (("physics+embedding",) if "auto" in emb else ())
    rows, layout, tasks = build_all(args.max_rows, args.seed, kinds, ("bulk", "2D") if meta else ("2D",))
    print(f"built tasks in {time.perf_counter() - t0:.0f} s; graph layout {layout}")
    assert all(t.X.shape[1] == COMP_DIM for t in tasks["composition"].values()), "composition width changed"
    test_names = [s.name for s in structure_task_specs("2D")]
    train_names = [s.name for s in structure_task_specs("bulk") if s.group not in TEST_GROUPS and s.name != VAL_TASK]
    RUNS.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    plan = [(n, "cgcnn", "graph") for n in args.graph_learners.split(",") if n] + \
        [(n, "mlp", "composition") for n in args.comp_learners.split(",") if n]
    for learner, enc, kind in plan:
        label = f"{learner}[{'graph' if enc != 'mlp' else 'comp'}]"
        path = RUNS / f"{learner}_{enc}"
        if not (args.reuse and path.with_suffix(".safetensors").exists()):
            path = meta_train(learner, enc, [tasks[kind][n] for n in train_names], [tasks[kind][VAL_TASK]],
                              layout, args.minutes, args.seed, RUNS)
        paths[label] = (kind, path)
    shots = [int(k) for k in args.shots.split(",")]
    def specs(names: str, tag: str) -> list:
        return [ModelSpec("auto[struct]" if n == "auto" and tag == "comp+phys" else f"{n}[{tag}]",
                          factory=StructureAutoFactory() if n == "auto" and tag == "comp+phys" else BaselineFactory(n))
                for n in names.split(",") if n]

    runs = {"composition": specs(args.comp_models, "comp"), "descriptors": specs(args.desc_models, "comp+struct"),
            "physics": specs(args.phys_models, "comp+phys")}
    if set(emb) - {"auto"}:
        runs["embedding"] = [ModelSpec(f"{n}[comp+emb]", factory=BaselineFactory(n)) for n in emb if n != "auto"]
    if "auto" in emb:
        phys_dim = tasks["physics"][test_names[0]].X.shape[1] - COMP_DIM
        cands = tuple(c for c in args.emb_candidates.split(",") if c)
        runs["physics+embedding"] = [ModelSpec("auto[struct+emb]", factory=StructureAutoFactory(cands, phys_dim))]
    runs = {kind: s for kind, s in runs.items() if s}
    for label, (kind, path) in paths.items():
        runs.setdefault(kind, []).append(ModelSpec(label, factory=MetaModelFactory(str(path))))
    records = []
    timing = {}
    for kind, specs in runs.items():
        doc = run_episodes([tasks[kind][n] for n in test_names], specs, shots=shots, episodes=args.episodes,
                                seed=args.seed, keep_records=True, n_jobs=1,
                                max_query=args.max_query)
        records += doc["episodes"]
        timing.update(doc["timing"]["fit_predict_seconds"])
        print(f"{kind}: {', '.join(s.name for s in specs)} done ({time.perf_counter() - t0:.0f} s)")
    doc["config"].update({"models": [s.name for specs in runs.values() for s in specs],
                          "train_tasks": train_names, "val_task": VAL_TASK, "test_tasks": test_names,
                          "graph_layout": layout.to_dict(), "meta_minutes": args.minutes,
                          "max_rows_bulk": args.max_rows, "max_query": args.max_query})
    doc["results"], doc["summary"] = aggregate(records), summarize(records)
    doc["variance_share"] = {n: within_composition_share(rows[n]) for n in test_names}
    doc["auto_choices"] = auto_choices(records)
    doc["timing"] = {"total_seconds": time.perf_counter() - t0, "fit_predict_seconds": timing}
    doc["episodes"] = records
    write_benchmark(doc, args.out)
    k10 = {m: doc["summary"][m].get("10", {}).get("smae", {}).get("mean") for m in doc["summary"]}
    for m, v in sorted(k10.items(), key=lambda t: np.inf if t[1] is None else t[1]):
        print(f"{m:28s} k=10 scale-free MAE {v:.3f}")
    print(f"total {time.perf_counter() - t0:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
