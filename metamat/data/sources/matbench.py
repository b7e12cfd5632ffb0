"""Matbench v0.1 datasets from the official download URL, cached locally.

``load_matbench("dielectric")`` downloads ``https://ml.materialsproject.org/projects/matbench_dielectric.json.gz``
once (to the cache, see :mod:`metamat.data.sources.cache`; resumable, retried, SHA-256 checked against
:data:`MATBENCH_SHA256`) and reads it with :func:`~metamat.data.readers.read_matbench_json`. Units and
quantities come from :data:`MATBENCH_TASKS`.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from metamat.data.readers import read_matbench_json
from metamat.data.sources.cache import cached_path
from metamat.data.sources.download import Progress, download, mirrored
from metamat.data.table import MaterialTable, TargetSpec

MATBENCH_URL = "https://ml.materialsproject.org/projects/matbench_{task}.json.gz"
MATBENCH_CITATION = ("A. Dunn, Q. Wang, A. Ganose, D. Dopp, A. Jain, Benchmarking materials property prediction "
                     "methods: the Matbench test set and Automatminer reference algorithm, npj Comput. Mater. 6, "
                     "138 (2020).")

#: SHA-256 of the official files, as matminer 0.10.1 pins them (``matminer/datasets/dataset_metadata.json``)
MATBENCH_SHA256 = {
    "perovskites": "4641e2417f8ec8b50096d2230864468dfa08278dc9d257c327f65d0305278483",
    "dielectric": "83befa09bc2ec2f4b6143afc413157827a90e5e2e42c1eb507ccfa01bf26a1d6",
    "log_gvrh": "098af941f4c663270f1fe21abf20ffad6fb85ecbfcba5786ceac03983ac29da7",
    "log_kvrh": "44b113ddb7e23aa18731a62c74afa7e5aa654199e0db5f951c8248a00955c9cd",
    "expt_gap": "783e7d1461eb83b00b2f2942da4b95fda5e58a0d1ae26b581c24cf8a82ca75b2",
    "expt_is_metal": "8f2a4f9bacdcbc5c2c73615629ee7986f09d39bed40ba7db52b61b2889730887",
    "glass": "36beb654e2a463ee2a6572105bea0ca2961eee7c7b26a25377bff2c3b338e53a",
    "jdft2d": "26057dc4524e193e32abffb296ce819b58b6e11d1278cae329a2f97817a4eddf",
    "mp_e_form": "dedcb1d4ba2e3e50dbdd45ba5bc647a00e9c2bcf8f8bf556dc8e92caa39eb21f",
    "mp_gap": "58b65746bd88329986ed66031a2ac1369c7c522f7bc9f9081528e07097c2c057",
    "mp_is_metal": "9a028ed5750a4c76ca36e9f3c8d48fe0bf3fb21b76ec2289e58ae7048d527919",
    "phonons": "4db551f21ec5f577e6202725f10e34dfc509aa7df3a6bdaac497da7f6dbbb9b3",
    "steels": "473bc4957b2ea5e6465aef84bc29bb48ac34db27d69ea4ec5f508745c6fae252",
}


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


def load_matbench(task: str, cache_dir: str | os.PathLike | None = None, *, url: str | None = None,
                  mirror: str | None = None, progress: Progress | None = None) -> MaterialTable:
    """Load a matbench v0.1 task (downloaded once into the cache; no network when the cache holds it).

    The official file is checked against :data:`MATBENCH_SHA256` (not when ``url`` names another file);
    ``mirror`` (or ``$METAMAT_FETCH_MIRROR``) serves it as ``<mirror>/ml.materialsproject.org/projects/...``.
    """
    short = task_name(task)
    path = cached_path(f"matbench_{short}.json.gz", cache_dir)
    if not path.is_file():
        source = url or MATBENCH_URL.format(task=short)
        download(mirrored(source, mirror), path, sha256=None if url else MATBENCH_SHA256[short], progress=progress)
    table = read_matbench_json(path)
    table.metadata.update({"dataset": f"matbench_{short}", "citation": MATBENCH_CITATION,
                           "license": "modified BSD (matbench)", "description": MATBENCH_TASKS[short].description})
    return table
