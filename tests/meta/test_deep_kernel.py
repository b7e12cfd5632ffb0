"""Deep-kernel GP meta-learner: interface, save/load round trip, trainer checkpoints and resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from metamat.models.meta import make_meta_model
from metamat.models.registry import load_model, save_model
from metamat.tasks.splits import sample_episode
from metamat.train.synthetic import synthetic_tasks

torch.set_num_threads(1)

FAST = dict(steps=30, batch=4, k_min=5, k_max=20, n_query=32, eval_every=15, val_episodes=2, progress=False)


@pytest.fixture(scope="module")
def tasks():
    return synthetic_tasks(n_tasks=7, n_rows=120, seed=1, log_tasks=1)


@pytest.fixture(scope="module")
def trained(tasks):
    return make_meta_model("dkgp", seed=0, hidden=(32,), embed_dim=16).meta_fit(tasks[:5], tasks[5:6], **FAST)


def test_interface_and_units(trained, tasks):
    ep = sample_episode(tasks[6], 10, n_query=50, rng=0)
    m = trained.fit(ep.X_support, ep.y_support)
    assert m is trained
    mean = m.predict(ep.X_query)
    mean2, std = m.predict(ep.X_query, return_std=True)
    assert mean.shape == std.shape == (len(ep.query),)
    np.testing.assert_allclose(mean, mean2)
    assert np.all(np.isfinite(mean)) and np.all(std > 0)
    # original units: shifting and scaling y shifts and scales predictions exactly
    m.fit(ep.X_support, 3.0 * ep.y_support + 100.0)
    mean3, std3 = m.predict(ep.X_query, return_std=True)
    np.testing.assert_allclose(mean3, 3.0 * mean + 100.0, rtol=1e-6)
    np.testing.assert_allclose(std3, 3.0 * std, rtol=1e-6)
    mu, sd, lo, hi = m.predict_dist(ep.X_query, level=0.9)
    assert np.all(lo < mu) and np.all(mu < hi)
    assert trained.calibration_ is not None and len(trained.history_["history"]) >= 1


def test_log_target_predictions_positive(trained, tasks):
    t = tasks[0]  # log10 task: y spans orders of magnitude
    assert t.transform.kind == "log10"
    ep = sample_episode(t, 10, n_query=50, rng=1)
    trained.set_params(target_transform="log10")
    try:
        mu, sd, lo, hi = trained.fit(ep.X_support, ep.y_support).predict_dist(ep.X_query)
    finally:
        trained.set_params(target_transform="identity")
    assert np.all(lo > 0) and np.all(lo < mu) and np.all(mu < hi) and np.all(sd > 0)


def test_not_fitted_errors(tasks):
    m = make_meta_model("dkgp")
    with pytest.raises(RuntimeError, match="meta-trained"):
        m.fit(tasks[0].X[:10], tasks[0].y[:10])


def test_save_load_round_trip(trained, tasks, tmp_path: Path):
    base = save_model(trained, tmp_path / "m")
    assert (tmp_path / "m.safetensors").exists() and (tmp_path / "m.json").exists()
    assert not list(tmp_path.glob(".*tmp"))
    loaded = load_model(tmp_path / "m.safetensors")
    ep = sample_episode(tasks[6], 20, n_query=40, rng=3)
    a = trained.fit(ep.X_support, ep.y_support).predict(ep.X_query, return_std=True)
    b = loaded.fit(ep.X_support, ep.y_support).predict(ep.X_query, return_std=True)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert base == tmp_path / "m"


def test_resume_matches_uninterrupted_run(tasks, tmp_path: Path):
    kw = dict(FAST, steps=12, eval_every=4, checkpoint_every=4, calibrate=False)
    full = make_meta_model("dkgp", hidden=(16,), embed_dim=8).meta_fit(
        tasks[:4], tasks[5:6], checkpoint_dir=str(tmp_path / "a"), **kw)
    # "interrupted" after 8 steps, then resumed to 12
    make_meta_model("dkgp", hidden=(16,), embed_dim=8).meta_fit(
        tasks[:4], tasks[5:6], checkpoint_dir=str(tmp_path / "b"), **{**kw, "steps": 8})
    assert (tmp_path / "b" / "last.safetensors").exists() and (tmp_path / "b" / "last.json").exists()
    resumed = make_meta_model("dkgp", hidden=(16,), embed_dim=8).meta_fit(
        tasks[:4], tasks[5:6], checkpoint_dir=str(tmp_path / "b"), resume=True, **kw)
    assert resumed.history_["step"] == full.history_["step"] == 12
    for (k, a), (_, b) in zip(full.net_.state_dict().items(), resumed.net_.state_dict().items(), strict=True):
        torch.testing.assert_close(a, b, msg=k)
    assert [h["val"] for h in full.history_["history"]] == pytest.approx(
        [h["val"] for h in resumed.history_["history"]])


def test_task_sampler_weights():
    from metamat.train.episodic import TaskSampler

    ts = synthetic_tasks(n_tasks=3, n_rows=40, seed=2)
    object.__setattr__(ts[0], "quantity", "a")
    object.__setattr__(ts[1], "quantity", "a")
    object.__setattr__(ts[2], "quantity", "b")
    p = TaskSampler(ts, "group_sqrt").p
    assert p[2] == pytest.approx(0.5) and p[0] + p[1] == pytest.approx(0.5)
    assert TaskSampler(ts, "uniform").p == pytest.approx(np.full(3, 1 / 3))
