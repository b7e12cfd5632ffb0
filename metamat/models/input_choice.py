"""Choose the input set for one task by cross-validation on its support (issue 14, ``auto`` structure mode).

Adding structure columns to a 10-row support can hurt as easily as help. :func:`choose_inputs` scores each
candidate input matrix (e.g. composition only, composition + structure descriptors) with the same model by
K-fold cross-validation on the support and returns the best; a candidate must beat the first one (the
simplest, e.g. composition only) by ``margin`` (relative MAE) to be chosen, so ties keep the simpler inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class InputChoice:
    """The chosen input name and the cross-validated MAE of every candidate (same folds for all)."""

    name: str
    cv_mae: dict[str, float]
    folds: int


def _folds(n: int, k: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n) % k


def choose_inputs(candidates: Mapping[str, np.ndarray], y: np.ndarray, make_model: Callable[[], object],
                  n_folds: int = 5, margin: float = 0.02, seed: int = 0) -> InputChoice:
    """Name of the candidate input matrix (rows = support materials) with the lowest K-fold CV MAE of
    ``make_model()`` (a fresh model with ``fit``/``predict``) on ``y``. The first candidate is the default:
    another is chosen only if its MAE is lower by more than ``margin`` (relative). Leave-one-out when the
    support has fewer rows than ``n_folds``; a single row (nothing to validate) keeps the default."""
    names = list(candidates)
    if not names:
        raise ValueError("choose_inputs needs at least one candidate")
    y = np.asarray(y, float)
    n = len(y)
    for name, X in candidates.items():
        if len(X) != n:
            raise ValueError(f"candidate {name!r} has {len(X)} rows, y has {n}")
    if n < 2:
        return InputChoice(names[0], {m: float("nan") for m in names}, 0)
    k = min(n_folds, n)
    fold = _folds(n, k, seed)
    mae = {}
    for name in names:
        X = np.asarray(candidates[name])
        err = np.empty(n)
        for f in range(k):
            test = fold == f
            model = make_model().fit(X[~test], y[~test])
            err[test] = np.abs(np.asarray(model.predict(X[test]), float) - y[test])
        mae[name] = float(err.mean())
    best = min(names, key=lambda m: mae[m])
    if best != names[0] and not mae[best] < (1.0 - margin) * mae[names[0]]:
        best = names[0]
    return InputChoice(best, mae, k)


__all__ = ["InputChoice", "choose_inputs"]
