"""Registered datasets: where each file lives (relative to the data directory), how to read it, its units,
citation and license (from ``shared/data/SOURCES.md``).

Each spec carries its :class:`~metamat.data.sources.origins.Origin`: original source, DOI, license and how
to get it. :func:`load_dataset` looks for a dataset's file, in this order, under

1. the data directory: the ``data_dir`` argument, else ``$METAMAT_DATA_DIR``;
2. the user data directory (:func:`default_data_dir`: ``$XDG_DATA_HOME/metamat``, else
   ``~/.local/share/metamat``), where ``metamat data fetch`` puts what it downloads when no data
   directory is set;
3. a copy shipped in an installed package (``ricci_transport`` in the matminer wheel, the CrabNet tables
   in the ``crabnet`` package).

Paths below are the same relative paths as in the shared data folder.
"""

from __future__ import annotations

import importlib.util
import io
import os
import tarfile
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from metamat.data.matbench_tasks import MATBENCH_CITATION, MATBENCH_TASKS
from metamat.data.readers import read_extxyz, read_matbench_json, read_table, table_from_frame
from metamat.data.sources.origins import Origin, all_origins
from metamat.data.table import MaterialTable, TargetSpec
from metamat.errors import DataSourceError, InputError

ENV_DATA_DIR = "METAMAT_DATA_DIR"
ENV_XDG_DATA_HOME = "XDG_DATA_HOME"
KINDS = ("composition", "structure")
READERS = ("table", "extxyz", "matbench_json")


