"""The faster paths of ``auto`` (issue 13 speed) give exactly the numbers of the reference implementations.

- per-tree forest predictions (``tree_.apply`` + leaf values, optionally over threads) vs scikit-learn's
  ``DecisionTreeRegressor.predict`` tree by tree;
- the GP's hyperparameter objective without kernel objects vs scikit-learn's ``log_marginal_likelihood``
  (bit for bit), and the GP fitted with it vs scikit-learn's own optimizer (same hyperparameters, same
  predictions);
- ``auto`` on two threads vs one (same choice, same predictions and intervals, bit for bit).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import WhiteKernel

from metamat.models.baselines import _rf_tree_predictions, _scaled_rbf
from metamat.models.gp_objective import lml_objective, normalized_targets, same_bits
from metamat.models.registry import make_model


def _data(n, p, seed, q=300):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = np.sin(2 * X[:, 0]) + (X[:, 1] > 0) + 0.2 * rng.normal(size=n)
    return X, y, rng.normal(size=(q, p))


@pytest.mark.parametrize("n_jobs", [1, 2, 3])
def test_tree_predictions_equal_sklearn_tree_by_tree(n_jobs):
    X, y, Xq = _data(40, 12, 0)
    forest = RandomForestRegressor(n_estimators=25, random_state=3).fit(X, y)
    got = _rf_tree_predictions(forest, Xq, n_jobs)
    ref = np.stack([t.predict(Xq.astype(np.float32)) for t in forest.estimators_])
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_allclose(got.mean(axis=0), forest.predict(Xq), rtol=0, atol=1e-12)


def _sklearn_gp(Z, y, seed=0):
    kernel = _scaled_rbf(Z.shape[1]) + WhiteKernel(0.1, (1e-6, 1e1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=2, random_state=seed).fit(Z, y)


@pytest.mark.parametrize("n,p,seed", [(50, 60, 0), (12, 5, 1), (6, 30, 2), (25, 2, 3)])
def test_lml_objective_bit_identical_to_sklearn(n, p, seed):
    X, y, _ = _data(n, p, seed)
    gp = _sklearn_gp(X, y)
    rng = np.random.default_rng(seed)
    fast = lml_objective(gp.X_train_, normalized_targets(y))
    np.testing.assert_array_equal(normalized_targets(y), gp.y_train_)
    bounds = gp.kernel_.bounds
    for theta in rng.uniform(bounds[:, 0], bounds[:, 1], size=(5, 3)):
        lml, grad = gp.log_marginal_likelihood(theta, eval_gradient=True)
        assert same_bits(fast(theta), (-lml, -grad))


@pytest.mark.parametrize("n,p,seed", [(50, 60, 0), (12, 5, 1), (6, 30, 2), (25, 2, 3)])
def test_gp_baseline_equals_sklearn_optimizer(n, p, seed):
    X, y, Xq = _data(n, p, seed)
    ours = make_model("gp").fit(X, y)
    Z = ours.prep_.transform(X)
    ref = _sklearn_gp(Z, y)
    np.testing.assert_array_equal(ours.model_.kernel_.theta, ref.kernel_.theta)
    mean, std = ours.model_.predict(ours.prep_.transform(Xq), return_std=True)
    ref_mean, ref_std = ref.predict(ours.prep_.transform(Xq), return_std=True)
    np.testing.assert_array_equal(mean, ref_mean)
    np.testing.assert_array_equal(std, ref_std)


@pytest.mark.parametrize("k,seed", [(30, 0), (12, 1)])
def test_auto_two_threads_equals_one(k, seed):
    X, y, Xq = _data(k, 15, seed, q=500)
    cands = ("gp", "rf", "rf_median", "median", "ridge")
    one = make_model("auto", candidates=cands, n_jobs=1).fit(X, y)
    two = make_model("auto", candidates=cands, n_jobs=2).fit(X, y)
    assert one.chosen_ == two.chosen_
    for c in one.cv_predictions_:
        np.testing.assert_array_equal(one.cv_predictions_[c], two.cv_predictions_[c])
    for a, b in zip(one.predict_dist(Xq), two.predict_dist(Xq), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_bagged_trees_equal_sklearn_forest(n_jobs):
    from metamat.models.forest_fit import fit_bagged_trees

    X, y, Xq = _data(45, 30, 4)
    X[:, 5] = 0.0  # a constant column and a duplicated one: the splitter's bookkeeping of both
    X[:, 6] = X[:, 7]
    ref = RandomForestRegressor(n_estimators=30, random_state=11).fit(X, y)
    got = fit_bagged_trees(X, y, 30, 11, n_jobs)
    for a, b in zip(ref.estimators_, got.estimators_, strict=True):
        assert a.random_state == b.random_state
        for field in ("children_left", "children_right", "feature", "threshold", "value", "n_node_samples"):
            np.testing.assert_array_equal(getattr(a.tree_, field), getattr(b.tree_, field))
    for a, b in zip(ref.estimators_samples_, got.estimators_samples_, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(got.predict(Xq), ref.predict(Xq))


def test_bagged_trees_leave_missing_inputs_to_sklearn():
    from metamat.models.forest_fit import fit_bagged_trees

    X, y, _ = _data(20, 4, 5)
    X[3, 1] = np.nan
    assert fit_bagged_trees(X, y, 5, 0) is None


def test_auto_meta_learner_two_threads_equals_one():
    """The shipped meta-learner's centre and fold passes on two threads (own network copy per thread)."""
    rng = np.random.default_rng(6)
    X, Xq = rng.normal(size=(20, 148)), rng.normal(size=(2500, 148))
    y = X[:, 0] + 0.1 * rng.normal(size=20)
    kw = {"candidates": ("pretrained", "median"), "fallback": ("pretrained",), "margin": 1e9}
    one = make_model("auto", n_jobs=1, **kw).fit(X, y)
    two = make_model("auto", n_jobs=2, **kw).fit(X, y)
    assert one.chosen_ == two.chosen_ == "pretrained"
    for a, b in zip(one.predict_dist(Xq), two.predict_dist(Xq), strict=True):
        np.testing.assert_array_equal(a, b)


