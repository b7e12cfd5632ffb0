"""Structure tasks: (dataset, target) pairs of the registry's structure datasets, as :class:`Task` objects.

Each task can be built with three inputs on identical rows (so the few-shot evaluator draws identical
episodes for all of them): ``composition`` (the 148 composition features), ``descriptors`` (composition +
symmetry-invariant structure descriptors, for classical baselines) and ``graph`` (a dense crystal-graph
block followed by the composition features, for the graph encoder of the meta-learners).

The default family split: bulk crystals (perovskites, carbon polymorphs, JARVIS superconductors) train,
2D materials (2DMatPedia, JARVIS-DFT 2D) test; a benchmark leaves out every training task that measures a
test quantity (``group``), e.g. the perovskite gaps when the 2D band gap is tested.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from metamat.tasks.task import Task

# all = composition + descriptors + physics; embedding = composition + the pretrained graph-encoder embedding
INPUTS = ("composition", "descriptors", "physics", "all", "embedding", "physics+embedding", "graph")
DESCRIPTOR_SET = ("sorted_inverse_distance", "acsf")
# density, packing, coordination, bonds, order, symmetry, mobile ion, free volume; Ewald energies, anion framework
PHYSICS_SET = ("physics", "ionic")
EMBEDDING_SET = ("graph_pretrained",)  # metamat.featurize.graph_embedding (scripts/pretrain_graph_encoder.py)
VOLUME_PER_ATOM = "volume_per_atom"  # derived target: cell volume / number of atoms (Å^3)


@dataclass(frozen=True)
class StructureTaskSpec:
    """One (structure dataset, target) with its quantity group and material family."""

    name: str
    dataset: str
    target: str
    group: str
    family: str  # "bulk" or "2D"


STRUCTURE_TASKS: tuple[StructureTaskSpec, ...] = (
    StructureTaskSpec("perov5:heat_of_formation", "perov_5", "heat_all", "formation energy", "bulk"),
    StructureTaskSpec("perov5:direct_gap", "perov_5", "dir_gap", "band gap", "bulk"),
    StructureTaskSpec("perov5:indirect_gap", "perov_5", "ind_gap", "band gap", "bulk"),
    StructureTaskSpec("carbon24:energy_per_atom", "carbon_24", "energy_per_atom", "total energy", "bulk"),
    StructureTaskSpec("jarvis_epc:Tc", "jarvis_epc_tc", "Tc_K", "superconducting Tc", "bulk"),
    # computed from the relaxed structures themselves (DFT-relaxed volumes, like OQMD's volume per atom)
    *(StructureTaskSpec(f"{p}:volume_per_atom", d, VOLUME_PER_ATOM, "volume per atom", "bulk")
      for p, d in (("perov5", "perov_5"), ("carbon24", "carbon_24"), ("jarvis_epc", "jarvis_epc_tc"))),
    StructureTaskSpec("2dmatpedia:band_gap", "2dmatpedia_structures", "bandgap", "band gap", "2D"),
    StructureTaskSpec("2dmatpedia:decomposition_energy", "2dmatpedia_structures", "decomposition_energy",
                      "thermodynamic stability", "2D"),
    StructureTaskSpec("2dmatpedia:exfoliation_energy", "2dmatpedia_structures", "exfoliation_energy_per_atom",
                      "exfoliation energy", "2D"),
    StructureTaskSpec("jdft2d:exfoliation_energy", "matbench_jdft2d_structures", "exfoliation_en",
                      "exfoliation energy", "2D"),
)


def structure_task_specs(family: str | None = None) -> list[StructureTaskSpec]:
    return [s for s in STRUCTURE_TASKS if family is None or s.family == family]


def get_structure_task_spec(name: str) -> StructureTaskSpec:
    from metamat.tasks.catalog import find_spec

    return find_spec(STRUCTURE_TASKS, name, "structure task")


@dataclass
class StructureRows:
    """Rows of one structure task that passed every check: crystals, targets (original units), formulas."""

    spec: StructureTaskSpec
    crystals: list
    y: np.ndarray
    formulas: np.ndarray
    ids: np.ndarray
    units: str
    transform: str
    n_read: int
    rejected: list  # Problems


def load_structure_rows(spec: StructureTaskSpec, data_dir: str | Path | None = None, max_rows: int | None = None,
                        seed: int = 0) -> StructureRows:
    """Load the dataset, convert and validate its structures and keep rows with a finite target.

    ``max_rows`` subsamples (seeded) after the checks. Rejected structures are returned as problems."""
    from metamat.data.registry import load_dataset
    from metamat.data.structures import crystals_from_objects

    table = load_dataset(spec.dataset, data_dir=data_dir)
    derived = spec.target == VOLUME_PER_ATOM
    y = np.zeros(len(table)) if derived else table.target(spec.target)
    unit, transform = ("Å^3/atom", "identity") if derived else (table.targets[spec.target].unit,
                                                                 table.targets[spec.target].transform)
    keep = np.flatnonzero(np.isfinite(y))
    if transform == "log10":
        keep = keep[y[keep] > 0]
    rows = table.data["source_row"].to_numpy()[keep] if "source_row" in table.data else keep + 1
    crystals, problems = crystals_from_objects(table.structures[keep], spec.dataset, "structure", rows)
    good = np.array([c is not None for c in crystals], bool)
    keep = keep[good]
    crystals = [c for c in crystals if c is not None]
    if derived:
        y = y.copy()
        y[keep] = [c.volume / c.site_occupancy.sum() for c in crystals]
    if max_rows is not None and len(keep) > max_rows:
        pick = np.sort(np.random.default_rng(seed).choice(len(keep), size=max_rows, replace=False))
        keep = keep[pick]
        crystals = [crystals[i] for i in pick]
    return StructureRows(spec, crystals, y[keep], table.formulas[keep], table.ids[keep], unit, transform,
                         len(table), problems)


def structure_inputs(crystals: Sequence, formulas: Sequence[str], kind: str, layout=None,
                     descriptors: Sequence[str] = DESCRIPTOR_SET, source: str = "structures") -> np.ndarray:
    """The input matrix of one of :data:`INPUTS` for these materials."""
    from metamat.featurize.pipeline import featurize_formulas

    if kind not in INPUTS:
        raise ValueError(f"unknown input kind {kind!r}; choose from {INPUTS}")
    comp = featurize_formulas(list(formulas), "composition", source=source, field="formula").values
    if kind == "composition":
        return comp
    if kind != "graph":
        from metamat.featurize.structure import featurize_structures

        names = {"descriptors": tuple(descriptors), "physics": PHYSICS_SET, "all": tuple(descriptors) + PHYSICS_SET,
                 "embedding": EMBEDDING_SET, "physics+embedding": PHYSICS_SET + EMBEDDING_SET}[kind]
        desc, _ = featurize_structures(crystals, names=names)
        return np.hstack([comp, desc])
    from metamat.featurize.graphs import GraphLayout, graph_features

    return np.hstack([graph_features(crystals, layout or GraphLayout(), source=source), comp])


def model_layout(model):
    """The :class:`~metamat.featurize.graphs.GraphLayout` a meta-model's graph encoder reads, or ``None`` for a
    composition model."""
    from metamat.featurize.graphs import GraphLayout

    opts = getattr(model, "encoder_options", None) or {}
    if getattr(model, "encoder", "mlp") == "mlp":
        return None
    return GraphLayout.from_dict(opts)


def model_inputs(model, crystals: Sequence, formulas: Sequence[str], source: str = "structures") -> np.ndarray:
    """Input matrix for ``model``: graph + composition for a graph-encoder model, else composition; a model
    that builds its own inputs from crystals (``structure_inputs``, e.g. structure ``auto``) builds them."""
    if hasattr(model, "structure_inputs"):
        return model.structure_inputs(crystals, formulas, source=source)
    layout = model_layout(model)
    return structure_inputs(crystals, formulas, "graph" if layout else "composition", layout=layout, source=source)


def build_structure_task(rows: StructureRows, kind: str, layout=None, transform: str | None = None) -> Task:
    """A :class:`Task` of ``rows`` with input ``kind`` (same name and rows for every kind); ``transform``
    overrides the dataset's target transform (e.g. ``log10`` for a positive heavy-tailed target)."""
    X = structure_inputs(rows.crystals, rows.formulas, kind, layout=layout, source=rows.spec.dataset)
    return Task(name=rows.spec.name, X=X, y=rows.y, formulas=rows.formulas, units=rows.units,
                quantity=rows.spec.group, transform=transform or rows.transform)
