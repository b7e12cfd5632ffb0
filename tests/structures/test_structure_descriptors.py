"""Structure descriptors: invariances, hand-computed references, registry and composition+structure.

Invariance tolerance: ``np.testing.assert_allclose(rtol=1e-8, atol=1e-8)``, i.e. elementwise
``|a - b| <= 1e-8 + 1e-8 |b|`` (absolute for values near 0, relative for large ones).
"""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, fcc111, molecule
from pymatgen.core import Lattice, Structure

from metamat.data.structures import Crystal, StructureBatch, to_crystal
from metamat.errors import InputError
from metamat.featurize.elements import load_element_table
from metamat.featurize.pipeline import featurize_formulas
from metamat.featurize.structure import (
    ACSF,
    SOAP,
    SortedInverseDistance,
    batch_compositions,
    crystal_formula,
    featurize_composition_structure,
    featurize_structures,
)

TOL = {"rtol": 1e-8, "atol": 1e-8}


def _random_structure(rng: np.random.Generator) -> Crystal:
    """A triclinic cell with 6 atoms of 4 elements placed at random, at least 1.6 Å apart."""
    cell = np.array([[5.1, 0.0, 0.0], [1.3, 5.6, 0.0], [0.7, -0.9, 6.2]])
    frac: list[np.ndarray] = []
    while len(frac) < 6:
        f = rng.random(3)
        d = [np.min(np.linalg.norm((f - g - np.round(f - g)) @ cell)) for g in frac]
        if all(x > 1.6 for x in d):
            frac.append(f)
    atoms = Atoms(numbers=[22, 8, 8, 38, 7, 8], scaled_positions=np.array(frac), cell=cell, pbc=True)
    return to_crystal(atoms)


def _structures() -> dict[str, Crystal]:
    disordered = Structure(Lattice.from_parameters(4.3, 4.5, 4.4, 88, 92, 91),
                           [{"Li": 0.5, "Na": 0.5}, "Cl", {"O": 0.8}],
                           [[0, 0, 0], [0.52, 0.48, 0.5], [0.5, 0.0, 0.3]])
    return {
        "Si": to_crystal(bulk("Si", "diamond", a=5.43)),
        "NaCl": to_crystal(bulk("NaCl", "rocksalt", a=5.64)),
        "random": _random_structure(np.random.default_rng(3)),
        "disordered": to_crystal(disordered),
        "slab": to_crystal(fcc111("Al", size=(1, 1, 3), vacuum=7.0)),
        "molecule": to_crystal(molecule("CH3CH2OH")),
    }


def _transform(c: Crystal, rot: np.ndarray | None = None, shift: np.ndarray | None = None,
               perm: np.ndarray | None = None) -> Crystal:
    pos, cell = c.positions, c.cell
    if rot is not None:
        pos, cell = pos @ rot.T, cell @ rot.T
    if shift is not None:
        pos = pos + shift
    p = np.arange(c.n_sites) if perm is None else perm
    return Crystal(pos[p], cell, c.pbc, c.species[p], c.occupancy[p])


def _rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _variants(c: Crystal, rng: np.random.Generator) -> dict[str, Crystal]:
    rot = _rotation(rng)
    out = {
        "translation": _transform(c, shift=rng.normal(scale=3.0, size=3)),
        "rotation": _transform(c, rot=rot, shift=rng.normal(size=3)),
        "reflection": _transform(c, rot=np.diag([1.0, 1.0, -1.0]) @ rot),
        "permutation": _transform(c, perm=rng.permutation(c.n_sites)),
    }
    assert np.linalg.det(np.diag([1.0, 1.0, -1.0]) @ rot) < 0
    if c.pbc[:2].all():
        out["supercell 2x2x1"] = c.supercell((2, 2, 1))
    if c.pbc.all():
        out["supercell 2x2x2"] = _transform(c.supercell((2, 2, 2)), perm=rng.permutation(8 * c.n_sites))
    return out


def _distorted(c: Crystal, rng: np.random.Generator) -> Crystal:
    pos = c.positions.copy()
    step = rng.normal(size=3)
    pos[0] += 0.05 * step / np.linalg.norm(step)
    return Crystal(pos, c.cell, c.pbc, c.species, c.occupancy)


