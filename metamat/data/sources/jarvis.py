"""JARVIS datasets in the jarvis-tools figshare format, cached locally.

Each dataset is a zip file holding one JSON file: a list of dicts with ``jid``, ``atoms``
(``{"lattice_mat", "coords", "elements", "cartesian"}``) and properties such as ``optb88vdw_bandgap`` or
``formation_energy_peratom``; a missing value is the string ``"na"``. The URLs below are the ones
jarvis-tools (``jarvis/db/figshare.py``) used when this was written; figshare ids change between releases,
so pass ``url=`` to use another one. The cache file name is the zip name.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from metamat.data.readers import object_array, table_from_frame
from metamat.data.sources.cache import fetch
from metamat.data.table import MaterialTable, TargetSpec
from metamat.errors import DataSourceError, InputError

JARVIS_CITATION = ("K. Choudhary et al., The joint automated repository for various integrated simulations "
                   "(JARVIS) for data-driven materials design, npj Comput. Mater. 6, 173 (2020).")

#: dataset -> (figshare download URL, zip file name), as listed by jarvis-tools ``figshare.get_db_info``.
JARVIS_DATASETS: dict[str, tuple[str, str]] = {
    "dft_3d": ("https://ndownloader.figshare.com/files/38521619", "jdft_3d-12-12-2022.json.zip"),
    "dft_3d_2021": ("https://ndownloader.figshare.com/files/28034994", "d3-5-16-2021.json.zip"),
    "dft_2d": ("https://ndownloader.figshare.com/files/26808917", "d2-3-12-2021.json.zip"),
    "megnet": ("https://ndownloader.figshare.com/files/26724977", "megnet.json.zip"),
    "twod_matpd": ("https://ndownloader.figshare.com/files/26789006", "twodmatpd.json.zip"),
    "c2db": ("https://ndownloader.figshare.com/files/28682010", "c2db_atoms.json.zip"),
}

#: Known JARVIS-DFT properties: key -> (unit, quantity, transform).
JARVIS_PROPERTIES: dict[str, tuple[str, str | None, str]] = {
    "optb88vdw_bandgap": ("eV", "band gap", "identity"),
    "mbj_bandgap": ("eV", "band gap", "identity"),
    "hse_gap": ("eV", "band gap", "identity"),
    "formation_energy_peratom": ("eV/atom", "formation energy", "identity"),
    "ehull": ("eV/atom", "energy above hull", "identity"),
    "optb88vdw_total_energy": ("eV/atom", "total energy per atom", "identity"),
    "bulk_modulus_kv": ("GPa", "bulk modulus", "identity"),
    "shear_modulus_gv": ("GPa", "shear modulus", "identity"),
    "exfoliation_energy": ("meV/atom", "exfoliation energy", "identity"),
    "magmom_oszicar": ("μB", "magnetic moment", "identity"),
    "magmom_outcar": ("μB", "magnetic moment", "identity"),
    "epsx": ("", "dielectric constant", "identity"),
    "epsy": ("", "dielectric constant", "identity"),
    "epsz": ("", "dielectric constant", "identity"),
    "spillage": ("", "spin-orbit spillage", "identity"),
    "slme": ("%", "SLME", "identity"),
    "n-Seebeck": ("µV/K", "Seebeck coefficient", "identity"),
    "p-Seebeck": ("µV/K", "Seebeck coefficient", "identity"),
    "n-powerfact": ("µW/(m K²)", "power factor", "identity"),
    "p-powerfact": ("µW/(m K²)", "power factor", "identity"),
    "avg_elec_mass": ("m_e", "effective mass", "identity"),
    "avg_hole_mass": ("m_e", "effective mass", "identity"),
    "density": ("g/cm^3", "density", "identity"),
    "Tc_supercon": ("K", "superconducting critical temperature", "identity"),
}


def read_jarvis_zip(path: str | Path) -> list[dict[str, Any]]:
    """The list of records in a jarvis-tools figshare zip (the single ``.json`` member)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.namelist() if m.lower().endswith(".json")]
            if len(members) != 1:
                raise InputError(f"expected one .json file in the zip, found {members}", source=str(path))
            records = json.loads(zf.read(members[0]).decode("utf-8"))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(f"not a JARVIS figshare zip: {exc}", source=str(path)) from exc
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise InputError("the JSON file does not hold a list of records", source=str(path))
    return records


