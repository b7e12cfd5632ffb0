"""Delta learning on a baseline column, bounded outputs, and the multi-fidelity learners."""

from __future__ import annotations

import numpy as np
import pytest

from metamat.models.baselines import make_model
from metamat.models.multifidelity import DeltaRegressor, KOHRegressor
from metamat.models.physics import BoundedRegressor, ResidualRegressor


def test_residual_learning_recovers_baseline_plus_constant():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    baseline = 3 * 8.314 * rng.integers(1, 8, 30)  # a Dulong-Petit 3nR column
    y = baseline + 2.0
    m = ResidualRegressor("dummy", baseline_column=-1).fit(np.column_stack([X, baseline]), y)
    Xq = np.column_stack([rng.normal(size=(5, 3)), [10.0, 20.0, 30.0, 40.0, np.nan]])
    np.testing.assert_allclose(m.predict(Xq)[:4], [12.0, 22.0, 32.0, 42.0])
    assert m.predict(Xq)[4] == pytest.approx(baseline.mean() + 2.0)  # no baseline: the mean baseline


def test_fitted_scale_corrects_a_baseline_in_wrong_units():
    rng = np.random.default_rng(1)
    low = rng.uniform(0, 4, 200)
    y = 1.5 * low + 0.3
    m = DeltaRegressor("dummy", scale=None, shrink=0.0).fit(low[:, None], y)
    assert m.scale_ == pytest.approx(1.5, rel=1e-9)
    np.testing.assert_allclose(m.predict(np.array([[1.0], [2.0]])), [1.8, 3.3])


@pytest.mark.parametrize("base", ["ridge", "gp"])
def test_positive_target_intervals_never_cross_zero(base):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 4))
    y = np.exp(X[:, 0] + 0.5 * rng.normal(size=40))  # positive, heavy-tailed
    Xq = 5 * rng.normal(size=(500, 4))  # far extrapolation
    plain_lo = make_model(base).fit(X, y).predict_interval(Xq, 0.99)[0]
    assert (plain_lo < 0).any()  # the unbounded model does cross the bound
    m = BoundedRegressor(base, low=0.0).fit(X, y)
    assert m.transform_ == "log"
    mean, std, lo, hi = m.predict_dist(Xq, 0.99)
    assert (lo > 0).all() and (mean > 0).all() and (lo <= mean).all() and (mean <= hi).all() and (std > 0).all()


def test_fraction_target_stays_in_unit_interval_and_zeros_are_clipped():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 2))
    frac = 1 / (1 + np.exp(-2 * X[:, 0]))
    m = BoundedRegressor("ridge", low=0.0, high=1.0).fit(X, frac)
    lo, hi = m.predict_interval(10 * rng.normal(size=(300, 2)), 0.99)
    assert m.transform_ == "logit" and (lo >= 0).all() and (hi <= 1).all()
    gaps = np.where(X[:, 1] > 0, 0.0, np.abs(X[:, 0]))  # metals sit exactly on the bound
    g = BoundedRegressor("ridge", low=0.0).fit(X, gaps)
    lo, hi = g.predict_interval(10 * rng.normal(size=(300, 2)), 0.99)
    assert g.transform_ == "clip" and (lo >= 0).all() and (hi >= lo).all()
    with pytest.raises(ValueError):
        BoundedRegressor("ridge", low=0.0, transform="log").fit(X, gaps)


def _forrester(x):
    return (6 * x - 2) ** 2 * np.sin(12 * x - 4)


def _forrester_low(x):  # Forrester et al. (2007): f_high = 2 f_low - 20 (x - 0.5) + 10
    return 0.5 * _forrester(x) + 10 * (x - 0.5) - 5


def test_koh_recovers_rho_and_the_discrepancy():
    xh = np.linspace(0, 1, 6)
    m = KOHRegressor(seed=0).fit(np.column_stack([xh, _forrester_low(xh)]), _forrester(xh))
    assert m.rho_ == pytest.approx(2.0, abs=0.02)
    g = np.linspace(0, 1, 101)
    err = np.abs(m.predict(np.column_stack([g, _forrester_low(g)])) - _forrester(g)).max()
    single = np.abs(make_model("gp").fit(xh[:, None], _forrester(xh)).predict(g[:, None]) - _forrester(g)).max()
    assert err < 0.05 and single > 5.0  # six expensive points: co-kriging exact, one GP far off


def test_koh_fills_missing_low_fidelity_from_the_low_gp():
    xl, xh = np.linspace(0, 1, 21), np.linspace(0, 1, 8)
    X = np.column_stack([xh, np.full(8, np.nan)])
    m = KOHRegressor(seed=0).fit(X, _forrester(xh), X_low=xl[:, None], y_low=_forrester_low(xl))
    g = np.linspace(0.02, 0.98, 49)
    mean, std = m.predict(np.column_stack([g, np.full(49, np.nan)]), return_std=True)
    assert m.rho_ == pytest.approx(2.0, abs=0.1)
    assert np.abs(mean - _forrester(g)).max() < 0.5 and (std > 0).all()
    with pytest.raises(ValueError):
        KOHRegressor().fit(X, _forrester(xh))


def test_hurdle_mixture_quantiles_match_a_hand_computation():
    from scipy.stats import norm

    from metamat.models.physics import HurdleRegressor

    h = HurdleRegressor(bound=0.0)
    p, m, s = np.array([0.3, 0.8, 0.8]), np.array([2.0, 2.0, 0.1]), np.array([0.5, 0.5, 1.0])
    # median: p <= 1/2 -> the bound; else the Gaussian quantile 1 - 0.5 / p = 0.375, clipped at 0
    np.testing.assert_allclose(h._quantile(0.5, p, m, s), [0.0, 2.0 + 0.5 * norm.ppf(0.375), 0.0])
    # 95% quantile with p = 0.8: (0.95 - 0.2) / 0.8 = 0.9375 of the Gaussian part
    assert h._quantile(0.95, p, m, s)[1] == pytest.approx(2.0 + 0.5 * norm.ppf(0.9375))


def test_hurdle_predicts_the_bound_for_the_zero_class_and_never_crosses_it():
    from metamat.models.baselines import RFClassifier, RFRegressor
    from metamat.models.physics import HurdleRegressor

    rng = np.random.default_rng(4)
    X = rng.normal(size=(120, 3))
    y = np.where(X[:, 0] > 0, 1.0 + np.abs(X[:, 1]), 0.0)  # "metals" (x0 <= 0) have exactly 0
    m = HurdleRegressor(RFClassifier(n_estimators=50), RFRegressor(n_estimators=50)).fit(X, y)
    Xq = rng.normal(size=(200, 3))
    point, std, lo, hi = m.predict_dist(Xq, 0.9)
    metal = Xq[:, 0] < -0.5
    assert np.all(point[metal] == 0.0) and (lo >= 0).all() and (point >= lo).all() and (hi >= point).all()
    assert np.mean(np.abs(point[Xq[:, 0] > 0.5] - (1 + np.abs(Xq[Xq[:, 0] > 0.5, 1])))) < 0.5
