"""Physics of the potential (random weights): invariances, exact gradients, extensivity; the analytic
descriptor gradient equals autograd and the float32 calculator agrees with float64."""

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import PropertyNotImplementedError, compare_atoms
from scipy.spatial.transform import Rotation

from metamat.potentials import Potential, PotentialCalculator
from metamat.potentials import symmetry_functions as sf
from metamat.potentials.dataset import fit_scaling_from_frames
from metamat.potentials.network import TorchGraph
from metamat.potentials.symmetry_functions import DescriptorSettings

torch.set_num_threads(1)

SETTINGS = DescriptorSettings(cutoff=4.0, angular_cutoff=3.5, radial=[(0.05, 0.0), (0.5, 2.4), (1.0, 3.0)],
                              angular_eta=[0.01], zeta=[1.0, 4.0], lambdas=[1.0, -1.0])


def si_ge_cell(seed: int = 0) -> Atoms:
    """Rattled triclinic 8-atom Si/Ge cell."""
    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    atoms.symbols[[1, 4, 6]] = "Ge"
    cell = atoms.cell.array @ np.array([[1.0, 0.05, 0.0], [0.0, 1.0, 0.04], [0.03, 0.0, 1.0]])
    atoms.set_cell(cell, scale_atoms=True)
    atoms.rattle(0.15, seed=seed)
    return atoms


def cluster() -> Atoms:
    rng = np.random.default_rng(3)
    pos = rng.uniform(0, 4.5, size=(9, 3))
    return Atoms("Si5Ge4", positions=pos)


@pytest.fixture(scope="module")
def model() -> Potential:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        m = Potential(["Si", "Ge"], SETTINGS, hidden=(16, 16), activation="tanh")
    fit_scaling_from_frames(m, [si_ge_cell(1), si_ge_cell(2)])
    m.energy_offset.copy_(torch.tensor([-5.4, -4.6], dtype=torch.float64))
    return m.eval()


def test_force_sum_is_zero(model):
    for atoms in (si_ge_cell(), cluster()):
        forces = model.predict(atoms)["forces"]
        assert np.abs(forces).max() > 1e-3  # not trivially zero
        assert np.abs(forces.sum(0)).max() < 1e-6


def test_translation_rotation_permutation_invariance(model):
    atoms = cluster()
    e0, f0 = model.predict(atoms)["energy"], model.predict(atoms)["forces"]
    moved = atoms.copy()
    moved.positions += [1.3, -2.1, 0.7]
    assert model.predict(moved)["energy"] == pytest.approx(e0, abs=1e-9)
    rot = Rotation.from_euler("xyz", [0.3, -1.1, 2.0]).as_matrix()
    turned = atoms.copy()
    turned.positions = atoms.positions @ rot.T
    out = model.predict(turned)
    assert out["energy"] == pytest.approx(e0, abs=1e-9)
    np.testing.assert_allclose(out["forces"], f0 @ rot.T, atol=1e-9)
    perm = np.array([4, 0, 2, 1, 3, 8, 5, 7, 6])  # Si (0-4) and Ge (5-8) only swapped among themselves
    out = model.predict(atoms[perm])
    assert out["energy"] == pytest.approx(e0, abs=1e-9)
    np.testing.assert_allclose(out["forces"], f0[perm], atol=1e-9)
    swapped = atoms.copy()  # swapping a Si and a Ge atom must change the energy
    swapped.positions[[0, 5]] = atoms.positions[[5, 0]]
    assert abs(model.predict(swapped)["energy"] - e0) > 1e-4


def test_periodic_translation_and_wrapping(model):
    atoms = si_ge_cell()
    e0 = model.predict(atoms)["energy"]
    moved = atoms.copy()
    moved.positions += [2.0, 7.5, -3.0]
    assert model.predict(moved)["energy"] == pytest.approx(e0, abs=1e-9)
    moved.wrap()
    assert model.predict(moved)["energy"] == pytest.approx(e0, abs=1e-9)


def _fd_forces(model, atoms, h=1e-4):
    fd = np.zeros((len(atoms), 3))
    for i in range(len(atoms)):
        for k in range(3):
            energies = []
            for sign in (1, -1):
                a = atoms.copy()
                a.positions[i, k] += sign * h
                energies.append(model.predict(a)["energy"])
            fd[i, k] = -(energies[0] - energies[1]) / (2 * h)
    return fd