def jarvis_structure(atoms: Mapping[str, Any]):
    """A pymatgen Structure from a JARVIS ``atoms`` dict."""
    from pymatgen.core import Lattice, Structure

    return Structure(Lattice(atoms["lattice_mat"]), list(atoms["elements"]), atoms["coords"],
                     coords_are_cartesian=bool(atoms.get("cartesian", False)))


def _is_scalar(v: object) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def jarvis_table(records: Sequence[Mapping[str, Any]], *, source: str, targets: Sequence[str] | None = None,
                 name: str = "jarvis", duplicates: str = "median") -> MaterialTable:
    """Validate JARVIS records into a MaterialTable (ids = ``jid``; "na" = missing; formulas from structures).

    ``targets`` defaults to the known properties (:data:`JARVIS_PROPERTIES`) present in the records.
    """
    if not records:
        raise InputError("no records", source=source)
    df = pd.DataFrame.from_records(list(records))
    if "jid" not in df.columns or "atoms" not in df.columns:
        raise InputError("JARVIS records need 'jid' and 'atoms'", source=source)
    structures = []
    for atoms in df["atoms"]:
        try:
            structures.append(jarvis_structure(atoms))
        except Exception as exc:  # noqa: BLE001 - reported per row by the reader
            structures.append(exc)
    frame = pd.DataFrame({"jid": df["jid"].astype(str)})
    frame["structure"] = object_array(structures)
    if targets is None:
        targets = [k for k in JARVIS_PROPERTIES if k in df.columns]
    missing = [t for t in targets if t not in df.columns]
    if missing:
        raise InputError(f"unknown JARVIS properties {missing}; available keys: {sorted(df.columns)}",
                         source=source)
    specs = {}
    for t in targets:
        unit, quantity, transform = JARVIS_PROPERTIES.get(t, ("", None, "identity"))
        specs[t] = TargetSpec(t, unit, transform, quantity, f"JARVIS {t}")
        frame[t] = df[t].astype(object)
    skip = {"jid", "atoms", *targets}
    meta = [c for c in df.columns if c not in skip and df[c].map(_is_scalar).all()]
    for c in meta:
        frame[c] = df[c].to_numpy()
    return table_from_frame(frame, source=source, name=name, id_column="jid", structure_column="structure",
                            target_columns=specs, duplicates=duplicates,
                            notes=[f"{len(df)} JARVIS records; list-valued keys not kept as metadata"])


def load_jarvis(dataset: str = "dft_3d", cache_dir: str | os.PathLike | None = None,
                targets: Sequence[str] | None = None, *, url: str | None = None,
                filename: str | None = None) -> MaterialTable:
    """Load a JARVIS dataset (downloaded once into the cache; read from the cache when present)."""
    if dataset in JARVIS_DATASETS:
        known_url, known_file = JARVIS_DATASETS[dataset]
    elif url is None or filename is None:
        raise DataSourceError(f"unknown JARVIS dataset {dataset!r}; known: {', '.join(JARVIS_DATASETS)} "
                              "(or pass url= and filename=)")
    else:
        known_url, known_file = url, filename
    path = fetch(url or known_url, filename or known_file, cache_dir=cache_dir)
    table = jarvis_table(read_jarvis_zip(path), source=str(path), targets=targets, name=f"jarvis_{dataset}")
    table.metadata.update({"dataset": f"jarvis_{dataset}", "citation": JARVIS_CITATION,
                           "license": "JARVIS data: NIST (public domain in the US); check the figshare record"})
    return table
