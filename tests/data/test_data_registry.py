"""The dataset registry, on the shared data folder (row counts from SOURCES.md) and on built-in data."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Composition

from metamat.data.registry import (
    data_dir,
    dataset_available,
    get_spec,
    list_datasets,
    load_dataset,
)
from metamat.errors import DataSourceError, InputError

# Data rows per file, copied from shared/data/SOURCES.md (the independent reference).
SOURCES_ROWS = {
    "aflow__Egap": 27577, "aflow__energy_atom": 27579, "aflow__ael_bulk_modulus_vrh": 4896,
    "aflow__ael_shear_modulus_vrh": 4896, "aflow__ael_debye_temperature": 4896,
    "aflow__agl_thermal_conductivity_300K": 4887, "aflow__agl_thermal_expansion_300K": 4886,
    "mp_bulk_modulus": 6307, "mp_shear_modulus": 6184, "mp_elastic_anisotropy": 6331, "mp_e_hull": 56662,
    "mp_mu_b": 56662, "CritExam__Ef": 85014, "CritExam__Ed": 85014, "OQMD_Bandgap": 341608,
    "OQMD_Energy_per_atom": 341700, "OQMD_Formation_Enthalpy": 341700, "OQMD_Volume_per_atom": 341700,
    "matbench_perovskites": 18928, "matbench_dielectric": 4764, "matbench_log_gvrh": 10987,
    "matbench_log_kvrh": 10987, "matbench_expt_gap": 4604, "matbench_expt_is_metal": 4921, "matbench_glass": 5680,
    "matbench_jdft2d": 636, "matbench_mp_e_form": 132752, "matbench_mp_gap": 106113, "matbench_mp_is_metal": 106113,
    "matbench_phonons": 1265, "matbench_steels": 312,
    "ricci_transport": 47737, "supercon_tc_stanev": 11471, "elpasolite_formation_energy": 10590,
    "mp_poisson_ratio": 1113, "c2db": 4034, "2dmatpedia": 1224, "2dmatpedia_structures": 1224,
    "jarvis_epc_tc": 1056, "perov_5": 7572, "carbon_24": 4062, "matbench_jdft2d_structures": 508,
}
# Rows rejected on purpose (checked by hand in the files): an empty formula; amounts of zero ("Bi0", "Nd0").
DOCUMENTED_REJECTIONS = {"mp_e_hull": {14748: "bad formula"}, "mp_mu_b": {14748: "bad formula"},
                         "supercon_tc_stanev": {2883: "bad formula", 3246: "bad formula"}}
BIG = {"OQMD_Bandgap", "OQMD_Energy_per_atom", "OQMD_Formation_Enthalpy", "OQMD_Volume_per_atom", "CritExam__Ef",
       "CritExam__Ed", "matbench_mp_e_form", "matbench_mp_gap", "matbench_mp_is_metal"}


def test_catalogue_is_complete_and_documented():
    specs = {s.name: s for s in list_datasets()}
    assert set(specs) == set(SOURCES_ROWS)
    assert sum(n.startswith(("aflow", "mp_", "CritExam", "OQMD")) and n != "mp_poisson_ratio" for n in specs) == 18
    assert sum(n.startswith("matbench_") and n != "matbench_jdft2d_structures" for n in specs) == 13
    for name, spec in specs.items():
        # the fetched official file has all 636 rows; the shared partial copy 508
        assert spec.expected_rows == {"matbench_jdft2d_structures": 636}.get(name, SOURCES_ROWS[name]), name
        assert spec.citation and spec.license and spec.description and spec.targets, name
        assert all(t.name == key for key, t in spec.targets.items())
    assert get_spec("aflow__Egap").targets["target"].unit == "eV"
    assert get_spec("ricci_transport").targets["sigma_p"].transform == "log10"
    assert get_spec("ricci_transport").targets["S_n"].transform == "identity"
    assert get_spec("matbench_glass").targets["target"].kind == "classification"
    assert get_spec("perov_5").kind == "structure" and get_spec("c2db").kind == "composition"
    with pytest.raises(InputError, match="unknown dataset"):
        get_spec("nope")


def test_data_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("METAMAT_DATA_DIR", raising=False)
    assert data_dir() is None
    monkeypatch.setenv("METAMAT_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path and data_dir("/elsewhere") == type(tmp_path)("/elsewhere")


def test_missing_file_raises_a_clear_data_source_error(monkeypatch, tmp_path):
    monkeypatch.delenv("METAMAT_DATA_DIR", raising=False)
    with pytest.raises(DataSourceError, match="METAMAT_DATA_DIR is not set"):
        load_dataset("aflow__Egap")
    assert not dataset_available("aflow__Egap")
    with pytest.raises(DataSourceError) as err:
        load_dataset("aflow__Egap", data_dir=tmp_path)
    text = str(err.value)
    assert str(tmp_path / "crabnet_benchmark" / "aflow__Egap.csv.gz") in text and "METAMAT_DATA_DIR" in text


def test_ricci_transport_loads_from_the_matminer_wheel(monkeypatch):
    monkeypatch.delenv("METAMAT_DATA_DIR", raising=False)
    assert dataset_available("ricci_transport")
    start = time.perf_counter()
    t = load_dataset("ricci_transport")
    elapsed = time.perf_counter() - start
    assert "matminer wheel" in t.report.notes[0] and "not set" in t.report.notes[0]
    assert t.report.n_read == 47737 and t.report.n_used + t.report.n_merged + t.report.n_rejected == 47737
    assert t.targets["PF_p"].unit.startswith("µW") and t.metadata["citation"].startswith("F. Ricci")
    assert elapsed < 15, f"ricci_transport took {elapsed:.1f} s"
    s_p = t.for_target("S_p")
    assert np.isfinite(s_p.target()).all() and len(s_p) == t.report.n_used


def test_ricci_wheel_copy_equals_shared_copy(monkeypatch, shared_data_dir):
    monkeypatch.delenv("METAMAT_DATA_DIR", raising=False)
    wheel = load_dataset("ricci_transport")
    shared = load_dataset("ricci_transport", data_dir=shared_data_dir)
    assert shared.report.notes[0] == f"loaded from {shared_data_dir / get_spec('ricci_transport').path}"
    assert list(wheel.ids) == list(shared.ids)
    for name in wheel.targets:
        np.testing.assert_array_equal(wheel.target(name), shared.target(name))


@pytest.mark.parametrize("name", sorted(set(SOURCES_ROWS) - BIG))
def test_every_registered_dataset_loads(shared_data_dir, name):
    t = load_dataset(name, data_dir=shared_data_dir)
    r = t.report
    assert r.n_read == SOURCES_ROWS[name]
    rejected = {p.row: p.reason.split(":")[0] for p in r.rejected}
    assert rejected == DOCUMENTED_REJECTIONS.get(name, {})
    assert r.n_used == len(t) == SOURCES_ROWS[name] - r.n_rejected - r.n_merged
    assert set(t.targets) == set(get_spec(name).targets) and t.metadata["license"]
    assert t.data["id"].is_unique and len(t) > 0
    if get_spec(name).kind == "structure":
        assert t.has_structures and r.n_merged == 0
    if name.startswith("matbench_") and name != "matbench_jdft2d_structures":
        assert r.n_used == r.n_read  # official rows are all kept


def test_big_datasets_spec_and_cheap_read(shared_data_dir):
    for name in sorted(BIG):
        spec = get_spec(name)
        path = shared_data_dir / spec.path
        assert len(pd.read_csv(path, usecols=[0])) == SOURCES_ROWS[name], name
        t = load_dataset(name, data_dir=shared_data_dir, nrows=500)
        assert t.report.n_read == 500 and set(t.targets) == set(spec.targets)


@pytest.mark.slow
def test_one_big_dataset_full_load(shared_data_dir):
    t = load_dataset("CritExam__Ef", data_dir=shared_data_dir)
    assert t.report.n_read == 85014 and t.report.n_used == 85014 and "split" in t.data.columns


def test_matbench_ids_are_official(shared_data_dir):
    steels = load_dataset("matbench_steels", data_dir=shared_data_dir)
    assert steels.ids[0] == "mb-steels-001" and steels.ids[-1] == "mb-steels-312"
    # the row report says so rather than "no id column; ids generated" (issue 17)
    assert not any("ids generated" in n for n in steels.report.notes)
    assert any("official ids" in n and "mb-steels-001" in n for n in steels.report.notes)
    diel = load_dataset("matbench_dielectric", data_dir=shared_data_dir)
    assert diel.ids[0] == "mb-dielectric-0001" and diel.ids[-1] == "mb-dielectric-4764"
    jd = load_dataset("matbench_jdft2d_structures", data_dir=shared_data_dir)
    assert set(jd.ids) <= {f"mb-jdft2d-{k:03d}" for k in range(1, 637)}


def test_merged_rows_equal_distinct_pymatgen_compositions(shared_data_dir):
    """Independent reference: pymatgen's normalized compositions."""
    for name in ("mp_poisson_ratio", "supercon_tc_stanev"):
        spec = get_spec(name)
        raw = pd.read_csv(shared_data_dir / spec.path)
        bad = {r - 1 for r in DOCUMENTED_REJECTIONS.get(name, {})}
        keys = {tuple(sorted((el.symbol, round(x, 6)) for el, x in Composition(f).fractional_composition.items()))
                for k, f in enumerate(raw[spec.formula_column]) if k not in bad}
        assert load_dataset(name, data_dir=shared_data_dir).report.n_used == len(keys), name


def test_jarvis_epc_drops_negated_target(shared_data_dir):
    t = load_dataset("jarvis_epc_tc", data_dir=shared_data_dir)
    raw = pd.read_csv(shared_data_dir / get_spec("jarvis_epc_tc").path).set_index("material_id")
    assert "prop" not in t.data.columns and "cif" not in t.data.columns
    np.testing.assert_allclose(t.target("Tc_K"), -raw.loc[t.ids, "prop"].to_numpy(), atol=1e-9)


def test_every_registered_file_exists(shared_data_dir):
    missing = [s.path for s in list_datasets()
               if not any((shared_data_dir / p).is_file() for p in (s.path, *s.alt_paths))]
    assert not missing
