"""Ionic descriptors (Ewald site energies, anion framework) against pymatgen and textbook values; the new
physics columns (channel radius, empty sphere, longest mobile hop) against hand cases; invariances."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from scipy.spatial.transform import Rotation

from metamat.data.structures import Crystal, StructureBatch, to_crystal
from metamat.featurize.ionic_descriptors import LABELS, ewald_site_energies, guess_charges, site_charges
from metamat.featurize.physics_descriptors import LABELS as PHYS
from metamat.featurize.physics_descriptors import PhysicsDescriptors, atomic_radii
from metamat.featurize.structure import featurize_structures

COL = {name: i for i, name in enumerate(LABELS)}
PCOL = {name: i for i, name in enumerate(PHYS)}
AGI_CIF = (Path(__file__).resolve().parents[1] / "data" / "alpha_AgI.cif").read_text()


def _rattled_zno() -> Crystal:
    c = to_crystal(bulk("ZnO", "wurtzite", a=3.25, c=5.207).repeat((2, 2, 1)))
    rng = np.random.default_rng(0)
    return Crystal(c.positions + 0.1 * rng.normal(size=c.positions.shape), c.cell, c.pbc, c.species, c.occupancy)


def test_charges_are_the_textbook_oxidation_states():
    assert guess_charges(((3, 7.0), (8, 12.0), (40, 2.0), (57, 3.0))) == {3: 1.0, 8: -2.0, 40: 4.0, 57: 3.0}
    assert guess_charges(((29, 1.0), (28, 1.0))) is None   # an alloy has no charge-balanced guess
    # a disordered site carries the occupancy-weighted charge: alpha-AgI, Ag+ spread over 12 sites at 1/6
    agi = StructureBatch.from_crystals([to_crystal(AGI_CIF)])
    q, balanced = site_charges(agi)
    assert balanced[0] == 1 and q.sum() == pytest.approx(0.0, abs=1e-5)
    np.testing.assert_allclose(np.sort(q)[:2], [-1.0, -1.0])


def test_ewald_matches_pymatgen_and_madelung():
    """Site energies = pymatgen EwaldSummation (tight accuracy on both sides) to 1e-6 relative; NaCl's energy
    per atom = -M e^2 / (4 pi eps0 * 2 r0) with the Madelung constant M = 1.747565 and r0 = a / 2."""
    from pymatgen.analysis.ewald import EwaldSummation
    from pymatgen.core import Lattice, Structure

    from metamat.data.structures import to_crystal as as_crystal

    licoo2 = Structure(Lattice.hexagonal(2.82, 14.05), ["Li", "Co", "O", "O"],
                       [[0, 0, 0.5], [0, 0, 0], [0, 0, 0.26], [0, 0, 0.74]])
    crystals = [to_crystal(bulk("NaCl", "rocksalt", a=5.64)), _rattled_zno(), as_crystal(licoo2)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for c in crystals:
            batch = StructureBatch.from_crystals([c])
            q, _ = site_charges(batch)
            mine = ewald_site_energies(batch, q, cutoff=10.0, accuracy=1e-14)
            s = Structure(c.cell, c.numbers.tolist(), c.positions, coords_are_cartesian=True)
            s.add_oxidation_state_by_site(q.tolist())
            ew = EwaldSummation(s, acc_factor=30.0)
            ref = np.array([ew.get_site_energy(i) for i in range(len(s))])
            np.testing.assert_allclose(mine, ref, rtol=1e-6)
            fast = ewald_site_energies(batch, q)  # the featurizer's defaults: 6 Å, accuracy 1e-6
            np.testing.assert_allclose(fast, ref, rtol=1e-5)
    X, _ = featurize_structures(crystals[:1], "ionic")
    assert X[0, COL["ewald_energy_per_atom"]] == pytest.approx(-1.747565 * 14.399645 / (2 * 2.82), rel=1e-5)


def test_anion_framework_types():
    """Anion sublattices: Cl in rocksalt NaCl fcc (12 neighbours), O in wurtzite ZnO hcp, I in alpha-AgI bcc
    (8 nearest); the likeness of the true type is the largest."""
    crystals = [to_crystal(bulk("NaCl", "rocksalt", a=5.64)), to_crystal(bulk("ZnO", "wurtzite", a=3.25, c=5.207)),
                to_crystal(AGI_CIF)]
    X, _ = featurize_structures(crystals, "ionic")
    kinds = [COL["anion_fcc"], COL["anion_hcp"], COL["anion_bcc"]]
    assert list(np.argmax(X[:, kinds], axis=1)) == [0, 1, 2]
    np.testing.assert_allclose(X[:, COL["anion_cn"]], [12, 12, 8], atol=1e-6)
    np.testing.assert_allclose(X[:, COL["anion_fraction"]], [0.5, 0.5, 0.5], atol=1e-5)
    assert X[0, COL["anion_fcc"]] == pytest.approx(1.0, abs=1e-3)


def test_free_volume_and_mobile_hops_hand_cases():
    """Simple cubic lattice (a = 3.35 Å, pymatgen atomic radius r): largest empty sphere at the cube centre,
    a sqrt(3)/2 - r; the channel through the face centres, a / sqrt(2) - r. Li at (0,0,0), (2.5,0,0),
    (0,4,4) in an 8 Å cube: nearest Li-Li distances 2.5, 2.5, sqrt(32)."""
    a = 3.35
    r = atomic_radii()[84]
    X, _ = featurize_structures([to_crystal(bulk("Po", "sc", a=a))],
                                [PhysicsDescriptors(grid_spacing=0.15, max_grid=10 ** 5)])
    assert X[0, PCOL["empty_sphere_max"]] == pytest.approx(a * 3 ** 0.5 / 2 - r, abs=0.01)
    assert X[0, PCOL["channel_radius"]] == pytest.approx(a / 2 ** 0.5 - r, abs=0.02)
    li = Crystal(np.array([[0, 0, 0], [2.5, 0, 0], [0, 4, 4.0]]), 8.0 * np.eye(3), np.ones(3, bool),
                 np.array([[3], [3], [3]]), np.ones((3, 1)))
    f = featurize_structures([li], "physics")[0][0]
    np.testing.assert_allclose(f[[PCOL["mobile_nn_min"], PCOL["mobile_nn_max"], PCOL["mobile_nn_mean"]]],
                               [2.5, 32 ** 0.5, (5 + 32 ** 0.5) / 3], rtol=1e-9)


def _moved(c: Crystal, rot, shift, perm) -> Crystal:
    return Crystal(c.positions[perm] @ rot.T + shift, c.cell @ rot.T, c.pbc, c.species[perm], c.occupancy[perm])


def test_ionic_invariances():
    """Rotation (with reflection), translation, permutation and a 2 x 1 x 2 supercell leave every ionic
    feature unchanged (Ewald to its accuracy, 1e-6)."""
    rng = np.random.default_rng(5)
    base = [to_crystal(AGI_CIF), _rattled_zno()]
    ref, _ = featurize_structures(base, "ionic")
    assert np.all(ref[:, COL["charge_balanced"]] == 1)
    rot = Rotation.random(random_state=7).as_matrix() @ np.diag([1.0, -1.0, 1.0])
    moved = [_moved(c, rot, rng.normal(size=3) * 3, rng.permutation(c.n_sites)) for c in base]
    supers = [c.supercell((2, 1, 2)) for c in base]
    for variant in (moved, supers):
        X, _ = featurize_structures(variant, "ionic")
        np.testing.assert_allclose(X, ref, rtol=1e-5, atol=1e-6)