@dataclass(frozen=True)
class DatasetSpec:
    """How to load one dataset. ``path`` is relative to the data directory (same layout as shared/data).

    ``targets`` maps target columns to their :class:`TargetSpec`; ``id_format`` (e.g.
    ``"mb-steels-{row:03d}"``) builds ids from the 1-based data row when the file has no id column;
    ``expected_rows`` is the number of data rows in the file (SOURCES.md); ``builtin`` names a copy that
    ships with an installed package ("matminer"); ``origin`` says where the data come from and how to get
    them (filled in for every built-in dataset); ``alt_paths`` are other files accepted in its place when
    ``path`` is absent (e.g. a partial copy), tried in order after it.
    """

    name: str
    path: str
    targets: dict[str, TargetSpec]
    formula_column: str | None = None
    id_column: str | None = None
    structure_column: str | None = None
    citation: str = ""
    license: str = ""
    description: str = ""
    kind: str = "composition"
    reader: str = "table"
    duplicates: str = "median"
    drop_columns: tuple[str, ...] = ()
    id_format: str | None = None
    expected_rows: int | None = None
    builtin: str | None = None
    origin: Origin | None = None
    alt_paths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: kind must be one of {KINDS}")
        if self.reader not in READERS:
            raise ValueError(f"{self.name}: reader must be one of {READERS}")

    def reader_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for the reader (overridable through :func:`load_dataset`)."""
        if self.reader == "extxyz":
            return {"target_keys": dict(self.targets), "id_key": self.id_column, "duplicates": self.duplicates}
        if self.reader == "matbench_json":
            return {"targets": dict(self.targets), "duplicates": self.duplicates}
        return {"formula_column": self.formula_column, "target_columns": dict(self.targets),
                "id_column": self.id_column, "structure_column": self.structure_column,
                "duplicates": self.duplicates, "drop_columns": self.drop_columns}


# --- the catalogue ------------------------------------------------------------------------------------
CRABNET_CITATION = ("A. Y.-T. Wang, S. K. Kauwe, R. J. Murdock, T. D. Sparks, Compositionally restricted "
                    "attention-based network for materials property predictions, npj Comput. Mater. 7, 77 (2021).")
CRABNET_LICENSE = ("MIT (CrabNet repository anthony-wang/CrabNet @ 457b4d48 and crabnet==2.0.8 wheel); upstream "
                   "data from AFLOW, Materials Project, OQMD and Bartel et al.")
BARTEL_CITATION = ("C. J. Bartel et al., A critical examination of compound stability predictions from "
                   "machine-learned formation energies, npj Comput. Mater. 6, 97 (2020).")
MATBENCH_LICENSE = "MIT (CrabNet copy of the matbench data); matbench itself is modified BSD."
ROOST_LICENSE = "MIT (CompRhys/roost repository)."
CDVAE_LICENSE = "MIT (txie-93/cdvae repository)."

# prop: (quantity, unit, transform, database, rows)
_CRABNET: dict[str, tuple[str, str, str, str, int]] = {
    "aflow__Egap": ("band gap", "eV", "identity", "AFLOW", 27577),
    "aflow__energy_atom": ("total energy per atom", "eV/atom", "identity", "AFLOW", 27579),
    "aflow__ael_bulk_modulus_vrh": ("bulk modulus", "GPa", "identity", "AFLOW (AEL)", 4896),
    "aflow__ael_shear_modulus_vrh": ("shear modulus", "GPa", "identity", "AFLOW (AEL)", 4896),
    "aflow__ael_debye_temperature": ("Debye temperature", "K", "identity", "AFLOW (AEL)", 4896),
    "aflow__agl_thermal_conductivity_300K": ("thermal conductivity", "W/(m K)", "log10", "AFLOW (AGL, 300 K)",
                                             4887),
    "aflow__agl_thermal_expansion_300K": ("thermal expansion", "1/K", "identity", "AFLOW (AGL, 300 K)", 4886),
    "mp_bulk_modulus": ("bulk modulus", "GPa", "identity", "Materials Project", 6307),
    "mp_shear_modulus": ("shear modulus", "GPa", "identity", "Materials Project", 6184),
    "mp_elastic_anisotropy": ("elastic anisotropy", "", "identity", "Materials Project", 6331),
    "mp_e_hull": ("energy above hull", "eV/atom", "identity", "Materials Project", 56662),
    "mp_mu_b": ("magnetic moment", "μB", "identity", "Materials Project", 56662),
    "CritExam__Ef": ("formation energy", "eV/atom", "identity", "Materials Project (Bartel et al.)", 85014),
    "CritExam__Ed": ("decomposition energy", "eV/atom", "identity", "Materials Project (Bartel et al.)", 85014),
    "OQMD_Bandgap": ("band gap", "eV", "identity", "OQMD", 341608),
    "OQMD_Energy_per_atom": ("total energy per atom", "eV/atom", "identity", "OQMD", 341700),
    "OQMD_Formation_Enthalpy": ("formation energy", "eV/atom", "identity", "OQMD", 341700),
    "OQMD_Volume_per_atom": ("volume per atom", "Å^3/atom", "identity", "OQMD", 341700),
}

def _crabnet_specs() -> list[DatasetSpec]:
    specs = []
    for prop, (quantity, unit, transform, db, rows) in _CRABNET.items():
        citation = CRABNET_CITATION + (" " + BARTEL_CITATION if prop.startswith("CritExam") else "")
        specs.append(DatasetSpec(
            name=prop, path=f"crabnet_benchmark/{prop}.csv.gz",
            targets={"target": TargetSpec("target", unit, transform, quantity, f"{quantity} from {db}")},
            formula_column="formula", citation=citation, license=CRABNET_LICENSE,
            description=(f"{quantity} ({unit or 'dimensionless'}) from {db}, CrabNet benchmark; CrabNet's "
                         "train/val/test split kept in column 'split'. Unit inferred from the database "
                         "conventions and value ranges (not stated in the file)."),
            expected_rows=rows))
    return specs


def _matbench_specs() -> list[DatasetSpec]:
    specs = []
    for task, t in MATBENCH_TASKS.items():
        what, rows = t.description, t.rows
        width = len(str(rows))
        specs.append(DatasetSpec(
            name=f"matbench_{task}", path=f"crabnet_matbench_composition/matbench_{task}.csv.gz",
            targets={"target": TargetSpec("target", t.unit, "identity", t.quantity, what, t.kind)},
            formula_column="formula", citation=MATBENCH_CITATION, license=MATBENCH_LICENSE,
            description=(f"matbench_{task} as compositions: {what}. Official matbench row order; ids are the "
                         f"official matbench ids mb-{task.replace('_', '-')}-<row>, so the official folds apply. "
                         "Duplicate compositions are kept (the folds refer to every row). Formulas of structure "
                         "tasks were derived from structures and are unreduced."),
            duplicates="keep", id_format=f"mb-{task.replace('_', '-')}-{{row:0{width}d}}", expected_rows=rows))
    return specs


def _t(name: str, unit: str, quantity: str | None, transform: str = "identity", description: str = "") -> TargetSpec:
    return TargetSpec(name, unit, transform, quantity, description)


RICCI_CITATION = ("F. Ricci, W. Chen, U. Aydemir, G. J. Snyder, G.-M. Rignanese, A. Jain, G. Hautier, An ab "
                  "initio electronic transport database for inorganic materials, Sci. Data 4, 170085 (2017).")
_RICCI_UNITS = {"sigma": ("1/(Ω m s)", "electrical conductivity", "log10"),
                "S": ("µV/K", "Seebeck coefficient", "identity"),
                "kappa": ("W/(K m s)", "electronic thermal conductivity", "log10"),
                "PF": ("µW/(cm K² s)", "power factor", "log10"),
                "m": ("m_e", "effective mass", "log10")}
RICCI_TARGETS = {f"{p}_{c}": _t(f"{p}_{c}", unit, q, tr, f"{q}, {'p' if c == 'p' else 'n'}-type (BoltzTraP, constant "
                                                          "relaxation time; per 1e-14 s where it applies)")
                 for p, (unit, q, tr) in _RICCI_UNITS.items() for c in "pn"}

C2DB_CITATION = ("S. Haastrup et al., The Computational 2D Materials Database, 2D Mater. 5, 042002 (2018); M. N. "
                 "Gjerding et al., Recent progress of the Computational 2D Materials Database (C2DB), 2D Mater. 8, "
                 "044002 (2021).")
TWODMATPEDIA_CITATION = ("J. Zhou et al., 2DMatPedia, an open computational database of two-dimensional "
                         "materials from top-down and bottom-up approaches, Sci. Data 6, 86 (2019).")
_2DMATPEDIA_TARGETS = {
    "bandgap": _t("bandgap", "eV", "band gap"),
    "exfoliation_energy_per_atom": _t("exfoliation_energy_per_atom", "eV/atom", "exfoliation energy",
                                      description="unit inferred (2DMatPedia convention)"),
    "decomposition_energy": _t("decomposition_energy", "eV/atom", "decomposition energy",
                               description="unit inferred (2DMatPedia convention)"),
    "energy_per_atom": _t("energy_per_atom", "eV/atom", "total energy per atom"),
    "total_magnetization": _t("total_magnetization", "μB", "magnetic moment"),
}


def _other_specs() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="ricci_transport", path="matminer_ricci_transport/ricci_transport_database.csv.gz",
            targets=dict(RICCI_TARGETS), formula_column="pretty_formula", id_column="mp_id",
            citation=RICCI_CITATION,
            license="BSD-style (LBNL) matminer license; upstream data deposited at Dryad.",
            description=("Electronic transport (BoltzTraP) of Materials Project compounds, p- and n-type. Units "
                         "from matminer's metadata of ricci_boltztrap_mp_tabular (300 K, 1e18 cm^-3); not verified "
                         "for this file. Polymorphs share a formula and are merged by the median."),
            expected_rows=47737, builtin="matminer"),
        DatasetSpec(
            name="supercon_tc_stanev", path="roost_datasets/supercon_tc_stanev.csv.gz",
            targets={"Tc_K": _t("Tc_K", "K", "superconducting critical temperature", "log10")},
            formula_column="composition", id_column="stanev_index",
            citation=("V. Stanev et al., Machine learning modeling of superconducting critical temperature, npj "
                      "Comput. Mater. 4, 29 (2018); data from NIMS SuperCon."),
            license="MIT (CompRhys/roost); matminer's superconductivity2018 metadata states CC 4.0.",
            description="Experimental superconducting Tc (K, all >= 1.01 K) from SuperCon, Stanev et al. selection.",
            expected_rows=11471),
        DatasetSpec(
            name="elpasolite_formation_energy", path="roost_datasets/elpasolite_formation_energy.csv.gz",
            targets={"formation_energy": _t("formation_energy", "eV/atom", "formation energy",
                                            description="unit probably eV/atom (not verified)")},
            formula_column="composition", id_column="orig_index",
            citation=("F. A. Faber, A. Lindmaa, O. A. von Lilienfeld, R. Armiento, Machine learning energies of 2 "
                      "million elpasolite (ABC2D6) crystals, Phys. Rev. Lett. 117, 135502 (2016)."),
            license=ROOST_LICENSE,
            description="DFT formation energy of ABC2D6 elpasolites; unit inferred (probably eV/atom).",
            expected_rows=10590),
        DatasetSpec(
            name="mp_poisson_ratio", path="roost_datasets/mp_poisson_ratio.csv.gz",
            targets={"poisson_ratio": _t("poisson_ratio", "", "Poisson ratio")},
            formula_column="composition", id_column="mp_id",
            citation="Materials Project elastic data (via CompRhys/roost).", license=ROOST_LICENSE,
            description="Poisson ratio (dimensionless) from Materials Project elastic tensors.",
            expected_rows=1113),
        DatasetSpec(
            name="c2db", path="c2db_table_export/c2db_table_export.csv.gz",
            targets={
                "Band gap": _t("Band gap", "eV", "band gap", description="PBE band gap"),
                "Band gap (HSE06)": _t("Band gap (HSE06)", "eV", "band gap", description="HSE06 band gap"),
                "Band gap (G₀W₀)": _t("Band gap (G₀W₀)", "eV", "band gap", description="G0W0 band gap"),
                "Heat of formation": _t("Heat of formation", "eV/atom", "formation energy"),
                "Energy above convex hull": _t("Energy above convex hull", "eV/atom", "energy above hull"),
                "Work function (avg. if finite dipole)": _t("Work function (avg. if finite dipole)", "eV",
                                                            "work function"),
            },
            formula_column="Formula", id_column="Unique identifier", citation=C2DB_CITATION,
            license="Not stated in the source repository; C2DB terms not verified.",
            description=("C2DB web-table export (4034 2D materials, no structures). Units inferred from the C2DB "
                         "documentation (eV, eV/atom); not stated in the file. Sparse: HSE06 and G0W0 gaps exist for "
                         "a subset. Phases sharing a formula are merged by the median."),
            expected_rows=4034),
        DatasetSpec(
            name="2dmatpedia", path="2dmatpedia_subset/2dmatpedia_subset_properties.csv.gz",
            targets=dict(_2DMATPEDIA_TARGETS), formula_column="formula_pretty", id_column="material_id",
            citation=TWODMATPEDIA_CITATION, license="MIT (Franklalalala/learn_2dmatpedia); upstream not verified.",
            description=("2DMatPedia subset (1224 2D materials, periods 1-4, no noble gases, no Sc-Ni): "
                         "properties table. Energies probably eV/atom (inferred). Entries sharing a formula are "
                         "merged by the median."),
            expected_rows=1224),
        DatasetSpec(
            name="2dmatpedia_structures", path="2dmatpedia_subset/2dmatpedia_subset_structures.extxyz.gz",
            targets=dict(_2DMATPEDIA_TARGETS), id_column="material_id", citation=TWODMATPEDIA_CITATION,
            license="MIT (Franklalalala/learn_2dmatpedia); upstream not verified.",
            description="2DMatPedia subset with structures (extxyz); same properties as '2dmatpedia'.",
            kind="structure", reader="extxyz", expected_rows=1224),
        DatasetSpec(
            name="jarvis_epc_tc", path="jarvis_epc_supercon_tc/jarvis_epc_supercon_tc.csv.gz",
            targets={"Tc_K": _t("Tc_K", "K", "superconducting critical temperature",
                                description="electron-phonon (BCS) Tc computed by JARVIS")},
            id_column="material_id", structure_column="cif",
            citation=("K. Choudhary, K. Garrity, Designing high-TC superconductors with BCS-inspired screening, "
                      "density functional theory, and deep-learning, npj Comput. Mater. 8, 244 (2022)."),
            license=CDVAE_LICENSE,
            description=("Computed electron-phonon Tc (K) of JARVIS structures (CIF). Column 'prop' (= -Tc) is "
                         "dropped: it is the target negated. The cdvae split is kept in 'split'."),
            kind="structure", drop_columns=("prop",), expected_rows=1056),
        DatasetSpec(
            name="perov_5", path="cdvae_perov_5/perov_5_val_test.csv.gz",
            targets={"heat_all": _t("heat_all", "eV/cell", "formation energy",
                                    description="heat of formation of the 5-atom cell"),
                     "dir_gap": _t("dir_gap", "eV", "band gap", description="direct band gap"),
                     "ind_gap": _t("ind_gap", "eV", "band gap", description="indirect band gap")},
            id_column="material_id", structure_column="cif", drop_columns=("formula",),
            citation=("I. E. Castelli et al., Energy Environ. Sci. 5, 5814 and 9034 (2012); via CDVAE (T. Xie "
                      "et al., ICLR 2022)."), license=CDVAE_LICENSE,
            description=("Cubic perovskites (val + test of CDVAE perov_5; train absent). heat_all equals "
                         "matbench_perovskites e_form (eV per 5-atom cell). Formulas from the structures (the file's "
                         "own 'formula' column is dropped as redundant); 'heat_ref' kept as metadata."),
            kind="structure", expected_rows=7572),
        DatasetSpec(
            name="carbon_24", path="cdvae_carbon_24/carbon_24_val_test.csv.gz",
            targets={"energy_per_atom": _t("energy_per_atom", "eV/atom", "total energy per atom",
                                           description="absolute DFT energy (AIRSS, 10 GPa)")},
            id_column="material_id", structure_column="cif",
            citation="C. J. Pickard, AIRSS data for carbon at 10 GPa, Materials Cloud (2020), "
                     "doi:10.24435/materialscloud:2020.0026/v1; via CDVAE.", license=CDVAE_LICENSE,
            description="Carbon polymorphs (val + test of CDVAE carbon_24); all formulas are carbon.",
            kind="structure", expected_rows=4062),
        DatasetSpec(
            name="matbench_jdft2d_structures",
            path="matbench_jdft2d_structures/matbench_jdft2d_structures.csv.gz",
            alt_paths=("matbench_jdft2d_structures_partial/matbench_jdft2d_fold0_trainval_508.csv.gz",),
            targets={"exfoliation_en": _t("exfoliation_en", "meV/atom", "exfoliation energy")},
            id_column="matbench_id", structure_column="cif", citation=MATBENCH_CITATION,
            license="matbench: modified BSD (official file); the partial copy: MIT (emotionor/ecif).",
            description=("matbench_jdft2d with structures: the official file's 636 entries (`metamat data fetch`); "
                         "where only the partial copy is present, its 508 entries (exactly the official fold-0 "
                         "train+val ids; fold-0 test entries missing). Ids are official matbench ids."),
            kind="structure", duplicates="keep", expected_rows=636),
    ]


def _with_origins(specs: list[DatasetSpec]) -> dict[str, DatasetSpec]:
    origins = all_origins(list(_CRABNET), list(MATBENCH_TASKS))
    missing = [s.name for s in specs if s.name not in origins]
    if missing:
        raise RuntimeError(f"datasets without an origin: {missing}")
    return {s.name: replace(s, origin=origins[s.name]) for s in specs}


_REGISTRY: dict[str, DatasetSpec] = _with_origins([*_crabnet_specs(), *_matbench_specs(), *_other_specs()])


def register(spec: DatasetSpec, *, overwrite: bool = False) -> None:
    """Add a dataset to the registry (e.g. a lab's own table)."""
    if spec.name in _REGISTRY and not overwrite:
        raise ValueError(f"dataset {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec


def list_datasets() -> list[DatasetSpec]:
    """Every registered dataset, in registration order."""
    return list(_REGISTRY.values())


def get_spec(name: str) -> DatasetSpec:
    """The spec of a registered dataset; unknown names raise InputError listing the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown dataset {name!r}; known datasets: {', '.join(_REGISTRY)}", field="name",
                         value=name) from None


def data_dir(override: str | os.PathLike | None = None) -> Path | None:
    """The data directory: ``override``, else ``$METAMAT_DATA_DIR``, else None."""
    if override is not None:
        return Path(override).expanduser()
    env = os.environ.get(ENV_DATA_DIR)
    return Path(env).expanduser() if env else None


_explicit_dir = data_dir  # for functions whose ``data_dir`` argument hides the function


def default_data_dir() -> Path:
    """The user data directory: ``$XDG_DATA_HOME/metamat``, else ``~/.local/share/metamat`` (may not exist)."""
    xdg = os.environ.get(ENV_XDG_DATA_HOME)
    return (Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share") / "metamat"


def fetch_dir(override: str | os.PathLike | None = None) -> Path:
    """Where downloaded datasets go: the data directory if one is set, else :func:`default_data_dir`."""
    return data_dir(override) or default_data_dir()


def dataset_path(name: str, data_dir_override: str | os.PathLike | None = None) -> Path | None:
    """Where the dataset's file should be in the data directory (None when no data directory is set)."""
    base = data_dir(override=data_dir_override)
    return None if base is None else base / get_spec(name).path


@dataclass(frozen=True)
class Location:
    """Where :func:`load_dataset` finds a dataset: a ``file`` (``path``) or a ``package`` copy (``package``)."""

    kind: str
    path: Path
    package: str | None = None

    def describe(self) -> str:
        return f"{self.package} package" if self.kind == "package" else str(self.path)


def locate_dataset(name: str, data_dir: str | os.PathLike | None = None) -> Location | None:
    """Where ``name`` would be loaded from (see the module docstring for the order), or None."""
    spec = get_spec(name)
    for base in dict.fromkeys(d for d in (_explicit_dir(data_dir), default_data_dir()) if d is not None):
        for path in (spec.path, *spec.alt_paths):
            if (base / path).is_file():
                return Location("file", base / path)
    if spec.builtin is not None and (path := _builtin_path(spec)) is not None:
        return Location("package", path, spec.builtin)
    if spec.origin is not None and spec.origin.package and (root := _package_root(spec.origin.package)) is not None:
        if all(_package_member(root, f) is not None for f in spec.origin.files):
            return Location("package", root, spec.origin.package)
    return None


def dataset_available(name: str, data_dir: str | os.PathLike | None = None) -> bool:
    """True when :func:`load_dataset` can load ``name`` (its file exists, or an installed package has a copy)."""
    return locate_dataset(name, data_dir) is not None


def _package_root(package: str) -> Path | None:
    """The folder holding installed package ``package`` (its parent, e.g. site-packages), without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).parent


def _package_member(root: Path, source_file) -> Path | None:
    """The installed copy of one origin file (a wheel member, e.g. ``crabnet/data/...``) under ``root``."""
    for remote in source_file.remotes:
        if remote.member is not None and (root / remote.member).is_file():
            return root / remote.member
    return None


def _builtin_path(spec: DatasetSpec) -> Path | None:
    if spec.builtin == "matminer":
        try:
            path = resources.files("matminer") / "utils" / "data_files" / "mp_transport" / "transport_database.tar.xz"
        except ModuleNotFoundError:
            return None
        path = Path(str(path))
        return path if path.is_file() else None
    return None


def how_to_get(name: str, *, cli: bool = False) -> str:
    """One sentence on how to make ``name`` available, in Python or (``cli=True``) command-line terms."""
    spec = get_spec(name)
    folder = spec.path.split("/")[0]
    where = (f"use --data-dir DIR or set {ENV_DATA_DIR} to a folder holding '{folder}/'" if cli else
             f"pass data_dir= or set {ENV_DATA_DIR} to a folder holding '{folder}/'")
    origin = spec.origin
    if origin is None:
        return where
    if origin.how == "fetch":
        get = (f"run `metamat data fetch {name}`" if cli else
               f"call metamat.data.fetch.fetch_dataset({name!r}) (or run `metamat data fetch {name}`)")
        return f"{where}, or {get}"
    return f"{where} ({origin.instructions.rstrip('.')})"


def read_matminer_transport(path: Path, nrows: int | None = None) -> pd.DataFrame:
    """The Ricci transport CSV from matminer's ``transport_database.tar.xz`` (no network, no extraction to disk)."""
    with tarfile.open(path, "r:xz") as tar:
        member = next((m for m in tar.getmembers() if m.isfile() and m.name.endswith(".csv")), None)
        if member is None:
            raise DataSourceError(f"{path} holds no CSV file")
        fh = tar.extractfile(member)
        assert fh is not None
        return pd.read_csv(fh, keep_default_na=False, na_values=[""], nrows=nrows)


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, **kwargs: Any) -> MaterialTable:
    """Load a registered dataset as a validated :class:`MaterialTable`.

    ``kwargs`` override the reader arguments of the spec (e.g. ``duplicates="keep"``, ``nrows=1000`` for a
    cheap look at a table file, ``target_columns=[...]``). Raises :class:`DataSourceError` naming the
    environment variable and the path tried when the file is absent.
    """
    spec = get_spec(name)
    location = locate_dataset(name, data_dir)
    if location is None:
        raise _not_found(name, data_dir)
    if location.kind == "file":
        table = _read(spec, location.path, kwargs)
        table.report.notes.insert(0, f"loaded from {location.path}")
    else:
        path = dataset_path(name, data_dir)
        why = ("the data directory is not set" if path is None else f"{path} does not exist")
        if spec.builtin is not None:
            table = _read_builtin(spec, kwargs)
            table.report.notes.insert(0, f"loaded the copy shipped in the {spec.builtin} wheel "
                                         f"({_builtin_path(spec)}) because {why}")
        else:
            table = _read_package(spec, location.path, kwargs)
            table.report.notes.insert(0, f"loaded the copy shipped in the {location.package} package "
                                         f"({location.path / location.package}) because {why}")
    table.name = spec.name
    table.metadata.update({"dataset": spec.name, "citation": spec.citation, "license": spec.license,
                           "description": spec.description, "kind": spec.kind})
    if spec.id_format is not None and "id_column" not in kwargs:
        table.data["id"] = [spec.id_format.format(row=int(r)) for r in table.data["source_row"]]
        example = spec.id_format.format(row=1)
        table.report.notes = [f"ids are the dataset's official ids built from the data row ({example}, ...)"
                              if n.startswith("no id column; ids generated") else n for n in table.report.notes]
    return table


def _not_found(name: str, data_dir: str | os.PathLike | None) -> DataSourceError:
    spec = get_spec(name)
    explicit = _explicit_dir(data_dir)
    dirs = [d for d in (explicit, default_data_dir()) if d is not None]
    tried = "not found at " + " nor at ".join(str(d / p) for d in dict.fromkeys(dirs)
                                              for p in (spec.path, *spec.alt_paths))
    if explicit is None:
        tried += f" ({ENV_DATA_DIR} is not set and no {{}} was given)"
    head = f"dataset {name!r} is not available: {tried}. To get it, "
    return DataSourceError(head.format("data_dir") + how_to_get(name) + ".",
                           cli_message=head.format("--data-dir") + how_to_get(name, cli=True) + ".")


def _read(spec: DatasetSpec, path: Path, overrides: dict[str, Any]) -> MaterialTable:
    kwargs = {**spec.reader_kwargs(), **overrides}
    if spec.reader == "extxyz":
        return read_extxyz(path, name=spec.name, **kwargs)
    if spec.reader == "matbench_json":
        return read_matbench_json(path, **kwargs)
    return read_table(path, name=spec.name, **kwargs)


def _read_package(spec: DatasetSpec, root: Path, overrides: dict[str, Any]) -> MaterialTable:
    """A dataset from the copy in an installed package: its original files, converted in memory."""
    assert spec.origin is not None and spec.origin.converter is not None
    files = []
    for source_file in spec.origin.files:
        member = _package_member(root, source_file)
        assert member is not None
        files.append((source_file.role, member.read_bytes()))
    content = spec.origin.converter(files)
    kwargs = {**spec.reader_kwargs(), **overrides}
    df = pd.read_csv(io.BytesIO(content), keep_default_na=False, na_values=[""], nrows=kwargs.pop("nrows", None))
    return table_from_frame(df, source=f"{root / spec.origin.package}::{spec.path}", name=spec.name, **kwargs)


def _read_builtin(spec: DatasetSpec, overrides: dict[str, Any]) -> MaterialTable:
    path = _builtin_path(spec)
    assert path is not None
    kwargs = {**spec.reader_kwargs(), **overrides}
    nrows = kwargs.pop("nrows", None)
    df = read_matminer_transport(path, nrows=nrows)
    return table_from_frame(df, source=f"{path}::transport_database.csv", name=spec.name, **kwargs)
