"""Binary probabilities shared by classifiers and the evaluator: the single-class prior and the log loss.

Below ``evaluate`` so that models (e.g. the prototype classifier's validation score) can use them;
:mod:`metamat.evaluate.metrics` re-exports :func:`log_loss`.
"""

from __future__ import annotations

import numpy as np


def smoothed_rate(y: np.ndarray) -> float:
    """P(class 1) from 0/1 labels with add-one-half smoothing, (n1 + 0.5) / (n + 1): the prediction of a
    classifier whose support holds one class only (never exactly 0 or 1)."""
    y = np.asarray(y, dtype=float)
    return float((y.sum() + 0.5) / (len(y) + 1))


def check_binary(y: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0/1 labels (int64) and probabilities as flat arrays of equal, non-zero length; ``ValueError`` otherwise."""
    y = np.asarray(y, dtype=float).ravel()
    p = np.asarray(proba, dtype=float).ravel()
    if y.shape != p.shape or len(y) == 0:
        raise ValueError(f"y and predictions must be non-empty and of equal length, got {y.shape} and {p.shape}")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("classification targets must be 0 or 1")
    if np.any((p < 0) | (p > 1)) or not np.all(np.isfinite(p)):
        raise ValueError("probabilities must lie in [0, 1]")
    return y.astype(np.int64), p


def log_loss(y: np.ndarray, proba: np.ndarray, eps: float = 1e-12) -> float:
    """Mean binary cross-entropy (probabilities clipped to [eps, 1 - eps])."""
    y, p = check_binary(y, proba)
    p = np.clip(p, eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))
