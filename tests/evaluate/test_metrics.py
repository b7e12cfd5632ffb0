"""Metrics against hand-computed values on tiny arrays, and against scipy / scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from metamat.evaluate import metrics as M

Y = np.array([1.0, 2.0, 3.0, 4.0])
MU = np.array([1.5, 2.0, 2.0, 5.0])  # errors y - mu = [-0.5, 0, 1, -1]
S = np.array([1.0, 1.0, 2.0, 0.5])


def test_point_metrics_by_hand():
    assert M.mae(Y, MU) == pytest.approx((0.5 + 0 + 1 + 1) / 4)  # 0.625
    assert M.rmse(Y, MU) == pytest.approx(math.sqrt((0.25 + 0 + 1 + 1) / 4))  # 0.75
    # mean y = 2.5; SS_tot = 2.25 + 0.25 + 0.25 + 2.25 = 5; SS_res = 2.25
    assert M.r2(Y, MU) == pytest.approx(1 - 2.25 / 5)
    assert M.r2(Y, MU) == pytest.approx(skm.r2_score(Y, MU))
    assert M.mae(Y, MU) == pytest.approx(skm.mean_absolute_error(Y, MU))
    assert math.isnan(M.r2(np.ones(3), np.zeros(3)))


def test_scale_free_mae_by_hand():
    assert M.mean_absolute_deviation(Y) == pytest.approx((1.5 + 0.5 + 0.5 + 1.5) / 4)  # 1.0
    assert M.scale_free_mae(Y, MU, mad=1.25) == pytest.approx(0.625 / 1.25)
    with pytest.raises(ValueError):
        M.scale_free_mae(Y, MU, mad=0.0)


def test_gaussian_nll_by_hand_and_scipy():
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    terms = [half_log_2pi + 0.25 / 2,                       # s = 1, e = -0.5
             half_log_2pi + 0.0,                            # s = 1, e = 0
             half_log_2pi + math.log(2.0) + 1.0 / 8,        # s = 2, e = 1
             half_log_2pi + math.log(0.5) + 1.0 / 0.5]      # s = 0.5, e = -1
    assert M.gaussian_nll(Y, MU, S) == pytest.approx(sum(terms) / 4)
    assert M.gaussian_nll(Y, MU, S) == pytest.approx(-np.mean(stats.norm.logpdf(Y, MU, S)))
    assert M.gaussian_nll(Y, MU, 1.0) == pytest.approx(-np.mean(stats.norm.logpdf(Y, MU, 1.0)))


def test_coverage_by_hand():
    # |e| / s = [0.5, 0, 0.5, 2]: the first three lie inside +/- 1.6449
    assert M.Z90 == pytest.approx(1.6449, abs=1e-4)
    assert M.interval_coverage(Y, MU, S) == pytest.approx(0.75)
    assert M.interval_coverage(Y, MU, S * 0.2) == pytest.approx(0.25)  # only the exact hit


def test_calibration_error_by_hand():
    # |e| / s = [0.5, 0, 0.5, 2]. Central-interval half-widths z(l) = Phi^-1(0.5 + l/2):
    # l = 0.1..0.3 -> z < 0.5 (0.126, 0.253, 0.385): coverage 1/4; l = 0.4..0.9 -> z >= 0.524: 3/4.
    # |cov - l| = .15 .05 .05 | .35 .25 .15 .05 .05 .15 -> sum 1.25 over 9 levels
    assert M.calibration_error(Y, MU, S) == pytest.approx(1.25 / 9)


def test_std_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        M.gaussian_nll(Y, MU, np.array([1.0, 0.0, 1.0, 1.0]))
    with pytest.raises(ValueError):
        M.mae(Y, MU[:3])


def test_regression_metrics_dict():
    out = M.regression_metrics(Y, MU, std=S, mad=1.0)
    assert out["mae"] == pytest.approx(0.625) and out["smae"] == pytest.approx(0.625)
    assert out["coverage90"] == pytest.approx(0.75) and out["n"] == 4
    assert {"rmse", "r2", "nll", "calibration_error", "mean_std"} <= set(out)
    assert set(M.regression_metrics(Y, MU)) == {"n", "mae", "rmse", "r2"}


def test_classification_by_hand_and_sklearn():
    y = np.array([0, 0, 1, 1, 1])
    p = np.array([0.1, 0.6, 0.4, 0.8, 0.9])
    # 6 (neg, pos) pairs ordered correctly when the positive scores higher: neg 0.1 -> 3, neg 0.6 -> 2
    assert M.roc_auc(y, p) == pytest.approx(5 / 6)
    assert M.roc_auc(y, p) == pytest.approx(skm.roc_auc_score(y, p))
    # labels at 0.5: [0, 1, 0, 1, 1] -> correct [1, 0, 0, 1, 1]
    assert M.accuracy(y, p) == pytest.approx(3 / 5)
    assert M.balanced_accuracy(y, p) == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert M.balanced_accuracy(y, p) == pytest.approx(skm.balanced_accuracy_score(y, p >= 0.5))
    expected_ll = -(math.log(0.9) + math.log(0.4) + math.log(0.4) + math.log(0.8) + math.log(0.9)) / 5
    assert M.log_loss(y, p) == pytest.approx(expected_ll)
    assert M.log_loss(y, p) == pytest.approx(skm.log_loss(y, p))
    out = M.classification_metrics(y, p)
    assert out["roc_auc"] == pytest.approx(5 / 6) and out["n"] == 5
    assert math.isnan(M.roc_auc(np.ones(3), np.array([0.2, 0.5, 0.9])))
    with pytest.raises(ValueError):
        M.accuracy(np.array([0, 2]), np.array([0.1, 0.2]))


def test_mean_ci_by_hand_and_scipy():
    v = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    # mean 3, sample sd sqrt(2.5), sem sqrt(2.5)/sqrt(5) = sqrt(0.5); t_{0.975, 4} = 2.776445105
    half = 2.7764451051977987 * math.sqrt(0.5)
    m, lo, hi = M.mean_ci(v)
    assert (m, lo, hi) == pytest.approx((3.0, 3.0 - half, 3.0 + half))
    ref = stats.t.interval(0.9, 4, loc=3.0, scale=stats.sem(v))
    assert M.mean_ci(v, level=0.9)[1:] == pytest.approx(ref)
    assert M.mean_ci(np.r_[v, np.nan]) == pytest.approx((m, lo, hi))  # NaNs dropped
    m1, lo1, hi1 = M.mean_ci([2.0])
    assert m1 == 2.0 and math.isnan(lo1) and math.isnan(hi1)