@pytest.mark.parametrize("make", [si_ge_cell, cluster])
def test_forces_match_finite_differences(model, make):
    atoms = make()
    forces = model.predict(atoms)["forces"]
    fd = _fd_forces(model, atoms)
    scale = np.abs(fd).max()
    assert scale > 1e-2
    assert np.abs(forces - fd).max() / scale < 1e-4


def test_supercell_energy_is_extensive(model):
    atoms = si_ge_cell()
    e1 = model.predict(atoms)["energy"]
    big = atoms.repeat((2, 1, 3))
    out = model.predict(big)
    assert out["energy"] == pytest.approx(6 * e1, rel=1e-10, abs=1e-8)
    np.testing.assert_allclose(out["forces"][: len(atoms)], model.predict(atoms)["forces"], atol=1e-9)


def test_stress_matches_strain_finite_differences(model):
    atoms = si_ge_cell()
    stress = model.predict(atoms, stress=True)["stress"]
    h, vol = 1e-5, atoms.get_volume()
    fd = np.zeros((3, 3))
    for a in range(3):
        for b in range(3):
            energies = []
            for sign in (1, -1):
                eps = np.eye(3)
                eps[a, b] += sign * h
                strained = atoms.copy()
                strained.set_cell(atoms.cell.array @ eps, scale_atoms=True)
                energies.append(model.predict(strained)["energy"])
            fd[a, b] = (energies[0] - energies[1]) / (2 * h) / vol
    fd = 0.5 * (fd + fd.T)
    assert np.abs(fd).max() > 1e-3
    np.testing.assert_allclose(stress, fd, atol=1e-4 * np.abs(fd).max())


def test_calculator_matches_model_and_rejects_stress_without_pbc(model):
    atoms = si_ge_cell()
    atoms.calc = PotentialCalculator(model)
    ref = model.predict(atoms, stress=True)
    assert atoms.get_potential_energy() == pytest.approx(ref["energy"])
    np.testing.assert_allclose(atoms.get_forces(), ref["forces"])
    s = ref["stress"]
    np.testing.assert_allclose(atoms.get_stress(), [s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])
    mol = cluster()
    mol.calc = PotentialCalculator(model)
    assert np.isfinite(mol.get_potential_energy())
    with pytest.raises(PropertyNotImplementedError):
        mol.get_stress()


def test_energy_is_continuous_at_the_cutoff(model):
    def pair(r):
        return model.predict(Atoms("Si2", positions=[[0, 0, 0], [r, 0, 0]]))

    inside, outside = pair(SETTINGS.cutoff - 1e-7), pair(SETTINGS.cutoff + 1e-7)
    assert inside["energy"] == pytest.approx(outside["energy"], abs=1e-8)
    assert np.abs(inside["forces"]).max() < 1e-6


def test_unknown_element_is_an_input_error(model):
    from metamat.errors import InputError

    with pytest.raises(InputError, match="Cu"):
        model.predict(Atoms("SiCu", positions=[[0, 0, 0], [2, 0, 0]]))


def si64(rattle: float = 0.1, seed: int = 0) -> Atoms:
    atoms = bulk("Si", "diamond", a=5.43, cubic=True).repeat((2, 2, 2))
    atoms.rattle(rattle, seed=seed)
    return atoms


SHIFTED = DescriptorSettings.from_dict({**SETTINGS.to_dict(), "angular_shifted": [(2.0, 2.4)]})


@pytest.mark.parametrize("chunk,activation,settings", [(sf._ANGULAR_CHUNK, "silu", SETTINGS), (1, "softplus", SETTINGS),
                                                       (1, "tanh", SETTINGS), (sf._ANGULAR_CHUNK, "tanh", SHIFTED)])
def test_analytic_gradient_matches_autograd(monkeypatch, chunk, activation, settings):  # chunk 1: one atom per chunk
    monkeypatch.setattr(sf, "_ANGULAR_CHUNK", chunk)
    with torch.random.fork_rng():
        torch.manual_seed(2)
        model = Potential(["Si", "Ge"], settings, hidden=(8, 6), activation=activation)
    lonely = cluster()
    lonely.positions[0] += [30.0, 0.0, 0.0]  # an atom without neighbours
    frames = [si_ge_cell(1), lonely, si_ge_cell(2).repeat((1, 2, 1))]
    fit_scaling_from_frames(model, frames)
    graph = model.graphs(frames)
    fast = model.compute(graph, stress=True)
    ref = model.compute(graph, stress=True, create_graph=True)  # full autograd through the descriptor
    for key in ("energy", "forces", "stress"):
        np.testing.assert_allclose(fast[key].numpy(), ref[key].detach().numpy(), rtol=1e-10, atol=1e-12)
    assert np.abs(fast["forces"].numpy()).max() > 1e-2


