"""The library calls behind ``metamat potential train|test|md`` on a tiny EMT data set."""

import json

import numpy as np
import pytest
import torch
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.io import read, write

from metamat.app.potential import md_command, test_command, train_command
from metamat.errors import InputError

torch.set_num_threads(1)

SETTINGS = {"hidden": [8], "max_epochs": 5, "descriptor": {
    "cutoff": 4.0, "angular_cutoff": 3.0, "radial": [[0.1, 0.0], [1.0, 2.5]], "angular_eta": [0.02],
    "zeta": [1.0], "lambdas": [1.0, -1.0]}}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmd")
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(6):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
        atoms.positions += rng.normal(0, 0.05, atoms.positions.shape)
        atoms.calc = EMT()
        atoms.info["DFT_energy"] = atoms.get_potential_energy()
        atoms.arrays["force"] = atoms.get_forces()
        atoms.calc = None
        frames.append(atoms)
    write(root / "train.extxyz", frames, format="extxyz")
    write(root / "cu.cif", bulk("Cu", "fcc", a=3.6, cubic=True))
    (root / "settings.json").write_text(json.dumps(SETTINGS))
    return root


def test_train_test_md(files):
    out = files / "model"
    res = train_command(str(files / "train.extxyz"), str(out), settings_json=str(files / "settings.json"),
                        seed=1, test_path=str(files / "train.extxyz"), progress=False)
    assert res["epochs"] == 5 and (out / "model.safetensors").exists() and "force_mae_ev_per_angstrom" in res["test"]
    metrics = test_command(str(out), str(files / "train.extxyz"), str(files / "report"))
    assert metrics == res["test"] and (files / "report" / "parity.png").exists()
    rep = md_command(str(out), str(files / "cu.cif"), str(files / "md.traj"), steps=20, repeat=(2, 1, 1),
                     interval=5, progress=False)
    assert rep["n_atoms"] == 8 and len(read(files / "md.traj", index=":")) == 5


def test_bad_inputs_are_input_errors(files):
    with pytest.raises(InputError, match="not valid JSON"):
        train_command(str(files / "train.extxyz"), str(files / "m2"), settings_json="{oops", progress=False)
    with pytest.raises(InputError, match="no energy found"):
        train_command(str(files / "train.extxyz"), str(files / "m2"), energy_key="nope", progress=False)
    with pytest.raises(InputError, match="file not found"):
        md_command(str(files / "model"), str(files / "absent.cif"), str(files / "x.traj"))
