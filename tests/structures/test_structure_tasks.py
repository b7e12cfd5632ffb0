"""Structure tasks: rows, derived volume per atom, and identical rows for every input kind."""

from __future__ import annotations

import numpy as np
import pytest

from metamat.tasks.structure_tasks import (
    STRUCTURE_TASKS,
    build_structure_task,
    get_structure_task_spec,
    load_structure_rows,
)


@pytest.fixture
def structure_data(shared_data_dir):
    """The shared data folder, if it holds the structure datasets (skips otherwise)."""
    if not (shared_data_dir / "matbench_jdft2d_structures_partial").is_dir():
        pytest.skip(f"{shared_data_dir} has no structure datasets (matbench_jdft2d_structures_partial)")
    return shared_data_dir


def test_specs_are_unique_and_split_by_family():
    names = [s.name for s in STRUCTURE_TASKS]
    assert len(set(names)) == len(names)
    assert {s.family for s in STRUCTURE_TASKS} == {"bulk", "2D"}
    with pytest.raises(KeyError, match="known"):
        get_structure_task_spec("nope")


def test_jdft2d_rows_and_inputs(structure_data):
    rows = load_structure_rows(get_structure_task_spec("jdft2d:exfoliation_energy"), data_dir=structure_data)
    assert len(rows.y) == 508 and rows.rejected == [] and rows.units == "meV/atom"
    comp = build_structure_task(rows, "composition")
    desc = build_structure_task(rows, "descriptors")
    assert comp.X.shape[0] == desc.X.shape[0] == 508 and desc.X.shape[1] > comp.X.shape[1]
    np.testing.assert_array_equal(comp.X, desc.X[:, :comp.X.shape[1]])  # composition block first
    assert np.array_equal(comp.y, desc.y) and comp.name == desc.name


def test_volume_per_atom_matches_pymatgen(structure_data):
    from metamat.data.registry import load_dataset

    rows = load_structure_rows(get_structure_task_spec("jarvis_epc:volume_per_atom"), data_dir=structure_data,
                              max_rows=50, seed=1)
    table = load_dataset("jarvis_epc_tc", data_dir=structure_data)
    by_id = dict(zip(table.ids, table.structures, strict=True))
    expected = np.array([by_id[i].volume / by_id[i].num_sites for i in rows.ids])
    np.testing.assert_allclose(rows.y, expected, rtol=1e-9)
    assert rows.units == "Å^3/atom"
