"""The GP baseline's hyperparameter objective without scikit-learn's kernel objects (same numbers, less overhead).

:class:`~metamat.models.baselines.GPRegressor` maximizes the log marginal likelihood of
``ConstantKernel * RBF (isotropic) + WhiteKernel`` with L-BFGS-B from 1 + ``n_restarts`` starts. scikit-learn
evaluates it through its kernel objects: every evaluation sets ``theta`` (``get_params`` / ``set_params``,
which inspect the signatures of four kernel classes) and walks the kernel tree, about three quarters of the
GP's fit time on a 50-row support. :func:`lml_objective` computes the same negative log marginal likelihood
and gradient with the same array operations in the same order (``GaussianProcessRegressor.log_marginal_likelihood``
and the kernels' ``__call__`` of scikit-learn 1.9), so the values are bit for bit those of scikit-learn;
:func:`fast_optimizer` runs scikit-learn's own L-BFGS-B call on it and, as a guard, checks the first
evaluation against scikit-learn's objective and uses scikit-learn's whenever the two differ in any bit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.linalg import cho_solve, cholesky
from scipy.spatial.distance import pdist, squareform


def normalized_targets(y: np.ndarray) -> np.ndarray:
    """``(y - mean) / std`` as ``GaussianProcessRegressor(normalize_y=True)`` (a zero std counts as 1)."""
    mean, std = np.mean(y, axis=0), np.std(y, axis=0)
    if std == 0.0:  # scikit-learn's _handle_zeros_in_scale
        std = 1.0
    return (y - mean) / std


def lml_objective(X: np.ndarray, y: np.ndarray, alpha: float = 1e-10) -> Callable:
    """``theta -> (-lml, -gradient)`` for ``C * RBF + White`` on training rows ``X`` and normalized targets
    ``y`` (theta = log of constant, length scale, noise level: scikit-learn's order)."""
    X = np.asarray(X, dtype=float)
    y2 = np.asarray(y, dtype=float)[:, np.newaxis]
    n = len(X)
    diag = np.diag_indices(n)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        c, length, noise = np.exp(theta[0]), np.exp(theta[1]), np.exp(theta[2])
        Kc = np.full((n, n), c, dtype=np.array(c).dtype)
        Kc_gradient = np.full((n, n, 1), c, dtype=np.array(c).dtype)
        dists = pdist(X / np.squeeze(length).astype(float), metric="sqeuclidean")
        Kr = squareform(np.exp(-0.5 * dists))
        np.fill_diagonal(Kr, 1)
        Kr_gradient = (Kr * squareform(dists))[:, :, np.newaxis]
        Kp = Kc * Kr
        Kp_gradient = np.dstack((Kc_gradient * Kr[:, :, np.newaxis], Kr_gradient * Kc[:, :, np.newaxis]))
        Kw = noise * np.eye(n)
        Kw_gradient = noise * np.eye(n)[:, :, np.newaxis]
        K, K_gradient = Kp + Kw, np.dstack((Kp_gradient, Kw_gradient))
        K[diag] += alpha
        try:
            L = cholesky(K, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            return np.inf, -np.zeros_like(theta)
        a = cho_solve((L, True), y2, check_finite=False)
        lml_dims = -0.5 * np.einsum("ik,ik->k", y2, a)
        lml_dims -= np.log(np.diag(L)).sum()
        lml_dims -= K.shape[0] / 2 * np.log(2 * np.pi)
        lml = lml_dims.sum(axis=-1)
        inner = np.einsum("ik,jk->ijk", a, a)
        K_inv = cho_solve((L, True), np.eye(K.shape[0]), check_finite=False)
        inner -= K_inv[..., np.newaxis]
        gradient = (0.5 * np.einsum("ijl,jik->kl", inner, K_gradient)).sum(axis=-1)
        return -lml, -gradient

    return objective


def same_bits(a: tuple, b: tuple) -> bool:
    """Whether two ``(value, gradient)`` pairs are identical bit for bit."""
    return (np.asarray(a[0]).tobytes() == np.asarray(b[0]).tobytes()
            and np.asarray(a[1]).tobytes() == np.asarray(b[1]).tobytes())


def fast_optimizer(X: np.ndarray, y_normalized: np.ndarray, alpha: float = 1e-10) -> Callable:
    """An ``optimizer`` for ``GaussianProcessRegressor``: scikit-learn's L-BFGS-B call on
    :func:`lml_objective`, after checking that its first value and gradient equal scikit-learn's
    ``obj_func`` bit for bit (else on ``obj_func``, as without this optimizer)."""
    from scipy.optimize import minimize

    fast = lml_objective(X, y_normalized, alpha)

    def optimizer(obj_func, initial_theta, bounds):
        fun = fast if same_bits(fast(initial_theta), obj_func(initial_theta)) else obj_func
        res = minimize(fun, initial_theta, method="L-BFGS-B", jac=True, bounds=bounds)
        return res.x, res.fun

    return optimizer


__all__ = ["fast_optimizer", "lml_objective", "normalized_targets", "same_bits"]
