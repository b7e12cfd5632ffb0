"""Refit-free cross-validation of ``auto``'s candidates against brute-force refits and hand computations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
from sklearn.linear_model import Ridge

from metamat.models.fast_cv import (
    BaggedEngine,
    conformal_plus,
    gp_cv,
    gp_fold_solution,
    oob_mask,
    ridge_cv,
    ridge_fold_solution,
)
from metamat.models.registry import make_model


def _data(n=14, p=25, seed=1):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, p))
    return Z, Z[:, 0] - 0.5 * Z[:, 1] + 0.3 * rng.normal(size=n), rng.normal(size=(6, p))


@pytest.mark.parametrize("folds", [np.arange(14), np.arange(14) % 4])
def test_ridge_closed_form_equals_refits(folds):
    Z, y, Zq = _data()
    alpha = 0.7
    D = np.hstack([np.ones((len(Z), 1)), Z])
    b, pred, B = ridge_fold_solution(D, y, np.r_[0.0, np.full(Z.shape[1], alpha)], folds)
    full = Ridge(alpha=alpha).fit(Z, y)
    np.testing.assert_allclose(b, np.r_[full.intercept_, full.coef_], atol=1e-10)
    for j, f in enumerate(np.unique(folds)):
        test = folds == f
        ref = Ridge(alpha=alpha).fit(Z[~test], y[~test])
        np.testing.assert_allclose(pred[test], ref.predict(Z[test]), atol=1e-8)
        np.testing.assert_allclose(np.hstack([np.ones((6, 1)), Zq]) @ B[:, j], ref.predict(Zq), atol=1e-8)


@pytest.mark.parametrize("folds", [np.arange(14), np.arange(14) % 4])
def test_gp_closed_form_equals_refits_rasmussen_williams_5_12(folds):
    Z, y, Zq = _data()
    kernel = ConstantKernel(1.3) * RBF(4.0) + WhiteKernel(0.2)
    a, pred, W = gp_fold_solution(kernel(Z) + 1e-10 * np.eye(len(Z)), y, folds)
    for j, f in enumerate(np.unique(folds)):
        test = folds == f
        ref = GaussianProcessRegressor(kernel, optimizer=None, alpha=1e-10).fit(Z[~test], y[~test])
        np.testing.assert_allclose(pred[test], ref.predict(Z[test]), atol=1e-8)
        np.testing.assert_allclose(kernel(Zq, Z) @ W[:, j], ref.predict(Zq), atol=1e-8)


def test_wrapped_ridge_and_gp_match_refits_at_the_fitted_settings():
    # the registry models standardize X on all rows; the refits below reuse that Z, alpha, kernel and y scaling
    Z, y, _ = _data(n=12, p=6, seed=3)
    X = 3.0 * Z + 1.0
    folds = np.arange(12) % 3
    ridge = make_model("ridge").fit(X, y)
    r = ridge_cv(ridge, X, y, folds)
    Zp = ridge.prep_.transform(X)
    gp = make_model("gp").fit(X, y)
    g = gp_cv(gp, X, y, folds)
    k, mu, sd = gp.model_.kernel_, gp.model_._y_train_mean, gp.model_._y_train_std
    for f in range(3):
        test = folds == f
        ref = Ridge(alpha=ridge.alpha_).fit(Zp[~test], y[~test]).predict(Zp[test])
        np.testing.assert_allclose(r.pred[test], ref, atol=1e-8)
        ref_gp = GaussianProcessRegressor(k, optimizer=None).fit(Zp[~test], (y[~test] - mu) / sd)
        np.testing.assert_allclose(g.pred[test], ref_gp.predict(Zp[test]) * sd + mu, atol=1e-8)
    np.testing.assert_allclose(r.engine.parts(X)[0], ridge.predict(X), atol=1e-10)  # centre = the full fit
    np.testing.assert_allclose(g.engine.parts(X)[0], gp.predict(X), atol=1e-10)


def test_forest_out_of_bag_predictions_equal_scikit_learns():
    Z, y, _ = _data(n=30, p=5, seed=4)
    auto = make_model("auto", candidates=("rf", "rf_median", "median"), fallback=("median",), rf_trees=60).fit(Z, y)
    ref = RandomForestRegressor(n_estimators=60, random_state=0, oob_score=True, n_jobs=1)
    forest = make_model("rf", n_estimators=60, n_jobs=1).fit(Z, y)
    ref.fit(forest.train_Z_, y)  # same trees: same seed, same prepared features
    np.testing.assert_allclose(auto.cv_predictions_["rf"], ref.oob_prediction_, atol=1e-12)
    # the tree median over each row's out-of-bag trees, by hand from scikit-learn's own trees
    oob = oob_mask(ref, len(y))
    per_tree = np.stack([t.predict(forest.train_Z_.astype(np.float32)) for t in ref.estimators_])
    hand = [np.median(per_tree[oob[:, i], i]) for i in range(len(y))]
    np.testing.assert_allclose(auto.cv_predictions_["rf_median"], hand, atol=1e-12)


def test_conformal_plus_by_hand():
    # one query, n = 3: mu_-i(x) = 1, 2, 4 and R = 0.5, 1, 0.2. Level 0.5: ranks floor(0.5*4) = 2 and
    # ceil(0.5*4) = 2 -> lower = 2nd smallest of {0.5, 1, 3.8} = 1, upper = 2nd smallest of {1.5, 3, 4.2} = 3.
    # Level 0.9: ranks floor(0.4) = 0 -> 1 and ceil(3.6) = 4 -> 3 (clamped): [0.5, 4.2].
    loo = np.array([[1.0], [2.0], [4.0]])
    r = np.array([0.5, 1.0, 0.2])
    assert conformal_plus(loo, r, 0.5) == (pytest.approx([1.0]), pytest.approx([3.0]))
    assert conformal_plus(loo, r, 0.9) == (pytest.approx([0.5]), pytest.approx([4.2]))


def test_bagged_engine_rows_are_out_of_bag_means_by_hand():
    Z, y, Zq = _data(n=20, p=4, seed=5)
    forest = make_model("rf", n_estimators=40, n_jobs=1).fit(Z, y)
    oob = oob_mask(forest.model_, 20)
    eng = BaggedEngine(forest, oob, np.zeros(20))
    mu, rows = eng.parts(Zq)
    per_tree = np.stack([t.predict(forest.prep_.transform(Zq).astype(np.float32)) for t in forest.model_.estimators_])
    np.testing.assert_allclose(mu, per_tree.mean(axis=0), atol=1e-12)
    for i in (0, 7, 19):
        np.testing.assert_allclose(rows[i], per_tree[oob[:, i]].mean(axis=0), atol=1e-12)


@pytest.mark.slow
def test_jackknife_plus_after_bootstrap_covers_about_nominal():
    # Kim, Xu & Barber (2020): J+aB covers at least 1 - 2a; in practice about 1 - a. 40 seeds x 200 test points
    # (measured 0.926, mean width 2.18; the 5-fold CV+ refits: 0.956, width 2.64)
    rng = np.random.default_rng(6)
    cover = []
    for s in range(40):
        X = rng.uniform(-2, 2, size=(230, 2))
        y = np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] + 0.3 * rng.normal(size=230)
        m = make_model("auto", candidates=("rf_median", "median"), fallback=("rf_median",), rf_trees=50, seed=s)
        m.fit(X[:30], y[:30])
        assert m.chosen_ == "rf_median" and m.engine_ is not None
        lo, hi = m.predict_interval(X[30:], level=0.9)
        cover.append(np.mean((y[30:] >= lo) & (y[30:] <= hi)))
    assert 0.86 <= np.mean(cover) <= 0.96, np.mean(cover)


def test_fast_and_refit_cv_agree_where_they_must():
    # the support median's folds are exact; ridge wins a linear support under both
    rng = np.random.default_rng(7)
    X = rng.normal(size=(25, 4))
    y = 3 * X[:, 0] - 2 * X[:, 1] + 0.05 * rng.normal(size=25)
    kw = dict(candidates=("ridge", "gp", "rf", "rf_median", "median"), fallback=("rf_median",), rf_trees=30)
    fast = make_model("auto", **kw).fit(X, y)
    slow = make_model("auto", refit_cv=True, **kw).fit(X, y)
    np.testing.assert_allclose(fast.cv_predictions_["median"], slow.cv_predictions_["median"])
    assert fast.chosen_ == slow.chosen_ == "ridge"
    assert fast.choice_["scheme"] == slow.choice_["scheme"] == "5-fold"


def test_forest_without_out_of_bag_trees_falls_back_to_refits(monkeypatch):
    # with 2 trees some row is inside both bootstrap samples: no out-of-bag prediction, so the forest is
    # cross-validated by refits (engine_ None); chunked prediction gives the same numbers as one block
    import metamat.models.auto as auto_module

    Z, y, Zq = _data(n=16, p=3, seed=8)
    m = make_model("auto", candidates=("rf_median",), fallback=("rf_median",), rf_trees=2).fit(Z, y)
    assert m.chosen_ == "rf_median" and m.engine_ is None
    assert np.isfinite(m.cv_predictions_["rf_median"]).all()
    fast = make_model("auto", candidates=("rf_median", "gp"), fallback=("rf_median",), rf_trees=40).fit(Z, y)
    whole = fast.predict_dist(Zq)
    monkeypatch.setattr(auto_module, "QUERY_CHUNK", 4)
    for a, b in zip(whole, fast.predict_dist(Zq), strict=True):
        np.testing.assert_allclose(a, b)


@pytest.mark.parametrize("n", [8, 25])  # leave-one-out, and 5 equal folds of 5
def test_batched_meta_learner_folds_equal_its_refits(n):
    rng = np.random.default_rng(9)
    X = np.abs(rng.normal(size=(n + 30, 148)))
    y = X[:n, 0] + 0.1 * rng.normal(size=n)
    fast = make_model("auto", candidates=("pretrained",), fallback=("pretrained",), refit_below=0).fit(X[:n], y)
    slow = make_model("auto", candidates=("pretrained",), fallback=("pretrained",), refit_cv=True)
    slow.fit(X[:n], y)
    assert fast.chosen_ == slow.chosen_ == "pretrained" and fast.engine_ is not None
    np.testing.assert_allclose(fast.cv_predictions_["pretrained"], slow.cv_predictions_["pretrained"], atol=1e-5)
    rows = np.stack([m.predict(X[n:]) for m in slow.fold_models_])[slow.fold_of_row_]
    mu, loo = fast.engine_.parts(X[n:])
    np.testing.assert_allclose(loo, rows, atol=1e-5)
    np.testing.assert_allclose(mu, slow.model_.predict(X[n:]), atol=1e-6)
    for a, b in zip(fast.predict_dist(X[n:]), slow.predict_dist(X[n:]), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_small_supports_are_refitted_per_fold_larger_ones_not():
    """Below ``refit_below`` rows every candidate is refitted per fold (the refit-free GP errors were
    optimistic at k = 5, benchmarks/auto_small_support_cv.py); from there on the fast paths are used."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(12, 4))
    y = X[:, 0] + 0.1 * rng.normal(size=12)
    for n, expect_refit in ((6, True), (9, True), (10, False), (12, False)):
        m = make_model("auto", candidates=("ridge", "rf_median", "median"), rf_trees=20).fit(X[:n], y[:n])
        methods = {c: t["cv_method"] for c, t in m.choice_["table"].items()}
        assert all((v == "refit per fold") == expect_refit for v in methods.values()), (n, methods)
