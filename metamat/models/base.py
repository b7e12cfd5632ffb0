"""The one model interface (see docs/architecture.md) and the feature preparation every model shares.

Regressors: ``fit(X, y) -> self`` and ``predict(X, return_std=False)`` returning the mean or
``(mean, std)``. Classifiers (0/1 targets): ``fit(X, y)``, ``predict(X)`` (labels) and
``predict_proba(X)`` (P(class 1), 1-D). Options live in ``__init__`` (no work there); fitted state ends
with ``_``. Models derive from scikit-learn's ``BaseEstimator``, so ``get_params``/``set_params`` and
``sklearn.base.clone`` work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np
from scipy.stats import norm
from sklearn.base import BaseEstimator

from metamat.featurize.scaling import Standardizer
from metamat.models.probability import smoothed_rate

if TYPE_CHECKING:  # torch is imported only where a tensor is made (baselines stay torch-free)
    import torch


class FeaturePrep:
    """Feature preparation fitted on the training rows only (a task's support, or a meta-learner's pool).

    1. standardize each column with the training mean and std (:class:`Standardizer`);
    2. NaN becomes the training column mean (0 after standardization; all-NaN training columns give 0);
    3. clip each column to the range it spans in training (widened by ``margin`` standardized
       units; 0, 1 and 3 scored alike, 0 marginally best). So no single feature is extrapolated far
       beyond its training range: few-shot supports of ~10 rows otherwise give query z-scores in the
       hundreds for nearly constant columns, and linear models and networks then extrapolate wildly
       (measured on matbench_expt_gap episodes with k=10: scale-free MAE 195 without clipping, 0.93
       with). Trees are unaffected (their thresholds lie inside the training range).

    The first ``passthrough`` columns (a packed crystal graph: atomic numbers, neighbour indices, distances)
    are passed through untouched: stored as mean 0, scale 1, range (-inf, inf) and skipped on the hot path.
    Meta-learners save the fitted statistics with their weights (:meth:`tensors` / :meth:`from_tensors`).
    """

    def __init__(self, margin: float = 0.0, passthrough: int = 0):
        self.margin = margin
        self.passthrough = passthrough

    def fit(self, X: np.ndarray) -> FeaturePrep:
        p = self.passthrough_ = int(self.passthrough)
        X = np.asarray(X, float)
        if p:
            if p > X.shape[1]:
                raise ValueError(f"the encoder reads {p} leading raw columns (a packed graph) but X has only "
                                 f"{X.shape[1]} columns; check the graph layout in encoder_options")
            tail = FeaturePrep(self.margin).fit(X[:, p:]) if X.shape[1] > p else None
            head = np.zeros(p)
            parts = [(head, np.ones(p), head - np.inf, head + np.inf)]
            if tail is not None:
                parts.append((tail.mean_, tail.scale_, tail.low_, tail.high_))
            self.mean_, self.scale_, self.low_, self.high_ = (np.concatenate(a) for a in zip(*parts, strict=True))
            return self
        sc = Standardizer().fit(X)
        self.mean_, self.scale_ = sc.mean_.astype(float), sc.scale_.astype(float)
        Z = np.nan_to_num((np.asarray(X, float) - self.mean_) / self.scale_, nan=0.0)
        self.low_, self.high_ = Z.min(axis=0) - self.margin, Z.max(axis=0) + self.margin
        return self

    @property
    def n_features_in_(self) -> int:
        return len(self.mean_)

    def _start(self, X, start: int | None) -> tuple[int, int]:
        """(first stored statistic of the tail, first tail column of ``X``)."""
        p = getattr(self, "passthrough_", 0)
        if start is None:
            return p, p
        if X.shape[1] - start != len(self.mean_) - p:
            raise ValueError(f"X has {X.shape[1] - start} columns after the graph block; the model was fitted "
                             f"with {len(self.mean_) - p}")
        return p, int(start)

    def transform(self, X: np.ndarray, start: int | None = None) -> np.ndarray:
        p, s = self._start(X, start)
        if p or s:
            X = np.array(X, dtype=float)
            X[:, s:] = np.clip(np.nan_to_num((X[:, s:] - self.mean_[p:]) / self.scale_[p:], nan=0.0),
                               self.low_[p:], self.high_[p:])
            return X
        Z = np.asarray(X, float) - self.mean_  # new array: the steps below work in place
        Z /= self.scale_
        Z[np.isnan(Z)] = 0.0
        return np.clip(Z, self.low_, self.high_, out=Z)

    def transform_tensor(self, X: np.ndarray, start: int | None = None) -> torch.Tensor:
        """Same as :meth:`transform`, as a float32 tensor (computed in torch: the hot path of ``predict``)."""
        import torch

        p, s = self._start(X, start)
        if getattr(self, "_t", None) is None:
            self._t = [torch.as_tensor(a[p:], dtype=torch.float32) for a in (self.mean_, 1.0 / self.scale_,
                                                                             self.low_, self.high_)]
        mean, inv, low, high = self._t
        if p or s:
            X = np.asarray(X)
            out = torch.as_tensor(X, dtype=torch.float32)
            if X.dtype == np.float32:  # as_tensor shared the caller's memory
                out = out.clone()
            if out.shape[1] > s:
                tail = (out[:, s:] - mean).mul_(inv)
                out[:, s:] = torch.nan_to_num_(tail, nan=0.0).clamp_(low, high)
            return out
        Z = (torch.as_tensor(X, dtype=torch.float32) - mean).mul_(inv)
        return torch.nan_to_num_(Z, nan=0.0).clamp_(low, high)

    def tensors(self) -> dict[str, torch.Tensor]:
        import torch

        out = {k: torch.as_tensor(getattr(self, k + "_"), dtype=torch.float64).contiguous()
               for k in ("mean", "scale", "low", "high")}
        if getattr(self, "passthrough_", 0):
            out["passthrough"] = torch.tensor(self.passthrough_, dtype=torch.int64)
        return out

    @classmethod
    def from_tensors(cls, t: dict[str, torch.Tensor]) -> FeaturePrep:
        obj = cls()
        for k in ("mean", "scale", "low", "high"):
            setattr(obj, k + "_", t[k].double().numpy().copy())
        obj.passthrough = obj.passthrough_ = int(t["passthrough"]) if "passthrough" in t else 0
        return obj


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
