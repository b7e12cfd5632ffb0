"""The matbench v0.1 tasks: names, official ids, units, quantities and citation (no I/O).

Used by the matbench reader (:func:`~metamat.data.readers.read_matbench_json`), the download source
(:mod:`metamat.data.sources.matbench`), the dataset registry and the matbench runner.
"""

from __future__ import annotations

from typing import NamedTuple

from metamat.data.table import TargetSpec

MATBENCH_CITATION = ("A. Dunn, Q. Wang, A. Ganose, D. Dopp, A. Jain, Benchmarking materials property prediction "
                     "methods: the Matbench test set and Automatminer reference algorithm, npj Comput. Mater. 6, "
                     "138 (2020).")


class MatbenchTask(NamedTuple):
    column: str  # target column in the official JSON file
    quantity: str
    unit: str
    kind: str
    rows: int
    input: str  # "structure" or "composition"
    description: str


#: The 13 matbench v0.1 tasks (units per the matbench 0.6 metadata).
MATBENCH_TASKS: dict[str, MatbenchTask] = {
    "perovskites": MatbenchTask("e_form", "formation energy", "eV/cell", "regression", 18928, "structure",
                                "heat of formation of the 5-atom perovskite cell (eV per cell)"),
    "dielectric": MatbenchTask("n", "refractive index", "", "regression", 4764, "structure",
                               "refractive index n (unitless)"),
    "log_gvrh": MatbenchTask("log10(G_VRH)", "shear modulus", "log10(GPa)", "regression", 10987, "structure",
                             "log10 of the VRH shear modulus in GPa"),
    "log_kvrh": MatbenchTask("log10(K_VRH)", "bulk modulus", "log10(GPa)", "regression", 10987, "structure",
                             "log10 of the VRH bulk modulus in GPa"),
    "expt_gap": MatbenchTask("gap expt", "band gap", "eV", "regression", 4604, "composition",
                             "experimental band gap"),
    "expt_is_metal": MatbenchTask("is_metal", "metallicity", "", "classification", 4921, "composition",
                                  "experimental metal (1) or not (0)"),
    "glass": MatbenchTask("gfa", "glass-forming ability", "", "classification", 5680, "composition",
                          "forms a metallic glass (1) or not (0)"),
    "jdft2d": MatbenchTask("exfoliation_en", "exfoliation energy", "meV/atom", "regression", 636, "structure",
                           "exfoliation energy (JARVIS-DFT 2D)"),
    "mp_e_form": MatbenchTask("e_form", "formation energy", "eV/atom", "regression", 132752, "structure",
                              "DFT formation energy (Materials Project)"),
    "mp_gap": MatbenchTask("gap pbe", "band gap", "eV", "regression", 106113, "structure",
                           "PBE band gap (Materials Project)"),
    "mp_is_metal": MatbenchTask("is_metal", "metallicity", "", "classification", 106113, "structure",
                                "PBE metal (1) or not (0) (Materials Project)"),
    "phonons": MatbenchTask("last phdos peak", "phonon frequency", "cm^-1", "regression", 1265, "structure",
                            "frequency of the last phonon DOS peak"),
    "steels": MatbenchTask("yield strength", "yield strength", "MPa", "regression", 312, "composition",
                           "yield strength of steels"),
}


def task_name(task: str) -> str:
    """``"matbench_dielectric"`` or ``"dielectric"`` -> ``"dielectric"``; unknown tasks raise ValueError."""
    short = task.removesuffix(".json.gz").removesuffix(".json").removeprefix("matbench_")
    if short not in MATBENCH_TASKS:
        raise ValueError(f"unknown matbench task {task!r}; tasks: {', '.join(MATBENCH_TASKS)}")
    return short


def matbench_id(task: str, row: int) -> str:
    """The official matbench id of 1-based row ``row`` (``mb-mp-e-form-000001``)."""
    t = MATBENCH_TASKS[task_name(task)]
    return f"mb-{task_name(task).replace('_', '-')}-{row:0{len(str(t.rows))}d}"


def matbench_target_spec(task: str, column: str) -> TargetSpec:
    """The TargetSpec of a matbench task's target column (a plain spec for files of unknown tasks)."""
    try:
        t = MATBENCH_TASKS[task_name(task)]
    except ValueError:
        return TargetSpec(column)
    return TargetSpec(column, t.unit, "identity", t.quantity, t.description, t.kind)
