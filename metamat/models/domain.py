"""Domain of applicability per query row: how far it lies from the support (and from the meta-training data).

:class:`SupportDomain` standardizes features with the meta-training pool's statistics when a meta-learner
is involved (a global scale that does not collapse on 10 rows), else with the support's own (constant
columns get scale 1), NaN -> 0. For each query row:

- ``distance``: Euclidean distance to the nearest support row, divided by the square root of the number of
  feature columns (an RMS per-feature z-distance);
- ``distance_ratio``: ``distance`` / the median leave-one-out nearest-neighbour distance of the support
  rows (each support row to its nearest *other* support row);
- ``in_domain``: ``distance`` <= the largest leave-one-out nearest-neighbour distance of the support. For a
  query drawn like the support rows, the chance of lying farther from the support than every support row
  lies from the others is about 1 / (n + 1), so ``False`` marks an extrapolation;
- ``meta_out_of_range`` (with a meta-learner): the number of the meta-learner's feature columns outside the
  range the meta-training pool spans (0 = inside its training data along every feature).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metamat.featurize.scaling import Standardizer


def _pairwise(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    d2 = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * A @ B.T
    return np.sqrt(np.maximum(d2, 0.0))


class SupportDomain:
    """Nearest-neighbour domain check against the support (module docstring)."""

    def __init__(self, meta_prep: Any = None):
        self.meta_prep = meta_prep

    def _z(self, X: np.ndarray) -> np.ndarray:
        Z = self.scaler_.transform(X[:, :self.scaler_.n_features_in_])
        Z = np.where(np.isnan(Z), 0.0, Z)
        if X.shape[1] > self.scaler_.n_features_in_:
            rest = self.rest_.transform(X[:, self.scaler_.n_features_in_:])
            Z = np.hstack([Z, np.where(np.isnan(rest), 0.0, rest)])
        return Z / np.sqrt(X.shape[1])

    def fit(self, X: np.ndarray) -> SupportDomain:
        X = np.asarray(X, dtype=float)
        if self.meta_prep is not None:
            sc = Standardizer()
            sc.mean_, sc.scale_ = self.meta_prep.mean_, self.meta_prep.scale_
            sc.n_features_in_ = len(sc.mean_)
            self.scaler_ = sc
            if X.shape[1] > sc.n_features_in_:
                self.rest_ = Standardizer().fit(X[:, sc.n_features_in_:])
        else:
            self.scaler_ = Standardizer().fit(X)
        self.Z_ = self._z(X)
        d = _pairwise(self.Z_, self.Z_)
        np.fill_diagonal(d, np.inf)
        nn = d.min(axis=1) if len(X) > 1 else np.zeros(1)
        self.nn_ = nn
        self.threshold_ = float(nn.max())
        self.typical_ = float(np.median(nn))
        return self

    def score(self, X: np.ndarray) -> dict[str, np.ndarray]:
        X = np.asarray(X, dtype=float)
        dist = _pairwise(self._z(X), self.Z_).min(axis=1)
        ratio = dist / self.typical_ if self.typical_ > 0 else np.full(len(X), np.inf)
        out = {"distance": dist, "distance_ratio": ratio, "in_domain": dist <= self.threshold_ * (1 + 1e-9)}
        if self.meta_prep is not None:
            p = self.meta_prep
            Zm = (X[:, :len(p.mean_)] - p.mean_) / p.scale_
            Zm = np.where(np.isnan(Zm), 0.0, Zm)
            out["meta_out_of_range"] = ((Zm < p.low_ - 1e-9) | (Zm > p.high_ + 1e-9)).sum(axis=1)
        return out
