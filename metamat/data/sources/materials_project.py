"""Materials Project summary data through ``mp_api`` (optional extra ``metamat[mp]``), cached as JSON.

Every query (fields + criteria) is cached in ``mp_summary_<hash>.json.gz`` under the cache directory, so a
repeated query needs neither the network nor an API key. The key comes from ``api_key=`` or ``MP_API_KEY``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

import pandas as pd

from metamat.data.readers import object_array, table_from_frame
from metamat.data.sources.cache import atomic_write, cached_path
from metamat.data.table import MaterialTable, TargetSpec
from metamat.errors import DataSourceError, InputError

ENV_API_KEY = "MP_API_KEY"
MP_CITATION = ("A. Jain et al., Commentary: The Materials Project: A materials genome approach to accelerating "
               "materials innovation, APL Mater. 1, 011002 (2013).")
REQUIRED_FIELDS = ("material_id", "formula_pretty")

#: Known summary fields (flattened with '.') -> (unit, quantity).
MP_FIELDS: dict[str, tuple[str, str | None]] = {
    "band_gap": ("eV", "band gap"),
    "formation_energy_per_atom": ("eV/atom", "formation energy"),
    "energy_above_hull": ("eV/atom", "energy above hull"),
    "energy_per_atom": ("eV/atom", "total energy per atom"),
    "uncorrected_energy_per_atom": ("eV/atom", "total energy per atom"),
    "equilibrium_reaction_energy_per_atom": ("eV/atom", "decomposition energy"),
    "density": ("g/cm^3", "density"),
    "volume": ("Å^3", "volume"),
    "efermi": ("eV", "Fermi level"),
    "total_magnetization": ("μB", "magnetic moment"),
    "bulk_modulus.vrh": ("GPa", "bulk modulus"),
    "shear_modulus.vrh": ("GPa", "shear modulus"),
    "universal_anisotropy": ("", "elastic anisotropy"),
    "homogeneous_poisson": ("", "Poisson ratio"),
    "n": ("", "refractive index"),
    "e_total": ("", "dielectric constant"),
    "e_ionic": ("", "dielectric constant"),
    "e_electronic": ("", "dielectric constant"),
}
NOT_TARGETS = frozenset({"nsites", "nelements", "symmetry.number", "num_magnetic_sites", "num_unique_magnetic_sites",
                         "database_IDs", "last_updated"})


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (set, frozenset)):
        return sorted(_canonical(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "as_dict"):
        return _canonical(value.as_dict())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def query_fields(fields: Sequence[str]) -> list[str]:
    """The fields actually requested: ``fields`` plus material_id and formula_pretty, sorted, unique."""
    return sorted(set(fields) | set(REQUIRED_FIELDS))


def mp_cache_path(fields: Sequence[str], criteria: Mapping[str, Any],
                  cache_dir: str | os.PathLike | None = None) -> Path:
    """Cache file of a query: ``mp_summary_<first 16 hex of sha256(fields + criteria)>.json.gz``."""
    key = json.dumps({"fields": query_fields(fields), "criteria": _canonical(criteria)}, sort_keys=True)
    return cached_path(f"mp_summary_{hashlib.sha256(key.encode()).hexdigest()[:16]}.json.gz", cache_dir)


def write_mp_cache(path: Path, fields: Sequence[str], criteria: Mapping[str, Any], records: Sequence[Any]) -> None:
    """Write query results atomically (gzip JSON with the query, for inspection)."""
    payload = {"query": {"fields": query_fields(fields), "criteria": _canonical(criteria)},
               "records": _canonical(list(records))}
    with atomic_write(path) as fh, gzip.GzipFile(fileobj=fh, mode="wb") as gz:
        gz.write(json.dumps(payload).encode("utf-8"))


def _query(fields: Sequence[str], criteria: Mapping[str, Any], api_key: str) -> list[Any]:
    try:
        from mp_api.client import MPRester
    except ImportError as exc:
        raise DataSourceError("the Materials Project source needs mp-api: pip install 'metamat[mp]' "
                              "(or put the cached query file in place)") from exc
    try:
        with MPRester(api_key, use_document_model=False, mute_progress_bars=True) as mpr:
            return list(mpr.materials.summary.search(fields=query_fields(fields), **dict(criteria)))
    except Exception as exc:  # noqa: BLE001 - network, auth and API errors all mean "source unavailable"
        raise DataSourceError(f"Materials Project query failed ({type(exc).__name__}: {exc})") from exc


def _flatten(record: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key == "structure":
            continue
        if isinstance(value, Mapping) and not {"@module", "@class"} & set(value):
            for sub, v in value.items():
                if v is None or isinstance(v, (str, int, float, bool)):
                    out[f"{key}.{sub}"] = v
        elif value is None or isinstance(value, (str, int, float, bool)):
            out[key] = value
    return out


def materials_project_table(records: Sequence[Mapping[str, Any]], *, source: str,
                            targets: Sequence[str] | None = None, name: str = "materials_project",
                            duplicates: str = "median") -> MaterialTable:
    """Validate Materials Project summary records (dicts) into a MaterialTable.

    Nested dicts are flattened (``bulk_modulus.vrh``); a ``structure`` dict becomes a pymatgen Structure
    (and then the formula comes from it; polymorphs are kept). ``targets`` defaults to the numeric known
    fields (:data:`MP_FIELDS`) present.
    """
    if not records:
        raise InputError("the query returned no materials", source=source)
    frame = pd.DataFrame.from_records([_flatten(r) for r in records])
    structure_column = None
    if any("structure" in r for r in records):
        frame["structure"] = object_array([r.get("structure") for r in records])
        structure_column = "structure"
    if targets is None:
        targets = [c for c in frame.columns if c in MP_FIELDS and c not in NOT_TARGETS
                   and pd.api.types.is_numeric_dtype(frame[c])]
    missing = [t for t in targets if t not in frame.columns]
    if missing:
        raise InputError(f"fields {missing} are not in the records; fields: {sorted(frame.columns)}", source=source)
    specs = {}
    for t in targets:
        unit, quantity = MP_FIELDS.get(t, ("", None))
        specs[t] = TargetSpec(t, unit, "identity", quantity, f"Materials Project {t}")
    return table_from_frame(frame, source=source, name=name, id_column="material_id",
                            formula_column=None if structure_column else "formula_pretty",
                            structure_column=structure_column, target_columns=specs, duplicates=duplicates)


def load_materials_project(fields: Sequence[str] = ("band_gap",), *, targets: Sequence[str] | None = None,
                           api_key: str | None = None, cache_dir: str | os.PathLike | None = None,
                           refresh: bool = False, **criteria: Any) -> MaterialTable:
    """Query the Materials Project summary endpoint (or its cached result) and return a MaterialTable.

    ``criteria`` go to ``MPRester().materials.summary.search`` (e.g. ``elements=["Si", "O"]``,
    ``band_gap=(0.5, 3)``, ``num_sites=(1, 20)``). The result is cached per (fields, criteria); ``refresh``
    forces a new query. Raises :class:`DataSourceError` when there is no cache and no mp-api or API key.
    """
    path = mp_cache_path(fields, criteria, cache_dir)
    if refresh or not path.is_file():
        key = api_key or os.environ.get(ENV_API_KEY)
        if not key:
            head = f"no cached result for this query ({path}) and no Materials Project API key: set {ENV_API_KEY}"
            tail = " (and install mp-api: pip install 'metamat[mp]')"
            raise DataSourceError(head + " or pass api_key=" + tail, cli_message=head + tail)
        write_mp_cache(path, fields, criteria, _query(fields, criteria, key))
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            records = json.load(fh)["records"]
    except (OSError, ValueError, KeyError) as exc:
        raise DataSourceError(f"cannot read the cached query {path}: {exc}; delete it and retry") from exc
    table = materials_project_table(records, source=str(path), targets=targets)
    table.metadata.update({"dataset": "materials_project", "citation": MP_CITATION,
                           "license": "CC BY 4.0 (Materials Project data)"})
    return table
