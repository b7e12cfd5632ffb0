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
