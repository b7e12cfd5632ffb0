"""Online sources: everything is read from cache files written here; the network is disabled."""

from __future__ import annotations

import gzip
import importlib.util
import json
import zipfile

import numpy as np
import pytest
import requests

from metamat.data.sources import cache as cache_mod
from metamat.data.sources.cache import atomic_write, fetch
from metamat.data.sources.jarvis import JARVIS_DATASETS, load_jarvis
from metamat.data.sources.matbench import load_matbench, matbench_id
from metamat.data.sources.materials_project import load_materials_project, mp_cache_path, write_mp_cache
from metamat.errors import DataSourceError


class FakeResponse:
    def __init__(self, chunks, fail_after=None):
        self.chunks, self.fail_after = chunks, fail_after

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def raise_for_status(self):
        pass

    def iter_content(self, size):
        for k, chunk in enumerate(self.chunks):
            if self.fail_after is not None and k >= self.fail_after:
                raise requests.ConnectionError("connection reset")
            yield chunk


def test_fetch_uses_the_cache_without_network(cache_dir, no_network):
    (cache_dir / "f.bin").write_bytes(b"cached")
    assert fetch("https://example.invalid/f.bin", "f.bin").read_bytes() == b"cached"
    assert no_network == []


def test_fetch_offline_names_the_path(cache_dir, no_network):
    with pytest.raises(DataSourceError) as err:
        fetch("https://example.invalid/g.bin", "g.bin")
    assert str(cache_dir / "g.bin") in str(err.value) and "METAMAT_CACHE_DIR" in str(err.value)
    assert len(no_network) == 1


def test_fetch_downloads_atomically(cache_dir, monkeypatch):
    monkeypatch.setattr(requests, "get", lambda *a, **k: FakeResponse([b"ab", b"cd"]))
    assert fetch("https://x/y", "y.bin").read_bytes() == b"abcd"
    monkeypatch.setattr(requests, "get", lambda *a, **k: FakeResponse([b"ab", b"cd"], fail_after=1))
    with pytest.raises(DataSourceError, match="connection reset"):
        fetch("https://x/z", "z.bin")
    assert sorted(p.name for p in cache_dir.iterdir()) == ["y.bin"]  # no partial file left behind


def test_atomic_write_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target, "w") as fh:
        fh.write("new")
        raise RuntimeError("boom")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_cache_dir_from_env_and_bad_names(cache_dir):
    assert cache_mod.cache_dir() == cache_dir
    with pytest.raises(ValueError):
        cache_mod.cached_path("../escape")


def test_load_matbench_from_cache(cache_dir, no_network, small_structures):
    ids = [matbench_id("dielectric", k) for k in (1, 2, 3)]
    assert ids[0] == "mb-dielectric-0001"
    with gzip.open(cache_dir / "matbench_dielectric.json.gz", "wt") as fh:
        json.dump({"index": ids, "columns": ["structure", "n"],
                   "data": [[s.as_dict(), n] for s, n in zip(small_structures, [3.4, 1.5, 3.3], strict=True)]}, fh)
    t = load_matbench("matbench_dielectric")
    assert no_network == [] and list(t.ids) == ids and t.target("n").tolist() == [3.4, 1.5, 3.3]
    assert t.targets["n"].quantity == "refractive index" and t.metadata["citation"].startswith("A. Dunn")
    assert [s.composition.reduced_formula for s in t.structures] == ["Si", "NaCl", "GaAs"]
    with pytest.raises(ValueError, match="unknown matbench task"):
        load_matbench("matbench_nope")


def jarvis_record(jid, lattice, elements, coords, cartesian, **props):
    return {"jid": jid, "formula": "".join(elements), "spg_number": 227, "kpoints_array": [1, 2, 3],
            "atoms": {"lattice_mat": lattice, "coords": coords, "elements": elements, "cartesian": cartesian},
            **props}


def test_load_jarvis_from_cache_with_na(cache_dir, no_network):
    a = 5.43
    cubic = [[a, 0, 0], [0, a, 0], [0, 0, a]]
    records = [
        jarvis_record("JVASP-1", cubic, ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]], False,
                      optb88vdw_bandgap=0.73, formation_energy_peratom=0.0),
        jarvis_record("JVASP-2", cubic, ["Ga", "As"], [[0, 0, 0], [a / 4, a / 4, a / 4]], True,
                      optb88vdw_bandgap="na", formation_energy_peratom=-0.4),
        jarvis_record("JVASP-3", cubic, ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]], False,
                      optb88vdw_bandgap="na", formation_energy_peratom="na"),
    ]
    with zipfile.ZipFile(cache_dir / JARVIS_DATASETS["dft_3d"][1], "w") as zf:
        zf.writestr("jdft_3d-12-12-2022.json", json.dumps(records))
    t = load_jarvis("dft_3d")
    assert no_network == []
    assert list(t.ids) == ["JVASP-1", "JVASP-2"] and set(t.targets) == {"optb88vdw_bandgap", "formation_energy_peratom"}
    assert np.isnan(t.target("optb88vdw_bandgap")[1]) and t.target("formation_energy_peratom")[1] == -0.4
    assert {(p.row, p.field) for p in t.report.rejected} == {(3, "optb88vdw_bandgap"), (3, "formation_energy_peratom")}
    gaas = t.structures[1]
    np.testing.assert_allclose(gaas.frac_coords[1], [0.25, 0.25, 0.25])  # cartesian coordinates converted
    assert t.targets["optb88vdw_bandgap"].unit == "eV" and "kpoints_array" not in t.data.columns
    only_gap = load_jarvis("dft_3d", targets=["optb88vdw_bandgap"])
    assert list(only_gap.ids) == ["JVASP-1"]


def test_materials_project_from_cache_without_key_or_mp_api(cache_dir, no_network, monkeypatch, small_structures):
    monkeypatch.delenv("MP_API_KEY", raising=False)
    fields = ["band_gap", "structure", "bulk_modulus"]
    criteria = {"elements": ["Si"], "band_gap": (0.1, 5.0)}
    records = [{"material_id": f"mp-{k}", "formula_pretty": s.composition.reduced_formula, "band_gap": gap,
                "bulk_modulus": {"voigt": 100.0, "vrh": kvrh}, "structure": s.as_dict()}
               for k, (s, gap, kvrh) in enumerate(zip(small_structures, [0.6, 5.0, 1.4], [98.0, 24.0, 75.0],
                                                      strict=True))]
    write_mp_cache(mp_cache_path(fields, criteria), fields, criteria, records)
    t = load_materials_project(fields, **criteria)
    assert list(t.ids) == ["mp-0", "mp-1", "mp-2"] and t.has_structures
    assert t.target("band_gap").tolist() == [0.6, 5.0, 1.4] and t.target("bulk_modulus.vrh").tolist()[0] == 98.0
    assert t.targets["bulk_modulus.vrh"].unit == "GPa"
    # same query, criteria in another order -> same cache file
    assert mp_cache_path(fields[::-1], dict(reversed(criteria.items()))) == mp_cache_path(fields, criteria)


def test_materials_project_without_cache_explains_what_is_missing(cache_dir, no_network, monkeypatch):
    monkeypatch.delenv("MP_API_KEY", raising=False)
    with pytest.raises(DataSourceError, match="MP_API_KEY"):
        load_materials_project(["band_gap"], elements=["Fe"])
    if importlib.util.find_spec("mp_api") is None:
        monkeypatch.setenv("MP_API_KEY", "dummy")
        with pytest.raises(DataSourceError, match="pip install"):
            load_materials_project(["band_gap"], elements=["Fe"])
