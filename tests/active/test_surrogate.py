"""The model behind a suggestion comes from the one model registry: names, the shipped default, a path."""

from __future__ import annotations

import numpy as np
import pytest

from metamat.active.surrogate import make_surrogate
from metamat.errors import InputError
from metamat.pretrained import default_model_path


def test_names_paths_and_the_default_resolve_through_the_registry() -> None:
    assert make_surrogate("rf").get_params()["n_estimators"] == 200
    assert type(make_surrogate("gp")).__name__ == "GPRegressor"
    X = np.random.default_rng(0).normal(size=(12, 148))
    y = X[:, 0] * 2.0 + 1.0
    by_path = make_surrogate(str(default_model_path())).fit(X, y).predict(X[:3])
    by_name = make_surrogate("default").fit(X, y).predict(X[:3])
    np.testing.assert_allclose(by_path, by_name)  # the same shipped weights either way
    with pytest.raises(InputError, match="not a model name"):
        make_surrogate("no_such_model")


@pytest.mark.slow
def test_auto_picks_the_lowest_leave_one_out_error_computed_independently() -> None:
    from metamat.active.surrogate import auto_surrogate
    from metamat.featurize.pipeline import featurize_formulas
    from metamat.models.registry import load_default, make_model

    formulas = ["NaCl", "KCl", "MgO", "Al2O3", "Fe2O3", "BaTiO3", "SrTiO3", "LiF"]
    X = featurize_formulas(formulas).values
    y = np.where(X[:, 0] > 2, 10.0, 0.0) + np.arange(8) * 0.01  # a step in the number of elements
    loo = {}
    for name, make in {"pretrained": load_default, "gp": lambda: make_model("gp"),
                       "rf": lambda: make_model("rf", n_estimators=200)}.items():
        pred = [make().fit(np.delete(X, i, 0), np.delete(y, i)).predict(X[i:i + 1])[0] for i in range(8)]
        loo[name] = float(np.mean(np.abs(np.array(pred) - y)))
    model, name, note = auto_surrogate(X, y)
    assert name == min(loo, key=loo.get)
    assert f"auto chose {name}" in note and "leave-one-out" in note
    lo, hi = model.fit(X, y).predict_interval(X[:3])
    assert (lo <= hi).all() and model.chosen_ == name
