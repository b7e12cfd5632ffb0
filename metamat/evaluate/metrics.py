"""Point, probabilistic and classification metrics, and t-distribution confidence intervals.

All regression metrics take targets and predictions in the task's original units.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from metamat.models.probability import check_binary, log_loss

#: z such that a central Gaussian interval mu +/- z*s holds 90% of the mass (norm.ppf(0.95)).
Z90 = float(stats.norm.ppf(0.95))
CALIBRATION_LEVELS = np.round(np.arange(1, 10) / 10, 1)


def _pair(y: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float).ravel()
    pred = np.asarray(pred, dtype=float).ravel()
    if y.shape != pred.shape or len(y) == 0:
        raise ValueError(f"y and predictions must be non-empty and of equal length, got {y.shape} and "
                         f"{pred.shape}")
    return y, pred


def _std(std: np.ndarray, n: int) -> np.ndarray:
    s = np.asarray(std, dtype=float).ravel()
    s = np.full(n, float(s[0])) if s.size == 1 else s
    if s.shape != (n,):
        raise ValueError(f"std has {s.size} values for {n} predictions")
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError("predictive std must be finite and positive")
    return s


def mae(y: np.ndarray, mu: np.ndarray) -> float:
    """Mean absolute error."""
    y, mu = _pair(y, mu)
    return float(np.mean(np.abs(y - mu)))


def rmse(y: np.ndarray, mu: np.ndarray) -> float:
    """Root mean squared error."""
    y, mu = _pair(y, mu)
    return float(np.sqrt(np.mean((y - mu) ** 2)))


def r2(y: np.ndarray, mu: np.ndarray) -> float:
    """Coefficient of determination, 1 - SS_res / SS_tot (NaN when y is constant)."""
    y, mu = _pair(y, mu)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return float("nan") if ss_tot == 0.0 else 1.0 - float(np.sum((y - mu) ** 2)) / ss_tot


def mean_absolute_deviation(y: np.ndarray) -> float:
    """mean |y - mean(y)|: the MAE of always predicting the mean (a task's scale)."""
    y = np.asarray(y, dtype=float)
    return float(np.mean(np.abs(y - y.mean())))


def scale_free_mae(y: np.ndarray, mu: np.ndarray, mad: float) -> float:
    """MAE divided by the task's mean absolute deviation ``mad`` (1.0 = no better than the task mean)."""
    if not mad > 0:
        raise ValueError(f"mad must be positive, got {mad}")
    return mae(y, mu) / float(mad)


def gaussian_nll(y: np.ndarray, mu: np.ndarray, std: np.ndarray) -> float:
    """Mean Gaussian negative log-likelihood: mean of 0.5 log(2 pi s^2) + (y - mu)^2 / (2 s^2)."""
    y, mu = _pair(y, mu)
    s = _std(std, len(y))
    return float(np.mean(0.5 * np.log(2 * np.pi * s**2) + (y - mu) ** 2 / (2 * s**2)))


def interval_coverage(y: np.ndarray, mu: np.ndarray, std: np.ndarray, level: float = 0.9) -> float:
    """Share of y inside the central Gaussian interval mu +/- z s (z = 1.6449 for level 0.9)."""
    y, mu = _pair(y, mu)
    s = _std(std, len(y))
    z = float(stats.norm.ppf(0.5 + level / 2))
    return float(np.mean(np.abs(y - mu) <= z * s))


def calibration_error(y: np.ndarray, mu: np.ndarray, std: np.ndarray,
                      levels: np.ndarray = CALIBRATION_LEVELS) -> float:
    """Mean over confidence levels (0.1..0.9) of |observed coverage - level| for central intervals."""
    y, mu = _pair(y, mu)
    s = _std(std, len(y))
    levels = np.asarray(levels, dtype=float)
    z = stats.norm.ppf(0.5 + levels / 2)
    covered = np.abs(y - mu)[:, None] / s[:, None] <= z[None, :]
    return float(np.mean(np.abs(covered.mean(axis=0) - levels)))


def regression_metrics(y: np.ndarray, mu: np.ndarray, std: np.ndarray | None = None,
                       mad: float | None = None) -> dict[str, float]:
    """mae, rmse, r2, n; plus smae if ``mad`` is given; plus nll, coverage90, calibration_error and
    mean_std if ``std`` is given."""
    out = {"n": float(len(np.asarray(y).ravel())), "mae": mae(y, mu), "rmse": rmse(y, mu), "r2": r2(y, mu)}
    if mad is not None:
        out["smae"] = scale_free_mae(y, mu, mad)
    if std is not None:
        out["nll"] = gaussian_nll(y, mu, std)
        out["coverage90"] = interval_coverage(y, mu, std, 0.9)
        out["calibration_error"] = calibration_error(y, mu, std)
        out["mean_std"] = float(np.mean(std))
    return out


_binary = check_binary


def roc_auc(y: np.ndarray, proba: np.ndarray) -> float:
    """Area under the ROC curve (NaN if only one class is present)."""
    from sklearn.metrics import roc_auc_score

    y, p = _binary(y, proba)
    return float("nan") if len(np.unique(y)) < 2 else float(roc_auc_score(y, p))


def accuracy(y: np.ndarray, proba: np.ndarray, threshold: float = 0.5) -> float:
    """Share of correct labels, predicting 1 where proba >= threshold."""
    y, p = _binary(y, proba)
    return float(np.mean((p >= threshold) == y))


def balanced_accuracy(y: np.ndarray, proba: np.ndarray, threshold: float = 0.5) -> float:
    """Mean of the per-class recalls (over the classes present in y)."""
    y, p = _binary(y, proba)
    correct = (p >= threshold) == y
    return float(np.mean([correct[y == c].mean() for c in np.unique(y)]))


def classification_metrics(y: np.ndarray, proba: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """roc_auc, accuracy, balanced_accuracy, log_loss and n for P(class 1) = ``proba``."""
    return {"n": float(len(np.asarray(y).ravel())), "roc_auc": roc_auc(y, proba),
            "accuracy": accuracy(y, proba, threshold),
            "balanced_accuracy": balanced_accuracy(y, proba, threshold), "log_loss": log_loss(y, proba)}


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided ``level`` confidence interval from the t-distribution (e.g. over episodes).

    NaNs are dropped. With one value the interval is (NaN, NaN); with none everything is NaN.
    """
    v = np.asarray(values, dtype=float).ravel()
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(v.mean())
    if len(v) == 1:
        return m, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + level / 2, len(v) - 1)) * float(v.std(ddof=1)) / np.sqrt(len(v))
    return m, m - half, m + half
