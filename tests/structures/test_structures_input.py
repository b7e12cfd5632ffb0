"""The internal structure form: conversions agree, validation names what is wrong, batches and neighbours."""

from __future__ import annotations

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, graphene
from pymatgen.core import DummySpecies, Lattice, Molecule, Structure
from pymatgen.io.ase import AseAtomsAdaptor
from pymatgen.io.cif import CifWriter
from pymatgen.io.vasp import Poscar

from metamat.data.structures import (
    Crystal,
    StructureBatch,
    crystals_from_objects,
    crystals_or_raise,
    neighbor_list,
    to_crystal,
    validate_crystal,
)
from metamat.errors import InputError


def _ordered() -> Structure:
    lattice = Lattice.from_parameters(4.1, 5.3, 6.2, 84, 97, 103)
    return Structure(lattice, ["Ti", "O", "O", "Sr"],
                     [[0.1, 0.2, 0.3], [0.61, 0.17, 0.44], [0.33, 0.71, 0.12], [0.8, 0.55, 0.74]])


def _disordered() -> Structure:
    return Structure(Lattice.cubic(4.2), [{"Li": 0.5, "Na": 0.5}, "Cl", {"O": 0.8}],
                     [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.0, 0.25]])


def _canonical(c: Crystal) -> tuple[np.ndarray, np.ndarray]:
    """(metric tensor, rows (Z..., occupancy..., fractional xyz in [0, 1)) sorted) - frame independent."""
    frac = np.linalg.solve(c.cell.T, c.positions.T).T % 1.0
    frac[frac > 1 - 1e-7] = 0.0
    rows = np.hstack([c.species, c.occupancy, frac])
    order = np.lexsort(np.round(rows, 5).T[::-1])
    return c.cell @ c.cell.T, rows[order]


def _assert_same(a: Crystal, b: Crystal, what: str, atol: float = 1e-5) -> None:
    (ma, ra), (mb, rb) = _canonical(a), _canonical(b)
    np.testing.assert_allclose(ma, mb, atol=atol, err_msg=what)
    np.testing.assert_allclose(ra, rb, atol=atol, err_msg=what)
    assert np.array_equal(a.pbc, b.pbc), what


@pytest.mark.parametrize("make", [_ordered, _disordered])
def test_conversions_agree(make, tmp_path) -> None:
    s = make()
    ref = to_crystal(s)
    cif = str(CifWriter(s))
    (tmp_path / "s.cif").write_text(cif)
    variants = {"dict": s.as_dict(), "cif text": cif, "cif path": str(tmp_path / "s.cif"),
                "relative path": "s.cif"}
    if s.is_ordered:
        Poscar(s).write_file(tmp_path / "POSCAR")
        atoms = AseAtomsAdaptor.get_atoms(s)
        ase.io.write(tmp_path / "s.extxyz", atoms, format="extxyz")
        variants.update({"ase": atoms, "poscar path": str(tmp_path / "POSCAR"),
                         "extxyz path": str(tmp_path / "s.extxyz")})
    for name, obj in variants.items():
        c = to_crystal(obj, base_dir=tmp_path)
        _assert_same(c, ref, name)
        assert validate_crystal(c) is c
    if not s.is_ordered:  # species of a site ordered by occupancy, ties by Z, whatever the reader
        for c in (ref, to_crystal(cif)):
            np.testing.assert_array_equal(c.species[np.isclose(c.occupancy[:, 0], 0.5)], [[3, 11]])
        assert not ref.is_ordered and ref.site_occupancy.tolist() == [1.0, 1.0, 0.8]


def test_molecule_and_ase_cluster_agree() -> None:
    pos = [[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]]
    a = to_crystal(Molecule(["O", "H", "H"], pos))
    b = to_crystal(Atoms("OH2", positions=pos))
    for c in (a, b):
        assert not c.pbc.any() and np.isnan(c.volume)
        validate_crystal(c)
    np.testing.assert_allclose(a.positions, b.positions)
    np.testing.assert_array_equal(a.species, b.species)


def test_slab_without_cell_height_gets_an_open_direction() -> None:
    atoms = graphene(vacuum=None)  # cell c vector is zero, pbc (T, T, F)
    c = validate_crystal(to_crystal(atoms))
    assert abs(np.linalg.det(c.cell)) > 1.0
    assert abs(np.dot(c.cell[2], c.cell[0])) < 1e-9 and abs(np.dot(c.cell[2], c.cell[1])) < 1e-9
    e = neighbor_list(StructureBatch.from_crystals([c]), 1.6)
    assert np.bincount(e.center).tolist() == [3, 3]
    np.testing.assert_allclose(e.distances, 1.42, atol=0.01)
    with pytest.raises(ValueError, match="non-periodic"):
        c.supercell((2, 2, 2))


