"""Reading frames with energies and forces under the key names files use."""

import numpy as np
import pytest
from ase.build import bulk
from ase.io import write

from metamat.data.frames import frame_energy, frame_forces, read_frames
from metamat.errors import InputError


def _frames(n=3):
    out = []
    for k in range(n):
        a = bulk("Cu", "fcc", a=3.6).repeat((2, 1, 1))
        a.rattle(0.05, seed=k)
        out.append(a)
    return out


def _write(path, frames, energy_key, forces_key, energies=None):
    for k, a in enumerate(frames):
        if energy_key:
            a.info[energy_key] = -7.0 - k if energies is None else energies[k]
        if forces_key:
            a.arrays[forces_key] = np.full((len(a), 3), 0.1 * (k + 1))
    write(path, frames, format="extxyz")


@pytest.mark.parametrize("e_key,f_key", [("energy", "forces"), ("Energy", "force"), ("free_energy", "forces"),
                                         ("REF_energy", "REF_forces")])
def test_key_names_are_found(tmp_path, e_key, f_key):
    path = tmp_path / "f.extxyz"
    _write(path, _frames(), e_key, f_key)
    frames = read_frames(path)
    assert len(frames) == 3 and frames.report.used == 3 and frames.report.rejected == []
    assert [frame_energy(a) for a in frames] == pytest.approx([-7.0, -8.0, -9.0])
    np.testing.assert_allclose(frame_forces(frames[2]), 0.3)
    assert frames[0].calc is None and "energy" in frames[0].info and "forces" in frames[0].arrays


def test_explicit_keys_and_gzip(tmp_path):
    path = tmp_path / "f.extxyz"
    frames = _frames()
    for a in frames:
        a.info["e_dft"], a.info["energy"] = -1.0, -2.0
        a.arrays["f_dft"] = np.ones((len(a), 3))
    write(path, frames, format="extxyz")
    got = read_frames(path, energy_key="e_dft", forces_key="f_dft")
    assert frame_energy(got[0]) == -1.0
    np.testing.assert_allclose(frame_forces(got[0]), 1.0)


def test_missing_keys_name_the_file(tmp_path):
    path = tmp_path / "nothing.extxyz"
    write(path, _frames(), format="extxyz")
    with pytest.raises(InputError, match="no energy found") as err:
        read_frames(path)
    assert err.value.source == str(path)
    _write(path, _frames(), "energy", None)
    with pytest.raises(InputError, match="no forces found"):
        read_frames(path)
    assert len(read_frames(path, require_forces=False)) == 3
    with pytest.raises(InputError, match="no energy found"):
        read_frames(path, energy_key="nope")
    with pytest.raises(InputError, match="file not found"):
        read_frames(tmp_path / "absent.extxyz")


def test_bad_frames_are_rejected_with_reasons(tmp_path):
    path = tmp_path / "f.extxyz"
    _write(path, _frames(3), "energy", "forces", energies=[-1.0, float("nan"), -3.0])
    frames = read_frames(path)
    assert len(frames) == 2
    assert frames.report.rejected == [(2, "'energy' is not finite")]
    assert "rejected 1" in frames.report.summary()


def test_shared_tial_file_uses_force_key(shared_data_dir):
    path = shared_data_dir / "acepotentials_tial" / "TiAl_tutorial.extxyz.gz"
    if not path.exists():
        pytest.skip("shared data not present")
    frames = read_frames(path, index=":5")
    assert frames.report.forces_key == "force"
    assert frame_forces(frames[0]).shape == (len(frames[0]), 3)