def test_limit_threads_sets_torch_before_openmp(monkeypatch):
    """With torch on 2 threads, ``limit_threads(1)`` must call ``torch.set_num_threads(1)``: limiting OpenMP
    first made torch report 1 thread already, so it was never set (auto's fit measured 8x slower)."""
    import torch

    from metamat.threads import limit_threads

    old = torch.get_num_threads()
    torch.set_num_threads(2)
    calls = []
    real = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (calls.append(n), real(n)))
    try:
        with limit_threads(1):
            assert torch.get_num_threads() == 1
        assert calls[0] == 1 and torch.get_num_threads() == 2
    finally:
        real(old)


def test_knowledge_stack_threads_give_the_same_numbers():
    """The knowledge surrogates' row chunks on two Python threads equal one thread, and the per-surrogate
    reference path (:meth:`Surrogate.predict`)."""
    import torch

    from metamat.featurize.knowledge import load_surrogates, surrogate_stacks

    surrogates = load_surrogates()
    X = np.random.default_rng(8).normal(size=(700, len(surrogates[0].x_mean))) * surrogates[0].x_scale \
        + surrogates[0].x_mean
    old = torch.get_num_threads()
    try:
        got = {}
        for t in (1, 2):
            torch.set_num_threads(t)
            got[t] = [stack.predict(X) for _, stack in surrogate_stacks(surrogates)]
    finally:
        torch.set_num_threads(old)
    for (idx, _), a, b in zip(surrogate_stacks(surrogates), got[1], got[2], strict=True):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        ref = surrogates[idx[0]].predict(X)
        np.testing.assert_allclose(b[0][:, 0], ref[0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n", [3, 12, 50])
def test_bagged_trees_direct_and_fit_paths_agree(n, monkeypatch):
    """The direct Cython build (checked scikit-learn versions) and ``_fit`` give the same trees, also on tiny
    supports with repeated rows."""
    from metamat.models import forest_fit

    X, y, Xq = _data(n, 20, 9)
    X[1:3] = X[0]  # repeated rows
    direct = forest_fit.fit_bagged_trees(X, y, 20, 2)
    monkeypatch.setattr(forest_fit, "DIRECT_VERSIONS", ())
    via_fit = forest_fit.fit_bagged_trees(X, y, 20, 2)
    ref = RandomForestRegressor(n_estimators=20, random_state=2).fit(X, y)
    for a, b, c in zip(direct.estimators_, via_fit.estimators_, ref.estimators_, strict=True):
        for field in ("children_left", "feature", "threshold", "value", "impurity"):
            np.testing.assert_array_equal(getattr(a.tree_, field), getattr(c.tree_, field))
            np.testing.assert_array_equal(getattr(b.tree_, field), getattr(c.tree_, field))
        np.testing.assert_array_equal(a.predict(Xq.astype(np.float32)), c.predict(Xq.astype(np.float32)))
