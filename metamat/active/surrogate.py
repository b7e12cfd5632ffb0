"""The model behind a suggestion: by name, by path, or chosen automatically on the measured rows.

``auto`` (a stopgap until issue 13's model selection lands): the shipped pretrained meta-model, a Gaussian
process and a random forest are scored by leave-one-out MAE on the measured rows (10-fold above 40 rows);
the lowest wins.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from metamat.errors import InputError

AUTO_CANDIDATES = ("default", "gp", "rf")


def make_surrogate(spec: str | os.PathLike, seed: int = 0, log_target: bool = False):
    """A fresh model: ``default`` (shipped meta-model), a baseline name (``rf``, ``gp``, ...), or the path of a
    saved model (``.safetensors`` + ``.json`` pair)."""
    from metamat.models.baselines import MODELS, make_model

    name = str(spec)
    if name == "default":
        from metamat.pretrained import load_default

        return load_default(target_transform="log10" if log_target else "identity")
    if name == "rf":
        return make_model("rf", seed=seed, n_estimators=200)
    if name in MODELS:
        return make_model(name, seed=seed)
    base = Path(name)
    base = base.with_suffix("") if base.suffix in (".safetensors", ".json") else base
    if not base.with_suffix(".safetensors").exists() or not base.with_suffix(".json").exists():
        raise InputError(f"not a model name ({', '.join(('default', 'auto', *sorted(MODELS)))}) nor a saved model "
                         f"({base}.safetensors + .json)", source=name, field="--model")
    from metamat.models.io import load_model

    return load_model(base)


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
