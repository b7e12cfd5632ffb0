"""Readers on small files written here and on the shared datasets."""

from __future__ import annotations

import gzip
import json
import warnings

import ase.io
import numpy as np
import pandas as pd
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from ase.calculators.singlepoint import SinglePointCalculator
from pymatgen.core import Lattice, Molecule, Structure
from pymatgen.io.cif import CifParser, CifWriter
from pymatgen.io.vasp import Poscar

from metamat.data.readers import read_cif, read_extxyz, read_matbench_json, read_table
from metamat.data.structure_io import _fast_p1_cif, parse_cif_column, structure_from_cif_text
from metamat.errors import InputError

MESSY_CSV = """id,composition,gap_eV,temperature
a,Si,1.12,300
b,GaAs,<1E-10,300
c,Xx2,1.0,300
d,Fe2O3,2.0,300
e,Fe4O6,2.6,300
f,ZnO,,300
g,MgO,-0.5,300
"""


def problems_by_row(problems):
    return {p.row: p for p in problems}


def test_messy_csv_every_problem_is_reported(tmp_path):
    path = tmp_path / "messy.csv"
    path.write_text(MESSY_CSV)
    t = read_table(path, target_columns=["gap_eV"], units={"gap_eV": "eV"}, quantities={"gap_eV": "band gap"})
    r = t.report
    assert (r.n_read, r.n_used, r.n_rejected, r.n_merged) == (7, 3, 3, 1)
    assert list(t.ids) == ["a", "b", "d"]
    rejected = problems_by_row(r.rejected)  # data rows: header excluded, first data row is 1
    assert rejected[3].field == "composition" and "unknown element 'Xx'" in rejected[3].reason
    assert rejected[6].field == "gap_eV" and rejected[6].reason.startswith("missing value")
    assert rejected[7].field == "gap_eV" and rejected[7].reason.startswith("outside physical range")
    assert all(p.source == str(path) for p in r.rejected)
    flagged = problems_by_row(r.flagged)
    assert flagged[2].reason.startswith("censored value") and flagged[2].value == "<1E-10"
    assert flagged[4].reason.startswith("conflicting duplicates: rows 4, 5")
    assert t.data.loc[t.data.id == "b", "gap_eV__censored"].item() == "<1e-10"
    assert np.isnan(t.data.loc[t.data.id == "b", "gap_eV"].item())
    assert t.data.loc[t.data.id == "d", "gap_eV"].item() == pytest.approx(2.3)
    assert t.data["temperature"].tolist() == [300, 300, 300]  # metadata kept
    assert "formula column guessed: 'composition'" in r.notes and "id column guessed: 'id'" in r.notes
    assert t.targets["gap_eV"].unit == "eV"


def test_column_guessing_notes(tmp_path):
    df = pd.DataFrame({"index": range(5), "material_id": [f"mp-{k}" for k in range(5)],
                       "stuff": ["LiCoO2", "NaCl", "Fe2O3", "(Li0.5La0.5)TiO3", "CuSO4·5H2O"],
                       "split": ["train"] * 5, "y1": np.arange(5.0), "y2": ["1", "2", "<3", "4", "5"],
                       "label": list("abcde")})
    df.to_csv(tmp_path / "g.csv", index=False)
    t = read_table(tmp_path / "g.csv")
    notes = t.report.notes
    assert "id column guessed: 'material_id'" in notes
    assert any(n.startswith("formula column guessed: 'stuff' (100%") for n in notes)
    assert any(n.startswith("target columns guessed: ['y1', 'y2'] (more than one candidate") for n in notes)
    assert list(t.targets) == ["y1", "y2"] and t.data["split"].tolist() == ["train"] * 5


