"""Matbench v0.1 datasets from the official download URL, cached locally.

``load_matbench("dielectric")`` downloads ``https://ml.materialsproject.org/projects/matbench_dielectric.json.gz``
once (to the cache, see :mod:`metamat.data.sources.cache`) and reads it with
:func:`~metamat.data.readers.read_matbench_json`. Units and quantities come from
:data:`metamat.data.matbench_tasks.MATBENCH_TASKS`.
"""

from __future__ import annotations

import os

from metamat.data.matbench_tasks import MATBENCH_CITATION, MATBENCH_TASKS, matbench_id, task_name
from metamat.data.readers import read_matbench_json
from metamat.data.sources.cache import fetch
from metamat.data.table import MaterialTable

__all__ = ["MATBENCH_URL", "load_matbench", "matbench_id"]

MATBENCH_URL = "https://ml.materialsproject.org/projects/matbench_{task}.json.gz"


def load_matbench(task: str, cache_dir: str | os.PathLike | None = None, *, url: str | None = None
                  ) -> MaterialTable:
    """Load a matbench v0.1 task (downloaded once into the cache; no network when the cache holds it)."""
    short = task_name(task)
    path = fetch(url or MATBENCH_URL.format(task=short), f"matbench_{short}.json.gz", cache_dir=cache_dir)
    table = read_matbench_json(path)
    table.metadata.update({"dataset": f"matbench_{short}", "citation": MATBENCH_CITATION,
                           "license": "modified BSD (matbench)", "description": MATBENCH_TASKS[short].description})
    return table
