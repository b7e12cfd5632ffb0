"""The model behind a suggestion: by name, by path, or chosen automatically on the measured rows.

``auto``: the shipped pretrained meta-model, a Gaussian process and a random forest are scored by
leave-one-out MAE on the measured rows (10-fold above 40 rows); the lowest wins. A plain contest:
:class:`metamat.models.auto.AutoRegressor` is the guarded version with conformal intervals.
"""

from __future__ import annotations

import os

import numpy as np

from metamat.errors import InputError

AUTO_CANDIDATES = ("default", "gp", "rf")


def make_surrogate(spec: str | os.PathLike, seed: int = 0, log_target: bool = False):
    """A fresh model through the model registry: ``default`` (the shipped meta-model), a registered name
    (``rf``, ``gp``, ...), or a saved model (``pretrained:PATH`` or ``PATH`` of a ``.safetensors`` + ``.json``
    pair). Forests get 200 trees here (refitted at every step of a campaign)."""
    from metamat.models import registry

    name = str(spec)
    if name in registry.ENTRIES:
        options = {"n_estimators": 200} if registry.entry(name).forest else {}
        return registry.make_model(name, seed=seed, **options)
    if name in (registry.DEFAULT, registry.PRETRAINED) or registry.is_saved_spec(name):
        return registry.load(name, target_transform="log10" if log_target else "identity")
    raise InputError(f"not a model name ({', '.join(('default', 'auto', *sorted(registry.ENTRIES)))}) nor a saved "
                     f"model (.safetensors + .json)", source=name, field="--model")


def cv_mae(model, X: np.ndarray, y: np.ndarray, max_folds: int = 10, min_loo: int = 40, seed: int = 0) -> float:
    """Leave-one-out MAE (``max_folds``-fold above ``min_loo`` rows)."""
    n = len(y)
    folds = np.arange(n) if n <= min_loo else np.random.default_rng(seed).permutation(n) % max_folds
    pred = np.empty(n)
    for f in np.unique(folds):
        test = folds == f
        pred[test] = model.fit(X[~test], y[~test]).predict(X[test])
    return float(np.mean(np.abs(pred - y)))


def choose_model(X: np.ndarray, y: np.ndarray, candidates=AUTO_CANDIDATES, seed: int = 0,
                 log_target: bool = False) -> tuple[str, dict[str, float], str]:
    """(name, {name: cross-validated MAE}, reason) of the candidate with the lowest MAE on (X, y)."""
    scores = {c: cv_mae(make_surrogate(c, seed, log_target), X, y, seed=seed) for c in candidates}
    best = min(scores, key=scores.get)
    scheme = "leave-one-out" if len(y) <= 40 else "10-fold"
    listing = ", ".join(f"{k} {v:.4g}" for k, v in scores.items())
    return best, scores, f"auto chose {best}: lowest {scheme} MAE on the {len(y)} measured rows ({listing})"
