"""Feature standardization that is fitted on training rows only."""

from __future__ import annotations

import numpy as np


class Standardizer:
    """Zero mean, unit variance per column, with statistics from the rows given to :meth:`fit` only.

    NaNs are ignored when fitting and kept when transforming; constant columns get scale 1.
    """

    def fit(self, X: np.ndarray) -> Standardizer:
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or len(X) == 0:
            raise ValueError(f"expected a non-empty 2-D array, got shape {X.shape}")
        all_nan = np.isnan(X).all(axis=0)
        safe = np.where(all_nan, 0.0, X)
        self.mean_ = np.nanmean(np.where(np.isnan(X) & ~all_nan, np.nan, safe), axis=0)
        std = np.nanstd(np.where(np.isnan(X) & ~all_nan, np.nan, safe), axis=0)
        self.scale_ = np.where(std > 1e-12 * np.maximum(1.0, np.abs(self.mean_)), std, 1.0)
        self.n_features_in_ = X.shape[1]
        return self

    def _check(self, X: np.ndarray) -> np.ndarray:
        if not hasattr(self, "mean_"):
            raise RuntimeError("Standardizer is not fitted: call fit(X_train) first")
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} columns, got shape {X.shape}")
        return X

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (self._check(X) - self.mean_) / self.scale_

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        return self._check(Z) * self.scale_ + self.mean_
