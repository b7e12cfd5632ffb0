"""Task, Episode and target transforms."""

from __future__ import annotations

import numpy as np
import pytest

from metamat.errors import InputError
from metamat.tasks import Episode, TargetStandardizer, TargetTransform, Task, sample_episode

FORMULAS = ["LiCoO2", "Li2CoO3", "Fe2O3", "FeO", "NaCl", "KCl", "Si", "GaAs"]


def _task(**kw) -> Task:
    n = len(FORMULAS)
    defaults = dict(name="t", X=np.arange(n * 2, dtype=float).reshape(n, 2), y=np.arange(1.0, n + 1),
                    formulas=FORMULAS)
    defaults.update(kw)
    return Task(**defaults)


def test_identity_and_log10_round_trip():
    y = np.array([1e-3, 0.5, 2.0, 1e4])
    assert np.array_equal(TargetTransform("identity").forward(y), y)
    t = TargetTransform("log10")
    assert np.allclose(t.forward(y), [-3, np.log10(0.5), np.log10(2.0), 4])
    assert np.allclose(t.inverse(t.forward(y)), y)


def test_log10_rejects_non_positive_and_names_rows():
    with pytest.raises(InputError) as err:
        TargetTransform("log10").forward(np.array([1.0, 0.0, -2.0, 3.0]), source="sigma")
    assert [p.row for p in err.value.problems] == [2, 3]
    assert "positive" in str(err.value)


def test_unknown_transform():
    with pytest.raises(ValueError, match="log10"):
        TargetTransform("ln")


def test_log10_delta_method_std():
    # d(10^z)/dz = ln(10) 10^z: at z = 2, std 0.01 in log space -> ln(10) * 100 * 0.01 in original units
    assert np.isclose(TargetTransform("log10").inverse_std(np.array([2.0]), np.array([0.01]))[0],
                      np.log(10) * 1.0)


def test_target_standardizer():
    s = TargetStandardizer().fit(np.array([1.0, 3.0]))
    assert (s.mean_, s.scale_) == (2.0, 1.0)
    assert np.allclose(s.transform([1.0, 3.0]), [-1, 1])
    assert np.allclose(s.inverse(s.transform([5.0])), [5.0])
    assert TargetStandardizer().fit(np.array([4.0, 4.0])).scale_ == 1.0  # constant targets


def test_task_validates_shapes_and_targets():
    with pytest.raises(ValueError, match="rows"):
        _task(y=np.ones(3))
    with pytest.raises(InputError, match="finite"):
        _task(y=np.r_[np.nan, np.ones(len(FORMULAS) - 1)])
    with pytest.raises(InputError, match="0 or 1"):
        _task(kind="classification", y=np.r_[2.0, np.zeros(len(FORMULAS) - 1)])
    with pytest.raises(InputError, match="positive"):
        _task(transform="log10", y=np.r_[0.0, np.ones(len(FORMULAS) - 1)])


def test_task_chemistry():
    t = _task(transform="log10")
    assert t.transform == TargetTransform("log10")
    assert list(t.chemical_systems[:4]) == ["Co-Li-O", "Co-Li-O", "Fe-O", "Fe-O"]
    codes = t.system_codes
    assert codes[0] == codes[1] and codes[2] == codes[3] and codes[0] != codes[2]
    assert len(np.unique(codes)) == 6
    assert list(np.flatnonzero(t.contains_element("O"))) == [0, 1, 2, 3]
    assert list(np.flatnonzero(t.contains_element(17))) == [4, 5]
    assert t.element_counts[8] == 4 and t.element_counts[3] == 2
    assert np.isclose(t.mad, np.mean(np.abs(t.y - t.y.mean())))
    sub = t.subset(np.array([4, 5]))
    assert len(sub) == 2 and list(sub.chemical_systems) == ["Cl-Na", "Cl-K"]


def test_task_from_formulas_featurizes():
    t = Task.from_formulas("demo", FORMULAS, np.arange(len(FORMULAS), dtype=float), units="eV")
    assert t.X.shape[0] == len(FORMULAS) and t.X.shape[1] == len(t.feature_labels) > 10
    assert "demo" in repr(t)


def test_episode_standardizes_on_support_only_and_maps_back():
    t = _task(transform="log10", y=np.array([1.0, 10.0, 100.0, 1000.0, 1.0, 1.0, 1.0, 1.0]))
    ep = Episode(t, np.array([0, 1]), np.array([2, 3]))
    assert np.allclose(ep.y_support_fit, [-1.0, 1.0])  # log10 -> [0, 1] -> mean 0.5, std 0.5
    assert np.allclose(ep.X_query, t.X[[2, 3]]) and np.allclose(ep.y_query, [100.0, 1000.0])
    mean, std = ep.to_original(np.array([3.0]), np.array([2.0]))  # z = 3*0.5+0.5 = 2 -> 100
    assert np.allclose(mean, 100.0)
    assert np.allclose(std, np.log(10) * 100.0 * 2.0 * 0.5)


def test_classification_episode_passes_labels_through():
    y = np.array([0, 1, 0, 1, 0, 1, 0, 1], dtype=float)
    t = _task(kind="classification", y=y)
    ep = sample_episode(t, 4, policy="random", rng=0)
    assert set(ep.y_support_fit) == {0.0, 1.0}
    assert np.array_equal(ep.to_original(np.array([0.3])), [0.3])