def test_float32_calculator_agrees_with_float64():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = Potential(["Si"])  # default descriptor: zeta up to 16
    fit_scaling_from_frames(model, [si64(0.05, seed=1)])
    model.energy_scale.fill_(3.0)  # forces of order 1 eV/Å, as for a trained model
    atoms = si64()
    results = []
    for dtype in (None, "float32"):
        a = atoms.copy()
        a.calc = PotentialCalculator(model, dtype=dtype)
        results.append((a.get_potential_energy() / len(a), a.get_forces(), a.get_stress()))
    assert model.dtype == torch.float64  # the float32 copy leaves the model alone
    (e64, f64, s64), (e32, f32, s32) = results
    assert np.abs(f64).max() > 0.3
    assert abs(e64 - e32) < 1e-4
    assert np.abs(f64 - f32).max() < 1e-4
    assert np.abs(s64 - s32).max() < 1e-5


def test_calculator_evaluates_once_per_structure(monkeypatch):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = Potential(["Si"], SETTINGS, hidden=(8,))
    calls = []
    compute = model.compute
    monkeypatch.setattr(model, "compute", lambda *a, **k: calls.append(1) or compute(*a, **k))
    atoms = si64(0.05)
    atoms.calc = PotentialCalculator(model)
    atoms.get_potential_energy()
    atoms.get_forces()
    atoms.get_stress()
    assert len(calls) == 1
    atoms.positions[0, 0] += 0.01
    atoms.calc.threads = 2  # runs on two threads, then restores the global setting
    atoms.get_forces()
    assert len(calls) == 2 and torch.get_num_threads() == 1
    with pytest.raises(ValueError, match="dtype"):
        PotentialCalculator(model, dtype="int64")


def test_check_state_reports_what_ase_reports():
    atoms = si_ge_cell()
    calc = PotentialCalculator(Potential(["Si", "Ge"], SETTINGS, hidden=(4,)))
    assert sorted(calc.check_state(atoms)) == sorted(compare_atoms(None, atoms))
    calc.atoms = atoms.copy()
    changed = [atoms.copy() for _ in range(6)]
    changed[1].positions[2, 1] += 1e-9
    changed[2].set_cell(atoms.cell.array * 1.01)
    changed[3].pbc = [True, False, True]
    changed[4].numbers[0] = 14 if atoms.numbers[0] != 14 else 32
    changed[5].set_initial_magnetic_moments(np.ones(len(atoms)))
    for other in changed:
        assert sorted(calc.check_state(other)) == sorted(compare_atoms(calc.atoms, other))
    assert calc.check_state(changed[0]) == [] and calc.check_state(changed[1]) == ["positions"]


def test_shifted_angular_function_matches_hand_value():
    """G5 with a shift r_s on a 3-atom cluster: the one neighbour pair of atom 0, by hand."""
    eta, rs, zeta, lam, rc = 1.5, 2.2, 4.0, -1.0, 3.5
    settings = DescriptorSettings(cutoff=4.0, angular_cutoff=rc, radial=[(0.1, 0.0)], angular_eta=[],
                                  angular_shifted=[(eta, rs)], zeta=[zeta], lambdas=[lam])
    atoms = Atoms("Si3", positions=[[0.0, 0.0, 0.0], [2.1, 0.0, 0.0], [0.8, 2.3, 0.4]])
    model = Potential(["Si"], settings, hidden=(4,))
    g = model.graphs([atoms])
    tg = TorchGraph.from_graph(g)
    vec = model.edge_vectors(torch.as_tensor(g.positions), torch.as_tensor(g.cells), tg)
    feats = model.descriptor(vec, tg.center, tg.neighbor, tg.species).numpy()
    a, b = atoms.positions[1], atoms.positions[2]
    ra, rb = np.linalg.norm(a), np.linalg.norm(b)
    cos = a @ b / (ra * rb)

    def fc(r):
        return 0.5 * (np.cos(np.pi * r / rc) + 1.0)

    gauss = np.exp(-eta * ((ra - rs) ** 2 + (rb - rs) ** 2))
    hand = 2 ** (1 - zeta) * (1 + lam * cos) ** zeta * gauss * fc(ra) * fc(rb)
    assert hand > 1e-3
    np.testing.assert_allclose(feats[0, 1], hand, rtol=1e-12)
    old = DescriptorSettings.from_dict({"angular_eta": [0.005, 0.06]})  # a file from before shifted channels
    assert old.angular_shifted == [] and old.n_angular() == 16
