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


def test_knowledge_columns_of_the_tasks_own_quantity_dropped_masked_or_kept(shared_data_dir) -> None:
    spec = resolve_tasks("matbench_expt_gap")[0]
    kw = {"data_dir": shared_data_dir, "featurizers": "composition+knowledge", "max_rows": 200, "seed": 3}
    kept = build_task(spec, keep_quantities=True, **kw)  # multi-fidelity: DFT-gap surrogates stay inputs
    dropped = build_task(spec, **kw)
    masked = build_task(spec, fixed_width=True, **kw)
    gap_cols = [i for i, label in enumerate(kept.feature_labels) if "band gap" in label]
    assert kept.X.shape == masked.X.shape == (200, 148 + 14) and len(gap_cols) == 2
    assert kept.removed_features == () and np.isfinite(kept.X[:, gap_cols]).all()
    # default: the two band-gap surrogate columns are gone, every other column is unchanged
    others = [i for i in range(kept.X.shape[1]) if i not in gap_cols]
    assert dropped.X.shape == (200, 160) and len(dropped.removed_features) == 2
    np.testing.assert_array_equal(dropped.X, kept.X[:, others])
    # fixed width: same layout as the kept version, the gap columns NaN (never a value) and reported
    assert masked.feature_labels == kept.feature_labels
    assert np.isnan(masked.X[:, gap_cols]).all() and len(masked.removed_features) == 2
    np.testing.assert_array_equal(masked.X[:, others], kept.X[:, others])


def test_excluded_groups_add_the_tasks_groups_and_the_tied_ones() -> None:
    from metamat.tasks.catalog import excluded_groups

    assert excluded_groups("matbench_expt_gap,matbench_steels") == {"band gap", "metallicity", "yield strength"}
    assert excluded_groups("", "shear modulus") == {"shear modulus", "poisson ratio"}
    assert excluded_groups("supercon_tc_stanev", "work function") == {"superconducting Tc", "work function"}
    with pytest.raises(KeyError):
        excluded_groups("no_such_task")
