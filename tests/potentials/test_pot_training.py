"""Training, testing and saving potentials on tiny EMT data sets."""

import json

import numpy as np
import pytest
import torch
from ase.build import bulk
from ase.calculators.emt import EMT

from metamat.errors import InputError
from metamat.potentials import (
    DescriptorSettings,
    Potential,
    TrainSettings,
    load_potential,
    save_potential,
    test_potential,
    train_potential,
    write_test_report,
)
from metamat.potentials.dataset import batch_energy_forces, make_batch, precompute
from metamat.potentials.training import fit_energy_offsets, split_frames

torch.set_num_threads(1)

DESC = DescriptorSettings(cutoff=4.5, angular_cutoff=3.5, radial=[(0.05, 0.0), (0.3, 0.0), (2.0, 2.5), (2.0, 3.2)],
                          angular_eta=[0.02], zeta=[1.0, 4.0], lambdas=[1.0, -1.0])


def emt_frames(n: int, seed: int = 0, alloy: bool = False):
    """Rattled, strained 8-atom fcc cells labelled with ASE's EMT (Cu, or a Cu/Ni alloy)."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
        atoms = atoms.repeat((2, 1, 1))
        if alloy:
            atoms.symbols[rng.choice(8, 3, replace=False)] = "Ni"
        atoms.set_cell(atoms.cell.array * rng.uniform(0.97, 1.03), scale_atoms=True)
        atoms.positions += rng.normal(0, 0.08, atoms.positions.shape)
        atoms.calc = EMT()
        atoms.info["energy"] = atoms.get_potential_energy()
        atoms.arrays["forces"] = atoms.get_forces()
        atoms.calc = None
        frames.append(atoms)
    return frames


SMALL = TrainSettings(descriptor=DESC, hidden=(12, 12), max_epochs=60, batch_size=4, lr=1e-2, patience=100,
                      force_weight=0.01, seed=3)


@pytest.fixture(scope="module")
def data():
    return emt_frames(16, seed=1), emt_frames(6, seed=2)


@pytest.fixture(scope="module")
def trained(data):
    train, _ = data
    return train_potential(train, settings=SMALL, progress=False)


def test_energy_offsets_least_squares():
    counts = np.array([[2, 1], [1, 3], [4, 0], [2, 2]])
    e0 = np.array([-3.5, -1.25])
    np.testing.assert_allclose(fit_energy_offsets(counts, counts @ e0), e0)


def test_split_frames_is_seeded():
    frames = list(range(20))
    a, b = split_frames(frames, 0.1, seed=4)
    assert len(b) == 2 and sorted(a + b) == frames
    assert split_frames(frames, 0.1, seed=4) == (a, b)
    with pytest.raises(InputError):
        split_frames(frames[:1], 0.1, seed=0)


def test_stored_jacobian_forces_equal_autograd_forces():
    frames = emt_frames(3, seed=5, alloy=True)
    with torch.random.fork_rng():
        torch.manual_seed(1)
        model = Potential(["Cu", "Ni"], DESC, hidden=(8,))
    data = precompute(model, frames, dtype=torch.float64)
    energy, forces = batch_energy_forces(model, make_batch(data, [2, 0]), create_graph=False)
    ref = model.compute(model.graphs([frames[2], frames[0]]), create_graph=True)  # autograd throughout
    np.testing.assert_allclose(energy.detach(), ref["energy"].detach(), rtol=1e-12)
    np.testing.assert_allclose(forces.detach(), ref["forces"].detach(), atol=1e-12)


def test_training_learns_and_is_reproducible(data, trained):
    train, test = data
    metrics = test_potential(trained, test)
    f_ref = np.concatenate([a.arrays["forces"] for a in test])
    assert metrics["force_mae_ev_per_angstrom"] < 0.5 * np.abs(f_ref).mean()
    e_ref = np.array([a.info["energy"] / len(a) for a in test])
    assert metrics["energy_mae_mev_per_atom"] < 1e3 * np.abs(e_ref - e_ref.mean()).mean()
    assert trained.train_info["n_valid"] == 2 and len(trained.history) == trained.train_info["epochs"]
    # weights are selected by the MAE-based validation score, not by the MSE loss
    assert trained.train_info["best_valid_score"] == min(h["valid_score"] for h in trained.history)
    _, valid = split_frames(train, SMALL.valid_fraction, SMALL.seed)
    m = test_potential(trained, valid)  # the returned weights reproduce the best score
    score = SMALL.energy_weight * (m["energy_mae_mev_per_atom"] / 1e3) ** 2 + \
        SMALL.force_weight * m["force_mae_ev_per_angstrom"] ** 2
    assert score == pytest.approx(trained.train_info["best_valid_score"], rel=1e-4)
    again = train_potential(train, settings=SMALL, progress=False)
    for (k, v), w in zip(trained.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(v, w), k
    other = train_potential(train, settings=TrainSettings.from_dict({**SMALL.to_dict(), "seed": 4,
                                                                     "max_epochs": 2}), progress=False)
    assert not torch.equal(other.nets[0][0].weight, trained.nets[0][0].weight)


def test_save_load_roundtrip(tmp_path, data, trained):
    save_potential(trained, tmp_path / "pot")
    assert sorted(p.name for p in (tmp_path / "pot").iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((tmp_path / "pot" / "config.json").read_text())
    assert config["model"]["elements"] == ["Cu"] and config["training"]["epochs"] >= 1
    loaded = load_potential(tmp_path / "pot")
    atoms = data[1][0]
    a, b = trained.predict(atoms, stress=True), loaded.predict(atoms, stress=True)
    assert a["energy"] == b["energy"]
    np.testing.assert_array_equal(a["forces"], b["forces"])
    np.testing.assert_array_equal(a["stress"], b["stress"])
    with pytest.raises(InputError, match="missing"):
        load_potential(tmp_path / "nope")
    (tmp_path / "pot" / "config.json").write_text("{broken")
    with pytest.raises(InputError, match="invalid JSON"):
        load_potential(tmp_path / "pot")


def test_report_files(tmp_path, data, trained):
    metrics, preds = test_potential(trained, data[1], return_predictions=True)
    assert set(metrics) >= {"energy_mae_mev_per_atom", "energy_rmse_mev_per_atom", "force_mae_ev_per_angstrom",
                            "force_rmse_ev_per_angstrom"}
    assert metrics["energy_rmse_mev_per_atom"] >= metrics["energy_mae_mev_per_atom"] > 0
    paths = write_test_report(metrics, preds, tmp_path / "report")
    assert json.loads(paths["metrics"].read_text()) == metrics
    assert paths["parity"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_settings_are_input_errors():
    with pytest.raises(InputError, match="unknown training settings"):
        TrainSettings.from_dict({"epochs": 3})
    with pytest.raises(InputError, match="activation"):
        Potential(["Cu"], DESC, activation="relu6")


def test_fine_tuning_starts_from_the_source_network(data, trained):
    train, test = data
    few = train[:4]
    ni = emt_frames(4, seed=7)
    for a in ni:
        a.symbols[:] = "Ni"
    settings = TrainSettings.from_dict({**SMALL.to_dict(), "max_epochs": 1, "lr": 1e-9})
    tuned = train_potential(few, settings=settings, init_from=trained, progress=False)
    for a, b in zip(tuned.nets[0].parameters(), trained.nets[0].parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)  # lr ~ 0: weights barely move
    assert tuned.settings == trained.settings
    mapped = train_potential(ni, settings=settings, init_from=trained, element_map={"Ni": "Cu"}, progress=False)
    assert mapped.elements == ["Ni"]
    with pytest.raises(InputError, match="element_map"):
        train_potential(ni, settings=settings, init_from=trained, progress=False)
