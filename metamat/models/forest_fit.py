"""The trees of scikit-learn's ``RandomForestRegressor`` (default options), fitted with less overhead.

``RandomForestRegressor(n_estimators, random_state=seed).fit(X, y)`` draws one seed per tree
(``RandomState(seed).randint(2**31 - 1)`` in order), gives each tree the bootstrap counts of
``RandomState(tree_seed).randint(0, n, n)`` as sample weights and fits a ``DecisionTreeRegressor`` with the
forest's options. On a 50-row support its per-tree bookkeeping (cloning through ``get_params`` /
``set_params``, joblib dispatch) cost about as much as building the trees. :func:`fit_bagged_trees` does the
same draws and fits the same trees directly (``DecisionTreeRegressor.fit(..., check_input=False)`` on the
float32 matrix the forest would pass), optionally on several threads (tree building releases the GIL; every
tree has its own seed, so the trees do not depend on the thread count). The trees, their bootstrap samples
and predictions equal scikit-learn's bit for bit (``tests/models/test_speed_paths.py``). Inputs with a missing
or infinite value are left to scikit-learn (``None``).

With the scikit-learn versions in :data:`DIRECT_VERSIONS` each tree is built by scikit-learn's own Cython
builder with the objects ``DecisionTreeRegressor._fit`` would make (criterion, splitter seeded from the
tree's seed, ``Tree``, depth-first builder), skipping that method's checks: about 0.08 ms per tree, 8 ms of a
100-tree forest at 10 or 50 rows (measured). Any other version goes through ``_fit``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_INT = np.iinfo(np.int32).max
#: fewest rows for building trees on several threads: below, a tree is mostly Python bookkeeping that holds the
#: GIL and threads only add contention (auto at k = 10: 57 ms on 2 threads vs 52 ms on 1, measured)
MIN_ROWS_FOR_THREADS = 20
#: scikit-learn versions (major.minor) whose tree-building internals the direct path was checked against
DIRECT_VERSIONS = ("1.9",)


def _direct_ok() -> bool:
    import sklearn

    return ".".join(sklearn.__version__.split(".")[:2]) in DIRECT_VERSIONS


def _build_tree(tree: Any, X32: np.ndarray, y2: np.ndarray, weight: np.ndarray, seed: int) -> None:
    """What ``tree._fit(X32, y2, sample_weight=weight, check_input=False)`` does for a regression tree with
    default options and ``max_features=1.0`` (scikit-learn 1.9 ``BaseDecisionTree._fit``)."""
    from sklearn.tree._criterion import MSE
    from sklearn.tree._splitter import BestSplitter
    from sklearn.tree._tree import DepthFirstTreeBuilder, Tree

    n, p = X32.shape
    splitter = BestSplitter(MSE(1, n), p, 1, 0.0, np.random.RandomState(seed), None)
    built = Tree(p, np.array([1], dtype=np.intp), 1)
    DepthFirstTreeBuilder(splitter, 2, 1, 0.0, MAX_INT, 0.0).build(built, X32, y2, weight, None)
    tree.tree_, tree.n_features_in_, tree.n_outputs_, tree.max_features_ = built, p, 1, p


class BaggedTrees:
    """A fitted bagged forest: ``estimators_`` (scikit-learn trees), ``estimators_samples_`` (each tree's
    bootstrap row indices), ``n_outputs_`` (1) and ``predict`` (the mean over trees), as
    ``RandomForestRegressor``."""

    n_outputs_ = 1

    def __init__(self, estimators: list[Any], samples: list[np.ndarray], n_features: int):
        self.estimators_, self.estimators_samples_ = estimators, samples
        self.n_estimators, self.n_features_in_ = len(estimators), n_features

    def predict(self, X: np.ndarray) -> np.ndarray:
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        return np.mean([t.predict(X32, check_input=False) for t in self.estimators_], axis=0)


def fit_bagged_trees(X: np.ndarray, y: np.ndarray, n_estimators: int, seed: int,
                     n_jobs: int | None = 1) -> BaggedTrees | None:
    """The trees of ``RandomForestRegressor(n_estimators, random_state=seed).fit(X, y)`` (module docstring);
    ``None`` when ``X`` has a non-finite value or ``seed`` is not an integer (the caller uses scikit-learn)."""
    from joblib import effective_n_jobs
    from sklearn.tree import DecisionTreeRegressor

    X32 = np.ascontiguousarray(X, dtype=np.float32)
    if not isinstance(seed, (int, np.integer)) or not np.isfinite(X32).all():
        return None
    y2 = np.ascontiguousarray(np.reshape(y, (-1, 1)), dtype=np.float64)
    n = len(X32)
    draw = np.random.RandomState(seed)
    seeds = [draw.randint(MAX_INT) for _ in range(n_estimators)]
    samples = [np.random.RandomState(s).randint(0, n, n) for s in seeds]
    trees = [DecisionTreeRegressor(max_features=1.0, random_state=s) for s in seeds]

    direct = _direct_ok()

    def grow(part: range) -> None:
        for t in part:
            weight = np.bincount(samples[t], minlength=n).astype(np.float64)
            if direct:
                _build_tree(trees[t], X32, y2, weight, seeds[t])
            else:
                trees[t]._fit(X32, y2, sample_weight=weight, check_input=False)

    jobs = min(effective_n_jobs(n_jobs), n_estimators) if n >= MIN_ROWS_FOR_THREADS else 1
    if jobs <= 1:
        grow(range(n_estimators))
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(jobs) as pool:
            list(pool.map(grow, [range(j, n_estimators, jobs) for j in range(jobs)]))
    return BaggedTrees(trees, samples, X32.shape[1])


__all__ = ["BaggedTrees", "fit_bagged_trees"]
