"""Evaluation: metrics and confidence intervals (few-shot curves and reports build on these)."""

from metamat.evaluate.metrics import (
    Z90,
    accuracy,
    balanced_accuracy,
    calibration_error,
    classification_metrics,
    gaussian_nll,
    interval_coverage,
    log_loss,
    mae,
    mean_absolute_deviation,
    mean_ci,
    r2,
    regression_metrics,
    rmse,
    roc_auc,
    scale_free_mae,
)

__all__ = [
    "Z90", "accuracy", "balanced_accuracy", "calibration_error", "classification_metrics", "gaussian_nll",
    "interval_coverage", "log_loss", "mae", "mean_absolute_deviation", "mean_ci", "r2",
    "regression_metrics", "rmse", "roc_auc", "scale_free_mae",
]
