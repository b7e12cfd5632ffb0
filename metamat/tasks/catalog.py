"""Tasks of the dataset registry, grouped by physical quantity, and the default meta-split.

One task is one (dataset, target). Tasks that measure the same physical quantity form a *group* (AFLOW and
MP bulk modulus; OQMD, AFLOW and matbench band gaps; CritExam Ef and matbench mp_e_form, ...). A
meta-train / meta-val / meta-test split assigns whole groups, so no quantity is ever on two sides.
:data:`META_SPLIT_REASONS` says why each group sits where it does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metamat.tasks.task import Task


@dataclass(frozen=True)
class TaskSpec:
    """One (dataset, target) of the registry and the physical quantity group it belongs to."""

    name: str
    dataset: str
    target: str
    group: str
    kind: str = "regression"

    @property
    def split(self) -> str:
        return GROUP_SPLIT[self.group]


def _t(dataset: str, target: str, group: str, name: str | None = None, kind: str = "regression") -> TaskSpec:
    return TaskSpec(name or (dataset if target == "target" else f"{dataset}:{target}"), dataset, target, group, kind)


TASKS: tuple[TaskSpec, ...] = (
    # electronic structure
    _t("aflow__Egap", "target", "band gap"),
    _t("OQMD_Bandgap", "target", "band gap"),
    _t("matbench_mp_gap", "target", "band gap"),
    _t("matbench_expt_gap", "target", "band gap"),
    _t("c2db", "Band gap", "band gap", "c2db:gap_pbe"),
    _t("c2db", "Band gap (HSE06)", "band gap", "c2db:gap_hse06"),
    _t("c2db", "Band gap (G₀W₀)", "band gap", "c2db:gap_g0w0"),
    _t("2dmatpedia", "bandgap", "band gap"),
    _t("matbench_dielectric", "target", "refractive index"),
    _t("c2db", "Work function (avg. if finite dipole)", "work function", "c2db:work_function"),
    _t("matbench_expt_is_metal", "target", "metallicity", kind="classification"),
    _t("matbench_mp_is_metal", "target", "metallicity", kind="classification"),
    # energetics
    _t("CritExam__Ef", "target", "formation energy"),
    _t("matbench_mp_e_form", "target", "formation energy"),
    _t("OQMD_Formation_Enthalpy", "target", "formation energy"),
    _t("matbench_perovskites", "target", "formation energy"),
    _t("elpasolite_formation_energy", "formation_energy", "formation energy", "elpasolite_formation_energy"),
    _t("c2db", "Heat of formation", "formation energy", "c2db:heat_of_formation"),
    _t("aflow__energy_atom", "target", "total energy"),
    _t("OQMD_Energy_per_atom", "target", "total energy"),
    _t("2dmatpedia", "energy_per_atom", "total energy"),
    _t("mp_e_hull", "target", "thermodynamic stability"),
    _t("CritExam__Ed", "target", "thermodynamic stability"),
    _t("c2db", "Energy above convex hull", "thermodynamic stability", "c2db:e_above_hull"),
    _t("2dmatpedia", "decomposition_energy", "thermodynamic stability"),
    _t("matbench_glass", "target", "glass-forming ability", kind="classification"),
    # structure, mechanics, vibrations
    _t("OQMD_Volume_per_atom", "target", "volume per atom"),
    _t("aflow__ael_bulk_modulus_vrh", "target", "bulk modulus"),
    _t("mp_bulk_modulus", "target", "bulk modulus"),
    _t("matbench_log_kvrh", "target", "bulk modulus"),
    _t("aflow__ael_shear_modulus_vrh", "target", "shear modulus"),
    _t("mp_shear_modulus", "target", "shear modulus"),
    _t("matbench_log_gvrh", "target", "shear modulus"),
    _t("mp_elastic_anisotropy", "target", "elastic anisotropy"),
    _t("mp_poisson_ratio", "poisson_ratio", "poisson ratio", "mp_poisson_ratio"),
    _t("aflow__ael_debye_temperature", "target", "lattice vibrations"),
    _t("matbench_phonons", "target", "lattice vibrations"),
    _t("aflow__agl_thermal_conductivity_300K", "target", "lattice thermal transport"),
    _t("aflow__agl_thermal_expansion_300K", "target", "lattice thermal transport"),
    # magnetism
    _t("mp_mu_b", "target", "magnetic moment"),
    _t("2dmatpedia", "total_magnetization", "magnetic moment"),
    # held out: physically different from everything above
    _t("supercon_tc_stanev", "Tc_K", "superconducting Tc", "supercon_tc_stanev"),
    _t("jarvis_epc_tc", "Tc_K", "superconducting Tc", "jarvis_epc_tc"),
    _t("matbench_steels", "target", "yield strength"),
    _t("matbench_jdft2d", "target", "exfoliation energy"),
    _t("2dmatpedia", "exfoliation_energy_per_atom", "exfoliation energy"),
    *(_t("ricci_transport", t, "electronic transport") for t in
      ("S_p", "S_n", "sigma_p", "sigma_n")),  # four of the ten, so transport does not dominate averages
)

GROUP_SPLIT: dict[str, str] = {
    **{g: "train" for g in (
        "band gap", "refractive index", "metallicity", "formation energy", "total energy",
        "thermodynamic stability", "glass-forming ability", "volume per atom", "bulk modulus", "shear modulus",
        "lattice vibrations", "lattice thermal transport", "magnetic moment", "poisson ratio")},
    **{g: "val" for g in ("work function", "elastic anisotropy")},
    **{g: "test" for g in ("superconducting Tc", "yield strength", "exfoliation energy", "electronic transport")},
}

META_SPLIT_REASONS: dict[str, str] = {
    "band gap": "train: the largest, most diverse family (DFT and experiment, bulk and 2D); a held-out gap task "
                "would share its quantity with the rest of the group, so the whole group trains.",
    "refractive index": "train: tied to the band gap (Moss rule n^4 Eg ~ const), so it stays on the gap's side.",
    "metallicity": "train: the 0/1 form of the band gap (gap = 0), so it stays with the band gap.",
    "formation energy": "train: CritExam Ef, matbench mp_e_form, OQMD, perovskites, elpasolites and C2DB "
                        "measure one quantity; large and chemically broad.",
    "total energy": "train: per-atom DFT energies; they contain the formation energy plus elemental "
                    "references, so they sit with it.",
    "thermodynamic stability": "train: energy above hull / decomposition energy are differences of formation "
                               "energies, so they sit with them.",
    "glass-forming ability": "train: a classification task that depends on mixing energetics.",
    "volume per atom": "train: atomic packing; also underlies the elastic moduli.",
    "bulk modulus": "train: AFLOW, MP and matbench log K_VRH are one group; K ~ energy curvature / volume.",
    "shear modulus": "train: AFLOW, MP and matbench log G_VRH are one group; correlated with K.",
    "lattice vibrations": "train: Debye temperature and the last phonon-DOS peak measure the same phonon "
                          "frequency scale, so they are one group.",
    "lattice thermal transport": "train: AGL lattice thermal conductivity and expansion come from the same "
                                 "quasi-harmonic Debye model as the Debye temperature.",
    "magnetic moment": "train: MP and 2DMatPedia magnetization.",
    "work function": "val: a surface electronic property with no other task in the registry; used only for "
                     "early stopping.",
    "elastic anisotropy": "val: the universal anisotropy index A_U = 5 G_V/G_R + K_V/K_R - 6 needs the Voigt and "
                          "Reuss bounds of the elastic tensor, which no training task holds (they hold the VRH "
                          "averages only), so it cannot be computed from meta-train targets.",
    "poisson ratio": "train (was val until issue 13): nu = (3K - 2G) / (6K + 2G) is an exact function of the "
                     "bulk and shear moduli of the same MP materials in meta-train (median difference 3e-8), so "
                     "as a validation task it measured recall, not transfer. It sits with K and G. (The shipped "
                     "default was trained before this change: it never saw it; retraining is issue 13 sec. 6.)",
    "superconducting Tc": "test: experimental SuperCon and computed JARVIS EPC Tc; no training task measures "
                          "a superconducting or electron-phonon coupling quantity.",
    "yield strength": "test: experimental steel yield strength (312 alloys) is a plastic, microstructure-"
                      "dependent property; training only holds elastic (reversible) moduli.",
    "exfoliation energy": "test: interlayer binding of 2D materials (JARVIS and 2DMatPedia); no training "
                          "task measures an interlayer or surface energy.",
    "electronic transport": "test: BoltzTraP Seebeck, conductivity, electronic thermal conductivity, power "
                            "factor and effective masses (Ricci); all come from the same band structures and "
                            "differ from every training quantity (band gap is an energy, not a transport "
                            "coefficient).",
}


def task_specs(split: str | None = None) -> list[TaskSpec]:
    """All task specs, or those of one meta-split side ("train", "val", "test")."""
    if split not in (None, "train", "val", "test"):
        raise ValueError(f"split must be train, val or test, not {split!r}")
    return [t for t in TASKS if split is None or t.split == split]


def find_spec(specs, name: str, what: str = "task"):
    """The spec called ``name`` in ``specs`` (KeyError listing the known names)."""
    for t in specs:
        if t.name == name:
            return t
    raise KeyError(f"unknown {what} {name!r}; known: {', '.join(t.name for t in specs)}")


def get_task_spec(name: str) -> TaskSpec:
    return find_spec(TASKS, name)


def resolve_tasks(names: str) -> list[TaskSpec]:
    """``'meta-test'``, ``'meta-val'``, ``'meta-train'``, ``'all'`` or comma-separated task names."""
    key = names.strip()
    if key in ("meta-train", "meta-val", "meta-test"):
        return task_specs(key.split("-")[1])
    if key == "all":
        return list(TASKS)
    return [get_task_spec(n.strip()) for n in key.split(",") if n.strip()]


def excluded_groups(tasks: str = "", groups: str = "") -> set[str]:
    """Quantity groups to leave out of meta-training: the comma-separated ``groups``, the groups of the
    comma-separated registry ``tasks``, and every group tied to one of them (band gap <-> metallicity, ...:
    :data:`metamat.featurize.knowledge.RELATED_GROUPS`). Unknown task names raise KeyError."""
    from metamat.featurize.knowledge import RELATED_GROUPS

    out = {g.strip() for g in groups.split(",") if g.strip()}
    out |= {get_task_spec(n.strip()).group for n in tasks.split(",") if n.strip()}
    return out | {r for g in out for r in RELATED_GROUPS.get(g, ())}


def build_task(spec: TaskSpec, data_dir=None, featurizers: str = "composition", max_rows: int | None = None,
               seed: int = 0, fixed_width: bool = False, keep_quantities: bool = False) -> Task:
    """Load the dataset, keep rows with a finite target, featurize, and return a :class:`Task`.

    ``max_rows`` subsamples large datasets (seeded) so that episodic evaluation stays cheap; every row of a
    task has a parsed formula (the data layer already rejected the rest, and reported them).

    Knowledge surrogates of the task's own quantity are left out (leakage). By default their columns are
    dropped, so tasks of different quantities have different widths; with ``fixed_width`` the columns stay
    and hold NaN (every task then has the same column layout, which a meta-learner needs; feature
    preparation turns NaN into the training column mean). ``keep_quantities`` keeps the same-quantity
    surrogates as real inputs (multi-fidelity: e.g. DFT-gap surrogates for an experimental gap task, whose
    compositions the surrogates never saw); ``Task.removed_features`` then stays empty.
    """
    from metamat.data.registry import load_dataset

    table = load_dataset(spec.dataset, data_dir=data_dir)
    target = table.targets[spec.target]
    y = table.target(spec.target)
    keep = np.flatnonzero(np.isfinite(y))
    if target.transform == "log10":
        keep = keep[y[keep] > 0]
    if max_rows is not None and len(keep) > max_rows:
        keep = np.sort(np.random.default_rng(seed).choice(keep, size=max_rows, replace=False))
    from metamat.featurize.pipeline import featurize_formulas

    formulas = table.formulas[keep]
    exclude = () if keep_quantities else (spec.group,)
    fm = featurize_formulas(formulas, featurizers, source=spec.dataset, field="formula",
                            exclude_quantities=() if fixed_width else exclude)
    removed = list(fm.removed)
    if fixed_width and exclude:
        kept = set(featurize_formulas(formulas[:1], featurizers, exclude_quantities=exclude).labels)
        masked = [i for i, label in enumerate(fm.labels) if label not in kept]
        fm.values[:, masked] = np.nan
        removed = [f"{fm.labels[i]} (masked as NaN: quantity {spec.group!r} or a tied one)" for i in masked]
    return Task(name=spec.name, X=fm.values, y=y[keep], formulas=formulas,
                kind=spec.kind, units=target.unit, quantity=spec.group, transform=target.transform,
                feature_labels=tuple(fm.labels), removed_features=tuple(removed))
