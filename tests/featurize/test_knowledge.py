"""Knowledge surrogates: numpy inference, save/load, leakage exclusion, pipeline presets, training."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from metamat.featurize.knowledge import (
    KnowledgeFeaturizer,
    Surrogate,
    SurrogateSpec,
    groups_excluded_by,
    load_surrogates,
    save_surrogates,
)
from metamat.featurize.pipeline import featurize_formulas


def _linear(spec: SurrogateSpec, w: float, b: float, resid: float) -> Surrogate:
    """One-member, one-layer surrogate: value = w * (number of elements) + b (feature 0 is the 0-norm)."""
    W = np.zeros((148, 1), np.float32)
    W[0, 0] = w
    return Surrogate(spec, np.zeros(148), np.ones(148), 0.0, 1.0, resid, [[(W, np.array([b], np.float32))]])


@pytest.fixture
def folder(tmp_path):
    gap = SurrogateSpec("gap", "T1", "toy gap", "eV", "band gap")
    mod = SurrogateSpec("bulk", "T2", "toy bulk modulus", "GPa", "bulk modulus", "log10", 0.1)
    save_surrogates([_linear(gap, 0.5, 1.0, 0.2), _linear(mod, 0.25, 2.0, 0.1)], tmp_path)
    load_surrogates.cache_clear()
    return str(tmp_path)


def test_prediction_is_the_hand_computed_network(folder):
    gap, bulk = load_surrogates(folder)
    from metamat.data.compositions import parse_formulas
    from metamat.featurize.knowledge import input_features

    X = input_features(parse_formulas(["NaCl", "Fe2O3", "LiFePO4"]).compositions)
    mean, std = gap.predict(X)
    np.testing.assert_allclose(mean, 0.5 * np.array([2, 2, 4]) + 1.0, rtol=1e-6)
    np.testing.assert_allclose(std, 0.2, rtol=1e-6)  # one member: only the residual std
    assert bulk.spec.inverse(bulk.predict(X)[0])[0] == pytest.approx(10 ** 2.5, rel=1e-6)


def test_same_quantity_surrogates_are_removed_and_recorded(folder):
    f = KnowledgeFeaturizer(exclude_quantities=("band gap",), folder=folder)
    assert [s.spec.name for s in f.surrogates] == ["bulk"]
    assert len(f.removed) == 1 and "gap" in f.removed[0] and "band gap" in f.removed[0]
    # metallicity is the 0/1 form of the gap; a Poisson ratio is a function of K and G
    assert [s.spec.name for s in KnowledgeFeaturizer(("metallicity",), folder=folder).surrogates] == ["bulk"]
    assert [s.spec.name for s in KnowledgeFeaturizer(("poisson ratio",), folder=folder).surrogates] == ["gap"]
    assert groups_excluded_by(["yield strength"]) == {"yield strength"}


def test_shipped_surrogates_through_the_pipeline():
    load_surrogates.cache_clear()
    full = featurize_formulas(["NaCl", "Si", "Fe2O3"], "composition+knowledge")
    names = [s.spec.name for s in load_surrogates()]
    assert full.values.shape == (3, 148 + len(names)) and np.isfinite(full.values).all()
    served = featurize_formulas(["NaCl", "Si", "Fe2O3"], "composition+knowledge", exclude_quantities=("band gap",))
    assert not any("band gap" in label for label in served.labels[148:])
    assert {r.split()[0] for r in served.removed} == {"oqmd_band_gap", "aflow_band_gap"}
    assert full.removed == []
    # physics sanity of the shipped weights: NaCl has a wide gap, Si a small one, and Fe2O3 is stiffer than NaCl
    gap = full.values[:, 148 + names.index("oqmd_band_gap")]
    assert gap[0] > 3.0 and gap[1] < 1.5
    bulk = full.values[:, 148 + names.index("aflow_bulk_modulus")]  # log10 GPa; NaCl ~ 25 GPa measured
    assert 1.0 < bulk[0] < 1.7 and bulk[2] > bulk[0]


def _write_table(path, n, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 5, n)
    b = rng.integers(1, 5, n)
    metals = np.array(["Li", "Na", "K", "Mg", "Ca", "Al", "Ti", "Fe"])
    anions = np.array(["O", "S", "F", "Cl"])
    mi, ai = rng.integers(0, len(metals), n), rng.integers(0, len(anions), n)
    formulas = [f"{metals[i]}{x}{anions[j]}{y}" for i, j, x, y in zip(mi, ai, a, b, strict=True)]
    y = (b / (a + b)) * 3.0 + 0.5 * ai  # depends on the anion fraction and kind
    split = rng.choice(["train", "val", "test"], n, p=[0.7, 0.15, 0.15])
    lines = ["formula,target,split"] + [f"{f},{t},{s}" for f, t, s in zip(formulas, y, split, strict=True)]
    (path / "crabnet_benchmark").mkdir(parents=True)
    with gzip.open(path / "crabnet_benchmark" / "toy.csv.gz", "wt") as fh:
        fh.write("\n".join(lines) + "\n")


def test_training_is_deterministic_and_learns(tmp_path):
    from metamat.featurize.knowledge_training import TrainConfig, train_surrogate

    _write_table(tmp_path, 600, 0)
    spec = SurrogateSpec("toy", "toy", "toy", "eV", "band gap")
    cfg = TrainConfig(hidden=(16,), n_members=2, max_epochs=15, patience=5, batch_size=64)
    s1 = train_surrogate(spec, tmp_path, cfg)
    s2 = train_surrogate(spec, tmp_path, cfg)
    for (W1, b1), (W2, b2) in zip(s1.members[1], s2.members[1], strict=True):
        np.testing.assert_array_equal(W1, W2)
        np.testing.assert_array_equal(b1, b2)
    assert s1.card["test_mae"] < 0.5 * s1.card["train_median_test_mae"]
    excluded = train_surrogate(spec, tmp_path, cfg, exclude_keys={"3:0.5000;8:0.5000;"})  # LiO
    assert excluded.card["excluded_rows"] > 0


def test_registry_task_drops_and_records_its_own_quantity(shared_data_dir):
    from metamat.tasks.catalog import build_task, get_task_spec

    task = build_task(get_task_spec("matbench_expt_gap"), data_dir=shared_data_dir,
                      featurizers="composition+knowledge", max_rows=40)
    knowledge = [label for label in task.feature_labels if label.startswith("knowledge ")]
    assert knowledge and not any("band gap" in label for label in knowledge)
    assert {r.split()[0] for r in task.removed_features} == {"oqmd_band_gap", "aflow_band_gap"}
    assert task.subset(np.arange(5)).removed_features == task.removed_features


def test_predict_property_interval_is_positive_and_contains_the_value():
    from metamat.featurize.knowledge import predict_property

    load_surrogates.cache_clear()
    value, lo, hi = predict_property(["NaCl", "W", "NaCl"], "aflow_bulk_modulus")
    assert (lo > 0).all() and (lo < value).all() and (value < hi).all()
    # tungsten (~310 GPa measured) vs rock salt (~25 GPa)
    assert value[0] == pytest.approx(value[2], rel=1e-5) and value[1] > 3 * value[0]
    with pytest.raises(KeyError):
        predict_property(["NaCl"], "nope")


def test_low_fidelity_table_lookup_by_reduced_composition(tmp_path):
    from metamat.featurize.low_fidelity import low_fidelity

    (tmp_path / "dft").mkdir()
    with gzip.open(tmp_path / "dft" / "gaps.csv.gz", "wt") as fh:  # "NaN" is sodium nitride, not a missing value
        fh.write("formula,target\nFe2O3,2.0\nFeO1.5,2.4\nFe4O6,9.0\nNaN,0.5\n")
    load_surrogates.cache_clear()
    low = low_fidelity(["O3Fe2", "NaN", "Cu"], tables=("dft/gaps",), data_dir=tmp_path)
    np.testing.assert_allclose(low.value[:2], [2.4, 0.5])  # median of 2.0, 2.4, 9.0
    assert low.from_table.tolist() == [True, True, False]
    assert low.std[2] > 0 and low.std[0] == 0 and np.isfinite(low.value[2])  # Cu: the band-gap surrogate
