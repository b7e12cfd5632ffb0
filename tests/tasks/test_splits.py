"""Splits and the episode sampler: property-based checks against independent references."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metamat.data.formula import parse_formula
from metamat.tasks import (
    ChemicalSystemSplit,
    ClusterSplit,
    FamilySplit,
    GroupSplit,
    LeaveOneElementOut,
    LeaveOneGroupOut,
    RandomSplit,
    Task,
    families_of,
    first_split,
    make_splitter,
    sample_episode,
)

POOL = ["Li", "Fe", "O", "S", "Co", "Ni", "Na", "Cl", "Cu"]
SETTINGS = settings(max_examples=40, deadline=None)

formula_st = st.lists(st.tuples(st.sampled_from(POOL), st.integers(1, 4)), min_size=1, max_size=4,
                      unique_by=lambda t: t[0]).map(lambda parts: "".join(f"{e}{k}" for e, k in parts))
formulas_st = st.lists(formula_st, min_size=6, max_size=60)
seed_st = st.integers(0, 2**32 - 1)


def _systems(formulas: list[str]) -> list[frozenset[str]]:
    """Reference chemical systems from the single-formula parser."""
    return [frozenset(parse_formula(f)) for f in formulas]


def _check_partition(train: np.ndarray, test: np.ndarray, n: int) -> None:
    assert train.dtype == np.int64 and test.dtype == np.int64
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)  # sorted, no repeats
    assert len(np.intersect1d(train, test)) == 0
    assert len(train) + len(test) == n
    assert len(test) > 0 and len(train) > 0


def _collect(splits) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(a.copy(), b.copy()) for a, b in splits]


def _same(first: list, second: list) -> bool:
    """Two lists of splits are identical."""
    return len(first) == len(second) and all(
        np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(first, second, strict=True))


@SETTINGS
@given(n=st.integers(5, 200), n_splits=st.integers(2, 5), seed=seed_st)
def test_random_split_partitions_and_is_reproducible(n, n_splits, seed):
    splits = _collect(RandomSplit(n_splits).split(n, seed=seed))
    assert len(splits) == n_splits
    for tr, te in splits:
        _check_partition(tr, te, n)
    assert np.array_equal(np.sort(np.concatenate([te for _, te in splits])), np.arange(n))  # each row once
    again = _collect(RandomSplit(n_splits).split(np.zeros((n, 3)), seed=seed))
    assert _same(splits, again)


@SETTINGS
@given(groups=st.lists(st.integers(0, 12), min_size=10, max_size=80), n_splits=st.integers(2, 4), seed=seed_st)
def test_group_split_never_shares_a_group(groups, n_splits, seed):
    groups = np.array(groups)
    if len(np.unique(groups)) < n_splits:
        with pytest.raises(ValueError):
            list(GroupSplit(n_splits).split(len(groups), groups, seed=seed))
        return
    splits = _collect(GroupSplit(n_splits).split(len(groups), groups, seed=seed))
    assert len(splits) >= 1
    for tr, te in splits:
        _check_partition(tr, te, len(groups))
        assert not set(groups[tr]) & set(groups[te])
    again = _collect(GroupSplit(n_splits).split(len(groups), groups, seed=np.random.default_rng(seed)))
    first = _collect(GroupSplit(n_splits).split(len(groups), groups, seed=np.random.default_rng(seed)))
    assert _same(again, first)


@SETTINGS
@given(formulas=formulas_st, seed=seed_st)
def test_chemical_system_split_keeps_systems_together(formulas, seed):
    systems = _systems(formulas)
    n_sys = len(set(systems))
    if n_sys < 3:
        return
    splits = _collect(ChemicalSystemSplit(3).split(len(formulas), formulas, seed=seed))
    for tr, te in splits:
        _check_partition(tr, te, len(formulas))
        assert not {systems[i] for i in tr} & {systems[i] for i in te}
    again = _collect(ChemicalSystemSplit(3).split(len(formulas), formulas, seed=seed))
    assert _same(splits, again)


@SETTINGS
@given(formulas=formulas_st)
def test_leave_one_element_out_is_exactly_rows_with_the_element(formulas):
    systems = _systems(formulas)
    n = len(formulas)
    present = {e for s in systems for e in s}
    expected = {e for e in present if 0 < sum(e in s for s in systems) < n}
    seen = set()
    for tr, te in LeaveOneElementOut().split(n, formulas):
        _check_partition(tr, te, n)
        common = set.intersection(*[set(systems[i]) for i in te])
        candidates = [e for e in common if [i for i in range(n) if e in systems[i]] == list(te)]
        assert candidates, "test set is not 'all rows containing some element'"
        seen.update(candidates)
        # chemical systems never straddle the split either
        assert not {systems[i] for i in tr} & {systems[i] for i in te}
    assert seen == expected


def test_leave_one_element_out_named_elements_and_task():
    formulas = ["LiCoO2", "LiFePO4", "NaCl", "Fe2O3", "Cu"]
    t = Task("t", np.zeros((5, 1)), np.arange(5.0), formulas)
    splits = _collect(LeaveOneElementOut(elements=["Li", "Fe"]).split(t))
    assert [list(te) for _, te in splits] == [[0, 1], [1, 3]]


@SETTINGS
@given(labels=st.lists(st.sampled_from(["a", "b", "c"]), min_size=4, max_size=40))
def test_leave_one_group_out(labels):
    labels = np.array(labels)
    if len(set(labels)) < 2:
        return
    splits = _collect(LeaveOneGroupOut().split(len(labels), labels))
    assert len(splits) == len(set(labels))
    for tr, te in splits:
        _check_partition(tr, te, len(labels))
        assert len(set(labels[te])) == 1 and labels[te[0]] not in set(labels[tr])


def test_family_split_leaves_one_family_out():
    formulas = ["Fe2O3", "ZnO", "ZnS", "MoS2", "NaCl", "FeNi", "CuZn", "GaN"]
    fam = families_of(formulas)
    splits = _collect(FamilySplit().split(len(formulas), formulas))
    assert len(splits) == len(set(fam))
    for tr, te in splits:
        _check_partition(tr, te, len(formulas))
        assert len(set(fam[te])) == 1 and not set(fam[te]) & set(fam[tr])


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 1000))
def test_cluster_split_is_leave_one_cluster_out_and_seeded(seed):
    rng = np.random.default_rng(seed)
    centers = np.array([[0, 0], [10, 0], [0, 10]])
    X = np.repeat(centers, 15, axis=0) + rng.normal(size=(45, 2))
    X[3, 1] = np.nan  # NaN features are imputed, not fatal
    splitter = ClusterSplit(n_clusters=3)
    splits = _collect(splitter.split(X, seed=seed))
    assert len(splits) == 3
    for tr, te in splits:
        _check_partition(tr, te, len(X))
    assert sorted(len(te) for _, te in splits) == [15, 15, 15]  # the three blobs
    again = _collect(splitter.split(X, seed=seed))
    assert _same(splits, again)


def test_make_splitter_and_first_split():
    assert isinstance(make_splitter("chemical_system", n_splits=4), ChemicalSystemSplit)
    with pytest.raises(ValueError, match="unknown split"):
        make_splitter("nope")
    tr, te = first_split(make_splitter("random", n_splits=4), 20, seed=1)
    assert len(te) == 5 and len(tr) == 15


def test_task_and_explicit_inputs_give_the_same_splits():
    formulas = ["LiCoO2", "Li2CoO3", "Fe2O3", "FeO", "NaCl", "KCl", "Si", "GaAs", "CuO", "Cu2O"]
    groups = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
    t = Task("t", np.zeros((10, 1)), np.arange(10.0), formulas, groups=groups)
    assert _same(_collect(ChemicalSystemSplit(3).split(t, seed=4)),
                 _collect(ChemicalSystemSplit(3).split(10, formulas, seed=4)))
    assert _same(_collect(GroupSplit(2).split(t, seed=4)), _collect(GroupSplit(2).split(10, groups, seed=4)))
    with pytest.raises(ValueError, match="missing"):
        list(GroupSplit(2).split(4, [1, None, 2, 2]))
    with pytest.raises(ValueError, match="needs groups"):
        list(GroupSplit(2).split(4))


# ---------------------------------------------------------------- episodes

def _synthetic_task(n: int = 400, seed: int = 0, kind: str = "regression") -> Task:
    rng = np.random.default_rng(seed)
    elements = np.array(POOL)
    formulas = []
    for _ in range(n):
        k = rng.integers(1, 4)
        picks = rng.choice(elements, size=k, replace=False)
        formulas.append("".join(f"{e}{rng.integers(1, 5)}" for e in picks))
    y = rng.normal(size=n) if kind == "regression" else (rng.random(n) < 0.3).astype(float)
    return Task("synthetic", rng.normal(size=(n, 3)), y, formulas, kind=kind,
                groups=rng.integers(0, 30, size=n))


TASK = _synthetic_task()


@SETTINGS
@given(k=st.integers(1, 20), n_query=st.one_of(st.none(), st.integers(1, 50)), seed=seed_st,
       policy=st.sampled_from(["random", "chemical_system", "group", "element"]))
def test_sample_episode_properties(k, n_query, seed, policy):
    try:
        ep = sample_episode(TASK, k, n_query=n_query, policy=policy, rng=seed)
    except ValueError as exc:  # allowed only when the support covers every system/group
        assert "no query rows" in str(exc)
        return
    s, q = ep.support, ep.query
    assert len(s) == k and len(np.unique(s)) == k and np.all(np.diff(q) > 0)
    assert len(np.intersect1d(s, q)) == 0
    if n_query is not None:
        assert len(q) <= n_query
    systems = TASK.chemical_systems
    if policy == "chemical_system":
        assert not set(systems[s]) & set(systems[q])
    if policy == "group":
        assert not set(TASK.groups[s]) & set(TASK.groups[q])
    if policy == "element":
        comp_q = [set(parse_formula(f)) for f in TASK.formulas[q]]
        comp_s = [set(parse_formula(f)) for f in TASK.formulas[s]]
        common = set.intersection(*comp_q)
        assert any(all(e not in c for c in comp_s) for e in common)
    again = sample_episode(TASK, k, n_query=n_query, policy=policy, rng=seed)
    assert np.array_equal(again.support, s) and np.array_equal(again.query, q)


def test_sample_episode_query_default_is_every_eligible_row():
    ep = sample_episode(TASK, 5, policy="chemical_system", rng=3)
    blocked = np.isin(TASK.chemical_systems, TASK.chemical_systems[ep.support])
    assert np.array_equal(ep.query, np.flatnonzero(~blocked))


def test_sample_episode_classification_support_has_both_classes():
    t = _synthetic_task(kind="classification")
    for seed in range(20):
        ep = sample_episode(t, 2, policy="random", rng=seed)
        assert set(t.y[ep.support]) == {0.0, 1.0}


def test_sample_episode_errors():
    with pytest.raises(ValueError, match="policy"):
        sample_episode(TASK, 5, policy="bogus")
    with pytest.raises(ValueError, match="support set"):
        sample_episode(TASK, len(TASK) + 1, policy="random")


def test_sample_episode_is_cheap():
    rng = np.random.default_rng(0)
    sample_episode(TASK, 10, rng=rng)  # warm the cached group codes
    start = time.perf_counter()
    for _ in range(500):
        sample_episode(TASK, 10, n_query=100, rng=rng)
    per_call = (time.perf_counter() - start) / 500
    assert per_call < 2e-3, f"{per_call * 1e6:.0f} us per episode"