def test_named_missing_column_lists_available_columns(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("formula,y\nSi,1\n")
    with pytest.raises(InputError) as err:
        read_table(path, target_columns=["band_gap"])
    assert err.value.source == str(path) and err.value.field == "band_gap"
    assert "available columns: 'formula', 'y'" in str(err.value)


@pytest.mark.parametrize(("content", "message"), [("", "empty file"), ("formula,y\n", "no data rows")])
def test_empty_files(tmp_path, content, message):
    path = tmp_path / "e.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        read_table(path)


def test_unsupported_and_missing_files(tmp_path):
    (tmp_path / "t.json").write_text("{}")
    with pytest.raises(InputError, match="unsupported table format"):
        read_table(tmp_path / "t.json")
    with pytest.raises(InputError, match="file not found"):
        read_table(tmp_path / "nope.csv")


def test_all_rows_rejected_is_an_input_error_with_every_problem(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("formula,gap\nXx,1\nSi,abc\n")
    with pytest.raises(InputError) as err:
        read_table(path, target_columns="gap")
    assert [(p.row, p.field) for p in err.value.problems] == [(1, "formula"), (2, "gap")]


def test_duplicate_ids_are_an_input_error(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("id,formula,y\na,Si,1\na,Ge,2\n")
    with pytest.raises(InputError) as err:
        read_table(path)
    assert [p.row for p in err.value.problems] == [1, 2]


@pytest.mark.parametrize("suffix", ["xlsx", "tsv", "parquet", "csv.gz"])
def test_other_formats_read_the_same(tmp_path, suffix):
    df = pd.DataFrame({"formula": ["Si", "GaAs", "Xx"], "gap": [1.1, 1.4, 2.0], "note": ["a", "b", "c"]})
    path = tmp_path / f"t.{suffix}"
    if suffix == "xlsx":
        with pd.ExcelWriter(path) as writer:
            pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="readme", index=False)
            df.to_excel(writer, sheet_name="measurements", index=False)
        t = read_table(path, sheet="measurements", target_columns="gap")
        with pytest.raises(InputError, match="sheets: readme, measurements"):
            read_table(path, sheet="data")
    elif suffix == "tsv":
        df.to_csv(path, sep="\t", index=False)
        t = read_table(path, target_columns="gap")
    elif suffix == "parquet":
        df.to_parquet(path)
        t = read_table(path, target_columns="gap")
    else:
        df.to_csv(path, index=False, compression="gzip")
        t = read_table(path, target_columns="gap")
    assert t.target().tolist() == [1.1, 1.4] and t.report.rejected[0].row == 3


def cif_text(structure) -> str:
    return str(CifWriter(structure))


def test_cif_text_column_with_a_bad_entry(tmp_path, small_structures):
    cifs = [cif_text(small_structures[0]), "data_bad\n_cell_length_a 1\nloop_\n_atom_site_label\nX\n",
            cif_text(small_structures[2])]
    pd.DataFrame({"name": ["si", "bad", "gaas"], "cif": cifs, "y": [1.0, 2.0, 3.0]}).to_csv(tmp_path / "c.csv",
                                                                                           index=False)
    t = read_table(tmp_path / "c.csv", structure_column="cif", id_column="name", target_columns="y")
    assert list(t.ids) == ["si", "gaas"] and t.has_structures
    (p,) = t.report.rejected
    assert (p.row, p.field) == (2, "cif") and p.reason.startswith("bad structure")
    assert [s.composition.reduced_formula for s in t.structures] == ["Si", "GaAs"]
    assert t.formulas[0] == small_structures[0].composition.formula


def test_disordered_cif_is_kept(tmp_path):
    s = Structure(Lattice.cubic(3.6), [{"Fe": 0.5, "Co": 0.5}, "Al"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    df = pd.DataFrame({"cif": [cif_text(s)], "y": [0.4]})
    df.to_csv(tmp_path / "dis.csv", index=False)
    t = read_table(tmp_path / "dis.csv", target_columns="y")  # structure column guessed by name + content
    (got,) = t.structures
    assert not got.is_ordered
    assert got.composition.get_el_amt_dict() == pytest.approx({"Fe": 0.5, "Co": 0.5, "Al": 1.0})
    assert "structure column guessed: 'cif'" in t.report.notes


def test_structure_paths_relative_to_the_table(tmp_path, small_structures):
    folder = tmp_path / "structs"
    folder.mkdir()
    si, nacl, gaas = small_structures
    (folder / "si.cif").write_text(cif_text(si))
    Poscar(nacl).write_file(folder / "POSCAR_nacl")
    ase.io.write(folder / "gaas.extxyz", Atoms("GaAs", scaled_positions=[[0, 0, 0], [0.25, 0.25, 0.25]],
                                               cell=np.eye(3) * 5.65, pbc=True), format="extxyz")
    pd.DataFrame({"file": ["structs/si.cif", "structs/POSCAR_nacl", "structs/gaas.extxyz", "structs/none.cif"],
                  "y": [1.0, 2.0, 3.0, 4.0]}).to_csv(tmp_path / "paths.csv", index=False)
    t = read_table(tmp_path / "paths.csv", structure_column="file", target_columns="y")
    assert [s.composition.reduced_formula for s in t.structures] == ["Si", "NaCl", "GaAs"]
    assert t.report.rejected[0].row == 4 and "FileNotFoundError" in t.report.rejected[0].reason


def test_read_cif_multi_block_file_with_a_bad_block(tmp_path, small_structures):
    text = "".join(cif_text(s) for s in small_structures) + "data_broken\n_cell_length_a oops\n"
    (tmp_path / "many.cif").write_text(text)
    t = read_cif(tmp_path / "many.cif")
    assert t.report.n_read == 4 and len(t) == 3 and t.targets == {}
    assert list(t.ids) == ["Si", "NaCl", "GaAs"]
    (p,) = t.report.rejected
    assert p.row == 4 and p.source == str(tmp_path / "many.cif") and p.reason.startswith("bad structure")


def test_read_cif_folder_with_targets(tmp_path, small_structures):
    folder = tmp_path / "cifs"
    folder.mkdir()
    for name, s in zip(["a", "b", "c"], small_structures, strict=True):
        (folder / f"{name}.cif").write_text(cif_text(s))
    pd.DataFrame({"id": ["a", "b", "zz"], "energy": [-5.4, -3.3, 1.0]}).to_csv(tmp_path / "y.csv", index=False)
    t = read_cif(folder, target_file=tmp_path / "y.csv", units={"energy": "eV/atom"})
    assert list(t.ids) == ["a", "b"] and t.target("energy").tolist() == [-5.4, -3.3]
    assert t.report.rejected[0].row == 3 and t.report.rejected[0].reason.startswith("missing value")
    assert any("match no CIF entry" in n and "zz" in n for n in t.report.notes)


def test_read_extxyz_periodic_and_molecules(tmp_path):
    si = bulk("Si", "diamond", a=5.43)
    si.info.update({"material_id": "si-1", "bandgap": 1.1, "sg_number": 227})
    si.calc = SinglePointCalculator(si, energy=-10.8)
    h2o = molecule("H2O")
    h2o.info.update({"material_id": "h2o-1", "bandgap": 6.9})
    path = tmp_path / "mix.extxyz.gz"
    with gzip.open(path, "wt") as fh:
        ase.io.write(fh, [si, h2o], format="extxyz")
    t = read_extxyz(path, target_keys=["bandgap"], units={"bandgap": "eV"})
    assert list(t.ids) == ["si-1", "h2o-1"] and t.target().tolist() == [1.1, 6.9]
    assert isinstance(t.structures[0], Structure) and isinstance(t.structures[1], Molecule)
    assert t.data["energy"].iloc[0] == -10.8 and t.data["sg_number"].iloc[0] == 227
    guessed = read_extxyz(path)  # sg_number is not a target; energy (from the calculator) is
    assert set(guessed.targets) == {"bandgap", "energy"}


def write_matbench(path, columns, rows, index):
    with gzip.open(path, "wt") as fh:
        json.dump({"index": index, "columns": columns, "data": rows}, fh)


def test_read_matbench_json_structures_and_compositions(tmp_path, small_structures):
    path = tmp_path / "matbench_dielectric.json.gz"
    ids = ["mb-dielectric-0001", "mb-dielectric-0002", "mb-dielectric-0003"]
    write_matbench(path, ["structure", "n"], [[s.as_dict(), 1.5 + k] for k, s in enumerate(small_structures)], ids)
    t = read_matbench_json(path)
    assert list(t.ids) == ids and t.target("n").tolist() == [1.5, 2.5, 3.5]
    assert all(a == b for a, b in zip(t.structures, small_structures, strict=True))
    assert t.targets["n"].quantity == "refractive index"
    comp = tmp_path / "matbench_expt_gap.json.gz"
    write_matbench(comp, ["composition", "gap expt"], [["Si", 1.1], ["GaAs", 1.4], ["Si2", 1.2]], [0, 1, 2])
    t = read_matbench_json(comp)
    assert list(t.ids) == ["0", "1", "2"] and len(t) == 3  # duplicates kept: folds refer to every row
    assert t.targets["gap expt"].unit == "eV"


def test_fast_p1_cif_equals_pymatgen_on_generated_structures():
    rng = np.random.default_rng(3)
    for k in range(20):
        lattice = Lattice.from_parameters(*rng.uniform(3, 9, 3), *rng.uniform(70, 110, 3))
        n = int(rng.integers(1, 8))
        coords = rng.uniform(-0.2, 1.2, (n, 3))
        coords[0] = [1 / 3, 2 / 3, 0.5] if k % 2 else coords[0]
        s = Structure(lattice, rng.choice(["Li", "O", "Fe", "Si"], n).tolist(), coords)
        text = cif_text(s)
        fast = _fast_p1_cif(text)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = CifParser.from_str(text).parse_structures(primitive=False)[0]
        assert fast is not None and fast.lattice == ref.lattice
        assert [x.species_string for x in fast] == [x.species_string for x in ref]
        np.testing.assert_allclose(fast.frac_coords, ref.frac_coords, atol=1e-12)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_symmetrized_cif_falls_back_to_pymatgen(small_structures):
    nacl = small_structures[1]
    text = str(CifWriter(nacl, symprec=0.1))
    assert _fast_p1_cif(text) is None
    got = structure_from_cif_text(text)
    assert got.composition.reduced_formula == "NaCl" and len(got) == len(nacl)


# --- shared datasets -----------------------------------------------------------------------------------
def test_read_table_on_a_shared_file(shared_data_dir):
    t = read_table(shared_data_dir / "crabnet_benchmark" / "aflow__Egap.csv.gz")
    assert t.report.n_read == 27577 and list(t.targets) == ["target"]
    assert t.report.n_used + t.report.n_rejected + t.report.n_merged == 27577
    assert "split" in t.data.columns and "formula column guessed: 'formula'" in t.report.notes


def test_read_extxyz_matches_properties_csv(shared_data_dir):
    folder = shared_data_dir / "2dmatpedia_subset"
    t = read_extxyz(folder / "2dmatpedia_subset_structures.extxyz.gz", target_keys=["bandgap"])
    assert t.report.n_read == 1224 and len(t) == 1224 and t.has_structures
    props = pd.read_csv(folder / "2dmatpedia_subset_properties.csv.gz").set_index("material_id")
    np.testing.assert_allclose(t.target(), props.loc[t.ids, "bandgap"].to_numpy(), rtol=1e-12)
    reduced = [s.composition.reduced_formula for s in t.structures[:50]]
    assert reduced == [f for f in props.loc[t.ids[:50], "formula_pretty"]]


def test_cif_column_on_jdft2d_matches_matbench_targets(shared_data_dir):
    t = read_table(shared_data_dir / "matbench_jdft2d_structures_partial" / "matbench_jdft2d_fold0_trainval_508.csv.gz",
                   structure_column="cif", id_column="matbench_id", target_columns="exfoliation_en",
                   duplicates="keep")
    assert len(t) == 508 and not t.report.rejected
    ref = pd.read_csv(shared_data_dir / "crabnet_matbench_composition" / "matbench_jdft2d.csv.gz")
    np.testing.assert_allclose(t.target(), ref["target"].to_numpy()[t.data["row_index"].to_numpy()], atol=1e-5)


def test_fast_cif_path_equals_pymatgen_on_shared_cifs(shared_data_dir):
    df = pd.read_csv(shared_data_dir / "matbench_jdft2d_structures_partial" /
                     "matbench_jdft2d_fold0_trainval_508.csv.gz")
    structures, problems = parse_cif_column(df, "cif", "jdft2d")
    assert not problems
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for text, fast in zip(df["cif"], structures, strict=True):
            ref = CifParser.from_str(text).parse_structures(primitive=False)[0]
            assert fast.lattice == ref.lattice and [s.label for s in fast] == [s.label for s in ref]
            assert [s.species_string for s in fast] == [s.species_string for s in ref]
            np.testing.assert_allclose(fast.frac_coords, ref.frac_coords, atol=1e-12)
