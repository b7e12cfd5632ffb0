"""The task catalogue and the default meta-split: whole quantity groups on one side only."""

from __future__ import annotations

import numpy as np
import pytest

from metamat.data.registry import get_spec
from metamat.tasks.catalog import GROUP_SPLIT, META_SPLIT_REASONS, TASKS, build_task, resolve_tasks, task_specs


def test_every_task_points_at_a_registered_target() -> None:
    for t in TASKS:
        spec = get_spec(t.dataset)
        assert t.target in spec.targets, (t.name, list(spec.targets))
        assert (spec.targets[t.target].kind == "classification") == (t.kind == "classification"), t.name


def test_quantity_groups_never_straddle_the_meta_split() -> None:
    names = [t.name for t in TASKS]
    assert len(names) == len(set(names))
    sides: dict[str, set[str]] = {}
    for t in TASKS:
        sides.setdefault(t.group, set()).add(t.split)
    assert all(len(s) == 1 for s in sides.values())
    # the pairs the issue names explicitly share a group
    group = {t.name: t.group for t in TASKS}
    assert group["aflow__ael_bulk_modulus_vrh"] == group["mp_bulk_modulus"]
    assert group["OQMD_Bandgap"] == group["aflow__Egap"] == group["matbench_mp_gap"] == group["matbench_expt_gap"]
    assert group["CritExam__Ef"] == group["matbench_mp_e_form"]
    assert set(GROUP_SPLIT) == set(sides) == set(META_SPLIT_REASONS)
    assert {t.split for t in TASKS} == {"train", "val", "test"}
    assert set(g for g, s in GROUP_SPLIT.items() if s == "test").isdisjoint(
        g for g, s in GROUP_SPLIT.items() if s == "train")


def test_resolve_names_and_sides() -> None:
    assert resolve_tasks("meta-test") == task_specs("test")
    assert [t.name for t in resolve_tasks("matbench_steels, mp_bulk_modulus")] == ["matbench_steels",
                                                                                    "mp_bulk_modulus"]
    with pytest.raises(KeyError, match="unknown task"):
        resolve_tasks("nope")


def test_build_task_from_the_registry(shared_data_dir) -> None:
    task = build_task(resolve_tasks("matbench_steels")[0], data_dir=shared_data_dir)
    assert len(task) == 312 and task.X.shape == (312, 148) and task.units == "MPa"
    assert task.quantity == "yield strength"
    assert np.isfinite(task.X).all() and (task.y > 0).all()
    small = build_task(resolve_tasks("supercon_tc_stanev")[0], max_rows=500, seed=1, data_dir=shared_data_dir)
    assert len(small) == 500 and small.transform.kind == "log10"
