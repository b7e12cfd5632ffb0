"""Prediction intervals for ``auto`` where the conformal rank cannot reach the level (a few support rows).

CV+ / jackknife+ (:func:`metamat.models.fast_cv.conformal_plus`) needs the ceil(level (n+1))-th of n ordered
values: for n < level / (1 - level) (n <= 8 at 0.9) that rank exceeds n, it is clamped to n, and the interval
is the widest CV+ interval, which covers only about (n - 1) / (n + 1) of new rows in theory (0.67 at n = 5;
0.81 measured on the registry's meta-test at k = 5). There no distribution-free interval reaches the level,
so a parametric model of the n leave-one-out residuals ``r`` extrapolates their tail, centred on the
refitted model's prediction ``mu(x)``; each half-width below is exact (a predictive interval, the scale's
estimation error included) when the held-out errors are independent draws of the named distribution:

- ``student_t``: ``mu -+ t_{(1+level)/2, n-1} * rms(r)`` (Gaussian errors). For the support mean, the
  leave-one-out residuals are ``n/(n-1)`` times the residuals from the mean, so ``rms(r)`` =
  ``s sqrt(n/(n-1))`` with ``s`` the sample standard deviation, and the textbook prediction interval
  ``s sqrt(1 + 1/n)`` is ``rms(r) sqrt(1 - 1/n^2)``: the held-out residuals already carry the ``1/n``.
- ``student_t_inflated``: the same times ``sqrt(1 + 1/n)`` (the textbook factor applied once more).
- ``student_t_meanabs``: scale ``mean|r| sqrt(pi/2)`` (Gaussian-consistent, less sensitive to one outlier).
- ``laplace``: ``mu -+ c * mean|r|`` with ``c = n ((1 - level)^(-1/n) - 1)``: if ``|r|`` is exponential
  (Laplace errors), ``|r_new| / mean|r|`` follows F(2, 2n), whose upper ``1 - level`` point is ``c`` (2.92
  at n = 5, level 0.9; it tends to the plug-in ``-ln(1 - level)`` = 2.30 as n grows).
- ``laplace_plugin``: ``-ln(1 - level) * mean|r|`` (the Laplace quantile with the scale taken as known).
- ``max_*``: the union of the (clamped) CV+ interval and the parametric one.
- ``cv_plus``: the clamped CV+ interval, unchanged (the behaviour before).

Where the rank fits (n >= level / (1 - level)), CV+ is used unchanged whatever the method. ``auto`` ships
``student_t_inflated`` (:data:`metamat.models.auto.SMALL_N_INTERVAL`), chosen on 10 META-TRAIN tasks
(``benchmarks/auto_small_n_interval.py``, ``results/auto_small_n_interval``: the smallest mean width among the
methods whose coverage stays in [0.85, 0.95] at k = 5, 6, 8 with the lower end of its 95% interval over tasks):
coverage 0.891 / 0.878 / 0.889 at k = 5 / 6 / 8 against 0.828 / 0.831 / 0.882 for the clamped CV+, mean width
1.20x / 1.14x / 0.89x CV+'s; on fresh meta-train episodes (``results/auto_small_n_interval_confirm``) 0.894 /
0.887 / 0.885 against 0.832 / 0.849 / 0.884. The plain ``student_t`` covers 0.873 / 0.863 / 0.877: the query
rows of an episode (other chemical systems) lie farther from the support than its held-out rows, so the
textbook factor the held-out residuals already carry is, in practice, needed once more. Meta-test, k = 5
(``results/fewshot_auto_small_n``, run once after the choice): 0.885 against 0.810, MAE unchanged.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import t as student_t

from metamat.models.fast_cv import conformal_plus

#: The parametric half-widths (module docstring).
PARAMETRIC = ("student_t", "student_t_inflated", "student_t_meanabs", "laplace", "laplace_plugin")
#: Every method: ``cv_plus`` (clamped CV+, as before), the parametric ones, and their unions with CV+.
METHODS = ("cv_plus", *PARAMETRIC, *(f"max_{p}" for p in PARAMETRIC))


def conformal_rank(n: int, level: float) -> int:
    """The CV+ rank ceil(level (n+1)) of ``n`` residuals at ``level`` (not clamped to n)."""
    return int(np.ceil(level * (n + 1) - 1e-9))


def conformal_reaches(n: int, level: float) -> bool:
    """Whether CV+ on ``n`` residuals can reach ``level``: ceil(level (n+1)) <= n."""
    return conformal_rank(n, level) <= n


def _parametric(n: int, level: float, method: str) -> bool:
    """Whether ``method``'s parametric half-width is used for ``n`` residuals (the rank does not fit, n >= 2)."""
    return interval_method(n, level, method) not in ("cv_plus", "cv_plus_clamped") and n >= 2


