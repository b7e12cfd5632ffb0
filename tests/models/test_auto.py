"""``auto``: choice by cross-validation on the support, CV+ / jackknife+ intervals, domain check."""

from __future__ import annotations

import numpy as np
import pytest

from metamat.models.auto import margin_choice
from metamat.models.domain import SupportDomain
from metamat.models.registry import make_model


def _auto(candidates, fallback, **kw):
    return make_model("auto", candidates=candidates, fallback=fallback, **kw)


def test_median_baseline_is_the_support_median():
    X = np.arange(5.0)[:, None]
    m = make_model("median").fit(X, np.array([1.0, 2.0, 3.0, 100.0, 5.0]))
    np.testing.assert_allclose(m.predict(np.zeros((2, 1))), [3.0, 3.0])


def test_jackknife_plus_interval_by_hand():
    # median candidate only: leave-one-out medians of y without row i are 3.5, 3.5, 3, 2.5, 2.5,
    # residuals |y_i - mu_-i| = 2.5, 1.5, 0, 1.5, 7.5. At level 0.5 (a = 0.5, n = 5) the ranks are
    # floor(0.5 * 6) = 3 and ceil(0.5 * 6) = 3: lower = 3rd smallest of mu_-i - R_i = {1, 2, 3, 1, -5} -> 1,
    # upper = 3rd smallest of mu_-i + R_i = {6, 5, 3, 4, 10} -> 5; the mean is the median of y, 3.
    X = np.arange(5.0)[:, None]
    y = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    m = _auto(("median",), ("median",)).fit(X, y)
    mean, _, lo, hi = m.predict_dist(np.array([[0.5], [7.0]]), level=0.5)
    np.testing.assert_allclose(mean, [3.0, 3.0])
    np.testing.assert_allclose(lo, [1.0, 1.0])
    np.testing.assert_allclose(hi, [5.0, 5.0])
    np.testing.assert_allclose(m.residuals_, [2.5, 1.5, 0.0, 1.5, 7.5])
    assert m.choice_["scheme"] == "leave-one-out"


def test_margin_rule_by_hand():
    # paired differences of "a" against the fallback "f": -1, -1, -1, -1 (se 0) -> a wins at any margin;
    # of "b": -2, 0, -2, 0 -> mean -1, se = std([-2, 0, -2, 0], ddof=1) / 2 = 1.1547 / 2 = 0.5774:
    # chosen at margin 1 (-1 + 0.577 < 0), not at margin 2 (-1 + 1.155 > 0).
    f = np.array([3.0, 3.0, 3.0, 3.0])
    b = np.array([1.0, 3.0, 1.0, 3.0])
    assert margin_choice({"f": f, "b": b}, "f", 1.0)[0] == "b"
    winner, table = margin_choice({"f": f, "b": b}, "f", 2.0)
    assert winner == "f"
    assert table["b"]["se_diff"] == pytest.approx(np.std([-2, 0, -2, 0], ddof=1) / 2)
    assert margin_choice({"f": f, "a": f - 1}, "f", 5.0)[0] == "a"


@pytest.mark.slow
def test_auto_picks_the_right_model_on_clear_synthetic_supports():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 4))
    y = 3 * X[:, 0] - 2 * X[:, 1] + 0.01 * rng.normal(size=20)
    linear = _auto(("ridge", "rf", "median"), ("median",), rf_trees=25).fit(X, y)
    assert linear.chosen_ == "ridge", linear.choice_
    # a step from 5 to 15 (not from 0: half the support on the bound 0 would offer the hurdle model)
    step = _auto(("ridge", "rf", "rf_median", "median"), ("median",), rf_trees=25).fit(X, 5.0 + 10.0 * (X[:, 0] > 0))
    assert step.chosen_ in ("rf", "rf_median"), step.choice_
    noise = _auto(("ridge", "rf", "median"), ("median",), rf_trees=25).fit(X, rng.normal(size=20))
    assert noise.chosen_ == "median", noise.choice_  # nothing beats the fallback beyond the margin


def test_auto_drops_a_meta_learner_that_saw_the_quantity():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(8, 148))
    m = _auto(("pretrained", "median"), ("pretrained", "median"), exclude_quantities=("band gap",))
    m.fit(X, rng.normal(size=8))
    assert "pretrained" in m.choice_["dropped"] and "band gap" in m.choice_["dropped"]["pretrained"]
    assert m.chosen_ == "median"


@pytest.mark.slow
def test_auto_intervals_cover_about_90_percent():
    # jackknife+ with n = 20 at level 0.9 uses the 19th of 20 residuals: expected coverage ~ 19/21 = 0.905
    rng = np.random.default_rng(2)
    cover = []
    for _ in range(30):
        X = rng.normal(size=(220, 3))
        y = X @ np.array([1.0, -1.0, 0.5]) + rng.normal(size=220)
        m = _auto(("ridge", "median"), ("median",)).fit(X[:20], y[:20])
        lo, hi = m.predict_interval(X[20:], level=0.9)
        cover.append(np.mean((y[20:] >= lo) & (y[20:] <= hi)))
    assert 0.85 <= np.mean(cover) <= 0.95


def test_support_domain_by_hand():
    # support 0, 1, 3 (std sqrt(42/27) = 1.2472): nearest-neighbour distances 1, 1, 2 (raw units), so the
    # threshold is 2 and the typical distance 1. Query 5 lies 2 from 3 (inside, ratio 2); 6 lies 3 (outside).
    d = SupportDomain().fit(np.array([[0.0], [1.0], [3.0]]))
    out = d.score(np.array([[1.0], [5.0], [6.0]]))
    np.testing.assert_allclose(out["distance_ratio"], [0.0, 2.0, 3.0])
    np.testing.assert_allclose(out["distance"], np.array([0.0, 2.0, 3.0]) / np.sqrt(42 / 27))
    assert out["in_domain"].tolist() == [True, True, False]
