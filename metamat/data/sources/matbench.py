"""Matbench v0.1 datasets from the official download URL, cached locally.

``load_matbench("dielectric")`` downloads ``https://ml.materialsproject.org/projects/matbench_dielectric.json.gz``
once (to the cache, see :mod:`metamat.data.sources.cache`; resumable, retried, SHA-256 checked against
:data:`MATBENCH_SHA256`) and reads it with :func:`~metamat.data.readers.read_matbench_json`. Units and
quantities come from :data:`metamat.data.matbench_tasks.MATBENCH_TASKS`.
"""

from __future__ import annotations

import os

from metamat.data.matbench_tasks import MATBENCH_CITATION, MATBENCH_TASKS, matbench_id, task_name
from metamat.data.readers import read_matbench_json
from metamat.data.sources.cache import cached_path
from metamat.data.sources.download import Progress, download, mirrored
from metamat.data.table import MaterialTable

__all__ = ["MATBENCH_SHA256", "MATBENCH_URL", "load_matbench", "matbench_id"]

MATBENCH_URL = "https://ml.materialsproject.org/projects/matbench_{task}.json.gz"

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
