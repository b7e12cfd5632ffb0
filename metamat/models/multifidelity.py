"""Multi-fidelity learners: many cheap low-fidelity values (DFT), few high-fidelity ones (experiment).

The low-fidelity value of each row is one column of ``X`` (``low_column``): a user's column, a DFT table
lookup, or a knowledge surrogate's prediction. Three ways to use it:

- **low fidelity as an input feature**: any model, with the column left in ``X`` (nothing to add here);
- **delta learning**: :class:`DeltaRegressor` = :class:`~metamat.models.physics.ResidualRegressor`, a
  model of ``y_high - rho * y_low`` (rho fixed at 1 or fitted);
- **Kennedy-O'Hagan co-kriging**: :class:`KOHRegressor`, ``y_high(x) = rho * f_low(x) + b + delta(x)``
  with ``delta ~ GP(0, k)``; ``rho``, ``b`` and the kernel's hyperparameters are fitted by maximum
  likelihood (coordinate ascent: generalized least squares for (rho, b) given the kernel, then the GP
  marginal likelihood for the kernel given (rho, b); each step cannot lower the likelihood). Where the
  low-fidelity column is missing, ``f_low`` comes from a GP fitted on ``(X_low, y_low)`` passed to ``fit``
  (the recursive formulation of Le Gratiet & Garnier 2014, which equals KOH for nested designs).
  Predictive variance: ``rho^2 var_low + var_delta``.

Kennedy & O'Hagan, Biometrika 87, 1 (2000); Le Gratiet & Garnier, Int. J. Uncertain. Quantif. 4, 365 (2014).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from metamat.models.base import FeaturePrep, Regressor, check_X, check_y
from metamat.models.physics import ResidualRegressor


class DeltaRegressor(ResidualRegressor):
    """Delta learning on a low-fidelity column: ``y = rho * X[:, low_column] + base(x)`` (``rho`` =
    ``scale``; 1 by default, ``None`` fits it)."""

    def __init__(self, base: Any = "rf", low_column: int = -1, scale: float | None = 1.0,
                 drop_low: bool = False, shrink: float = 5.0, seed: int = 0):
        self.base = base
        self.low_column = low_column
        self.scale = scale
        self.drop_low = drop_low
        self.shrink = shrink
        self.seed = seed

    def _column(self) -> tuple[int, bool]:
        return self.low_column, self.drop_low


def _gp(d: int, seed: int, n_restarts: int, normalize: bool):
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    kernel = (ConstantKernel(1.0, (1e-4, 1e4)) * RBF(np.sqrt(d), (1e-2 * np.sqrt(d), 1e3 * np.sqrt(d)))
              + WhiteKernel(1e-2, (1e-8, 1e1)))
    return GaussianProcessRegressor(kernel, normalize_y=normalize, n_restarts_optimizer=n_restarts,
                                    random_state=seed)


def _fit_quiet(gp, X, y):
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return gp.fit(X, y)


class KOHRegressor(Regressor):
    """Linear autoregressive multi-fidelity GP (Kennedy-O'Hagan), low fidelity in column ``low_column``.

    ``fit(X, y, X_low=None, y_low=None)``: ``X`` holds the high-fidelity rows (their low-fidelity value in
    ``low_column``, NaN where unknown); ``X_low``/``y_low`` (optional) are extra low-fidelity rows, in the
    same columns minus ``low_column``, used to fit the low-fidelity GP that fills missing values (at most
    ``max_low`` of them, seeded). Fitted: ``rho_``, ``offset_``, ``gp_`` (the discrepancy ``delta``).
    """

    def __init__(self, low_column: int = -1, max_iter: int = 20, tol: float = 1e-4, n_restarts: int = 1,
                 max_low: int = 1000, seed: int = 0):
        self.low_column = low_column
        self.max_iter = max_iter
        self.tol = tol
        self.n_restarts = n_restarts
        self.max_low = max_low
        self.seed = seed

    def _split(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        col = self.low_column % X.shape[1]
        return np.delete(X, col, axis=1), X[:, col]

    def _low(self, F: np.ndarray, low: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Low-fidelity mean and variance per row: the column where given, the low-fidelity GP elsewhere."""
        var = np.zeros(len(low))
        miss = ~np.isfinite(low)
        if miss.any():
            if self.low_gp_ is None:
                raise ValueError("the low-fidelity column has missing values and no (X_low, y_low) was given "
                                 "to fit a low-fidelity model")
            m, s = self.low_gp_.predict(self.prep_.transform(F[miss]), return_std=True)
            low = low.copy()
            low[miss], var[miss] = m, s**2
        return low, var

    def fit(self, X: np.ndarray, y: np.ndarray, X_low: np.ndarray | None = None,
            y_low: np.ndarray | None = None) -> KOHRegressor:
        X = check_X(X)
        y = check_y(y, len(X))
        self.n_features_in_ = X.shape[1]
        F, low = self._split(X)
        self.prep_ = FeaturePrep(margin=1.0).fit(F if X_low is None else np.vstack([F, check_X(X_low, F.shape[1])]))
        self.low_gp_ = None
        if X_low is not None:
            X_low = check_X(X_low, F.shape[1])
            y_low = check_y(y_low, len(X_low))
            idx = np.arange(len(y_low))
            if len(idx) > self.max_low:
                idx = np.sort(np.random.default_rng(self.seed).choice(idx, self.max_low, replace=False))
            self.low_gp_ = _fit_quiet(_gp(F.shape[1], self.seed, self.n_restarts, True),
                                      self.prep_.transform(X_low[idx]), y_low[idx])
        low, low_var = self._low(F, low)
        Z = self.prep_.transform(F)
        A = np.column_stack([low, np.ones(len(y))])
        starts = [np.linalg.lstsq(A, y, rcond=None)[0], np.array([1.0, float(np.mean(y - low))])]
        best = None
        for coef0 in starts:  # two starts (least squares, rho = 1); keep the higher likelihood
            run = self._ascend(Z, A, y, coef0)
            if best is None or run[0] > best[0]:
                best = run
        lml, coef, kernel, self.scale_, self.n_iter_ = best
        # final discrepancy GP at the converged (rho, b), kernel (fitted on residuals / scale_) kept
        r = y - A @ coef
        from sklearn.gaussian_process import GaussianProcessRegressor

        self.gp_ = GaussianProcessRegressor(kernel, optimizer=None, normalize_y=False).fit(Z, r / self.scale_)
        self.rho_, self.offset_ = float(coef[0]), float(coef[1])
        self.log_marginal_likelihood_ = lml
        spread = float(np.std(y))
        self.std_floor_ = 0.01 * (spread if spread > 0 else 1.0)
        return self

    def _ascend(self, Z: np.ndarray, A: np.ndarray, y: np.ndarray, coef: np.ndarray):
        """Coordinate ascent from ``coef``: GP hyperparameters given (rho, b), then GLS (rho, b) given the
        kernel. Returns (log likelihood of y, coef, kernel, residual scale, iterations)."""
        kernel, lml, scale, n_iter = None, -np.inf, 1.0, 0
        for _ in range(self.max_iter):
            n_iter += 1
            r = y - A @ coef
            scale = float(np.std(r)) or 1.0
            gp = _gp(Z.shape[1], self.seed, self.n_restarts if kernel is None else 0, False)
            if kernel is not None:  # warm start from the previous kernel
                gp.kernel = kernel
            gp = _fit_quiet(gp, Z, r / scale)
            kernel = gp.kernel_
            lml = float(gp.log_marginal_likelihood_value_) - len(y) * np.log(scale)
            L = np.linalg.cholesky(kernel(Z) * scale**2 + 1e-10 * np.eye(len(Z)))
            new = np.linalg.lstsq(np.linalg.solve(L, A), np.linalg.solve(L, y), rcond=None)[0]
            done = np.max(np.abs(new - coef)) < self.tol * (1.0 + np.max(np.abs(coef)))
            coef = new
            if done:
                break
        return lml, coef, kernel, scale, n_iter

    def predict(self, X: np.ndarray, return_std: bool = False):
        if not hasattr(self, "gp_"):
            raise RuntimeError("KOHRegressor is not fitted: call fit(X, y) first")
        X = check_X(X, self.n_features_in_)
        F, low = self._split(X)
        low, low_var = self._low(F, low)
        m, s = self.gp_.predict(self.prep_.transform(F), return_std=True)
        mean = self.rho_ * low + self.offset_ + m * self.scale_
        if not return_std:
            return mean
        std = np.sqrt(self.rho_**2 * low_var + (s * self.scale_) ** 2)
        return mean, np.maximum(std, self.std_floor_)
