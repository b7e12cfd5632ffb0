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
"""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_INT = np.iinfo(np.int32).max


class BaggedTrees:
    """A fitted bagged forest: ``estimators_`` (scikit-learn trees), ``estimators_samples_`` (each tree's
    bootstrap row indices) and ``predict`` (the mean over trees), as ``RandomForestRegressor``."""

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

    def grow(part: range) -> None:
        for t in part:
            trees[t]._fit(X32, y2, sample_weight=np.bincount(samples[t], minlength=n), check_input=False)

    jobs = min(effective_n_jobs(n_jobs), n_estimators)
    if jobs <= 1:
        grow(range(n_estimators))
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(jobs) as pool:
            list(pool.map(grow, [range(j, n_estimators, jobs) for j in range(jobs)]))
    return BaggedTrees(trees, samples, X32.shape[1])


__all__ = ["BaggedTrees", "fit_bagged_trees"]
