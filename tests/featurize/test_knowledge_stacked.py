"""The stacked, cached knowledge path gives the numbers of the per-surrogate reference path
(:meth:`Surrogate.predict`: standardize, one member at a time, one layer at a time)."""

from __future__ import annotations

import numpy as np

from metamat.data.compositions import parse_formulas
from metamat.featurize.knowledge import (
    KnowledgeFeaturizer,
    clear_knowledge_cache,
    composition_hashes,
    input_features,
    load_surrogates,
    predict_surrogates,
)
from metamat.featurize.pipeline import featurize_formulas

FORMULAS = ["NaCl", "Si", "Fe2O3", "LiFePO4", "Bi2Te3", "YBa2Cu3O7", "Cu", "Mg0.9Zn0.1O", "CsPbBr3", "Al"]


def reference(formulas: list[str], with_std: bool = False) -> np.ndarray:
    comps = parse_formulas(formulas).compositions
    X = input_features(comps)
    cols = []
    for s in load_surrogates():
        mean, std = s.predict(X)
        cols += [mean, std] if with_std else [mean]
    return np.column_stack(cols)


def test_stacked_and_cached_knowledge_equals_the_reference_path():
    clear_knowledge_cache()
    ref = reference(FORMULAS)
    cold = featurize_formulas(FORMULAS, "knowledge").values
    warm = featurize_formulas(FORMULAS[::-1], "knowledge").values[::-1]  # every row from the cache now
    np.testing.assert_allclose(cold, ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(warm, cold)
    both = featurize_formulas(FORMULAS, "composition+knowledge").values  # composition block reused as input
    np.testing.assert_array_equal(both[:, 148:], cold)
    ref_std = reference(FORMULAS, with_std=True)
    comps = parse_formulas(FORMULAS).compositions
    np.testing.assert_allclose(KnowledgeFeaturizer(with_std=True).featurize(comps), ref_std, rtol=1e-4, atol=1e-4)
    clear_knowledge_cache()
    mean, _ = predict_surrogates(comps, cache=False)
    np.testing.assert_allclose(mean, ref, rtol=1e-4, atol=1e-4)


def test_cache_key_is_the_exact_composition():
    comps = parse_formulas(["Fe2O3", "O3Fe2", "Fe2O3.0000001", "Fe4O6", "FeO1.5"]).compositions
    h = composition_hashes(comps)
    assert (h[0] == h[1]).all()  # the same amounts, written in another order
    assert len({tuple(r) for r in h[1:]}) == 4  # any other amount is another key (Fe4O6 included)
    clear_knowledge_cache()
    direct = reference(["Fe2O3", "Fe2O3.0000001"])
    got = featurize_formulas(["Fe2O3", "O3Fe2", "Fe2O3.0000001"], "knowledge").values
    np.testing.assert_allclose(got[[0, 2]], direct, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(got[0], got[1])