@pytest.mark.parametrize(("make", "words"), [
    (lambda: Structure(Lattice.cubic(4.0), ["Li", "Cl"], [[0, 0, 0], [0.05, 0, 0]]), "overlapping atoms"),
    (lambda: Atoms(), "empty"),
    (lambda: Atoms("Si", cell=[[1, 0, 0], [2, 0, 0], [0, 0, 3]], pbc=True), "zero-volume"),
    (lambda: bulk("NaCl", "rocksalt", a=40.0), "absurd density"),
    (lambda: bulk("NaCl", "rocksalt", a=1.2), "absurd density"),
    (lambda: Structure(Lattice.cubic(3.0), [DummySpecies("X")], [[0, 0, 0]]), "dummy species"),
    (lambda: Atoms(numbers=[0, 14], positions=[[0, 0, 0], [2, 0, 0]]), "dummy species"),
    (lambda: Structure(Lattice.cubic(4.0), [{"Li": 0.6}, {"Li": 0.6}, "Cl"],
                       [[0, 0, 0], [0.06, 0, 0], [0.5, 0.5, 0.5]]), "overlapping atoms"),
])
def test_validation_names_the_problem(make, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        validate_crystal(to_crystal(make()))


def test_split_sites_are_accepted() -> None:
    s = Structure(Lattice.cubic(4.0), [{"Li": 0.5}, {"Li": 0.5}, "Cl"], [[0, 0, 0], [0.06, 0, 0], [0.5, 0.5, 0.5]])
    c = validate_crystal(to_crystal(s))
    assert np.linalg.norm(c.positions[1] - c.positions[0]) < 0.5


def test_crystals_from_objects_reports_row_and_field() -> None:
    overlap = Structure(Lattice.cubic(4.0), ["Li", "Cl"], [[0, 0, 0], [0.05, 0, 0]])
    values = [_ordered(), "no_such_file.cif", None, overlap, "data_x\n_cell_length_a 3\n", bulk("Si")]
    out, problems = crystals_from_objects(values, "table.csv", "structure", rows=[5, 6, 7, 8, 9, 10])
    assert [c is None for c in out] == [False, True, True, True, True, False]
    assert [p.row for p in problems] == [6, 7, 8, 9]
    assert all(p.source == "table.csv" and p.field == "structure" for p in problems)
    assert "not found" in problems[0].reason and "missing" in problems[1].reason
    assert "overlapping" in problems[2].reason
    assert str(problems[0]).startswith("table.csv, row 6, field 'structure': bad structure")
    with pytest.raises(InputError) as info:
        crystals_or_raise(values, "table.csv", "structure")
    assert len(info.value.problems) == 4 and info.value.problems[0].row == 2


def test_batch_and_neighbor_list() -> None:
    cu, si = to_crystal(bulk("Cu", "fcc", a=3.61)), to_crystal(bulk("Si", "diamond", a=5.43))
    batch = StructureBatch.from_crystals([cu, si.supercell((2, 1, 1))])
    assert batch.offsets.tolist() == [0, 1, 5] and batch.site_structure.tolist() == [0, 1, 1, 1, 1]
    e = neighbor_list(batch, 2.6)
    assert np.all(np.diff(e.center) >= 0)
    assert np.bincount(e.center).tolist() == [12, 4, 4, 4, 4]
    assert np.all(batch.site_structure[e.center] == batch.site_structure[e.neighbor])
    np.testing.assert_allclose(e.distances, np.linalg.norm(e.vectors, axis=1))
    np.testing.assert_allclose(e.distances[:12], 3.61 / np.sqrt(2))
    np.testing.assert_allclose(e.distances[12:], 5.43 * np.sqrt(3) / 4)
    # each vector is r_j - r_i plus a lattice vector of its own structure
    for b, (lo, hi) in enumerate([(0, 12), (12, len(e.center))]):
        d = e.vectors[lo:hi] - (batch.positions[e.neighbor[lo:hi]] - batch.positions[e.center[lo:hi]])
        n = np.linalg.solve(batch.cells[b].T, d.T).T
        np.testing.assert_allclose(n, np.round(n), atol=1e-9)
