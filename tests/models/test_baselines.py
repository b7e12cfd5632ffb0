"""Baselines: the shared interface, behaviour on synthetic problems, reproducibility, one real-data check."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from metamat.models import CLASSIFIERS, MODELS, REGRESSORS, make_model

# Small, fast settings; thread-hungry models get one thread (2 shared cores, see the report)
FAST = {"rf": {"n_estimators": 60}, "rf_clf": {"n_estimators": 60}, "gbm": {"n_estimators": 80, "n_threads": 1},
        "mlp": {"max_epochs": 80, "n_ensemble": 3, "n_threads": 1}, "gp": {"n_restarts": 0}}
NOISE = 0.3


def _linear(n: int, seed: int, d: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.array([1.0, 10.0, 0.1, 100.0])[:d]  # unequal scales on purpose
    y_clean = X @ (np.array([1.0, -0.2, 5.0, 0.01])[:d]) + 2.0
    return X, y_clean + NOISE * rng.normal(size=n), y_clean


def _model(name: str, seed: int = 0):
    return make_model(name, seed=seed, **FAST.get(name, {}))


def test_registry():
    assert set(MODELS) == {"dummy", "median", "ridge", "knn", "gp", "rf", "rf_median", "gbm", "mlp", "dummy_clf",
                           "logistic", "knn_clf", "rf_clf", "gp_clf"}
    assert set(REGRESSORS) | set(CLASSIFIERS) == set(MODELS)
    with pytest.raises(ValueError, match="unknown model"):
        make_model("svm")
    m = make_model("rf", seed=3, n_estimators=7)
    assert m.get_params()["n_estimators"] == 7 and m.seed == 3
    assert not [k for k in vars(m) if k.endswith("_")]  # __init__ does no work


@pytest.mark.parametrize("name", REGRESSORS)
def test_regressor_interface(name):
    X, y, _ = _linear(60, 0)
    model = _model(name)
    with pytest.raises(RuntimeError, match="not fitted"):
        model.predict(X)
    assert model.fit(X, y) is model
    Xq, _, _ = _linear(25, 1)
    mean = model.predict(Xq)
    mean2, std = model.predict(Xq, return_std=True)
    assert isinstance(mean, np.ndarray) and mean.shape == (25,) and np.array_equal(mean, mean2)
    assert std.shape == (25,) and np.all(np.isfinite(std)) and np.all(std > 0)
    assert any(k.endswith("_") for k in vars(model))
    with pytest.raises(ValueError, match="features"):
        model.predict(Xq[:, :2])
    fresh = clone(model)
    assert not any(k.endswith("_") for k in vars(fresh)) and fresh.get_params() == model.get_params()


@pytest.mark.parametrize("name", REGRESSORS)
def test_regressor_handles_nan_features(name):
    X, y, _ = _linear(50, 2)
    X[::7, 1] = np.nan
    X[:, 2] = np.nan  # an all-NaN column
    model = _model(name).fit(X, y)
    Xq = X[:10].copy()
    Xq[0, 0] = np.nan
    mean, std = model.predict(Xq, return_std=True)
    assert np.all(np.isfinite(mean)) and np.all(np.isfinite(std))
    with pytest.raises(ValueError, match="infinite"):
        model.predict(np.where(np.isnan(Xq), np.inf, Xq))


def test_nan_imputed_with_training_mean():
    X = np.array([[0.0], [2.0], [4.0], [np.nan]])
    y = np.array([0.0, 2.0, 4.0, 9.0])
    model = make_model("knn", n_neighbors=1).fit(X[:3], y[:3])
    assert model.predict(np.array([[np.nan]]))[0] == 2.0  # NaN -> training mean 2.0 -> nearest y = 2.0


def test_ridge_mae_near_noise_level():
    X, y, _ = _linear(200, 0)
    Xt, yt, _ = _linear(400, 1)
    mean, std = make_model("ridge").fit(X, y).predict(Xt, return_std=True)
    mae = np.mean(np.abs(mean - yt))
    assert 0.6 * NOISE * np.sqrt(2 / np.pi) < mae < 1.3 * NOISE * np.sqrt(2 / np.pi)  # E|N(0, s)| = 0.24
    assert 0.8 * NOISE < std.mean() < 1.3 * NOISE
    dummy_mae = np.mean(np.abs(make_model("dummy").fit(X, y).predict(Xt) - yt))
    assert mae < 0.2 * dummy_mae


def test_ridge_std_is_leave_one_out_rms():
    from sklearn.linear_model import Ridge

    X, y, _ = _linear(30, 3)
    model = make_model("ridge").fit(X, y)
    Z = model.prep_.transform(X)
    loo = [y[i] - Ridge(alpha=model.alpha_).fit(np.delete(Z, i, 0), np.delete(y, i)).predict(Z[i:i + 1])[0]
           for i in range(len(y))]
    _, std = model.predict(X[:3], return_std=True)
    assert np.allclose(std, np.sqrt(np.mean(np.square(loo))), rtol=1e-6)
    tiny = make_model("ridge").fit(X[:2], y[:2])  # too few rows for leave-one-out
    assert np.all(tiny.predict(X[:3], return_std=True)[1] > 0)


def test_episode_loop_end_to_end():
    from metamat.evaluate import mean_ci, regression_metrics
    from metamat.tasks import Task, sample_episode

    rng = np.random.default_rng(0)
    formulas = [f"Li{a}Fe{b}O{c}" if i % 3 else f"Na{a}Cl{b}" for i, (a, b, c) in
                enumerate(rng.integers(1, 6, size=(90, 3)))]
    X = rng.normal(size=(90, 3))
    task = Task("toy", X, np.exp(X[:, 0]) + 0.1, formulas, transform="log10", units="S/cm")
    scores = []
    for e in range(5):
        ep = sample_episode(task, 10, n_query=30, policy="random", rng=e)
        model = make_model("ridge").fit(ep.X_support, ep.y_support_fit)
        mean, std = ep.to_original(*model.predict(ep.X_query, return_std=True))
        assert np.all(mean > 0)  # back in original (positive) units
        scores.append(regression_metrics(ep.y_query, mean, std, mad=task.mad)["smae"])
    m, lo, hi = mean_ci(scores)
    assert lo <= m <= hi and m < 1.0


def test_dummy_predicts_mean_and_training_std():
    y = np.array([1.0, 2.0, 6.0])
    mean, std = make_model("dummy").fit(np.zeros((3, 2)), y).predict(np.zeros((2, 2)), return_std=True)
    assert np.allclose(mean, 3.0) and np.allclose(std, np.std(y))


def test_knn_std_is_spread_of_neighbours():
    X = np.array([[0.0], [0.1], [0.2], [10.0], [10.1]])
    y = np.array([1.0, 3.0, 5.0, 100.0, 100.0])
    mean, std = make_model("knn", n_neighbors=3).fit(X, y).predict(np.array([[0.1]]), return_std=True)
    assert mean[0] == pytest.approx(3.0) and std[0] == pytest.approx(np.std([1.0, 3.0, 5.0]))


def test_gp_std_smaller_near_training_points():
    # two clusters of training points; the gap between them is inside the feature range (so feature
    # clipping does not touch it) but far from any training point
    rng = np.random.default_rng(0)
    X = np.r_[rng.uniform(-3, -2, size=(20, 2)), rng.uniform(2, 3, size=(20, 2))]
    y = np.sin(X[:, 0]) + 0.1 * X[:, 1] + 0.05 * rng.normal(size=40)
    model = make_model("gp").fit(X, y)
    _, near = model.predict(X[:10] + 0.01, return_std=True)
    _, far = model.predict(rng.uniform(-0.5, 0.5, size=(10, 2)), return_std=True)
    assert near.max() < far.min()
    assert np.mean(np.abs(model.predict(X) - y)) < 0.1


def test_features_clipped_to_training_range():
    X = np.array([[0.0], [1.0], [2.0]])
    model = make_model("ridge").fit(X, np.array([0.0, 1.0, 2.0]))
    assert np.allclose(model.predict(np.array([[2.0], [50.0]])), model.predict(np.array([[2.0], [2.0]])))


def test_gbm_histogram_path_for_large_training_sets():
    X, y, _ = _linear(80, 0)
    model = make_model("gbm", hist_threshold=50, n_estimators=50, n_threads=1).fit(X, y)
    assert type(model.mean_model_).__name__ == "HistGradientBoostingRegressor"
    mean, std = model.predict(X[:5], return_std=True)
    assert np.all(np.isfinite(mean)) and np.all(std > 0)
    assert type(_model("gbm").fit(X, y).mean_model_).__name__ == "GradientBoostingRegressor"


def test_rf_std_positive_and_from_trees():
    X, y, _ = _linear(80, 0)
    model = _model("rf").fit(X, y)
    mean, std = model.predict(X[:20], return_std=True)
    trees = np.stack([t.predict(model.prep_.transform(X[:20]).astype(np.float32))
                      for t in model.model_.estimators_])
    assert np.all(std > 1e-3) and np.allclose(std, trees.std(axis=0))
    assert np.allclose(mean, model.model_.predict(model.prep_.transform(X[:20])))


def test_mlp_learns_and_leaves_global_torch_state_alone():
    import torch

    X, y, _ = _linear(150, 0)
    Xt, yt, _ = _linear(100, 1)
    threads = torch.get_num_threads()
    state = torch.random.get_rng_state()
    mean, std = _model("mlp").fit(X, y).predict(Xt, return_std=True)
    dummy_mae = np.mean(np.abs(make_model("dummy").fit(X, y).predict(Xt) - yt))
    assert np.mean(np.abs(mean - yt)) < 0.35 * dummy_mae
    assert torch.get_num_threads() == threads and torch.equal(torch.random.get_rng_state(), state)


@pytest.mark.parametrize("name", ["ridge", "knn", "gp", "rf", "gbm", "mlp", "rf_clf", "gp_clf", "logistic"])
def test_same_seed_same_numbers(name):
    X, y, _ = _linear(60, 0)
    if name in CLASSIFIERS:
        y = (y > np.median(y)).astype(float)
        a = _model(name, seed=5).fit(X, y).predict_proba(X[:15])
        b = _model(name, seed=5).fit(X, y).predict_proba(X[:15])
        assert np.array_equal(a, b)
        return
    a = _model(name, seed=5).fit(X, y).predict(X[:15], return_std=True)
    b = _model(name, seed=5).fit(X, y).predict(X[:15], return_std=True)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    if name in ("rf", "mlp"):
        c = _model(name, seed=6).fit(X, y).predict(X[:15])
        assert not np.array_equal(a[0], c)


def _separable(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(float)
    X[:, 0] += np.where(y == 1, 0.5, -0.5)  # a margin
    return X, y


@pytest.mark.parametrize("name", [c for c in CLASSIFIERS if c != "dummy_clf"])
def test_classifier_interface_and_auc(name):
    X, y = _separable(120, 0)
    Xt, yt = _separable(200, 1)
    model = _model(name)
    assert model.fit(X, y) is model
    p = model.predict_proba(Xt)
    assert p.shape == (200,) and np.all((p >= 0) & (p <= 1))
    labels = model.predict(Xt)
    assert set(np.unique(labels)) <= {0, 1} and np.array_equal(labels, (p >= 0.5).astype(int))
    assert roc_auc_score(yt, p) > 0.9
    with pytest.raises(ValueError, match="0 or 1"):
        _model(name).fit(X, y * 2)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifier_single_class_support(name):
    X, _ = _separable(6, 0)
    p = _model(name).fit(X, np.ones(6)).predict_proba(X)
    assert np.allclose(p, 6.5 / 7)


@pytest.mark.slow  # over 5 s (measured with --durations)
def test_rf_beats_dummy_on_expt_gap_with_chemical_system_split(shared_data_dir):
    import pandas as pd

    from metamat.evaluate import mae
    from metamat.tasks import ChemicalSystemSplit, Task, check_leakage, first_split

    path = shared_data_dir / "crabnet_matbench_composition" / "matbench_expt_gap.csv.gz"
    if not path.exists():
        pytest.skip(f"{path} not found")
    df = pd.read_csv(path)
    task = Task.from_formulas("matbench_expt_gap", df["formula"], df["target"], featurizers="composition",
                              units="eV", quantity="band gap")
    train, test = first_split(ChemicalSystemSplit(n_splits=5), task, seed=0)
    assert check_leakage(train, test, formulas=task.formulas).ok
    # fewer trees than the matbench 500 to keep the test quick; the margin is wide either way
    rf = make_model("rf", seed=0, n_estimators=40).fit(task.X[train], task.y[train])
    dummy = make_model("dummy").fit(task.X[train], task.y[train])
    rf_mae = mae(task.y[test], rf.predict(task.X[test]))
    dummy_mae = mae(task.y[test], dummy.predict(task.X[test]))
    assert rf_mae < 0.6 * dummy_mae, (rf_mae, dummy_mae)


def test_dummy_classifier_is_the_smoothed_support_rate():
    y = np.array([1, 0, 0, 1, 0, 0, 0])  # 2 of 7: (2 + 0.5) / (7 + 1)
    p = make_model("dummy_clf").fit(np.zeros((7, 2)), y).predict_proba(np.ones((3, 2)))
    np.testing.assert_allclose(p, 2.5 / 8)


def test_rf_median_is_the_median_of_the_tree_predictions():
    """Reference: scikit-learn's own forest with the same seed on the same prepared features."""
    from sklearn.ensemble import RandomForestRegressor

    X, y, _ = _linear(60, 0)
    Xt = _linear(20, 1)[0]
    model = make_model("rf_median", seed=4, n_estimators=25).fit(X, y)
    ref = RandomForestRegressor(n_estimators=25, random_state=4).fit(model.prep_.transform(X), y)
    trees = np.stack([t.predict(model.prep_.transform(Xt)) for t in ref.estimators_])
    mean, std = model.predict(Xt, return_std=True)
    np.testing.assert_allclose(mean, np.median(trees, axis=0))
    np.testing.assert_allclose(std, np.maximum(trees.std(axis=0), model.std_floor_))
