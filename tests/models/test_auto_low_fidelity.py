"""``auto`` with a same-quantity low-fidelity input and with a support on the bound 0, against hand
computations: a constant offset is recovered exactly, a slope by the shrunk least-squares formula, the
standardized space of the evaluators maps back, and the hurdle candidate never predicts below 0."""

from __future__ import annotations

import numpy as np
import pytest

from metamat.models.auto import HURDLE, LOW_FIDELITY_CANDIDATES, AutoRegressor

CHEAP = ("median", "rf_median")


def support(n: int = 14, q: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + q, 4))  # features that carry no signal
    low = rng.uniform(0.5, 5.0, n + q)  # a DFT-like estimate of the target
    return np.column_stack([X, low]), low, n


def test_constant_offset_is_recovered_exactly_by_lowfi():
    X, low, n = support()
    y = low + 0.7  # the measured value is the low fidelity plus a constant
    m = AutoRegressor(candidates=CHEAP, low_fidelity=[4], rf_trees=20).fit(X[:n], y[:n])
    assert set(LOW_FIDELITY_CANDIDATES) <= set(m.choice_["table"])
    assert m.choice_["table"]["lowfi"]["cv_mae"] == pytest.approx(0.0, abs=1e-12)
    assert m.chosen_ in ("lowfi", "delta")  # both are exact on this support
    np.testing.assert_allclose(m.predict(X[n:]), low[n:] + 0.7, atol=1e-9)


def test_standardized_targets_map_the_low_fidelity_with_fit_scaling():
    """Evaluators fit on (y - mean) / std of the support; ``fit_scaling`` tells auto, so the low-fidelity
    column (in the unit of y) is compared in the same space."""
    X, low, n = support(seed=1)
    y = low - 0.3
    mu, sd = float(y[:n].mean()), float(y[:n].std())
    m = AutoRegressor(candidates=CHEAP, low_fidelity=[4], rf_trees=20, fit_scaling=(mu, sd))
    m.fit(X[:n], (y[:n] - mu) / sd)
    assert m.choice_["table"]["lowfi"]["cv_mae"] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(m.predict(X[n:]) * sd + mu, y[n:], atol=1e-9)


def test_a_slope_is_recovered_by_delta_slope():
    X, low, n = support(n=16, q=200, seed=2)
    rng = np.random.default_rng(3)
    y = 1.3 * low + 0.02 * rng.normal(size=len(low))
    m = AutoRegressor(candidates=CHEAP, low_fidelity=[4], rf_trees=50).fit(X[:n], y[:n])
    assert m.chosen_ == "delta_slope"
    # shrunk least squares: (n * OLS slope + shrink) / (n + shrink), shrink = 5 rows pulled towards 1
    ols = np.polyfit(low[:n], y[:n], 1)[0]
    assert m.model_.scale_ == pytest.approx((n * ols + 5.0) / (n + 5.0), rel=1e-9)
    rf_only = AutoRegressor(candidates=CHEAP, rf_trees=50).fit(X[:n], y[:n])
    err = np.mean(np.abs(m.predict(X[n:]) - y[n:]))
    assert err < 0.3 * np.mean(np.abs(rf_only.predict(X[n:]) - y[n:]))


def test_rows_without_a_low_fidelity_value_use_the_support_mean():
    X, low, n = support(seed=4)
    y = low + 1.0
    X = X.copy()
    X[n, 4] = np.nan  # one query row without a DFT value
    m = AutoRegressor(candidates=("median",), low_fidelity=[4]).fit(X[:n], y[:n])
    assert m.chosen_ in ("lowfi", "delta")  # both exact here; delta is the fallback
    assert m.predict(X[n:n + 1])[0] == pytest.approx(low[:n].mean() + 1.0, abs=1e-9)


def zero_inflated(n_zero: int, n_pos: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_zero + n_pos + 50, 3))
    y = np.where(X[:, 0] < 0, 0.0, 1.0 + 2.0 * X[:, 0])  # "metals" (x0 < 0) have gap 0
    idx_zero = np.flatnonzero(y == 0)[:n_zero]
    idx_pos = np.flatnonzero(y > 0)[:n_pos]
    sup = np.concatenate([idx_zero, idx_pos])
    query = np.setdiff1d(np.arange(len(y)), sup)
    return X[sup], y[sup], X[query], y[query]


def test_hurdle_is_offered_on_a_zero_inflated_support_and_stays_above_zero():
    Xs, ys, Xq, yq = zero_inflated(6, 6)
    m = AutoRegressor(candidates=CHEAP, rf_trees=30).fit(Xs, ys)
    z = m.choice_["zero_inflation"]
    assert z["share_on_bound"] == pytest.approx(0.5) and z["hurdle"]
    assert HURDLE in m.choice_["table"]
    mean, _, lo, hi = m.predict_dist(Xq)
    assert mean.min() >= 0.0 and lo.min() >= 0.0 and (hi >= lo).all()
    hurdle = m._make(HURDLE, None).fit(Xs, ys)
    assert hurdle.predict(Xq).min() >= 0.0
    zero = hurdle.predict(Xq) == 0.0
    assert zero[yq == 0].mean() > 0.6 > zero[yq > 0].mean()  # most metals get exactly 0, few non-metals


def test_hurdle_trigger_threshold_and_the_standardized_space():
    Xs, ys, _, _ = zero_inflated(1, 11)  # 1 of 12 on the bound: below the 20% trigger
    m = AutoRegressor(candidates=CHEAP, rf_trees=20).fit(Xs, ys)
    assert not m.choice_["zero_inflation"]["hurdle"] and HURDLE not in m.choice_["table"]
    Xs, ys, Xq, _ = zero_inflated(5, 7)
    off = AutoRegressor(candidates=CHEAP, rf_trees=20, zero_inflation=None).fit(Xs, ys)
    assert HURDLE not in off.choice_["table"]
    mu, sd = float(ys.mean()), float(ys.std())
    m = AutoRegressor(candidates=CHEAP, rf_trees=20, fit_scaling=(mu, sd)).fit(Xs, (ys - mu) / sd)
    assert m.choice_["zero_inflation"]["hurdle"]
    assert (m.predict(Xq) * sd + mu).min() >= -1e-12  # the bound 0 maps to -mu / sd and holds


def test_log_targets_never_offer_the_hurdle():
    Xs, ys, _, _ = zero_inflated(4, 8)
    m = AutoRegressor(candidates=CHEAP, rf_trees=20, target_transform="log10").fit(Xs, ys + 1.0)
    assert not m.choice_["zero_inflation"]["hurdle"]


def test_evaluators_pass_the_episode_standardization():
    """``score_model`` (bench fewshot, cross-validation) tells auto how the episode standardized y: the
    support's mean and std, so the metals' zeros are seen on the bound and predictions stay >= 0."""
    from metamat.evaluate.scoring import pass_scaling, predict_model_space
    from metamat.tasks.task import Episode, Task

    Xs, ys, Xq, yq = zero_inflated(6, 6)
    task = Task(name="gaps", X=np.vstack([Xs, Xq]), y=np.concatenate([ys, yq]),
                formulas=np.array([f"X{i}" for i in range(len(ys) + len(yq))]), kind="regression")
    ep = Episode(task, np.arange(len(ys)), np.arange(len(ys), len(ys) + len(yq)))
    m = pass_scaling(AutoRegressor(candidates=CHEAP, rf_trees=20), ep)
    assert m.fit_scaling == pytest.approx((ys.mean(), ys.std()))
    mu, _ = predict_model_space(m, ep)
    assert m.choice_["zero_inflation"]["hurdle"] and mu.min() >= -1e-9
