"""Physics structure descriptors against pymatgen / matminer and textbook values; invariances; a real
disordered CIF (alpha-AgI) round-trips through the reader, the descriptors and the crystal graph."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from metamat.data.structures import Crystal, to_crystal
from metamat.featurize.graphs import graph_features
from metamat.featurize.physics_descriptors import LABELS, PhysicsDescriptors
from metamat.featurize.structure import featurize_structures

COL = {name: i for i, name in enumerate(LABELS)}

# alpha-AgI with Ag disordered over the 12d sites (occupancy 1/6); sources in the file's header
AGI_CIF = (Path(__file__).resolve().parents[1] / "data" / "alpha_AgI.cif").read_text()


def _bulk():
    from ase.build import bulk

    return {"NaCl": bulk("NaCl", "rocksalt", a=5.64), "Cu": bulk("Cu", "fcc", a=3.615),
            "Fe": bulk("Fe", "bcc", a=2.87), "Si": bulk("Si", "diamond", a=5.431),
            "ZnO": bulk("ZnO", "wurtzite", a=3.25, c=5.207), "Po": bulk("Po", "sc", a=3.35)}


@pytest.fixture(scope="module")
def structures():
    return {k: to_crystal(v) for k, v in _bulk().items()}


@pytest.fixture(scope="module")
def features(structures):
    X, labels = featurize_structures(list(structures.values()), "physics")
    assert labels == [f"physics_{n}" for n in LABELS]
    return dict(zip(structures, X, strict=True))


@pytest.mark.slow
def test_against_matminer_and_pymatgen(features):
    """density, volume per atom and packing fraction = matminer DensityFeatures; space group = matminer
    GlobalSymmetryFeatures; ECoN = pymatgen EconNN (bond lengths, no fictive radii)."""
    from matminer.featurizers.structure import DensityFeatures, GlobalSymmetryFeatures
    from pymatgen.analysis.local_env import EconNN
    from pymatgen.io.ase import AseAtomsAdaptor

    econ = EconNN(cutoff=6.0, tol=0.0, use_fictive_radius=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, atoms in _bulk().items():
            s = AseAtomsAdaptor.get_structure(atoms)
            f = features[name]
            density, vpa, packing = DensityFeatures().featurize(s)
            np.testing.assert_allclose(f[[COL["density"], COL["volume_per_atom"], COL["packing_fraction"]]],
                                       [density, vpa, packing], rtol=1e-6)
            sg = GlobalSymmetryFeatures(["spacegroup_num", "is_centrosymmetric"]).featurize(s)
            assert f[COL["spacegroup_number"]] == sg[0] and f[COL["centrosymmetric"]] == float(sg[1])
            cn = [econ.get_cn(s, i, use_weights=True) for i in range(len(s))]
            np.testing.assert_allclose(f[COL["ecn_mean"]], np.mean(cn), rtol=2e-4)


def test_textbook_values(features):
    f = features
    # nearest-neighbour distances: rocksalt a/2, fcc a/sqrt(2), bcc a*sqrt(3)/2, diamond a*sqrt(3)/4
    np.testing.assert_allclose([f["NaCl"][COL["nn_dist_min"]], f["Cu"][COL["nn_dist_min"]],
                                f["Fe"][COL["nn_dist_min"]], f["Si"][COL["nn_dist_min"]]],
                               [5.64 / 2, 3.615 / 2 ** 0.5, 2.87 * 3 ** 0.5 / 2, 5.431 * 3 ** 0.5 / 4], rtol=1e-9)
    # Steinhardt q6 of ideal lattices (Steinhardt et al. 1983; first shell dominates the ECoN weights):
    # fcc 0.5745, simple cubic 0.3536, diamond (tetrahedral) 0.6285
    np.testing.assert_allclose([f["Cu"][COL["q6_mean"]], f["Po"][COL["q6_mean"]], f["Si"][COL["q6_mean"]]],
                               [0.5745, 0.3536, 0.6285], atol=3e-3)
    assert f["Si"][COL["ecn_mean"]] == pytest.approx(4.0, abs=1e-6)   # diamond: 4 neighbours, next shell far
    assert f["Cu"][COL["crystal_system"]] == 7 and f["ZnO"][COL["crystal_system"]] == 6
    # mobile ion of NaCl is Na: half the atoms, nearest Na-Na = a/sqrt(2), 12 of them within 4 A
    np.testing.assert_allclose(f["NaCl"][[COL["mobile_fraction"], COL["mobile_nn_min"], COL["mobile_neighbors_4A"]]],
                               [0.5, 5.64 / 2 ** 0.5, 12.0], rtol=1e-9)
    assert f["Si"][COL["mobile_fraction"]] == 0 and f["Si"][COL["mobile_nn_mean"]] == 6.0
    # the open diamond lattice has free volume, close-packed fcc has none above 1 A
    assert f["Si"][COL["free_fraction_1A"]] > 0 and f["Cu"][COL["free_fraction_1A"]] == 0
    assert f["Si"][COL["empty_sphere_max"]] > f["Cu"][COL["empty_sphere_max"]]


def _moved(c: Crystal, rot, shift, perm) -> Crystal:
    return Crystal(c.positions[perm] @ rot.T + shift, c.cell @ rot.T, c.pbc, c.species[perm], c.occupancy[perm])


def test_invariances():
    """Rotation (proper and improper), translation, permutation and supercell leave every feature unchanged
    (the free-volume grid to within its resolution)."""
    rng = np.random.default_rng(0)
    base = to_crystal(AGI_CIF)
    rattled = to_crystal(_bulk()["ZnO"].repeat((2, 1, 1)))
    rattled = Crystal(rattled.positions + 0.05 * rng.normal(size=rattled.positions.shape), rattled.cell,
                      rattled.pbc, rattled.species, rattled.occupancy)
    feat = PhysicsDescriptors(grid_spacing=0.25, max_grid=200_000)
    grid_cols = [COL["empty_sphere_max"], COL["clearance_mean"], COL["free_fraction_1A"], COL["channel_radius"]]
    exact = [i for i in range(len(LABELS)) if i not in grid_cols]
    ref, _ = featurize_structures([base, rattled], [feat])
    rot = Rotation.random(random_state=3).as_matrix() @ np.diag([1.0, 1.0, -1.0])
    variants = []
    for c in (base, rattled):
        perm = rng.permutation(c.n_sites)
        variants.append([_moved(c, rot, rng.normal(size=3) * 3, perm), c.supercell((2, 1, 2))])
    for k in range(2):
        X, _ = featurize_structures([v[k] for v in variants], [feat])
        np.testing.assert_allclose(X[:, exact], ref[:, exact], rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(X[:, grid_cols[0]], ref[:, grid_cols[0]], atol=0.25)
        np.testing.assert_allclose(X[:, grid_cols[2]], ref[:, grid_cols[2]], atol=0.05)
        np.testing.assert_allclose(X[:, grid_cols[3]], ref[:, grid_cols[3]], atol=0.25)


def test_disordered_cif_round_trip(tmp_path):
    from pymatgen.core import Structure

    c = to_crystal(AGI_CIF)
    assert c.n_sites == 14 and not c.is_ordered
    ag = c.species[:, 0] == 47
    assert ag.sum() == 12 and np.allclose(c.occupancy[ag, 0], 0.166667)
    # written back out by pymatgen and read again: same sites, same features, same graph
    path = tmp_path / "agi.cif"
    Structure.from_str(AGI_CIF, fmt="cif").to(filename=str(path))
    again = to_crystal(str(path))
    X, _ = featurize_structures([c, again], "physics")
    np.testing.assert_allclose(X[1], X[0], rtol=1e-5, atol=1e-6)
    f = X[0]
    # two AgI per cell of 5.07^3 A^3: density from occupancy-weighted masses (Ag 107.87, I 126.90)
    mass = 2 * (107.8682 + 126.90447)
    assert f[COL["density"]] == pytest.approx(mass / 5.07 ** 3 * 1.66053906660, rel=1e-4)
    assert f[COL["volume_per_atom"]] == pytest.approx(5.07 ** 3 / 4, rel=1e-4)
    # Ag is the mobile ion: half of the (occupancy-weighted) atoms; nearest 12d-12d distance a*sqrt(2)/4
    assert f[COL["mobile_fraction"]] == pytest.approx(0.5, rel=1e-4)
    assert f[COL["mobile_nn_min"]] == pytest.approx(5.07 * 2 ** 0.5 / 4, rel=1e-9)
    G = graph_features([c, again])
    np.testing.assert_array_equal(G[0, :3], [14, G[0, 1], 1])
    np.testing.assert_allclose(np.sort(G[1]), np.sort(G[0]), atol=1e-5)
    # a vacancy lowers the density: the same cell fully ordered (every Ag site occupied) is heavier
    full = Crystal(c.positions, c.cell, c.pbc, c.species, np.where(c.occupancy > 0, 1.0, 0.0))
    assert featurize_structures([full], "physics")[0][0, COL["density"]] > f[COL["density"]]
