"""The model behind a suggestion: by name, by path, or chosen automatically on the measured rows.

``auto`` is :class:`metamat.models.auto.AutoRegressor` (the one cross-validated choice of the package) set
up for ranking: the shipped meta-model, a Gaussian process and a random forest (200 trees) compete by
leave-one-out MAE on the measured rows (10-fold above 40 rows) and the lowest wins (margin 0: a constant
median would rank nothing). The winner is kept for the fantasy refits of a batch, and its intervals are
the CV+ conformal intervals of ``auto``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from metamat.errors import InputError

AUTO_CANDIDATES = ("pretrained", "gp", "rf")


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


def auto_surrogate(X: np.ndarray, y: np.ndarray, seed: int = 0, log_target: bool = False,
                   meta_prefix: bool = False, wrap: Callable[[Any], Any] | None = None):
    """``(model, name, note)``: ``auto`` fitted on (X, y) chooses among :data:`AUTO_CANDIDATES`; ``model`` is
    an ``auto`` restricted to the winner (so refits do not re-run the contest), ``note`` says why, with the
    cross-validated MAE of every candidate. ``meta_prefix``: X starts with the meta-learner's composition
    block and has more columns; ``wrap``: puts each ``auto`` inside wrappers (baseline, bounds, basis), so the
    contest runs on what the wrappers pass in."""
    from metamat.models.registry import make_model

    wrap = wrap or (lambda m: m)
    options = {"fallback": ("pretrained",), "margin": 0.0, "loo_max": 40, "n_folds": 10, "rf_trees": 200,
               "target_transform": "log10" if log_target else "identity", "meta_prefix": meta_prefix}
    chooser = wrap(make_model("auto", seed=seed, candidates=AUTO_CANDIDATES, **options)).fit(X, y)
    while not hasattr(chooser, "choice_"):  # the fitted auto inside the wrappers
        chooser = chooser.model_
    c = chooser.choice_
    listing = ", ".join(f"{k} {v['cv_mae']:.4g}" for k, v in c["table"].items())
    dropped = "".join(f"; {k} not used: {why}" for k, why in c["dropped"].items())
    note = (f"auto chose {c['chosen']}: lowest {c['scheme']} MAE on the {len(y)} measured rows ({listing})"
            f"{dropped}; 90% intervals are CV+ conformal")
    winner = wrap(make_model("auto", seed=seed, candidates=(c["chosen"],), **{**options, "fallback": (c["chosen"],)}))
    return winner, c["chosen"], note
