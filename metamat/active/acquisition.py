"""Acquisition functions over a Gaussian (or sampled) posterior, vectorized over candidates.

Conventions: ``mean`` and ``std`` are arrays over candidates (model space); ``best`` is the best measured
value so far. Every function returns "larger is better". For a minimisation goal the closed forms are
applied to ``-y`` (so EI for minimisation is E[max(best - y - xi, 0)]).

- EI (Jones et al. 1998): ``(mu - best - xi) Phi(z) + sigma phi(z)``, ``z = (mu - best - xi) / sigma``.
- PI (Kushner 1964): ``Phi(z)``.
- UCB (Srinivas et al. 2010): ``mu + kappa sigma``.
- max-variance: ``sigma^2`` (pure exploration); greedy: the mean itself (pure exploitation; range goal:
  minus the distance of the mean from the range).
- Thompson: one posterior draw per candidate; joint draws (``samples``) where the model has them (GP),
  else independent Gaussian draws from (mean, std).
- Range goal ``LO <= y <= HI``: EI, PI and UCB all reduce to the probability of landing in the range,
  ``Phi((HI - mu) / sigma) - Phi((LO - mu) / sigma)``; Thompson scores ``-distance(draw, [LO, HI])``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from metamat.errors import InputError

ACQUISITIONS = ("ei", "pi", "ucb", "maxvar", "thompson", "greedy")


@dataclass(frozen=True)
class Goal:
    """``kind`` is ``"max"``, ``"min"`` or ``"range"`` (then ``lo <= y <= hi``)."""

    kind: str = "max"
    lo: float = float("nan")
    hi: float = float("nan")

    def __post_init__(self) -> None:
        if self.kind not in ("max", "min", "range"):
            raise InputError(f"goal must be max, min or range:LO..HI, got {self.kind!r}", field="--goal")
        if self.kind == "range" and not (np.isfinite(self.lo) and np.isfinite(self.hi) and self.lo < self.hi):
            raise InputError(f"range goal needs finite LO < HI, got {self.lo}..{self.hi}", field="--goal")

    def __str__(self) -> str:
        return f"range:{self.lo:g}..{self.hi:g}" if self.kind == "range" else self.kind

    def best(self, y: np.ndarray) -> float:
        """Best value so far (max or min); for a range goal the measured value closest to the range."""
        y = np.asarray(y, float)
        if self.kind == "max":
            return float(np.max(y))
        if self.kind == "min":
            return float(np.min(y))
        return float(y[np.argmin(self.distance(y))])

    def distance(self, y: np.ndarray) -> np.ndarray:
        """How far ``y`` is from meeting a range goal (0 inside)."""
        y = np.asarray(y, float)
        return np.maximum(self.lo - y, 0.0) + np.maximum(y - self.hi, 0.0)

    def score(self, y: np.ndarray) -> np.ndarray:
        """Larger is better: ``y`` (max), ``-y`` (min), ``-distance`` (range)."""
        y = np.asarray(y, float)
        return y if self.kind == "max" else -y if self.kind == "min" else -self.distance(y)


def parse_goal(text: str | Goal) -> Goal:
    """``"max"``, ``"min"`` or ``"range:LO..HI"`` (e.g. ``range:1.1..1.6``, ``range:-1e-3..2``)."""
    if isinstance(text, Goal):
        return text
    t = str(text).strip().lower()
    if t in ("max", "min"):
        return Goal(t)
    parts = t[len("range:"):].split("..") if t.startswith("range:") else []
    if len(parts) != 2:
        raise InputError(f"goal must be max, min or range:LO..HI, got {text!r}", field="--goal")
    try:
        lo, hi = float(parts[0]), float(parts[1])
    except ValueError:
        raise InputError(f"range goal needs two numbers LO..HI, got {text!r}", field="--goal") from None
    return Goal("range", lo, hi)


def _signed(mean: np.ndarray, best: float, goal: Goal) -> tuple[np.ndarray, float]:
    mean = np.asarray(mean, float)
    return (mean, best) if goal.kind != "min" else (-mean, -best)


def expected_improvement(mean, std, best: float, goal: Goal = Goal(), xi: float = 0.0) -> np.ndarray:
    """E[max(y - best - xi, 0)] for y ~ N(mean, std^2) (sign-flipped for ``min``)."""
    mu, b = _signed(mean, best, goal)
    s = np.maximum(np.asarray(std, float), 1e-12)
    imp = mu - b - xi
    z = imp / s
    return imp * norm.cdf(z) + s * norm.pdf(z)


def probability_of_improvement(mean, std, best: float, goal: Goal = Goal(), xi: float = 0.0) -> np.ndarray:
    """P(y > best + xi) (``min``: P(y < best - xi))."""
    mu, b = _signed(mean, best, goal)
    s = np.maximum(np.asarray(std, float), 1e-12)
    return norm.cdf((mu - b - xi) / s)


def upper_confidence_bound(mean, std, goal: Goal = Goal(), kappa: float = 2.0) -> np.ndarray:
    """``mean + kappa std`` (``min``: ``-(mean - kappa std)``)."""
    mu, _ = _signed(mean, 0.0, goal)
    return mu + kappa * np.asarray(std, float)


def probability_in_range(mean, std, lo: float, hi: float) -> np.ndarray:
    """P(lo <= y <= hi) for y ~ N(mean, std^2)."""
    mu = np.asarray(mean, float)
    s = np.maximum(np.asarray(std, float), 1e-12)
    return np.clip(norm.cdf((hi - mu) / s) - norm.cdf((lo - mu) / s), 0.0, 1.0)


def probability_of_goal(mean, std, goal: Goal, best: float | None = None) -> np.ndarray:
    """P(y beats ``best``) for max/min goals; P(LO <= y <= HI) for a range goal."""
    if goal.kind == "range":
        return probability_in_range(mean, std, goal.lo, goal.hi)
    if best is None:
        raise ValueError("max/min goals need the best value so far")
    return probability_of_improvement(mean, std, best, goal)


def thompson_draw(mean, std, rng: np.random.Generator, samples: np.ndarray | None = None) -> np.ndarray:
    """One posterior draw per candidate: row 0 of ``samples`` (n_draws, n_candidates) if given (joint draws),
    else independent N(mean, std^2)."""
    if samples is not None:
        return np.asarray(samples, float)[int(rng.integers(len(samples)))]
    return rng.normal(np.asarray(mean, float), np.asarray(std, float))


def acquisition_values(name: str, mean, std, goal: Goal, best: float | None = None, *, xi: float = 0.0,
                       kappa: float = 2.0, rng: np.random.Generator | None = None,
                       samples: np.ndarray | None = None) -> np.ndarray:
    """Acquisition ``name`` (one of :data:`ACQUISITIONS`) per candidate; larger is better."""
    name = name.lower()
    if name not in ACQUISITIONS:
        raise InputError(f"unknown acquisition {name!r}; choose from {', '.join(ACQUISITIONS)}",
                         field="--acquisition")
    if name == "maxvar":
        return np.asarray(std, float) ** 2
    if name == "greedy":
        return goal.score(mean)
    if name == "thompson":
        if rng is None:
            raise ValueError("thompson sampling needs rng")
        return goal.score(thompson_draw(mean, std, rng, samples))
    if goal.kind == "range":
        return probability_in_range(mean, std, goal.lo, goal.hi)
    if name == "ucb":
        return upper_confidence_bound(mean, std, goal, kappa)
    if best is None:
        raise ValueError(f"{name} needs the best value so far")
    if name == "ei":
        return expected_improvement(mean, std, best, goal, xi)
    return probability_of_improvement(mean, std, best, goal, xi)


def posterior_samples(model, X: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray | None:
    """Joint posterior draws (n, len(X)) where the model exposes them, else ``None``.

    scikit-learn Gaussian processes (``model.model_.sample_y`` on the model's prepared features) give joint
    draws; a random forest gives the predictions of ``n`` randomly chosen trees (an ensemble posterior).
    Draws are not floored like ``predict``'s std (``Regressor.std_floor_``, 1% of the target spread).
    """
    inner = getattr(model, "model_", None)
    prep = getattr(model, "_prepare_predict", None)
    if inner is None or prep is None:
        return None
    Z = prep(X)
    if hasattr(inner, "sample_y") and len(X) <= 3000:
        seed = int(rng.integers(2**31 - 1))
        return np.asarray(inner.sample_y(Z, n, random_state=seed)).T
    if hasattr(inner, "estimators_") and hasattr(inner, "n_outputs_"):
        trees = rng.choice(len(inner.estimators_), size=n, replace=n > len(inner.estimators_))
        Z32 = np.ascontiguousarray(Z, dtype=np.float32)
        return np.stack([inner.estimators_[t].predict(Z32, check_input=False) for t in trees])
    return None