DESCRIPTORS = {"sorted_inverse_distance": SortedInverseDistance, "acsf": ACSF, "soap": SOAP}


def invariance_set(seed: int = 0) -> tuple[list, list[tuple[str, str]]]:
    """Every test structure, its transformed copies (rotations, translation, permutation, supercells) and a
    distorted copy, with a (structure, variant) key per crystal."""
    rng = np.random.default_rng(seed)
    crystals, keys = [], []
    for name, c in _structures().items():
        crystals.append(c)
        keys.append((name, "original"))
        for kind, v in _variants(c, rng).items():
            crystals.append(v)
            keys.append((name, kind))
        crystals.append(_distorted(c, rng))
        keys.append((name, "distorted"))
    return crystals, keys


@pytest.fixture(scope="module")
def invariance_runs() -> dict[str, tuple[np.ndarray, list[tuple[str, str]]]]:
    """All structures, their transformed copies and distorted copies, featurized once per descriptor."""
    crystals, keys = invariance_set()
    runs = {}
    for name in DESCRIPTORS:
        if name == "soap":
            pytest.importorskip("dscribe")
        runs[name] = (featurize_structures(crystals, [name])[0], keys)
    return runs


@pytest.mark.parametrize("descriptor", list(DESCRIPTORS))
@pytest.mark.parametrize("structure", ["Si", "NaCl", "random", "disordered", "slab", "molecule"])
def test_invariances_and_sensitivity(invariance_runs, descriptor: str, structure: str) -> None:
    X, keys = invariance_runs[descriptor]
    rows = {kind: X[k] for k, (name, kind) in enumerate(keys) if name == structure}
    ref = rows.pop("original")
    assert np.all(np.isfinite(ref)) and np.abs(ref).max() > 0
    distorted = rows.pop("distorted")
    expected = {"translation", "rotation", "reflection", "permutation"}
    expected |= {"supercell 2x2x1"} if structure != "molecule" else set()
    expected |= {"supercell 2x2x2"} if structure not in ("slab", "molecule") else set()
    assert set(rows) == expected
    for kind, x in rows.items():
        np.testing.assert_allclose(x, ref, **TOL, err_msg=f"{descriptor} {structure} {kind}")
    change = np.abs(distorted - ref).max() / np.abs(ref).max()
    assert change > 1e-4, f"{descriptor} does not see a 0.05 Å move in {structure} ({change:.2e})"


def test_sorted_inverse_distance_fcc_copper_by_hand() -> None:
    a = 3.61
    expected = np.r_[np.full(12, np.sqrt(2) / a), np.full(6, 1 / a), np.zeros(2)]
    f = SortedInverseDistance(cutoff=4.0, n_neighbors=20)
    for atoms in (bulk("Cu", "fcc", a=a), bulk("Cu", "fcc", a=a, cubic=True)):
        x = f.featurize(StructureBatch.from_crystals([to_crystal(atoms)]))[0]
        np.testing.assert_allclose(x[:20], expected, rtol=1e-12)  # mean over sites
        np.testing.assert_allclose(x[20:], 0.0, atol=1e-12)  # every site alike: std 0


