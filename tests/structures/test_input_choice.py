"""choose_inputs: cross-validation on the support picks structure columns only when they carry the signal."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from metamat.models.input_choice import choose_inputs


def _data(n=20, seed=0):
    rng = np.random.default_rng(seed)
    comp = rng.normal(size=(n, 3))
    struct = rng.normal(size=(n, 2))
    return comp, struct, rng


def test_structure_chosen_when_target_depends_on_it():
    comp, struct, rng = _data()
    y = comp[:, 0] + 3.0 * struct[:, 1] + 0.01 * rng.normal(size=len(comp))
    choice = choose_inputs({"composition": comp, "composition+structure": np.c_[comp, struct]}, y,
                           LinearRegression)
    assert choice.name == "composition+structure" and choice.folds == 5
    # composition alone cannot explain the 3 * struct term (std 3): its CV MAE is far larger
    assert choice.cv_mae["composition"] > 1.0 > 0.1 > choice.cv_mae["composition+structure"]


def test_composition_kept_when_structure_is_noise():
    picks = []
    for seed in range(20):  # noise columns only add variance: composition should win on most supports
        comp, struct, rng = _data(seed=seed)
        y = comp @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.normal(size=len(comp))
        picks.append(choose_inputs({"composition": comp, "composition+structure": np.c_[comp, struct]}, y,
                                   LinearRegression).name)
    assert picks.count("composition") >= 15  # a coin flip would reach 15 of 20 with probability 2%
    # an exact tie also keeps the default (first) candidate
    tie = choose_inputs({"a": comp, "b": comp.copy()}, y, LinearRegression)
    assert tie.name == "a" and tie.cv_mae["a"] == pytest.approx(tie.cv_mae["b"])


def test_small_supports_and_errors():
    comp, struct, _ = _data(n=3)
    y = np.array([1.0, 2.0, 3.0])
    assert choose_inputs({"c": comp, "s": struct}, y, LinearRegression).folds == 3   # leave-one-out
    assert choose_inputs({"c": comp[:1]}, y[:1], LinearRegression).name == "c"
    with pytest.raises(ValueError, match="rows"):
        choose_inputs({"c": comp[:2]}, y, LinearRegression)
    with pytest.raises(ValueError, match="at least one"):
        choose_inputs({}, y, LinearRegression)
