"""Physics-aware wrappers around any regressor: a per-row baseline the model corrects, and physical bounds.

- :class:`ResidualRegressor` (delta learning): ``y = baseline + model(x)``, where the baseline is one column
  of ``X`` (a DFT value, a Dulong-Petit 3nR, a low-fidelity measurement, a knowledge surrogate's
  prediction) optionally scaled by ``scale``. With ``scale=None`` the scale is fitted by least squares
  (shrunk towards 1 with few rows). Rows whose baseline is missing use the training mean baseline.
- :class:`HurdleRegressor`: a point mass at the bound (metals' zero gap) plus a regressor above it.
- :class:`BoundedRegressor`: learns in a space where the bound cannot be crossed (log for strictly
  positive targets, logit for targets inside (low, high)) or, when the training targets sit on the bound
  (band gaps of metals are exactly 0), clips; predictions and every interval end stay inside the bounds.

Both are :class:`~metamat.models.base.Regressor` subclasses (so ``predict_interval``/``predict_dist``
work) that override ``fit``/``predict`` because they must see raw columns and targets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import norm

from metamat.models.base import Regressor, check_X, check_y


def _make(base: Any, seed: int) -> Regressor:
    from sklearn.base import clone

    if isinstance(base, str):
        from metamat.models.registry import make_model

        return make_model(base, seed=seed)
    return clone(base)


class ResidualRegressor(Regressor):
    """Delta learning: ``y = scale * X[:, baseline_column] + base(x)``.

    ``drop_baseline``: the base model does not see the baseline column (else it may use it as a feature
    too). ``scale=None`` fits the scale by least squares of y on the baseline (with a ridge pull towards
    1 of ``shrink`` rows' weight), so a baseline in the wrong units or with a systematic slope is
    corrected; a number fixes it (1.0: plain delta learning).
    """

    def __init__(self, base: Any = "rf", baseline_column: int = -1, scale: float | None = 1.0,
                 drop_baseline: bool = False, shrink: float = 5.0, seed: int = 0):
        self.base = base
        self.baseline_column = baseline_column
        self.scale = scale
        self.drop_baseline = drop_baseline
        self.shrink = shrink
        self.seed = seed

    def _column(self) -> tuple[int, bool]:
        """(index of the baseline column, whether the base model leaves it out)."""
        return self.baseline_column, self.drop_baseline

    def _split(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        col, drop = self._column()
        col %= X.shape[1]
        return (np.delete(X, col, axis=1) if drop else X), X[:, col]

    def fit(self, X: np.ndarray, y: np.ndarray) -> ResidualRegressor:
        X = check_X(X)
        y = check_y(y, len(X))
        self.n_features_in_ = X.shape[1]
        F, b = self._split(X)
        have = np.isfinite(b)
        if self.scale is None:
            bb, yy = b[have] - b[have].mean(), y[have] - y[have].mean()
            self.scale_ = float((bb @ yy + self.shrink * 1.0 * np.var(b[have])) /
                                (bb @ bb + self.shrink * np.var(b[have]) + 1e-300)) if have.any() else 1.0
        else:
            self.scale_ = float(self.scale)
        self.fallback_ = self.scale_ * float(np.mean(b[have])) if have.any() else 0.0
        resid = y - np.where(have, self.scale_ * np.where(have, b, 0.0), self.fallback_)
        self.model_ = _make(self.base, self.seed).fit(F, resid)
        return self

    def offset(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(base model inputs, baseline offset)`` per row: ``scale * baseline``, the training mean where the
        baseline is missing."""
        if not hasattr(self, "model_"):
            raise RuntimeError("ResidualRegressor is not fitted: call fit(X, y) first")
        F, b = self._split(check_X(X, self.n_features_in_))
        return F, np.where(np.isfinite(b), self.scale_ * b, self.fallback_)

    def predict(self, X: np.ndarray, return_std: bool = False):
        F, offset = self.offset(X)
        mean, std = self.model_.predict(F, return_std=True)
        return (mean + offset, std) if return_std else mean + offset

    def predict_dist(self, X: np.ndarray, level: float = 0.9) -> tuple[np.ndarray, ...]:
        """The base model's predictive distribution of the residual (e.g. conformal intervals), shifted by
        the baseline."""
        F, offset = self.offset(X)
        mean, std, lo, hi = self.model_.predict_dist(F, level=level)
        return mean + offset, std, lo + offset, hi + offset


class BoundedRegressor(Regressor):
    """Keeps predictions and intervals within ``[low, high]`` (either may be ``None``).

    ``transform``: ``"log"`` (learn log(y - low); needs every training y > low), ``"logit"`` (learn
    logit((y - low) / (high - low)); needs low < y < high), ``"clip"`` (learn y, clip the mean and each
    interval end) or ``"auto"``: log/logit when the training targets are strictly inside the bounds,
    clip when some sit on a bound. In log/logit space the point prediction is the back-transformed
    mean (the median of the predictive distribution, the right point for MAE) and intervals are the
    back-transformed interval ends (monotone maps keep the coverage and the bounds).
    """

    def __init__(self, base: Any = "rf", low: float | None = 0.0, high: float | None = None,
                 transform: str = "auto", seed: int = 0):
        self.base = base
        self.low = low
        self.high = high
        self.transform = transform
        self.seed = seed

    def _choose(self, y: np.ndarray) -> str:
        inside = (self.low is None or bool(np.all(y > self.low))) and (self.high is None or bool(np.all(y < self.high)))
        t = self.transform
        if t == "auto":
            if self.low is not None and self.high is not None:
                t = "logit" if inside else "clip"
            elif self.low is not None:
                t = "log" if inside else "clip"
            else:
                t = "clip"
        if t in ("log", "logit") and not inside:
            raise ValueError(f"transform {t!r} needs every training target strictly inside the bounds")
        if t == "logit" and (self.low is None or self.high is None):
            raise ValueError("transform 'logit' needs both bounds")
        if t == "log" and self.low is None:
            raise ValueError("transform 'log' needs a lower bound")
        return t

    def _forward(self, y: np.ndarray) -> np.ndarray:
        if self.transform_ == "log":
            return np.log(y - self.low)
        if self.transform_ == "logit":
            p = (y - self.low) / (self.high - self.low)
            return np.log(p) - np.log1p(-p)
        return y

    def _inverse(self, t: np.ndarray) -> np.ndarray:
        if self.transform_ == "log":
            out = self.low + np.exp(t)
        elif self.transform_ == "logit":
            out = self.low + (self.high - self.low) / (1.0 + np.exp(-t))
        else:
            out = t
        lo = -np.inf if self.low is None else self.low
        hi = np.inf if self.high is None else self.high
        return np.clip(out, lo, hi)

    def fit(self, X: np.ndarray, y: np.ndarray) -> BoundedRegressor:
        X = check_X(X)
        y = check_y(y, len(X))
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise ValueError("low must be below high")
        outside = (self.low is not None and np.any(y < self.low)) or (self.high is not None and np.any(y > self.high))
        if outside:
            raise ValueError(f"training targets lie outside the bounds [{self.low}, {self.high}]")
        self.n_features_in_ = X.shape[1]
        self.transform_ = self._choose(y)
        self.model_ = _make(self.base, self.seed).fit(X, self._forward(y))
        return self

    def predict_dist(self, X: np.ndarray, level: float = 0.9) -> tuple[np.ndarray, ...]:
        """``(point, std, lower, upper)`` in the target's unit, all inside the bounds: the base model's
        interval ends mapped back (a monotone map keeps their coverage); ``std`` is half the back-transformed
        mean -+ std band."""
        if not hasattr(self, "model_"):
            raise RuntimeError("BoundedRegressor is not fitted: call fit(X, y) first")
        X = check_X(X, self.n_features_in_)
        m, s, lo, hi = self.model_.predict_dist(X, level=level)  # e.g. m -+ z s, or conformal ends
        std = 0.5 * (self._inverse(m + s) - self._inverse(m - s))
        return self._inverse(m), std, self._inverse(lo), self._inverse(hi)

    def predict(self, X: np.ndarray, return_std: bool = False):
        point, std, _, _ = self.predict_dist(X)
        return (point, std) if return_std else point


class HurdleRegressor(Regressor):
    """A target with a point mass at a bound (band gaps of metals are exactly 0; stable compounds sit at
    0 eV/atom above the hull): a classifier gives p = P(y > bound), a regressor is fitted on the rows
    above the bound only, and the predictive distribution is the mixture
    ``(1 - p) * delta(bound) + p * N(m, s)`` (the Gaussian part clipped at the bound).

    Point prediction: the mixture's median (the right point for MAE): the bound when p <= 1/2, else the
    Gaussian part's quantile ``F+^-1(1 - 0.5 / p)``. Intervals are mixture quantiles, so they never cross
    the bound.
    """

    def __init__(self, classifier: Any = "rf_clf", regressor: Any = "rf", bound: float = 0.0, seed: int = 0):
        self.classifier = classifier
        self.regressor = regressor
        self.bound = bound
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray) -> HurdleRegressor:
        X = check_X(X)
        y = check_y(y, len(X))
        if np.any(y < self.bound):
            raise ValueError(f"training targets lie below the bound {self.bound}")
        self.n_features_in_ = X.shape[1]
        above = y > self.bound
        self.p_const_ = None
        if above.all() or (~above).all() or above.sum() < 2:
            self.p_const_ = float(above.mean())
        else:
            self.clf_ = _make(self.classifier, self.seed).fit(X, above.astype(float))
        self.reg_ = _make(self.regressor, self.seed).fit(X[above], y[above]) if above.sum() >= 2 else None
        self.std_floor_ = 0.01 * (float(np.std(y)) or 1.0)
        return self

    def _quantile(self, q: np.ndarray | float, p: np.ndarray, m: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Mixture quantile: the bound where q <= 1 - p, else the Gaussian part's quantile, clipped."""
        q = np.broadcast_to(np.asarray(q, dtype=float), p.shape)
        safe_p = np.maximum(p, 1e-12)
        inner = np.clip((q - (1 - p)) / safe_p, 1e-9, 1 - 1e-9)
        val = np.maximum(m + s * norm.ppf(inner), self.bound)
        return np.where(q <= 1 - p, self.bound, val)

    def _parts(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not hasattr(self, "reg_"):
            raise RuntimeError("HurdleRegressor is not fitted: call fit(X, y) first")
        X = check_X(X, self.n_features_in_)
        p = np.full(len(X), self.p_const_) if self.p_const_ is not None else self.clf_.predict_proba(X)
        if self.reg_ is None:
            return np.zeros(len(X)), np.full(len(X), self.bound), np.full(len(X), self.std_floor_)
        m, s = self.reg_.predict(X, return_std=True)
        return np.asarray(p, dtype=float), m, np.maximum(s, self.std_floor_)

    def predict_dist(self, X: np.ndarray, level: float = 0.9) -> tuple[np.ndarray, ...]:
        p, m, s = self._parts(X)
        point = self._quantile(0.5, p, m, s)
        lo, hi = self._quantile(0.5 - level / 2, p, m, s), self._quantile(0.5 + level / 2, p, m, s)
        mix_mean = (1 - p) * self.bound + p * m
        var = (1 - p) * self.bound**2 + p * (s**2 + m**2) - mix_mean**2
        return point, np.sqrt(np.maximum(var, self.std_floor_**2)), lo, hi

    def predict(self, X: np.ndarray, return_std: bool = False):
        point, std, _, _ = self.predict_dist(X)
        return (point, std) if return_std else point