def parametric_halfwidth(residuals: np.ndarray, level: float, method: str) -> float:
    """Half-width of the ``level`` prediction interval from the held-out residuals (module docstring)."""
    r = np.abs(np.asarray(residuals, dtype=float))
    n = len(r)
    if n < 2:
        raise ValueError(f"{method} needs at least 2 held-out residuals, got {n}")
    base = method.removeprefix("max_")
    if base.startswith("student_t"):
        quantile = float(student_t.ppf(0.5 + level / 2, n - 1))
        if base == "student_t_meanabs":
            return quantile * float(np.mean(r)) * float(np.sqrt(np.pi / 2))
        scale = float(np.sqrt(np.mean(r ** 2)))
        return quantile * scale * (float(np.sqrt(1 + 1 / n)) if base == "student_t_inflated" else 1.0)
    if base == "laplace":
        return n * ((1 - level) ** (-1 / n) - 1) * float(np.mean(r))
    if base == "laplace_plugin":
        return -float(np.log(1 - level)) * float(np.mean(r))
    raise ValueError(f"unknown small-sample interval {method!r}; one of {', '.join(METHODS)}")


def interval_method(n: int, level: float, method: str) -> str:
    """The method used for ``n`` rows at ``level``: ``cv_plus`` where its rank fits, else ``<method>_small_n``
    (``cv_plus_clamped`` when ``method`` is ``cv_plus``)."""
    if method not in METHODS:
        raise ValueError(f"unknown small-sample interval {method!r}; one of {', '.join(METHODS)}")
    if conformal_reaches(n, level):
        return "cv_plus"
    return "cv_plus_clamped" if method == "cv_plus" else f"{method}_small_n"


def explain_interval(n: int, level: float, method: str) -> str:
    """One sentence on how the ``level`` interval is made for ``n`` support rows."""
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
    rank = conformal_rank(n, level)
    pct = f"{level:.0%}"
    if conformal_reaches(n, level):
        return f"{pct} intervals: CV+ (rank {rank} of {n} held-out residuals)"
    need = int(np.ceil(level / (1 - level) - 1e-9))  # level (m+1) <= m  <=>  m >= level / (1 - level)
    head = (f"{pct} intervals: the CV+ rank ceil({level:g} x {n + 1}) = {rank} exceeds the {n} support rows "
            f"(CV+ needs {need})")
    if method == "cv_plus":
        return head + ", so the widest CV+ interval is used; it covers about (n-1)/(n+1) in theory"
    what = {"student_t": "Student-t from the held-out residuals' RMS",
            "student_t_inflated": "Student-t from the held-out residuals' RMS x sqrt(1 + 1/n)",
            "student_t_meanabs": "Student-t from the held-out residuals' mean absolute value",
            "laplace": "Laplace (exponential tail) from the held-out residuals' mean absolute value",
            "laplace_plugin": "Laplace quantile x the held-out residuals' mean absolute value"}
    base = method.removeprefix("max_")
    union = " joined with the widest CV+ interval" if method.startswith("max_") else ""
    return f"{head}, so they are {what[base]}{union}"


def split_halfwidth(residuals: np.ndarray, level: float, method: str) -> float:
    """Half-width of a ``level`` interval around one held-out prediction from the other rows' absolute residuals
    (``auto``'s support check): their ceil(level (n+1))-th smallest where that rank fits, else ``method`` (the
    largest residual for ``cv_plus``; the larger of it and the parametric half-width for ``max_*``)."""
    r = np.sort(np.abs(np.asarray(residuals, dtype=float)))
    n = len(r)
    if not _parametric(n, level, method):
        return float(r[min(conformal_rank(n, level), n) - 1])
    h = parametric_halfwidth(r, level, method)
    return max(h, float(r[-1])) if method.startswith("max_") else h


def auto_interval(mu: np.ndarray, loo: np.ndarray, residuals: np.ndarray, level: float,
                  method: str, n_jobs: int | None = 1) -> tuple[np.ndarray, np.ndarray]:
    """``auto``'s (lower, upper) at ``level``: CV+ (``loo`` (n, q) fold predictions, ``residuals`` (n,); query
    blocks on ``n_jobs`` threads) where its rank fits, else ``method`` around ``mu`` (module docstring)."""
    lower, upper = conformal_plus(loo, residuals, level, n_jobs)
    if not _parametric(len(residuals), level, method):
        return lower, upper
    h = parametric_halfwidth(residuals, level, method)
    if method.startswith("max_"):
        return np.minimum(lower, mu - h), np.maximum(upper, mu + h)
    return mu - h, mu + h


__all__ = ["METHODS", "PARAMETRIC", "auto_interval", "conformal_rank", "conformal_reaches", "explain_interval",
           "interval_method", "parametric_halfwidth", "split_halfwidth"]
