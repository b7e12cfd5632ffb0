"""Where every registered dataset comes from and how a user gets it (see ``shared/data/SOURCES.md``).

An :class:`Origin` names the original public source (URLs, DOI, license) and one of three ways to get it:

- ``"fetch"``: ``metamat data fetch NAME`` downloads the original files (:class:`SourceFile`, each with
  alternative :class:`Remote` locations tried in order, pinned SHA-256 where known), converts them to the
  layout the registry reads and checks the SHA-256 of the result where it is pinned. GitHub files whose
  SHA-256 was not known offline are pinned by commit in the URL and their SHA-256 is recorded on first
  download (:mod:`metamat.data.sources.recorded`), then verified on every later download;
- ``"package"``: an installed pip package ships a copy that is found automatically;
- ``"manual"``: ``instructions`` say what to download and how to convert it (no built-in dataset is manual
  now; the kind stays for registered datasets of one's own).

CrabNet tables can also come from the ``crabnet`` package (``pip install --no-deps
--ignore-requires-python crabnet==2.0.8``; the wheel declares Python < 3.11 but is pure data here).
URLs are pinned to the commits the shared copies came from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from metamat.data.sources import convert, convert_csv, convert_formats
from metamat.data.sources.matbench import MATBENCH_SHA256  # as matminer 0.10.1 pins them
from metamat.data.sources.pins import CONTENT_SHA256, RAW_SHA256, SIZE

HOWS = ("fetch", "package", "manual")

CRABNET_COMMIT = "457b4d4835737ecbe4dd33e53174bd818bd82143"
CRABNET_RAW = f"https://raw.githubusercontent.com/anthony-wang/CrabNet/{CRABNET_COMMIT}/data"
CRABNET_WHEEL = ("https://files.pythonhosted.org/packages/7d/66/2b1c538d419b62c67226ee02d01167a3721e3f2b127fe10726b7"
                 "383ef834/crabnet-2.0.8-py3-none-any.whl")
CRABNET_WHEEL_SHA256 = "4901565abaa5b4cd1a7841b9de647a3906df21676b226a7abf972d113f92054a"
ROOST_RAW = "https://raw.githubusercontent.com/CompRhys/roost/{commit}/data/datasets/{file}"
CDVAE_RAW = "https://raw.githubusercontent.com/txie-93/cdvae/{commit}/data/{path}"
MATBENCH_FILES = "https://ml.materialsproject.org/projects/matbench_{task}.json.gz"

Converter = Callable[[Sequence[tuple[str, bytes]]], bytes]


@dataclass(frozen=True)
class Remote:
    """One place to download a file: ``url`` (its SHA-256 if pinned), or member ``member`` of the zip
    archive (a wheel) at ``url``, whose own SHA-256 is ``member_sha256``."""

    url: str
    sha256: str | None = None
    member: str | None = None
    member_sha256: str | None = None


@dataclass(frozen=True)
class SourceFile:
    """One original file (``role``: e.g. ``"train"``) and the places to get it, tried in order."""

    role: str
    remotes: tuple[Remote, ...]


@dataclass(frozen=True)
class Origin:
    """Where a dataset comes from and how to get it (see the module docstring)."""

    sources: tuple[str, ...]  # URLs of the original public source (repository at a commit, database page)
    doi: str
    license: str
    how: str
    instructions: str = ""
    files: tuple[SourceFile, ...] = ()
    converter: Converter | None = field(default=None, compare=False)
    content_sha256: str | None = None  # of the converted file, uncompressed
    size: int | None = None  # bytes to download
    package: str | None = None  # pip package that ships a copy

    def __post_init__(self) -> None:
        if self.how not in HOWS:
            raise ValueError(f"how must be one of {HOWS}")
        if self.how == "fetch" and not (self.files and self.converter):
            raise ValueError("a fetchable origin needs files and a converter")

    @property
    def pinned(self) -> bool:
        """True when the result is checked against SHA-256 sums written here (of the converted file, or of
        every original file); False when the originals' sums are recorded on first download
        (:mod:`metamat.data.sources.recorded`)."""
        return self.content_sha256 is not None or all(
            r.sha256 is not None for f in self.files for r in f.remotes)

    @property
    def checksums(self) -> str:
        """How downloads are verified, in words (for ``metamat data list``/``fetch``)."""
        return "pinned" if self.pinned else "recorded on first download"


# --- CrabNet benchmark tables and matbench composition tables ----------------------------------------
CRABNET_DOI = "10.1038/s41524-021-00545-1"
BARTEL_DOI = "10.1038/s41524-020-0362-y"
MATBENCH_DOI = "10.1038/s41524-020-00406-3"
CRABNET_HOW = ("`metamat data fetch {name}` (CrabNet's train/val/test CSVs merged, split kept in column 'split'), "
               "or install the crabnet package: pip install --no-deps --ignore-requires-python crabnet==2.0.8")
def _crabnet_file(path: str) -> tuple[Remote, ...]:
    """GitHub raw file, then the same file inside the crabnet 2.0.8 wheel (35 MB; used only when GitHub fails
    or serves other bytes -- e.g. the 3 OQMD train files the shared copy took from the wheel); ``path`` below
    ``data/``."""
    sha = RAW_SHA256[path]
    github = Remote(f"{CRABNET_RAW}/{path}", sha)
    wheel = Remote(CRABNET_WHEEL, CRABNET_WHEEL_SHA256, member=f"crabnet/data/{path}", member_sha256=sha)
    return github, wheel


def crabnet_origin(prop: str) -> Origin:
    """The origin of CrabNet benchmark table ``prop`` (e.g. ``"aflow__Egap"``)."""
    doi = CRABNET_DOI + (f"; {BARTEL_DOI}" if prop.startswith("CritExam") else "")
    files = tuple(SourceFile(split, _crabnet_file(f"benchmark_data/{prop}/{split}.csv"))
                  for split in ("train", "val", "test"))
    return Origin(
        sources=(f"https://github.com/anthony-wang/CrabNet/tree/{CRABNET_COMMIT}/data/benchmark_data/{prop}",
                 "https://pypi.org/project/crabnet/2.0.8/"),
        doi=doi, license="MIT (CrabNet); data from AFLOW, Materials Project, OQMD, Bartel et al.", how="fetch",
        instructions=CRABNET_HOW.format(name=prop), files=files, converter=convert.merge_splits,
        content_sha256=CONTENT_SHA256[prop], size=SIZE[prop], package="crabnet")


#: matbench task -> CrabNet file name (data/matbench/<file>.csv)
CRABNET_MATBENCH = {"perovskites": "castelli", "dielectric": "dielectric", "log_gvrh": "elasticity_log10(G_VRH)",
                    "log_kvrh": "elasticity_log10(K_VRH)", "expt_gap": "expt_gap", "expt_is_metal": "expt_is_metal",
                    "glass": "glass", "jdft2d": "jdft2d", "mp_e_form": "mp_e_form", "mp_gap": "mp_gap",
                    "mp_is_metal": "mp_is_metal", "phonons": "phonons", "steels": "steels_yield"}


def matbench_origin(task: str) -> Origin:
    """The origin of the composition table ``matbench_<task>`` (CrabNet's copy, official row order)."""
    path = f"matbench/{CRABNET_MATBENCH[task]}.csv"
    remotes = _crabnet_file(path)
    if task == "expt_gap":  # the wheel's copy writes 0 for 0.0: other bytes, same values; GitHub's is pinned
        remotes = remotes[:1]
    name = f"matbench_{task}"
    return Origin(
        sources=(f"https://github.com/anthony-wang/CrabNet/blob/{CRABNET_COMMIT}/data/{path}",
                 MATBENCH_FILES.format(task=task)),
        doi=MATBENCH_DOI, license="MIT (CrabNet copy); matbench: modified BSD", how="fetch",
        instructions=(f"`metamat data fetch {name}` (CrabNet's copy of the official file, formulas only), or "
                      f"install crabnet (see CrabNet tables). The official matbench file with structures: "
                      f"{MATBENCH_FILES.format(task=task)} (metamat.data.sources.load_matbench)."),
        files=(SourceFile("table", remotes),), converter=convert.copy, content_sha256=CONTENT_SHA256[name],
        size=SIZE[name], package="crabnet")


# --- roost, matminer, GitHub snapshots and the matbench structure file ----------------------------------
def _roost(name: str, commit: str, file: str, expected: str, header: str, doi: str) -> Origin:
    return Origin(
        sources=(f"https://github.com/CompRhys/roost/blob/{commit}/data/datasets/{file}",),
        doi=doi, license="MIT (CompRhys/roost)", how="fetch",
        instructions=f"`metamat data fetch {name}` (the roost CSV with its header renamed to {header})",
        files=(SourceFile("table", (Remote(ROOST_RAW.format(commit=commit, file=file)),)),),
        converter=convert.rename_header(expected, header), content_sha256=CONTENT_SHA256[name], size=SIZE[name])


def _github(name: str, repo: str, commit: str, files: tuple[tuple[str, str], ...], converter: Converter,
            extra_sources: tuple[str, ...], doi: str, license: str, what: str) -> Origin:
    """A dataset converted from files of GitHub repository ``repo`` at ``commit`` (raw URLs pinned to the
    commit; their SHA-256 is recorded on first download, see :mod:`metamat.data.sources.recorded`)."""
    remotes = tuple(SourceFile(role, (Remote(f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"),))
                    for role, path in files)
    folder = files[0][1].rsplit("/", 1)[0] if "/" in files[0][1] else ""
    return Origin(
        sources=(f"https://github.com/{repo}/tree/{commit}/{folder}".rstrip("/"), *extra_sources),
        doi=doi, license=license, how="fetch",
        instructions=(f"`metamat data fetch {name}`: {what}. GitHub files at commit {commit[:8]}; their SHA-256 is "
                      "recorded on first download and checked on later ones." + _SOURCES_MD),
        files=remotes, converter=converter)


def _splits(folder: str, splits: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((split, f"{folder}/{split}.csv") for split in splits)


_SOURCES_MD = (" The path is relative to the data directory ($METAMAT_DATA_DIR, or the user data directory "
               "~/.local/share/metamat).")
CDVAE_REPO = "txie-93/cdvae"
CDVAE_COMMIT = "f857f598d6f6cca5dc1ea0582d228f12dcc2c2ea"
CDVAE_SUPERCON_COMMIT = "840cd7050f711e9e58a8fbbb1d5e3aa3bab70599"  # data/supercon is absent at later commits
C2DB_REPO = "samiraoliveiraa/bg_c2db_nn"
C2DB_COMMIT = "b52a1b286cdc4775a4899e1a303b89cd9a575ac7"
#: columns the registry reads (formula, id, targets)
C2DB_COLUMNS = ("Formula", "Unique identifier", "Band gap", "Band gap (HSE06)", "Band gap (G₀W₀)",
                "Heat of formation", "Energy above convex hull", "Work function (avg. if finite dipole)")
TWODMATPEDIA_REPO = "Franklalalala/learn_2dmatpedia"
TWODMATPEDIA_COMMIT = "c8477c29254c9e9af26a6d21d11d761f5017bd43"
TWODMATPEDIA_DB = "src/learn_2dmatpedia/filtered_2DMat.db"
TWODMATPEDIA_COLUMNS = ("material_id", "formula_pretty", "bandgap", "exfoliation_energy_per_atom",
                        "decomposition_energy", "energy_per_atom", "total_magnetization")


def _other_origins() -> dict[str, Origin]:
    return {
        "ricci_transport": Origin(
            sources=("https://pypi.org/project/matminer/0.10.1/", "https://doi.org/10.5061/dryad.gn001"),
            doi="10.1038/sdata.2017.85", license="BSD-style (LBNL, matminer); upstream data at Dryad",
            how="package", package="matminer",
            instructions="ships in the matminer package (a metamat dependency): nothing to do"),
        "supercon_tc_stanev": _roost("supercon_tc_stanev", "3ddf715496e27affca0c523e50651b28b973b625",
                                     "supercon-tc.csv", ",composition,Tc", "stanev_index,composition,Tc_K",
                                     "10.1038/s41524-018-0085-8"),
        "elpasolite_formation_energy": _roost("elpasolite_formation_energy", "553aeb3883508e26bf1972faaed23fba8a5d8907",
                                              "elpasolite.csv", ",Composition,Energy",
                                              "orig_index,composition,formation_energy",
                                              "10.1103/PhysRevLett.117.135502"),
        "mp_poisson_ratio": _roost("mp_poisson_ratio", "6641bcb2ba01a6e47226491938157250027bbced", "poisson.csv",
                                   "id,composition,poisson", "mp_id,composition,poisson_ratio",
                                   "10.1038/sdata.2015.9"),
        "c2db": _github(
            "c2db", C2DB_REPO, C2DB_COMMIT, (("table", "C2DB_full.csv"),),
            convert_csv.c2db_table(C2DB_COLUMNS), ("https://cmr.fysik.dtu.dk/c2db/c2db.html",),
            "10.1088/2053-1583/aacfc1; 10.1088/2053-1583/ac1059", "not stated in the source repository (C2DB terms)",
            "the C2DB web-table export C2DB_full.csv with the trailing ' ✕' stripped from column names and '-' "
            "cells emptied"),
        "2dmatpedia": _github(
            "2dmatpedia", TWODMATPEDIA_REPO, TWODMATPEDIA_COMMIT, (("database", TWODMATPEDIA_DB),),
            convert_formats.ase_db_properties("material_id", TWODMATPEDIA_COLUMNS), ("http://www.2dmatpedia.org/",),
            "10.1038/s41597-019-0097-3", "MIT (learn_2dmatpedia); upstream not verified",
            "the ASE database filtered_2DMat.db read with ase.db (no pickle), its rows' properties as a CSV"),
        "2dmatpedia_structures": _github(
            "2dmatpedia_structures", TWODMATPEDIA_REPO, TWODMATPEDIA_COMMIT, (("database", TWODMATPEDIA_DB),),
            convert_formats.ase_db_extxyz("material_id", TWODMATPEDIA_COLUMNS), ("http://www.2dmatpedia.org/",),
            "10.1038/s41597-019-0097-3", "MIT (learn_2dmatpedia); upstream not verified",
            "the ASE database filtered_2DMat.db read with ase.db (no pickle), written as extxyz with each row's "
            "properties in the frame info"),
        "jarvis_epc_tc": _github(
            "jarvis_epc_tc", CDVAE_REPO, CDVAE_SUPERCON_COMMIT,
            _splits("data/supercon", ("train", "val", "test")),
            convert_csv.cdvae_splits(("material_id", "cif", "prop"), negate=("prop", "Tc_K")),
            ("https://jarvis.nist.gov/",), "10.1038/s41524-022-00933-1", "MIT (cdvae)",
            "cdvae's data/supercon/{train,val,test}.csv merged with a 'split' column, Tc_K = -prop added"),
        "perov_5": _github(
            "perov_5", CDVAE_REPO, CDVAE_COMMIT, _splits("data/perov_5", ("val", "test")),
            convert_csv.cdvae_splits(("material_id", "cif", "formula", "heat_all", "heat_ref", "dir_gap", "ind_gap")),
            (), "10.1039/C2EE22341D; 10.1039/C1EE02717D", "MIT (cdvae)",
            "cdvae's data/perov_5/{val,test}.csv merged with a 'split' column (train.csv is not used: the registry "
            "file is val + test, as the shared copy)"),
        "carbon_24": _github(
            "carbon_24", CDVAE_REPO, CDVAE_COMMIT, _splits("data/carbon_24", ("val", "test")),
            convert_csv.cdvae_splits(("material_id", "cif", "energy_per_atom")),
            ("https://archive.materialscloud.org/record/2020.0026/v1",), "10.24435/materialscloud:2020.0026/v1",
            "MIT (cdvae)", "cdvae's data/carbon_24/{val,test}.csv merged with a 'split' column (train.csv is not used: "
            "the registry file is val + test, as the shared copy)"),
        "matbench_jdft2d_structures": Origin(
            sources=(MATBENCH_FILES.format(task="jdft2d"), "https://matbench.materialsproject.org/",
                     "https://github.com/emotionor/ecif/blob/e5f712b3c2580a1d3f96b8eb9a9758359e36bfba/example/"
                     "mb-jdft2d.ecif"),
            doi=MATBENCH_DOI, license="matbench: modified BSD (the partial 508-entry copy: MIT, emotionor/ecif)",
            how="fetch",
            instructions=("`metamat data fetch matbench_jdft2d_structures` (the official matbench file, all 636 "
                          "structures, SHA-256 pinned as in matminer's dataset metadata; written as CSV "
                          "matbench_id,row_index,exfoliation_en,cif with pymatgen P1 CIFs). The 508-entry partial "
                          "copy (matbench_jdft2d_structures_partial/) is read too when the full file is absent."
                          + _SOURCES_MD),
            files=(SourceFile("official", (Remote(MATBENCH_FILES.format(task="jdft2d"), MATBENCH_SHA256["jdft2d"]),)),),
            converter=convert_formats.matbench_structures_csv("exfoliation_en")),
    }


def all_origins(crabnet_props: Sequence[str], matbench_tasks: Sequence[str]) -> dict[str, Origin]:
    """Origins of every built-in dataset, keyed by dataset name."""
    origins = {prop: crabnet_origin(prop) for prop in crabnet_props}
    origins.update({f"matbench_{task}": matbench_origin(task) for task in matbench_tasks})
    origins.update(_other_origins())
    return origins
