"""Where every registered dataset comes from and how a user gets it (see ``shared/data/SOURCES.md``).

An :class:`Origin` names the original public source (URLs, DOI, license) and one of three ways to get it:

- ``"fetch"``: ``metamat data fetch NAME`` downloads the original files (:class:`SourceFile`, each with
  alternative :class:`Remote` locations tried in order, pinned SHA-256 where known), converts them to the
  layout the registry reads and checks the SHA-256 of the result;
- ``"package"``: an installed pip package ships a copy that is found automatically;
- ``"manual"``: ``instructions`` say what to download and how to convert it.

CrabNet tables can also come from the ``crabnet`` package (``pip install --no-deps
--ignore-requires-python crabnet==2.0.8``; the wheel declares Python < 3.11 but is pure data here).
URLs are pinned to the commits the shared copies came from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from metamat.data.sources import convert
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
        if self.how == "fetch" and not (self.files and self.converter and self.content_sha256):
            raise ValueError("a fetchable origin needs files, a converter and content_sha256")


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


# --- roost, matminer and the manual ones ----------------------------------------------------------------
def _roost(name: str, commit: str, file: str, expected: str, header: str, doi: str) -> Origin:
    return Origin(
        sources=(f"https://github.com/CompRhys/roost/blob/{commit}/data/datasets/{file}",),
        doi=doi, license="MIT (CompRhys/roost)", how="fetch",
        instructions=f"`metamat data fetch {name}` (the roost CSV with its header renamed to {header})",
        files=(SourceFile("table", (Remote(ROOST_RAW.format(commit=commit, file=file)),)),),
        converter=convert.rename_header(expected, header), content_sha256=CONTENT_SHA256[name], size=SIZE[name])


def _manual(sources: tuple[str, ...], doi: str, license: str, instructions: str) -> Origin:
    return Origin(sources=sources, doi=doi, license=license, how="manual", instructions=instructions)


_SOURCES_MD = (" The path is relative to the data directory ($METAMAT_DATA_DIR, or the user data directory "
               "~/.local/share/metamat).")
CDVAE_COMMIT = "f857f598d6f6cca5dc1ea0582d228f12dcc2c2ea"


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
        "c2db": _manual(
            ("https://github.com/samiraoliveiraa/bg_c2db_nn/blob/b52a1b286cdc4775a4899e1a303b89cd9a575ac7/C2DB_full.csv",
             "https://cmr.fysik.dtu.dk/c2db/c2db.html"),
            "10.1088/2053-1583/aacfc1; 10.1088/2053-1583/ac1059", "not stated in the source repository (C2DB terms)",
            "manual: download C2DB_full.csv, strip the trailing ' ✕' from column names, turn '-' into empty "
            "cells, save as c2db_table_export/c2db_table_export.csv.gz." + _SOURCES_MD),
        "2dmatpedia": _manual(
            ("https://github.com/Franklalalala/learn_2dmatpedia/blob/c8477c29254c9e9af26a6d21d11d761f5017bd43/src/"
             "learn_2dmatpedia/filtered_2DMat.db", "http://www.2dmatpedia.org/"),
            "10.1038/s41597-019-0097-3", "MIT (learn_2dmatpedia); upstream not verified",
            "manual: read filtered_2DMat.db with ase.db and write its key-value pairs as "
            "2dmatpedia_subset/2dmatpedia_subset_properties.csv.gz." + _SOURCES_MD),
        "2dmatpedia_structures": _manual(
            ("https://github.com/Franklalalala/learn_2dmatpedia/blob/c8477c29254c9e9af26a6d21d11d761f5017bd43/src/"
             "learn_2dmatpedia/filtered_2DMat.db",),
            "10.1038/s41597-019-0097-3", "MIT (learn_2dmatpedia); upstream not verified",
            "manual: read filtered_2DMat.db with ase.db and write the structures with their properties as extxyz "
            "2dmatpedia_subset/2dmatpedia_subset_structures.extxyz.gz." + _SOURCES_MD),
        "jarvis_epc_tc": _manual(
            ("https://github.com/txie-93/cdvae/tree/840cd7050f711e9e58a8fbbb1d5e3aa3bab70599/data/supercon",
             "https://jarvis.nist.gov/"),
            "10.1038/s41524-022-00933-1", "MIT (cdvae)",
            "manual: merge data/supercon/{train,val,test}.csv of cdvae @ 840cd705 with a 'split' column and add "
            "Tc_K = -prop, save as jarvis_epc_supercon_tc/jarvis_epc_supercon_tc.csv.gz." + _SOURCES_MD),
        "perov_5": _manual(
            (f"https://github.com/txie-93/cdvae/tree/{CDVAE_COMMIT}/data/perov_5",),
            "10.1039/C2EE22341D; 10.1039/C1EE02717D", "MIT (cdvae)",
            "manual: merge data/perov_5/{val,test}.csv of cdvae with a 'split' column, save as "
            "cdvae_perov_5/perov_5_val_test.csv.gz." + _SOURCES_MD),
        "carbon_24": _manual(
            (f"https://github.com/txie-93/cdvae/tree/{CDVAE_COMMIT}/data/carbon_24",
             "https://archive.materialscloud.org/record/2020.0026/v1"),
            "10.24435/materialscloud:2020.0026/v1", "MIT (cdvae)",
            "manual: merge data/carbon_24/{val,test}.csv of cdvae with a 'split' column, save as "
            "cdvae_carbon_24/carbon_24_val_test.csv.gz." + _SOURCES_MD),
        "matbench_jdft2d_structures": _manual(
            ("https://github.com/emotionor/ecif/blob/e5f712b3c2580a1d3f96b8eb9a9758359e36bfba/example/mb-jdft2d.ecif",
             MATBENCH_FILES.format(task="jdft2d")),
            MATBENCH_DOI, "MIT (emotionor/ecif); matbench: modified BSD",
            "manual: the official file with all 636 structures loads with "
            "metamat.data.sources.load_matbench('jdft2d') (network); the 508-entry CSV is converted from the ECIF "
            "file as SOURCES.md describes." + _SOURCES_MD),
    }


def all_origins(crabnet_props: Sequence[str], matbench_tasks: Sequence[str]) -> dict[str, Origin]:
    """Origins of every built-in dataset, keyed by dataset name."""
    origins = {prop: crabnet_origin(prop) for prop in crabnet_props}
    origins.update({f"matbench_{task}": matbench_origin(task) for task in matbench_tasks})
    origins.update(_other_origins())
    return origins
