"""The one model interface (see docs/architecture.md) and the feature preparation every model shares.

Regressors: ``fit(X, y) -> self`` and ``predict(X, return_std=False)`` returning the mean or
``(mean, std)``. Classifiers (0/1 targets): ``fit(X, y)``, ``predict(X)`` (labels) and
``predict_proba(X)`` (P(class 1), 1-D). Options live in ``__init__`` (no work there); fitted state ends
with ``_``. Models derive from scikit-learn's ``BaseEstimator``, so ``get_params``/``set_params`` and
``sklearn.base.clone`` work.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.stats import norm
from sklearn.base import BaseEstimator

from metamat.featurize.scaling import Standardizer
from metamat.models.probability import smoothed_rate


class FeaturePrep:
    """Feature preparation fitted on the training rows only.

    1. standardize each column with the training mean and std (:class:`Standardizer`);
    2. NaN becomes the training column mean (0 after standardization; all-NaN training columns give 0);
    3. clip each column to the range it spans in training (widened by ``margin`` standardized
       units; 0, 1 and 3 scored alike, 0 marginally best). So no single feature is extrapolated far
       beyond its training range: few-shot supports of ~10 rows otherwise give query z-scores in the
       hundreds for nearly constant columns, and linear models and networks then extrapolate wildly
       (measured on matbench_expt_gap episodes with k=10: scale-free MAE 195 without clipping, 0.93
       with). Trees are unaffected (their thresholds lie inside the training range).
    """

    def __init__(self, margin: float = 0.0):
        self.margin = margin

    def fit(self, X: np.ndarray) -> FeaturePrep:
        self.scaler_ = Standardizer().fit(X)
        Z = self._standardize(X)
        self.low_, self.high_ = Z.min(axis=0), Z.max(axis=0)
        return self

    def _standardize(self, X: np.ndarray) -> np.ndarray:
        Z = self.scaler_.transform(X)
        return np.where(np.isnan(Z), 0.0, Z)

    def transform(self, X: np.ndarray) -> np.ndarray:
        return np.clip(self._standardize(X), self.low_ - self.margin, self.high_ + self.margin)


def check_X(X: np.ndarray, n_features: int | None = None) -> np.ndarray:
    """2-D float array without infinities (NaN allowed), with ``n_features`` columns if given."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or len(X) == 0:
        raise ValueError(f"X must be a non-empty 2-D array, got shape {X.shape}")
    if np.isinf(X).any():
        raise ValueError("X contains infinite values")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features, the model was fitted with {n_features}")
    return X


def check_y(y: np.ndarray, n: int) -> np.ndarray:
    y = np.asarray(y, dtype=float)
    if y.shape != (n,):
        raise ValueError(f"y must be 1-D with {n} values, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or infinite values")
    return y


def clone_keeping_name(model: BaseEstimator) -> BaseEstimator:
    """scikit-learn's parameter clone that also keeps the registry name the model was made under."""
    new = BaseEstimator.__sklearn_clone__(model)
    if hasattr(model, "_registry_name"):
        new._registry_name = model._registry_name
    return new


class Model(BaseEstimator):
    """Shared fit plumbing: validation, feature preparation, fitted-state checks."""

    kind: ClassVar[str] = "regression"

    def __sklearn_clone__(self) -> Model:
        """``sklearn.base.clone``: a fresh unfitted model with the same parameters and registry name."""
        return clone_keeping_name(self)

    def _prepare_fit(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = check_X(X)
        y = check_y(y, len(X))
        self.prep_ = FeaturePrep().fit(X)
        self.n_features_in_ = X.shape[1]
        return self.prep_.transform(X), y

    def _prepare_predict(self, X: np.ndarray) -> np.ndarray:
        if not hasattr(self, "prep_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(X, y) first")
        return self.prep_.transform(check_X(X, self.n_features_in_))


class Regressor(Model):
    """Base regressor: subclasses implement ``_fit(Z, y)`` and ``_predict(Z) -> (mean, std)``.

    ``Z`` are prepared features (see :class:`FeaturePrep`). Predicted std is floored at ``std_floor_``,
    1% of the training target std, so a model whose spread collapses (kNN neighbours or all trees
    agreeing exactly) cannot produce an infinite likelihood.
    """

    kind: ClassVar[str] = "regression"

    def fit(self, X: np.ndarray, y: np.ndarray) -> Regressor:
        Z, y = self._prepare_fit(X, y)
        spread = float(np.std(y))
        self.std_floor_ = 0.01 * (spread if spread > 0 else max(1.0, float(np.mean(np.abs(y)))))
        self._fit(Z, y)
        return self

    def predict(self, X: np.ndarray, return_std: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        mean, std = self._predict(self._prepare_predict(X))
        if not return_std:
            return mean
        return mean, np.maximum(np.asarray(std, dtype=float), self.std_floor_)

    def predict_dist(self, X: np.ndarray, level: float = 0.9) -> tuple[np.ndarray, ...]:
        """``(mean, std, lower, upper)``: the central ``level`` interval is Gaussian around the mean
        (subclasses with a better predictive distribution override :meth:`_interval`)."""
        mean, std = self.predict(X, return_std=True)
        lower, upper = self._interval(X, mean, std, level)
        return mean, std, lower, upper

    def _interval(self, X: np.ndarray, mean: np.ndarray, std: np.ndarray,
                  level: float) -> tuple[np.ndarray, np.ndarray]:
        """Central ``level`` interval; default Gaussian, ``mean -+ z * std``."""
        q = float(norm.ppf(0.5 + level / 2))
        return mean - q * std, mean + q * std

    def predict_interval(self, X: np.ndarray, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """``(lower, upper)``: central ``level`` predictive interval per row."""
        return self.predict_dist(X, level)[2:]

    def _fit(self, Z: np.ndarray, y: np.ndarray) -> None:
        raise NotImplementedError

    def _predict(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


class Classifier(Model):
    """Base binary classifier: subclasses implement ``_fit(Z, y)`` and ``_proba(Z)`` -> P(class 1).

    If the training labels hold one class only, no estimator is fitted and ``predict_proba`` returns the
    smoothed training rate (n1 + 0.5) / (n + 1) everywhere.
    """

    kind: ClassVar[str] = "classification"

    def fit(self, X: np.ndarray, y: np.ndarray) -> Classifier:
        Z, y = self._prepare_fit(X, y)
        if not np.all((y == 0) | (y == 1)):
            raise ValueError("classification targets must be 0 or 1")
        y = y.astype(np.int64)
        self.constant_ = None if len(np.unique(y)) == 2 else smoothed_rate(y)
        if self.constant_ is None:
            self._fit(Z, y)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(class 1) per row, in [0, 1]."""
        Z = self._prepare_predict(X)
        if self.constant_ is not None:
            return np.full(len(Z), float(self.constant_))
        return np.clip(np.asarray(self._proba(Z), dtype=float), 0.0, 1.0)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Labels 0/1 (1 where P(class 1) >= 0.5)."""
        return (self.predict_proba(X) >= 0.5).astype(np.int64)

    def _fit(self, Z: np.ndarray, y: np.ndarray) -> None:
        raise NotImplementedError

    def _proba(self, Z: np.ndarray) -> np.ndarray:
        raise NotImplementedError
