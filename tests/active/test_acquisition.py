"""Acquisition functions against hand-computed closed forms and Monte Carlo estimates."""

import math

import numpy as np
import pytest

from metamat.active.acquisition import (
    Goal,
    acquisition_values,
    expected_improvement,
    parse_goal,
    probability_in_range,
    probability_of_improvement,
    upper_confidence_bound,
)
from metamat.errors import InputError


def _phi(z):
    return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _Phi(z):
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def test_ei_pi_closed_form_by_hand():
    # mu=1.5, sigma=0.5, best=1.0 -> z=1: EI = 0.5*Phi(1) + 0.5*phi(1)
    ei = expected_improvement(np.array([1.5]), np.array([0.5]), 1.0)[0]
    assert ei == pytest.approx(0.5 * 0.8413447460685429 + 0.5 * 0.24197072451914337, rel=1e-12)
    pi = probability_of_improvement(np.array([1.5]), np.array([0.5]), 1.0)[0]
    assert pi == pytest.approx(0.8413447460685429, rel=1e-12)
    # with xi: mu - best - xi = 0.3, z = 0.6
    ei = expected_improvement(np.array([1.5]), np.array([0.5]), 1.0, xi=0.2)[0]
    assert ei == pytest.approx(0.3 * _Phi(0.6) + 0.5 * _phi(0.6), rel=1e-12)


def test_minimize_is_mirror_image():
    # minimisation: improvement = best - y; mu=0.2, best=1, sigma=1 -> z = 0.8
    ei = expected_improvement(np.array([0.2]), np.array([1.0]), 1.0, Goal("min"))[0]
    assert ei == pytest.approx(0.8 * _Phi(0.8) + _phi(0.8), rel=1e-12)
    pi = probability_of_improvement(np.array([0.2]), np.array([1.0]), 1.0, Goal("min"))[0]
    assert pi == pytest.approx(_Phi(0.8), rel=1e-12)
    assert upper_confidence_bound(np.array([0.2]), np.array([1.0]), Goal("min"), kappa=2)[0] == pytest.approx(1.8)


def test_monte_carlo_agreement():
    rng = np.random.default_rng(0)
    mu, sd, best = np.array([0.3, -1.0, 2.0]), np.array([1.2, 0.4, 0.1]), 0.5
    y = rng.normal(mu, sd, size=(400_000, 3))
    mc_ei = np.maximum(y - best, 0).mean(axis=0)
    mc_pi = (y > best).mean(axis=0)
    mc_rng = ((y >= 0.0) & (y <= 1.0)).mean(axis=0)
    np.testing.assert_allclose(expected_improvement(mu, sd, best), mc_ei, atol=4e-3)
    np.testing.assert_allclose(probability_of_improvement(mu, sd, best), mc_pi, atol=3e-3)
    np.testing.assert_allclose(probability_in_range(mu, sd, 0.0, 1.0), mc_rng, atol=3e-3)


def test_range_probability_by_hand_and_acquisitions():
    # N(0,1) in [-1, 1] = 0.682689...
    assert probability_in_range(np.array([0.0]), np.array([1.0]), -1, 1)[0] == pytest.approx(0.6826894921370859)
    g = parse_goal("range:-1..1")
    for name in ("ei", "pi", "ucb"):
        assert acquisition_values(name, np.array([0.0]), np.array([1.0]), g)[0] == pytest.approx(0.6826894921)
    assert acquisition_values("maxvar", np.array([0.0, 0]), np.array([1.0, 3.0]), g).tolist() == [1.0, 9.0]


def test_thompson_independent_draws_match_gaussian():
    rng = np.random.default_rng(1)
    draws = np.array([acquisition_values("thompson", np.array([2.0]), np.array([0.5]), Goal(), 0.0, rng=rng)[0]
                      for _ in range(4000)])
    assert draws.mean() == pytest.approx(2.0, abs=0.03)
    assert draws.std() == pytest.approx(0.5, abs=0.03)
    # minimisation scores the negated draw; joint samples are used when given
    s = np.array([[1.0, 5.0]])
    assert acquisition_values("thompson", np.zeros(2), np.ones(2), Goal("min"), 0.0, rng=rng,
                              samples=s).tolist() == [-1.0, -5.0]


@pytest.mark.parametrize("bad", ["maximum", "range:1..", "range:2..1", "range:a..b", "range:1-2"])
def test_bad_goal_names_the_field(bad):
    with pytest.raises(InputError) as e:
        parse_goal(bad)
    assert e.value.field == "--goal"


def test_parse_goal_values():
    assert parse_goal("range:-1.5..2.5") == Goal("range", -1.5, 2.5)
    assert parse_goal("range:1e-3..2") == Goal("range", 1e-3, 2)
    assert parse_goal("MIN").kind == "min"


def test_joint_gp_draws_match_the_posterior():
    from metamat.active.acquisition import posterior_samples
    from metamat.models.baselines import make_model

    rng = np.random.default_rng(0)
    X = rng.normal(size=(15, 2))
    y = np.sin(X[:, 0]) + 0.1 * X[:, 1] + 0.3 * rng.normal(size=15)  # noisy: std above the model floor
    gp = make_model("gp", n_restarts=0).fit(X, y)
    Xq = rng.normal(size=(6, 2))
    mean, std = gp.predict(Xq, return_std=True)
    draws = posterior_samples(gp, Xq, 4000, rng)
    assert draws.shape == (4000, 6)
    np.testing.assert_allclose(draws.mean(axis=0), mean, atol=4 * std.max() / np.sqrt(4000) + 1e-6)
    np.testing.assert_allclose(draws.std(axis=0), std, rtol=0.08)
    # a forest's draws are its trees' predictions
    rf = make_model("rf", n_estimators=20).fit(X, y)
    tree_draws = posterior_samples(rf, Xq, 20, rng)
    trees = np.stack([t.predict(rf.prep_.transform(Xq).astype(np.float32)) for t in rf.model_.estimators_])
    assert all(any(np.allclose(d, t) for t in trees) for d in tree_draws)
