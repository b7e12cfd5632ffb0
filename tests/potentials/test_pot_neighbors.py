"""Neighbour lists against ASE's reference neighbour list."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.neighborlist import neighbor_list

from metamat.geometry.neighbors import build_graph, collate, pair_list


def _as_set(i, j, s):
    return {(int(a), int(b), *map(int, np.round(c))) for a, b, c in zip(i, j, s, strict=True)}


def _distances(atoms, i, j, s):
    return np.linalg.norm(atoms.positions[j] - atoms.positions[i] + s @ atoms.cell.array, axis=1)


@pytest.mark.parametrize("repeat,cutoff", [((1, 1, 1), 4.2), ((3, 3, 3), 5.0), ((6, 6, 6), 4.2)])
def test_pairs_match_ase(repeat, cutoff):  # brute force, small periodic cell, matscipy
    atoms = bulk("Si", "diamond", a=5.43).repeat(repeat)
    atoms.set_cell(atoms.cell.array @ np.array([[1, 0.1, 0], [0, 1, 0.05], [0, 0, 1.1]]), scale_atoms=True)
    atoms.rattle(0.2, seed=1)
    atoms.positions[-1] += 2 * atoms.cell[0] - atoms.cell[2]  # outside the cell
    i, j, s = pair_list(atoms, cutoff)
    assert np.all(np.diff(i) >= 0)
    assert _as_set(i, j, s) == _as_set(*neighbor_list("ijS", atoms, cutoff))
    assert np.all(_distances(atoms, i, j, s) < cutoff)


def test_unwrapped_positions_and_clusters():
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.rattle(0.1, seed=2)
    moved = atoms.copy()
    moved.positions[1] += 3 * atoms.cell[0] - 2 * atoms.cell[2]  # far outside the cell
    d0 = np.sort(_distances(atoms, *pair_list(atoms, 5.0)))
    d1 = np.sort(_distances(moved, *pair_list(moved, 5.0)))
    np.testing.assert_allclose(d0, d1, atol=1e-9)
    mol = Atoms("H3", positions=[[0, 0, 0], [1.0, 0, 0], [0, 3.0, 0]])
    i, j, s = pair_list(mol, 2.0)
    assert _as_set(i, j, s) == {(0, 1, 0, 0, 0), (1, 0, 0, 0, 0)}


def test_collate():
    atoms = bulk("Si", "diamond", a=5.43)
    g1 = build_graph(atoms, 4.0, np.zeros(2, dtype=int))
    g2 = build_graph(atoms.repeat((2, 1, 1)), 4.0, np.zeros(4, dtype=int))
    g = collate([g1, g2])
    assert g.n_frames == 2 and g.n_atoms == 6
    assert g.center[len(g1.center):].min() == 2 and g.neighbor[len(g1.center):].min() == 2
    assert np.array_equal(g.edge_frame, np.repeat([0, 1], [len(g1.center), len(g2.center)]))
