"""Hostile potential inputs: overlapping atoms, NaN forces, foreign elements, absurd MD settings; a good model
on disk is never replaced by a broken one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.io import write

from metamat.app.potential import md_command, test_command, train_command
from metamat.errors import InputError
from metamat.potentials.training import check_finite

torch.set_num_threads(1)

SETTINGS = {"hidden": [8], "max_epochs": 3, "descriptor": {
    "cutoff": 4.0, "angular_cutoff": 3.0, "radial": [[0.1, 0.0], [1.0, 2.5]], "angular_eta": [0.02],
    "zeta": [1.0], "lambdas": [1.0, -1.0]}}


def _frames(n: int, seed: int = 0) -> list[Atoms]:
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
        atoms.positions += rng.normal(0, 0.05, atoms.positions.shape)
        atoms.calc = EMT()
        atoms.info["energy"] = atoms.get_potential_energy()
        atoms.arrays["forces"] = atoms.get_forces()
        atoms.calc = None
        frames.append(atoms)
    return frames


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile_pot")
    write(root / "train.extxyz", _frames(6), format="extxyz")
    (root / "settings.json").write_text(json.dumps(SETTINGS))
    train_command(str(root / "train.extxyz"), str(root / "model"), settings_json=str(root / "settings.json"),
                  progress=False)
    return root


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_overlapping_atoms_are_rejected_before_training_and_the_model_is_kept(root: Path) -> None:
    frames = _frames(6, seed=1)
    frames[3].positions[1] = frames[3].positions[0]  # two atoms at one position (frame 4 of the file)
    write(root / "overlap.extxyz", frames, format="extxyz")
    before = _snapshot(root / "model")
    with pytest.raises(InputError) as err:
        train_command(str(root / "overlap.extxyz"), str(root / "model"), settings_json=str(root / "settings.json"),
                      progress=False)
    problem = err.value.problems[0]
    assert problem.source == str(root / "overlap.extxyz") and problem.row == 4
    assert "0.000 Å apart" in problem.reason
    assert _snapshot(root / "model") == before  # untouched, and no temp files next to it


def test_a_non_finite_model_is_never_returned(root: Path) -> None:
    from metamat.potentials.io import load_potential

    model = load_potential(root / "model")
    check_finite(model)  # the trained one is fine
    with torch.no_grad():
        next(model.nets[0].parameters())[0, 0] = float("nan")
    with pytest.raises(InputError, match="non-finite values in 1 tensors"):
        check_finite(model)


def test_diverging_training_stops_naming_epoch_and_frames(root: Path) -> None:
    settings = {**SETTINGS, "lr": 1e30, "max_epochs": 20}
    (root / "wild.json").write_text(json.dumps(settings))
    with pytest.raises(InputError, match=r"non-finite in epoch \d+") as err:
        train_command(str(root / "train.extxyz"), str(root / "wild_model"), settings_json=str(root / "wild.json"),
                      progress=False)
    assert err.value.source == str(root / "train.extxyz") and 1 <= err.value.row <= 6
    assert not (root / "wild_model").exists()


def test_frames_with_nan_forces_are_reported_by_test(root: Path) -> None:
    frames = _frames(4, seed=2)
    frames[2].arrays["forces"][0, 1] = np.nan
    write(root / "nan_forces.extxyz", frames, format="extxyz")
    metrics = test_command(str(root / "model"), str(root / "nan_forces.extxyz"), str(root / "report"))
    assert metrics["n_frames"] == 3 and metrics["n_frames_read"] == 4
    assert metrics["rejected_frames"] == [{"frame": 3, "reason": "'forces' is not finite"}]
    saved = json.loads((root / "report" / "metrics.json").read_text())
    assert saved["rejected_frames"][0]["frame"] == 3


def test_foreign_elements_name_file_and_frame(root: Path) -> None:
    frames = _frames(3, seed=3)
    frames[1] = Atoms("CuO", positions=[[0, 0, 0], [1.8, 0, 0]], cell=[6, 6, 6], pbc=True)
    frames[1].info["energy"], frames[1].arrays["forces"] = -1.0, np.zeros((2, 3))
    write(root / "oxide.extxyz", frames, format="extxyz")
    with pytest.raises(InputError, match=r"elements \['O'\] are not in the potential") as err:
        test_command(str(root / "model"), str(root / "oxide.extxyz"), str(root / "r2"))
    assert err.value.source == str(root / "oxide.extxyz") and err.value.row == 2
    write(root / "oxide.cif", frames[1])
    with pytest.raises(InputError, match=r"\['O'\]") as err:
        md_command(str(root / "model"), str(root / "oxide.cif"), str(root / "o.traj"), steps=2, progress=False)
    assert err.value.source == str(root / "oxide.cif")


@pytest.mark.parametrize("temperature", [-300.0, float("nan"), float("inf")])
def test_md_refuses_absurd_temperatures_and_leaves_no_files(root: Path, temperature: float) -> None:
    write(root / "cu.cif", bulk("Cu", "fcc", a=3.6, cubic=True))
    with pytest.raises(InputError, match="temperature must be"):
        md_command(str(root / "model"), str(root / "cu.cif"), str(root / "t.traj"), temperature=temperature,
                   steps=5, progress=False)
    assert not list(root.glob("*t.traj*"))


def test_md_trajectory_goes_through_a_temporary_name(root: Path, monkeypatch) -> None:
    from metamat.potentials import md

    seen = []
    real = md.atomic_path

    def spy(path):
        seen.append(Path(path))
        return real(path)

    monkeypatch.setattr(md, "atomic_path", spy)
    write(root / "cu.cif", bulk("Cu", "fcc", a=3.6, cubic=True))
    md_command(str(root / "model"), str(root / "cu.cif"), str(root / "ok.traj"), steps=4, interval=2,
               progress=False)
    assert seen == [root / "ok.traj"] and (root / "ok.traj").exists()
    assert not list(root.glob(".ok.traj*"))
