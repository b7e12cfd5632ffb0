"""The one registry for meta-learners: the name given at construction is what a file stores (so any option
combination saves and loads), every spelling of "the shipped model" resolves, and ``sklearn.base.clone`` of
a meta-trained learner keeps its meta-parameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone

from metamat.models import registry
from metamat.models.io import read_config
from metamat.models.meta.maml import MAMLRegressor
from metamat.models.protocol import SaveableModel
from metamat.tasks.splits import sample_episode
from metamat.train.synthetic import synthetic_tasks

torch.set_num_threads(1)
FAST = dict(steps=6, batch=3, k_min=5, k_max=12, n_query=16, eval_every=3, val_episodes=1, progress=False)


@pytest.fixture(scope="module")
def tasks():
    return synthetic_tasks(n_tasks=4, n_rows=80, seed=11)


@pytest.fixture(scope="module")
def anil_fomaml(tasks):
    return registry.make_model("fomaml", anil=True, hidden=(16,), embed_dim=8, inner_steps=2).meta_fit(
        tasks[:3], tasks[3:], **FAST)


def test_an_option_combination_saves_and_loads_under_its_given_name(anil_fomaml, tasks, tmp_path):
    """Before: the saved name was worked out backwards from the class defaults and fomaml+anil matched no
    entry ("MAMLRegressor is not in META_MODELS")."""
    base = registry.save_model(anil_fomaml, tmp_path / "m")
    cfg = read_config(base)
    assert cfg["model"] == "fomaml" and cfg["params"]["anil"] is True and cfg["params"]["first_order"] is True
    loaded = registry.load(str(base))
    assert isinstance(anil_fomaml, SaveableModel) and isinstance(MAMLRegressor.load(base), MAMLRegressor)
    assert loaded.anil and loaded.first_order and registry.registry_name(loaded) == "fomaml"
    ep = sample_episode(tasks[3], 10, n_query=20, rng=0)
    a = anil_fomaml.fit(ep.X_support, ep.y_support).predict_dist(ep.X_query)
    b = loaded.fit(ep.X_support, ep.y_support).predict_dist(ep.X_query)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-9)
    # every spelling of a saved model resolves to the same file
    for spec in (str(base), f"{base}.safetensors", f"{base}.json", f"pretrained:{base}"):
        assert registry.is_saved_spec(spec)
        assert registry.saved_path(spec) == base


def test_a_model_built_from_its_class_still_finds_its_name(tasks):
    m = MAMLRegressor(first_order=True, hidden=(8,), embed_dim=4)
    assert registry.registry_name(m) == "fomaml"


def test_clone_of_a_meta_trained_learner_keeps_its_meta_parameters(anil_fomaml, tasks):
    ep = sample_episode(tasks[3], 12, n_query=25, rng=3)
    expected = anil_fomaml.fit(ep.X_support, ep.y_support).predict(ep.X_query, return_std=True)
    twin = clone(anil_fomaml)
    assert twin is not anil_fomaml and twin.net_ is not anil_fomaml.net_
    assert not hasattr(twin, "target_scaler_")  # no per-task state carried over
    assert registry.registry_name(twin) == "fomaml"
    got = twin.fit(ep.X_support, ep.y_support).predict(ep.X_query, return_std=True)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-6, atol=1e-9)
    # the clone's meta-parameters are a copy: changing them leaves the original alone
    with torch.no_grad():
        next(twin.net_.parameters()).add_(1.0)
    again = anil_fomaml.fit(ep.X_support, ep.y_support).predict(ep.X_query)
    np.testing.assert_allclose(again, expected[0], rtol=1e-6, atol=1e-9)


def test_clone_of_an_untrained_learner_is_a_fresh_one():
    m = registry.make_model("dkgp", hidden=(8,), embed_dim=4, seed=3)
    c = clone(m)
    assert c.get_params() == m.get_params() and not hasattr(c, "net_")


def test_the_shipped_model_under_every_spelling():
    base = registry.default_model_path()
    assert registry.saved_path("default") == registry.saved_path("pretrained") == base
    assert registry.saved_path("default", structure=True) == registry.structure_model_path()
    m = registry.load("pretrained")
    assert registry.registry_name(m) == "metasgd" and m.meta_sgd


def test_get_model_by_name_meta_trains_and_by_baseline_name_is_fresh(tasks):
    m = registry.get_model("protonet", train_tasks=tasks[:3], val_tasks=tasks[3:], **FAST)
    assert hasattr(m, "net_")
    assert type(registry.get_model("ridge")).__name__ == "RidgeRegressor"
    with pytest.raises(ValueError, match="needs train_tasks"):
        registry.get_model("maml")
