"""Leakage-aware splits inside one task, and the episode sampler.

Every splitter follows the scikit-learn pattern: options in ``__init__``, then
``split(X, groups=None, seed=0)`` yields ``(train_idx, test_idx)`` as sorted, disjoint int64 arrays that
together cover all rows. ``X`` is a row count, a feature matrix or a :class:`~metamat.tasks.task.Task`
(which supplies formulas, features and groups itself). For the chemistry-aware splitters
(chemical system, element, family) ``groups`` are the rows' formulas. ``seed`` is an int or a
``numpy.random.Generator``; nothing touches global random state.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from metamat.data.compositions import CompositionArrays, parse_formulas
from metamat.data.formula import ATOMIC_NUMBER, ELEMENTS
from metamat.tasks.task import Episode, Task, _element_mask

Seed = int | np.random.Generator | None
Split = tuple[np.ndarray, np.ndarray]


def as_generator(seed: Seed) -> np.random.Generator:
    """``numpy.random.Generator`` from an int seed (``None`` means 0) or a generator (returned as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(0 if seed is None else seed)


def _n_rows(X: Any) -> int:
    if isinstance(X, (int, np.integer)):
        return int(X)
    return len(X)


def _codes(labels: Sequence[object] | np.ndarray) -> np.ndarray:
    """Int code per label (labels in order of first appearance); missing labels are an error."""
    codes = pd.factorize(pd.Series(np.asarray(labels, dtype=object)))[0].astype(np.int64)
    if (codes < 0).any():
        raise ValueError(f"{int((codes < 0).sum())} group labels are missing (None/NaN)")
    return codes


def chemical_system_codes(formulas: Sequence[str]) -> np.ndarray:
    """Int code per formula; formulas with the same element set (e.g. LiCoO2, Li2CoO3) share a code."""
    parsed = parse_formulas(formulas)
    systems = parsed.compositions.chemical_systems()
    return _codes(systems)[parsed.codes] if len(systems) else np.zeros(0, np.int64)


def _check_groups(groups: Any, n: int, what: str) -> np.ndarray:
    if groups is None:
        raise ValueError(f"{what} needs groups (or a Task as X)")
    if len(groups) != n:
        raise ValueError(f"{what}: {len(groups)} groups for {n} rows")
    return groups


def _split_from_mask(test: np.ndarray) -> Split:
    return np.flatnonzero(~test), np.flatnonzero(test)


def _group_folds(codes: np.ndarray, n_splits: int, rng: np.random.Generator) -> Iterator[Split]:
    """Shuffled k-fold over groups; folds balanced by row count (group midpoints fall into folds)."""
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    if n_groups < n_splits:
        raise ValueError(f"cannot make {n_splits} folds from {n_groups} groups")
    sizes = np.bincount(codes, minlength=n_groups)
    order = rng.permutation(n_groups)
    start = np.cumsum(sizes[order]) - sizes[order]
    fold_of_group = np.empty(n_groups, dtype=np.int64)
    mid = (start + 0.5 * sizes[order]) * n_splits / len(codes)
    fold_of_group[order] = np.minimum(mid.astype(np.int64), n_splits - 1)
    fold = fold_of_group[codes]
    for f in range(n_splits):
        test = fold == f
        if test.any() and not test.all():
            yield _split_from_mask(test)


class RandomSplit:
    """Shuffled k-fold over rows (no grouping)."""

    def __init__(self, n_splits: int = 5):
        self.n_splits = n_splits

    def split(self, X: Any, groups: Any = None, seed: Seed = 0) -> Iterator[Split]:
        n = _n_rows(X)
        if n < self.n_splits:
            raise ValueError(f"cannot make {self.n_splits} folds from {n} rows")
        fold = np.empty(n, dtype=np.int64)
        fold[as_generator(seed).permutation(n)] = np.arange(n) % self.n_splits
        for f in range(self.n_splits):
            yield _split_from_mask(fold == f)


class GroupSplit:
    """Shuffled k-fold over user group labels: a group is never on both sides.

    Groups are shuffled and packed into folds of about n / n_splits rows; a fold left empty by a very
    large group is skipped, so fewer than ``n_splits`` splits can come out.
    """

    def __init__(self, n_splits: int = 5):
        self.n_splits = n_splits

    def _group_codes(self, X: Any, groups: Any) -> np.ndarray:
        if isinstance(X, Task) and groups is None:
            return X.group_codes
        return _codes(_check_groups(groups, _n_rows(X), type(self).__name__))

    def split(self, X: Any, groups: Any = None, seed: Seed = 0) -> Iterator[Split]:
        yield from _group_folds(self._group_codes(X, groups), self.n_splits, as_generator(seed))


class ChemicalSystemSplit(GroupSplit):
    """Shuffled k-fold over chemical systems: materials with the same element set stay together.

    ``groups`` are the formulas (or pass a Task).
    """

    def _group_codes(self, X: Any, groups: Any) -> np.ndarray:
        if isinstance(X, Task) and groups is None:
            return X.system_codes
        return chemical_system_codes(_check_groups(groups, _n_rows(X), type(self).__name__))


def _compositions(X: Any, groups: Any, what: str) -> tuple[CompositionArrays, np.ndarray]:
    if isinstance(X, Task) and groups is None:
        return X.compositions, X.composition_codes
    parsed = parse_formulas(_check_groups(groups, _n_rows(X), what))
    return parsed.compositions, parsed.codes


class LeaveOneElementOut:
    """For each element E: test = every material containing E, train = all the others.

    ``elements`` restricts the elements (symbols); by default every element present is used, in order of
    atomic number, skipping those where the test set would hold fewer than ``min_test`` rows or every
    row. ``groups`` are the formulas (or pass a Task). Deterministic: ``seed`` is accepted and ignored.
    """

    def __init__(self, elements: Sequence[str] | None = None, min_test: int = 1):
        self.elements = elements
        self.min_test = min_test

    def split(self, X: Any, groups: Any = None, seed: Seed = 0) -> Iterator[Split]:
        comps, codes = _compositions(X, groups, type(self).__name__)
        n = len(codes)
        if self.elements is None:
            per_unique = np.bincount(codes, minlength=len(comps))
            counts = np.bincount(comps.z, weights=per_unique[comps.owner], minlength=len(ELEMENTS) + 1)
            zs = np.flatnonzero((counts >= max(self.min_test, 1)) & (counts < n))
        else:
            zs = np.array([ATOMIC_NUMBER[e] for e in self.elements], dtype=np.int64)
        for z in zs:
            test = _element_mask(comps, codes, int(z))
            if test.sum() >= max(self.min_test, 1) and not test.all():
                yield _split_from_mask(test)


class LeaveOneGroupOut:
    """One split per distinct group label: test = that group (labels in sorted order)."""

    def _labels(self, X: Any, groups: Any) -> np.ndarray:
        if isinstance(X, Task) and groups is None:
            if X.groups is None:
                raise ValueError(f"task {X.name!r} has no group labels")
            return np.asarray(X.groups)
        return np.asarray(_check_groups(groups, _n_rows(X), type(self).__name__))

    def split(self, X: Any, groups: Any = None, seed: Seed = 0) -> Iterator[Split]:
        codes, uniques = pd.factorize(pd.Series(self._labels(X, groups), dtype=object), sort=True)
        if len(uniques) < 2:
            raise ValueError("leave-one-group-out needs at least 2 groups")
        for g in range(len(uniques)):
            yield _split_from_mask(codes == g)


class FamilySplit(LeaveOneGroupOut):
    """Leave one chemical family out (oxides, sulfides, ... see :mod:`metamat.tasks.families`).

    ``groups`` are the formulas (or pass a Task).
    """

    def _labels(self, X: Any, groups: Any) -> np.ndarray:
        from metamat.tasks.families import chemical_families

        comps, codes = _compositions(X, groups, type(self).__name__)
        return chemical_families(comps)[codes]


class ClusterSplit:
    """Leave one k-means cluster out: KMeans (seeded) on standardized, mean-imputed features.

    ``X`` is the feature matrix (or a Task). Clustering uses features only, never targets.
    """

    def __init__(self, n_clusters: int = 5, n_init: int = 3):
        self.n_clusters = n_clusters
        self.n_init = n_init

    def labels(self, X: Any, seed: Seed = 0) -> np.ndarray:
        """Cluster label per row."""
        from sklearn.cluster import KMeans

        from metamat.featurize.scaling import Standardizer

        feats = X.X if isinstance(X, Task) else np.asarray(X, dtype=float)
        if feats.ndim != 2:
            raise ValueError("ClusterSplit needs a 2-D feature matrix (or a Task)")
        Z = np.nan_to_num(Standardizer().fit_transform(feats), nan=0.0)
        state = seed if isinstance(seed, (int, np.integer)) else int(as_generator(seed).integers(2**31 - 1))
        km = KMeans(n_clusters=self.n_clusters, n_init=self.n_init, random_state=int(state))
        return km.fit_predict(Z)

    def split(self, X: Any, groups: Any = None, seed: Seed = 0) -> Iterator[Split]:
        lab = self.labels(X, seed)
        for c in range(self.n_clusters):
            test = lab == c
            if test.any() and not test.all():
                yield _split_from_mask(test)


SPLITTERS: dict[str, type] = {
    "random": RandomSplit,
    "chemical_system": ChemicalSystemSplit,
    "group": GroupSplit,
    "element": LeaveOneElementOut,
    "family": FamilySplit,
    "cluster": ClusterSplit,
}


def make_splitter(name: str, **kwargs: Any) -> Any:
    """Splitter by name: random, chemical_system, group, element, family, cluster."""
    if name not in SPLITTERS:
        raise ValueError(f"unknown split {name!r}; choose from {sorted(SPLITTERS)}")
    return SPLITTERS[name](**kwargs)


def first_split(splitter: Any, X: Any, groups: Any = None, seed: Seed = 0) -> Split:
    """The first ``(train, test)`` split of ``splitter`` (a single hold-out split)."""
    return next(iter(splitter.split(X, groups, seed)))


# ---------------------------------------------------------------- episodes

POLICIES = ("random", "chemical_system", "group", "element")


def _draw_support(task: Task, pool: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k rows from ``pool``; for classification (k >= 2) one of each class is drawn first."""
    if len(pool) < k:
        raise ValueError(f"task {task.name!r}: cannot draw a support set of {k} from {len(pool)} rows")
    if task.kind != "classification" or k < 2:
        return rng.choice(pool, size=k, replace=False)
    y = task.y[pool]
    ones, zeros = pool[y == 1], pool[y == 0]
    if len(ones) == 0 or len(zeros) == 0:
        return rng.choice(pool, size=k, replace=False)
    first = np.array([rng.choice(ones), rng.choice(zeros)])
    rest = np.setdiff1d(pool, first, assume_unique=True)
    return np.concatenate([first, rng.choice(rest, size=k - 2, replace=False)])


def sample_episode(task: Task, k: int, n_query: int | None = None, policy: str = "chemical_system",
                   rng: Seed = None) -> Episode:
    """Draw ``k`` support materials and a query set from ``task``.

    Policies: ``random`` (query = any other row); ``chemical_system`` (query = rows whose chemical system
    is not among the support's); ``group`` (same with the task's user groups); ``element`` (pick an
    element E at random; query = rows containing E, support = rows without E). ``n_query=None`` keeps
    every eligible query row, otherwise a random subset of that size (all if fewer are eligible).
    Group codes are computed once per task, so each call is a few vectorized operations.
    """
    gen = as_generator(rng)
    n = len(task)
    if k < 1:
        raise ValueError("k must be at least 1")
    if policy == "element":
        counts = task.element_counts
        ok = np.flatnonzero((counts > 0) & (n - counts >= k))
        if len(ok) == 0:
            raise ValueError(f"task {task.name!r}: no element leaves {k} support rows")
        has = task.contains_element(int(gen.choice(ok)))
        support = _draw_support(task, np.flatnonzero(~has), k, gen)
        pool = np.flatnonzero(has)
    else:
        support = _draw_support(task, np.arange(n), k, gen)
        if policy == "random":
            blocked = np.zeros(n, dtype=bool)
            blocked[support] = True
        elif policy in ("chemical_system", "group"):
            codes = task.system_codes if policy == "chemical_system" else task.group_codes
            seen = np.zeros(int(codes.max()) + 1, dtype=bool)
            seen[codes[support]] = True
            blocked = seen[codes]
        else:
            raise ValueError(f"unknown episode policy {policy!r}; choose from {POLICIES}")
        pool = np.flatnonzero(~blocked)
    if len(pool) == 0:
        raise ValueError(f"task {task.name!r}: no query rows left for policy {policy!r}")
    query = pool if n_query is None or n_query >= len(pool) else gen.choice(pool, size=n_query, replace=False)
    return Episode(task, np.sort(support), np.sort(query))
