"""Every meta-learner keeps the one interface: meta_fit(tasks) -> fit(X, y) -> predict(X, return_std=True),
and round-trips through safetensors + JSON with identical predictions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone

from metamat.models.meta import META_MODELS, make_meta_model
from metamat.models.registry import load_model, save_model
from metamat.tasks.splits import sample_episode
from metamat.train.synthetic import synthetic_tasks

torch.set_num_threads(1)

REGRESSORS = [n for n in META_MODELS if n != "protonet_clf"]
FAST = dict(steps=10, batch=3, k_min=5, k_max=12, n_query=16, eval_every=5, val_episodes=1, progress=False)


@pytest.fixture(scope="module")
def tasks():
    return synthetic_tasks(n_tasks=4, n_rows=80, seed=5, classification=3)


@pytest.mark.parametrize("name", REGRESSORS)
def test_regressor_interface_and_round_trip(name, tasks, tmp_path):
    reg = [t for t in tasks if t.kind == "regression"]
    m = make_meta_model(name, hidden=(16,), embed_dim=8, **({"inner_steps": 2} if "maml" in name or name in
                                                               ("anil", "metasgd") else {}))
    assert m.meta_fit(reg[:3], reg[3:], **FAST) is m
    ep = sample_episode(reg[3], 10, n_query=30, rng=0)
    assert m.fit(ep.X_support, ep.y_support) is m
    mean, std = m.predict(ep.X_query, return_std=True)
    assert mean.shape == std.shape == (len(ep.query),)
    assert np.all(np.isfinite(mean)) and np.all(std > 0)
    np.testing.assert_allclose(m.predict(ep.X_query), mean)
    twin = clone(m)  # carries the meta-parameters, not the per-task state
    assert not hasattr(twin, "target_scaler_")
    np.testing.assert_allclose(twin.fit(ep.X_support, ep.y_support).predict(ep.X_query), mean, rtol=1e-6,
                               atol=1e-9)
    save_model(m, tmp_path / name)
    loaded = load_model(tmp_path / name)
    assert type(loaded) is type(m) and loaded.get_params()["embed_dim"] == 8
    m2, s2 = loaded.fit(ep.X_support, ep.y_support).predict(ep.X_query, return_std=True)
    np.testing.assert_allclose(m2, mean, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(s2, std, rtol=1e-6, atol=1e-9)


def test_protonet_classifier(tasks, tmp_path):
    clf_tasks = [t for t in tasks if t.kind == "classification"]
    m = make_meta_model("protonet_clf", hidden=(16,), embed_dim=8)
    m.meta_fit(tasks, None, **FAST)  # regression tasks are ignored by a classifier
    ep = sample_episode(clf_tasks[0], 12, n_query=30, rng=1)
    y = ep.y_support.copy()
    y[:2] = [0, 1]  # make sure both classes are present
    p = m.fit(ep.X_support, y).predict_proba(ep.X_query)
    assert p.shape == (len(ep.query),) and np.all((p >= 0) & (p <= 1))
    assert set(np.unique(m.predict(ep.X_query))) <= {0, 1}
    one_class = m.fit(ep.X_support, np.zeros(len(y))).predict_proba(ep.X_query)
    np.testing.assert_allclose(one_class, 0.5 / (len(y) + 1))
    save_model(m.fit(ep.X_support, y), tmp_path / "clf")
    np.testing.assert_allclose(load_model(tmp_path / "clf").fit(ep.X_support, y).predict_proba(ep.X_query), p,
                               rtol=1e-6)


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown model .nope."):
        make_meta_model("nope")


def test_files_from_before_an_option_keep_their_losses(tasks, tmp_path):
    """A MAML-family file written before ``query_loss``/``inner_loss`` existed adapts with the squared error it
    was trained with (not the new Huber default): predictions equal those of the model with inner_loss='mse'."""
    import json

    reg = [t for t in tasks if t.kind == "regression"]
    m = make_meta_model("metasgd", hidden=(16,), embed_dim=8, inner_steps=2, query_loss="gaussian",
                        inner_loss="mse").meta_fit(reg[:3], reg[3:], **FAST)
    save_model(m, tmp_path / "old")
    cfg_path = tmp_path / "old.json"
    cfg = json.loads(cfg_path.read_text())
    del cfg["params"]["query_loss"], cfg["params"]["inner_loss"]
    cfg_path.write_text(json.dumps(cfg))
    old = load_model(tmp_path / "old")
    assert (old.query_loss, old.inner_loss) == ("gaussian", "mse")
    ep = sample_episode(reg[3], 10, n_query=30, rng=1)
    y = ep.y_support.copy()
    y[0] += 50 * np.std(y)  # an outlying support value: Huber and squared error adapt differently
    expected = m.fit(ep.X_support, y).predict(ep.X_query)
    np.testing.assert_allclose(old.fit(ep.X_support, y).predict(ep.X_query), expected, rtol=1e-6, atol=1e-9)
    huber = load_model(tmp_path / "old", inner_loss="huber").fit(ep.X_support, y).predict(ep.X_query)
    assert np.max(np.abs(huber - expected)) > 1e-3 * np.std(ep.y_support)
    assert load_model(tmp_path / "old", inner_loss="huber").inner_loss == "huber"  # overrides still win
