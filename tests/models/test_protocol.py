"""Every registered model keeps the protocol; baseline intervals checked against independent references
(scikit-learn's GP posterior, a brute-force jackknife+, order statistics by hand, coverage on data with a
known noise level); the registry's options reproduce the switches it replaced; clone keeps the name."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.base import clone

from metamat.models import registry
from metamat.models.protocol import ClassifierProtocol, RegressorProtocol

FAST = {"rf": {"n_estimators": 60}, "rf_median": {"n_estimators": 60}, "gp": {"n_restarts": 0},
        "mlp": {"n_ensemble": 2, "max_epochs": 60}, "gbm": {"n_estimators": 60}}


def _noisy_linear(n: int, seed: int, sigma: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    return X, X @ np.array([1.0, -2.0]) + sigma * rng.normal(size=n)


@pytest.mark.parametrize("name", registry.names())
def test_every_registered_model_obeys_its_protocol(name):
    m = registry.make_model(name)
    proto = RegressorProtocol if registry.model_kind(name) == "regression" else ClassifierProtocol
    assert isinstance(m, proto) and m.kind == registry.model_kind(name)
    assert registry.registry_name(m) == name


@pytest.mark.parametrize("name", registry.names(family="baseline"))
def test_clone_of_a_baseline_keeps_name_and_params_and_refits_identically(name):
    X, y = _noisy_linear(40, 0)
    if registry.model_kind(name) == "classification":
        y = (y > 0).astype(float)
    m = registry.make_model(name, seed=2, **FAST.get(name, {})).fit(X, y)
    c = clone(m)
    assert registry.registry_name(c) == name and c.get_params() == m.get_params()
    assert not hasattr(c, "prep_")
    Xq = _noisy_linear(10, 1)[0]
    out = (lambda mod: mod.predict_proba(Xq)) if registry.model_kind(name) == "classification" else \
        (lambda mod: mod.predict(Xq))
    np.testing.assert_allclose(out(c.fit(X, y)), out(m))


def test_gp_interval_is_scikit_learns_posterior():
    """Reference: a fresh scikit-learn GaussianProcessRegressor with the fitted kernel held fixed."""
    from sklearn.gaussian_process import GaussianProcessRegressor

    X, y = _noisy_linear(30, 3)
    Xq = _noisy_linear(8, 4)[0]
    m = registry.make_model("gp", n_restarts=0).fit(X, y)
    ref = GaussianProcessRegressor(m.model_.kernel_, normalize_y=True, optimizer=None).fit(m.prep_.transform(X), y)
    mu, sd = ref.predict(m.prep_.transform(Xq), return_std=True)
    lower, upper = m.predict_interval(Xq, level=0.8)
    z = norm.ppf(0.9)
    np.testing.assert_allclose(lower, mu - z * np.maximum(sd, m.std_floor_), rtol=1e-6)
    np.testing.assert_allclose(upper, mu + z * np.maximum(sd, m.std_floor_), rtol=1e-6)


def _jackknife_plus_by_refitting(X, y, Xq, k, level):
    """Barber et al. (2021) jackknife+, computed the slow way: refit kNN without each row."""
    from sklearn.neighbors import KNeighborsRegressor

    n, a = len(y), 1 - level
    lo_vals, hi_vals = [], []
    for i in range(n):
        keep = np.arange(n) != i
        knn = KNeighborsRegressor(n_neighbors=min(k, n - 1)).fit(X[keep], y[keep])
        r = abs(y[i] - knn.predict(X[i:i + 1])[0])
        mu = knn.predict(Xq)
        lo_vals.append(mu - r)
        hi_vals.append(mu + r)
    lo_rank = max(int(np.floor(a * (n + 1))), 1)
    hi_rank = min(int(np.ceil((1 - a) * (n + 1))), n)
    return np.sort(lo_vals, axis=0)[lo_rank - 1], np.sort(hi_vals, axis=0)[hi_rank - 1]


@pytest.mark.parametrize(("n", "k", "level"), [(12, 1, 0.8), (25, 3, 0.9), (9, 20, 0.5)])
def test_knn_interval_is_jackknife_plus(n, k, level):
    rng = np.random.default_rng(n)
    X = rng.uniform(0, 1, size=(n, 1))  # 1-D: standardizing keeps the neighbour order
    y = np.sin(6 * X[:, 0]) + 0.3 * rng.normal(size=n)
    Xq = np.linspace(0.05, 0.95, 7)[:, None] * (X.max() - X.min()) + X.min()  # inside the training range
    m = registry.make_model("knn", n_neighbors=k).fit(X, y)
    lower, upper = m.predict_interval(Xq, level=level)
    ref_lo, ref_hi = _jackknife_plus_by_refitting(m.prep_.transform(X), y, m.prep_.transform(Xq), k, level)
    np.testing.assert_allclose(lower, ref_lo, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(upper, ref_hi, rtol=1e-12, atol=1e-12)


def test_knn_jackknife_plus_on_a_hand_computed_example():
    """y = 0, 1, 3, 7 at x = 0, 1, 2, 3, k = 1. Leave-one-out neighbours: 0->1, 1->0 (tie with 2: the first),
    2->1, 3->2; residuals |0-1|, |1-0|, |3-1|, |7-3| = 1, 1, 2, 4. Query x = 0.4: nearest is x=0 (y=0),
    without row 0 it is x=1 (y=1). mu_-i = 1, 0, 0, 0; level 0.6 -> a = 0.4, ranks floor(2) = 2 and
    ceil(3) = 3: lower = 2nd smallest of (0, -1, -2, -4) = -2; upper = 3rd smallest of (2, 1, 2, 4) = 2."""
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    m = registry.make_model("knn", n_neighbors=1).fit(X, np.array([0.0, 1.0, 3.0, 7.0]))
    lower, upper = m.predict_interval(np.array([[0.4]]), level=0.6)
    assert lower[0] == pytest.approx(-2.0) and upper[0] == pytest.approx(2.0)


def test_dummy_and_median_intervals_are_order_statistics_of_the_training_targets():
    """n = 39, level 0.9: ranks floor(40 * 0.05) = 2 and ceil(40 * 0.95) = 38 of the sorted targets."""
    y = np.random.default_rng(0).permutation(np.arange(39.0) ** 2)
    X = np.zeros((39, 1))
    for name in ("dummy", "median"):
        lower, upper = registry.make_model(name).fit(X, y).predict_interval(np.zeros((3, 1)), level=0.9)
        assert np.all(lower == 1.0) and np.all(upper == 37.0 ** 2)
    mean, std = registry.make_model("median").fit(X, y).predict(np.zeros((1, 1)), return_std=True)
    assert mean[0] == 19.0 ** 2
    assert std[0] == pytest.approx(1.482602218505602 * np.median(np.abs(y - 361.0)))


@pytest.mark.parametrize("name", ["dummy", "median", "ridge", "knn", pytest.param("gp", marks=pytest.mark.slow), "rf",
                                  "rf_median"])
def test_interval_coverage_on_data_with_known_noise(name):
    """y = x . w + N(0, 0.5^2), 300 training rows: the 90% interval covers close to 90% of new rows."""
    X, y = _noisy_linear(300, 10)
    Xq, yq = _noisy_linear(2000, 11)
    m = registry.make_model(name, **FAST.get(name, {})).fit(X, y)
    lower, upper = m.predict_interval(Xq, level=0.9)
    mean, std, lo2, hi2 = m.predict_dist(Xq, level=0.9)
    np.testing.assert_allclose(lo2, lower)
    np.testing.assert_allclose(hi2, upper)
    coverage = np.mean((yq >= lower) & (yq <= upper))
    assert 0.82 <= coverage <= 0.97, coverage


def test_registry_options_reproduce_the_switches_they_replaced():
    """Before: ``{"n_estimators": t, "n_jobs": 1} if name in ("rf", "rf_clf")``, ``{"n_threads": 1} if name in
    ("gbm", "mlp")``, else ``{}`` (evaluate/fewshot.py, crossval.py, matbench_runner.py, demo.py)."""
    for name in ("rf", "rf_clf"):
        assert registry.few_shot_options(name, rf_trees=7) == {"n_estimators": 7, "n_jobs": 1}
        assert registry.thread_options(name, 3) == {"n_jobs": 3}
    for name in ("gbm", "mlp"):
        assert registry.few_shot_options(name, rf_trees=7) == {"n_threads": 1}
        assert registry.run_options(name, 2, 100) == {"n_threads": 2}
    for name in ("dummy", "ridge", "knn", "gp", "logistic", "knn_clf", "gp_clf", "dummy_clf", "pretrained"):
        assert registry.few_shot_options(name, rf_trees=7) == {} and registry.run_options(name, 2, 100) == {}
    assert registry.run_options("rf", 2, 100) == {"n_estimators": 100, "n_jobs": 2}
    old_classifier_for = {"dummy": "dummy_clf", "ridge": "logistic", "logistic": "logistic", "knn": "knn_clf",
                          "knn_clf": "knn_clf", "gp": "gp_clf", "gp_clf": "gp_clf", "rf": "rf_clf",
                          "rf_clf": "rf_clf", "dummy_clf": "dummy_clf"}
    new = registry.classifier_map()
    assert {k: new[k] for k in old_classifier_for} == old_classifier_for
    assert set(new) - set(old_classifier_for) == {"median", "rf_median"}


def test_names_for_tasks_and_bad_names():
    assert registry.for_task("rf", "classification") == "rf_clf"
    assert registry.for_task("pretrained", "regression") == "pretrained"
    with pytest.raises(ValueError, match="no classifier"):
        registry.for_task("gbm", "classification")
    with pytest.raises(ValueError, match="is a classifier"):
        registry.for_task("rf_clf", "regression")
    assert registry.check_names([" rf", "pretrained:x/y"]) == ["rf", "pretrained:x/y"]
    for bad, msg in (([], "no model"), (["svm"], "unknown model"), (["rf", "rf"], "listed twice")):
        with pytest.raises(ValueError, match=msg):
            registry.check_names(bad)
    assert registry.display_name("metasgd") == "Meta-SGD" and registry.display_name("x") == "x"
    with pytest.raises(ValueError, match="baseline"):
        registry.save_model(registry.make_model("ridge"), "unused")


@pytest.mark.parametrize(("name", "centre"), [("rf", np.mean), ("rf_median", np.median)])
def test_rf_interval_is_out_of_bag_conformal(name, centre):
    """Reference computed row by row from scikit-learn's forest: for each training row, the trees whose
    bootstrap sample (``estimators_samples_``) left it out give its score |y - centre| / spread."""
    X, y = _noisy_linear(30, 5)
    Xq = _noisy_linear(6, 6)[0]
    m = registry.make_model(name, n_estimators=40, seed=1).fit(X, y)
    Z = m.prep_.transform(X)
    scores = []
    for i in range(len(y)):
        trees = [t for t, rows in zip(m.model_.estimators_, m.model_.estimators_samples_, strict=True)
                 if i not in set(rows)]
        p = np.array([t.predict(Z[i:i + 1])[0] for t in trees])
        scores.append(abs(y[i] - centre(p)) / max(p.std(), m.std_floor_))
    q = np.sort(scores)[int(np.ceil(31 * 0.8)) - 1]  # level 0.8, n = 30: the 25th smallest
    mean, std = m.predict(Xq, return_std=True)
    lower, upper = m.predict_interval(Xq, level=0.8)
    np.testing.assert_allclose(lower, mean - q * std, rtol=1e-9)
    np.testing.assert_allclose(upper, mean + q * std, rtol=1e-9)


def test_rf_conformal_scores_on_a_row_subset_equal_the_full_scores_of_those_rows(monkeypatch):
    from metamat.models import baselines

    X, y = _noisy_linear(30, 7)
    full = registry.make_model("rf", n_estimators=30, seed=2).fit(X, y)
    full.predict_interval(X[:2])
    monkeypatch.setattr(baselines, "MAX_CONFORMAL_ROWS", 10)
    sub = registry.make_model("rf", n_estimators=30, seed=2).fit(X, y)
    sub.predict_interval(X[:2])
    keep = np.sort(np.random.default_rng(2).choice(30, 10, replace=False))
    np.testing.assert_allclose(sub.scores_, full.scores_[keep])


def test_wrappers_are_registered_and_follow_the_protocol() -> None:
    """delta learning through the registry: y = 2 * low + 1 exactly, so the delta model (a forest on the
    residual y - low) predicts the held-out rows within the residual's spread, and clones keep the name."""
    from sklearn.base import clone

    from metamat.models.registry import evaluator_names, make_model, registry_name

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    low = 3.0 * X[:, 0] + X[:, 1]
    y = low + 0.5 + 0.01 * rng.normal(size=60)  # the low-fidelity column is off by a constant 0.5
    Xl = np.column_stack([X, low])
    m = make_model("delta", seed=0).fit(Xl[:40], y[:40])
    np.testing.assert_allclose(m.predict(Xl[40:]), y[40:], atol=0.05)
    lower, upper = m.predict_interval(Xl[40:])
    assert np.all(lower <= upper)
    assert registry_name(clone(m)) == "delta"
    assert not {"delta", "koh", "residual", "bounded", "hurdle"} & set(evaluator_names())
