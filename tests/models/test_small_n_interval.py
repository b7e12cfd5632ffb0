"""``auto``'s small-sample intervals where the CV+ rank exceeds the support (metamat.models.small_n_interval)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from metamat.models.auto import SMALL_N_INTERVAL
from metamat.models.registry import make_model
from metamat.models.small_n_interval import (
    METHODS,
    auto_interval,
    conformal_reaches,
    explain_interval,
    interval_method,
    parametric_halfwidth,
    split_halfwidth,
)

# median candidate on y = 1, 2, 3, 4, 10 (tests/models/test_auto.py): leave-one-out medians 3.5, 3.5, 3, 2.5,
# 2.5, residuals 2.5, 1.5, 0, 1.5, 7.5; RMS = sqrt(67 / 5), mean |r| = 13 / 5; the support median is 3.
Y5 = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
R5 = np.array([2.5, 1.5, 0.0, 1.5, 7.5])


def _median_auto(X, y, **kw):
    return make_model("auto", candidates=("median",), fallback=("median",), **kw).fit(X, y)


def test_switch_point_where_the_conformal_rank_exceeds_n():
    # ceil(0.9 (n+1)) > n  <=>  n < 9; at 0.8: n < 4; at 0.95: n < 19; at 0.5: n < 1
    assert [n for n in range(1, 30) if not conformal_reaches(n, 0.9)] == list(range(1, 9))
    assert [n for n in range(1, 30) if not conformal_reaches(n, 0.8)] == [1, 2, 3]
    assert [n for n in range(1, 30) if not conformal_reaches(n, 0.95)] == list(range(1, 19))
    assert all(conformal_reaches(n, 0.5) for n in range(1, 30))
    assert interval_method(8, 0.9, "student_t") == "student_t_small_n"
    assert interval_method(9, 0.9, "student_t") == "cv_plus"
    assert interval_method(8, 0.9, "cv_plus") == "cv_plus_clamped"
    with pytest.raises(ValueError, match="unknown"):
        interval_method(5, 0.9, "bogus")
    # the sentence names the size CV+ needs: 9 at 0.9, 4 at 0.8, 19 at 0.95
    assert "(CV+ needs 9)" in explain_interval(5, 0.9, "student_t")
    assert "(CV+ needs 4)" in explain_interval(3, 0.8, "student_t")
    assert "(CV+ needs 19)" in explain_interval(18, 0.95, "cv_plus")
    assert explain_interval(19, 0.95, "student_t").endswith("CV+ (rank 19 of 19 held-out residuals)")


def test_halfwidths_by_hand():
    t4 = 2.1318467863266495  # t_{0.95, 4} (tables)
    rms, mean_abs = np.sqrt(67 / 5), 13 / 5
    assert parametric_halfwidth(R5, 0.9, "student_t") == pytest.approx(t4 * rms)
    assert parametric_halfwidth(R5, 0.9, "student_t_inflated") == pytest.approx(t4 * rms * np.sqrt(1.2))
    assert parametric_halfwidth(R5, 0.9, "student_t_meanabs") == pytest.approx(t4 * mean_abs * np.sqrt(np.pi / 2))
    # F(2, 2n) upper 10% point: n ((0.1)^(-1/n) - 1) = 5 (10^0.2 - 1) = 2.92447
    assert parametric_halfwidth(R5, 0.9, "laplace") == pytest.approx(2.924465962 * mean_abs)
    assert parametric_halfwidth(R5, 0.9, "laplace_plugin") == pytest.approx(np.log(10) * mean_abs)
    assert parametric_halfwidth(-R5, 0.9, "student_t") == parametric_halfwidth(R5, 0.9, "student_t")  # signs


def test_student_t_on_leave_one_out_residuals_is_the_textbook_prediction_interval():
    # support mean of n Gaussian draws: LOO residuals are n/(n-1) (y_i - ybar), so t * rms(LOO) equals the
    # textbook t * s * sqrt(1 + 1/n) up to the factor n / sqrt(n^2 - 1); coverage 2 F_t4(t4 * 5/sqrt(24)) - 1
    rng = np.random.default_rng(0)
    n, reps = 5, 12_000
    y = rng.normal(size=(reps, n))
    y_new = rng.normal(size=reps)
    loo = y - (y.sum(axis=1, keepdims=True) - y) / (n - 1)
    h = np.array([parametric_halfwidth(r, 0.9, "student_t") for r in loo])
    textbook = stats.t.ppf(0.95, n - 1) * y.std(axis=1, ddof=1) * np.sqrt(1 + 1 / n)
    np.testing.assert_allclose(h * np.sqrt(1 - 1 / n ** 2), textbook, rtol=1e-12)
    covered = np.mean(np.abs(y_new - y.mean(axis=1)) <= h)
    exact = 2 * stats.t.cdf(stats.t.ppf(0.95, n - 1) * n / np.sqrt(n ** 2 - 1), n - 1) - 1  # 0.9048
    assert covered == pytest.approx(exact, abs=0.008)  # Monte Carlo se 0.0027


def test_laplace_halfwidth_is_exact_for_exponential_residuals():
    # |r| ~ Exp(b): P(|r_new| > c mean|r|) = (1 + c/n)^-n = 1 - level exactly
    rng = np.random.default_rng(1)
    r = rng.exponential(2.0, size=(12_000, 5))
    h = np.array([parametric_halfwidth(v, 0.9, "laplace") for v in r])
    assert np.mean(rng.exponential(2.0, size=len(r)) <= h) == pytest.approx(0.9, abs=0.008)  # se 0.0027


def test_auto_interval_keeps_cv_plus_where_the_rank_fits_and_joins_for_max():
    rng = np.random.default_rng(2)
    loo, r, mu = rng.normal(size=(9, 4)), rng.exponential(size=9), rng.normal(size=4)
    # n = 9 at 0.9: ranks floor(0.1 * 10) = 1 and ceil(0.9 * 10) = 9 -> min of loo - r, max of loo + r
    for method in METHODS:
        lo, hi = auto_interval(mu, loo, r, 0.9, method)
        np.testing.assert_allclose(lo, (loo - r[:, None]).min(axis=0))
        np.testing.assert_allclose(hi, (loo + r[:, None]).max(axis=0))
    lo, hi = auto_interval(mu, loo[:5], r[:5], 0.9, "max_student_t")
    h = stats.t.ppf(0.95, 4) * np.sqrt(np.mean(r[:5] ** 2))
    np.testing.assert_allclose(lo, np.minimum((loo[:5] - r[:5, None]).min(axis=0), mu - h))
    np.testing.assert_allclose(hi, np.maximum((loo[:5] + r[:5, None]).max(axis=0), mu + h))


def test_auto_small_support_interval_by_hand_and_recorded():
    X = np.arange(5.0)[:, None]
    q = np.array([[0.5], [7.0]])
    m = _median_auto(X, Y5, small_n_interval="student_t")
    h = 2.1318467863266495 * np.sqrt(67 / 5)
    _, _, lo, hi = m.predict_dist(q, level=0.9)
    np.testing.assert_allclose(lo, 3 - h)
    np.testing.assert_allclose(hi, 3 + h)
    assert m.choice_["interval_method"] == "student_t_small_n"
    assert "Student-t" in m.choice_["interval_why"] and "exceeds the 5 support rows" in m.choice_["interval_why"]
    # the clamped CV+ as before: min of mu_-i - R_i = {1, 2, 3, 1, -5} and max of mu_-i + R_i = {6, 5, 3, 4, 10}
    m.small_n_interval = "cv_plus"
    _, _, lo, hi = m.predict_dist(q, level=0.9)
    np.testing.assert_allclose(lo, -5.0)
    np.testing.assert_allclose(hi, 10.0)
    assert m.interval_info(0.5)["interval_method"] == "cv_plus"  # rank 3 of 5 fits at 0.5
    assert _median_auto(X, Y5).choice_["interval_method"] == f"{SMALL_N_INTERVAL}_small_n"  # the default


def test_auto_rank_fit_support_is_cv_plus_by_hand():
    # n = 9 at 0.9: rank 9 of 9 fits; the median's leave-one-out fold models are computed here by hand
    y = np.array([0.3, 1.0, 1.7, 2.0, 2.2, 3.1, 4.0, 5.5, 9.0])
    X = np.arange(9.0)[:, None]
    m = _median_auto(X, y)
    folds = np.array([np.median(np.delete(y, i)) for i in range(9)])
    r = np.abs(y - folds)
    _, _, lo, hi = m.predict_dist(np.zeros((1, 1)), level=0.9)
    assert lo[0] == pytest.approx(min(np.min(folds - r), np.median(y)))
    assert hi[0] == pytest.approx(max(np.max(folds + r), np.median(y)))
    assert m.choice_["interval_method"] == "cv_plus"
    # one row fewer: the rank 9 exceeds 8, the small-sample interval takes over
    assert _median_auto(X[:8], y[:8]).choice_["interval_method"].endswith("_small_n")


def test_physical_bound_clips_after_the_small_sample_interval():
    # 2 of 5 on the bound 0 (zero_inflation off: no hurdle candidate): median 0.2, LOO medians
    # 0.25, 0.25, 0.15, 0.1, 0.1 (rows 0, 0, 0.2, 0.3, 5) -> residuals 0.25, 0.25, 0.05, 0.2, 4.9
    y = np.array([0.0, 0.0, 0.2, 0.3, 5.0])
    m = _median_auto(np.arange(5.0)[:, None], y, zero_inflation=None, small_n_interval="student_t")
    np.testing.assert_allclose(m.residuals_, [0.25, 0.25, 0.05, 0.2, 4.9])
    h = 2.1318467863266495 * np.sqrt(np.mean(np.array([0.25, 0.25, 0.05, 0.2, 4.9]) ** 2))
    _, _, lo, hi = m.predict_dist(np.zeros((1, 1)), level=0.9)
    assert lo[0] == 0.0  # 0.2 - h < 0 is clipped at the bound
    assert hi[0] == pytest.approx(0.2 + h)


def test_split_halfwidth_for_the_support_check():
    r = np.array([0.5, 1.0, 2.0, 4.0])  # n = 4 < 9: small-sample
    assert split_halfwidth(r, 0.9, "cv_plus") == 4.0
    assert split_halfwidth(r, 0.9, "student_t") == pytest.approx(stats.t.ppf(0.95, 3) * np.sqrt(np.mean(r ** 2)))
    assert split_halfwidth(r, 0.9, "max_laplace_plugin") == pytest.approx(np.log(10) * 1.875)  # 4.32 > 4
    assert split_halfwidth(np.array([0.0, 0.0, 0.0, 4.0]), 0.9, "max_laplace_plugin") == 4.0  # 2.30 < 4
    r9 = np.arange(1.0, 10.0)  # n = 9: the 9th smallest, whatever the method
    assert split_halfwidth(r9, 0.9, "student_t") == 9.0
    assert split_halfwidth(r9, 0.8, "student_t") == 8.0  # ceil(0.8 * 10) = 8


def test_inflated_student_t_on_gaussian_supports_of_5_against_scipy():
    # the shipped method (SMALL_N_INTERVAL): t * rms(LOO) * sqrt(1 + 1/n) around the support mean covers
    # P(|T_4| <= t_{0.95,4} sqrt(n/(n-1))) = 0.9243 (scipy.stats.t) of new Gaussian draws
    rng = np.random.default_rng(4)
    n, reps = 5, 12_000
    y = rng.normal(3.0, 2.0, size=(reps, n))
    y_new = rng.normal(3.0, 2.0, size=reps)
    loo = y - (y.sum(axis=1, keepdims=True) - y) / (n - 1)
    h = np.array([parametric_halfwidth(r, 0.9, "student_t_inflated") for r in loo])
    exact = 2 * stats.t.cdf(stats.t.ppf(0.95, n - 1) * np.sqrt(n / (n - 1)), n - 1) - 1
    assert np.mean(np.abs(y_new - y.mean(axis=1)) <= h) == pytest.approx(exact, abs=0.008)


@pytest.mark.slow
def test_auto_covers_about_90_percent_on_gaussian_supports_of_5():
    # the shipped auto (median and ridge candidates) on y = 2 x + N(0, 1), 5 support rows, 200 supports x 100
    # queries; the clamped CV+ of before covers about 0.82 here
    rng = np.random.default_rng(3)
    cover = []
    for _ in range(200):
        X = rng.normal(size=(105, 1))
        y = 2.0 * X[:, 0] + rng.normal(size=105)
        m = make_model("auto", candidates=("median", "ridge"), fallback=("median",))
        lo, hi = m.fit(X[:5], y[:5]).predict_interval(X[5:], level=0.9)
        cover.append(np.mean((y[5:] >= lo) & (y[5:] <= hi)))
    assert 0.86 <= np.mean(cover) <= 0.95