def test_sorted_inverse_distance_weights_vacancies_by_hand() -> None:
    """CsCl type with a half-empty cation site: neighbours count occ/r, centres count with their occupancy."""
    a = 5.64
    s = Structure(Lattice.cubic(a), [{"Na": 0.5}, "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    x = SortedInverseDistance(cutoff=5.0, n_neighbors=18, stats=("mean",)).featurize(
        StructureBatch.from_crystals([to_crystal(s)]))[0]
    # each site: 8 sites of the other kind at a*sqrt(3)/2 = 4.88 Å; its own images at a = 5.64 Å are outside
    d = a * np.sqrt(3) / 2
    na_site = np.r_[np.full(8, 1 / d), np.zeros(10)]  # neighbours are full Cl sites
    cl_site = np.r_[np.full(8, 0.5 / d), np.zeros(10)]  # neighbours are half-occupied Na sites
    np.testing.assert_allclose(x, (0.5 * na_site + 1.0 * cl_site) / 1.5, rtol=1e-12)


def test_split_site_alternatives_are_not_neighbours() -> None:
    s = Structure(Lattice.cubic(4.0), [{"Li": 0.5}, {"Li": 0.5}, "Cl"], [[0, 0, 0], [0.06, 0, 0], [0.5, 0.5, 0.5]])
    x = SortedInverseDistance(cutoff=3.0, n_neighbors=4, stats=("mean",)).featurize(
        StructureBatch.from_crystals([to_crystal(s)]))[0]
    assert x.max() < 1 / 1.5  # the 0.24 Å pair would give 0.5/0.24 ≈ 2.1


def _standardized(prop: str, z: int) -> float:
    col = load_element_table().column(prop)[1:]
    return float((col[z - 1] - col.mean()) / col.std())


@pytest.mark.parametrize("periodic", [False, True])
def test_acsf_g2_of_an_isolated_pair_by_hand(periodic: bool) -> None:
    d, rc = 1.3, 6.0
    atoms = Atoms("HF", positions=[[0, 0, 0], [d, 0, 0]])
    if periodic:  # a 25 Å box: no periodic image within the cutoff
        atoms.set_cell(np.diag([25.0, 25.0, 25.0]))
        atoms.pbc = True
    f = ACSF(cutoff=rc, radial=[(0.5, 0.0), (2.0, 1.5), (0.05, 1.0)])
    x = dict(zip(f.feature_labels(), f.featurize(StructureBatch.from_crystals([to_crystal(atoms)]))[0],
                 strict=True))
    fc = 0.5 * (np.cos(np.pi * d / rc) + 1)
    for eta, rs in [(0.5, 0.0), (2.0, 1.5), (0.05, 1.0)]:
        g = np.exp(-eta * (d - rs) ** 2) * fc
        key = f"G2 eta={eta:g} rs={rs:g}"
        assert x[f"ACSF mean [none] {key}"] == pytest.approx(g, rel=1e-12)
        assert x[f"ACSF std [none] {key}"] == pytest.approx(0.0, abs=1e-14)
        wh, wf = _standardized("X", 1), _standardized("X", 9)  # H sees F, F sees H
        assert x[f"ACSF mean [X] {key}"] == pytest.approx((wf + wh) / 2 * g, rel=1e-12)
        assert x[f"ACSF std [X] {key}"] == pytest.approx(abs(wf - wh) / 2 * g, rel=1e-12)
    assert all(v == 0.0 for k, v in x.items() if " G4 " in k)  # one neighbour: no angle


def test_acsf_g4_of_a_triangle_by_hand() -> None:
    pos = np.array([[0.0, 0.0, 0.0], [1.4, 0.0, 0.0], [0.3, 1.7, 0.2]])
    rc, eta, zeta, lam = 4.0, 0.06, 4.0, -1.0
    f = ACSF(cutoff=5.0, angular_cutoff=rc, angular_eta=(eta,), zeta=(zeta,), lambdas=(lam,), weights=())
    x = dict(zip(f.feature_labels(), f.featurize(StructureBatch.from_crystals([to_crystal(Atoms("C3",
                 positions=pos))]))[0], strict=True))

    def fc(r: float) -> float:
        return 0.5 * (np.cos(np.pi * r / rc) + 1)

    per_atom = []
    for i, j, k in [(0, 1, 2), (1, 0, 2), (2, 0, 1)]:
        rij, rik, rjk = (np.linalg.norm(pos[p] - pos[q]) for p, q in [(j, i), (k, i), (k, j)])
        cos = np.dot(pos[j] - pos[i], pos[k] - pos[i]) / (rij * rik)
        per_atom.append(2 ** (1 - zeta) * (1 + lam * cos) ** zeta * np.exp(-eta * (rij**2 + rik**2 + rjk**2))
                        * fc(rij) * fc(rik) * fc(rjk))
    key = f"G4 eta={eta:g} zeta={zeta:g} lambda={lam:g}"
    assert x[f"ACSF mean [none] {key}"] == pytest.approx(np.mean(per_atom), rel=1e-12)
    assert x[f"ACSF std [none] {key}"] == pytest.approx(np.std(per_atom), rel=1e-10)


def test_acsf_radial_weights_are_linear_in_site_occupancy() -> None:
    """Mean weighted G2 of a Li/Na site = the average of the all-Li and all-Na structures (G2 is linear in w_j)."""
    lat = Lattice.from_parameters(4.3, 4.5, 4.4, 88, 92, 91)
    coords = [[0, 0, 0], [0.52, 0.48, 0.5]]
    crystals = [to_crystal(Structure(lat, [sp, "Cl"], coords)) for sp in ({"Li": 0.5, "Na": 0.5}, "Li", "Na")]
    f = ACSF(weights=("X", "Number"), stats=("mean",))
    X = f.featurize(StructureBatch.from_crystals(crystals))
    g2 = np.array([" G2 " in label for label in f.feature_labels()])
    np.testing.assert_allclose(X[0, g2], (X[1, g2] + X[2, g2]) / 2, rtol=1e-12)
    assert not np.allclose(X[1, g2], X[2, g2])


def test_triplet_chunks_do_not_change_acsf() -> None:
    crystals = list(_structures().values())
    batch = StructureBatch.from_crystals(crystals)
    np.testing.assert_allclose(ACSF(max_triplets=50).featurize(batch), ACSF().featurize(batch), rtol=1e-12)


def test_batch_chunks_and_order_do_not_change_features() -> None:
    crystals = list(_structures().values())
    X, labels = featurize_structures(crystals)
    assert X.shape == (6, 32 + 192) and len(labels) == X.shape[1] and len(set(labels)) == len(labels)
    X_small, _ = featurize_structures(crystals[::-1], max_sites_per_chunk=3)
    np.testing.assert_allclose(X_small[::-1], X, rtol=1e-12)


def test_soap_dimension_and_sites_weighted_by_occupancy() -> None:
    pytest.importorskip("dscribe")
    soap = SOAP()
    lat = Lattice.cubic(4.0)
    full = to_crystal(Structure(lat, ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]))
    half = to_crystal(Structure(lat, [{"Li": 0.5}, "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]))
    X = soap.featurize(StructureBatch.from_crystals([full, half]))
    assert X.shape == (2, 105) == (2, len(soap.feature_labels()))
    assert np.abs(X[0] - X[1]).max() > 1e-3 * np.abs(X[0]).max()


def test_unknown_descriptor_names_the_known_ones() -> None:
    with pytest.raises(InputError) as info:
        featurize_structures([to_crystal(bulk("Si"))], ["acsf", "coulomb"])
    assert "coulomb" in str(info.value) and "sorted_inverse_distance" in str(info.value)


def test_non_crystal_inputs_are_converted_and_validated() -> None:
    good = bulk("Si")
    bad = Atoms("H2", positions=[[0, 0, 0], [0.1, 0, 0]])
    X, _ = featurize_structures([good, to_crystal(good)], ["sorted_inverse_distance"])
    np.testing.assert_allclose(X[0], X[1])
    with pytest.raises(InputError, match="row 2.*overlapping"):
        featurize_structures([good, bad], ["sorted_inverse_distance"])


def test_formula_and_composition_plus_structure() -> None:
    s = _structures()
    crystals = [s["Si"], s["NaCl"], s["disordered"]]
    assert [crystal_formula(c) for c in crystals] == ["Si2", "NaCl", "Na0.5Li0.5ClO0.8"]
    comp = batch_compositions(crystals)
    assert comp.z.tolist() == [14, 11, 17, 3, 8, 11, 17]
    X, labels = featurize_composition_structure(crystals)
    ref = featurize_formulas(["Si", "NaCl", "LiNaCl2O1.6"], "composition")
    n = len(ref.labels)
    assert labels[:n] == ref.labels and X.shape == (3, n + 32 + 192)
    np.testing.assert_allclose(X[:, :n], ref.values, rtol=1e-10)
    np.testing.assert_allclose(X[:, n:], featurize_structures(crystals)[0])
