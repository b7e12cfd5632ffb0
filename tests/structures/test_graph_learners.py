"""Every meta-learner meta-trains, adapts and round-trips with the crystal-graph encoder (encoder="cgcnn")."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from metamat.featurize.elements import load_element_table
from metamat.featurize.graph_encoder import CrystalGraphEncoder, unpack_rows
from metamat.featurize.graphs import HEADER, GraphLayout, graph_features, graph_width
from metamat.models.meta import make_meta_model
from metamat.models.registry import load_model, save_model
from metamat.tasks.splits import sample_episode
from metamat.tasks.task import Task
from metamat.train.synthetic import random_crystal

torch.set_num_threads(1)

FAST = dict(steps=6, batch=3, k_min=5, k_max=10, n_query=12, eval_every=3, val_episodes=1, progress=False)
@pytest.fixture(scope="module")
def data():
    """Crystals, ordinary features (2 columns), formulas and descriptors of 160 rattled cells."""
    rng = np.random.default_rng(0)
    crystals, formulas = zip(*[random_crystal(rng) for _ in range(160)], strict=True)
    layout = GraphLayout(cutoff=4.0)
    G = graph_features(crystals, layout)
    g = {k: v.numpy() for k, v in unpack_rows(torch.as_tensor(G)).items()}
    n_sites = G[:, 0].astype(int)
    struct = np.repeat(np.arange(len(G)), n_sites)
    inv_sum = np.bincount(g["center"], 1.0 / g["distance"], minlength=len(struct))
    deg = np.maximum(np.bincount(g["center"], minlength=len(struct)), 1)
    mean_inv = np.bincount(struct, inv_sum / deg) / n_sites
    vol = np.array([c.volume / c.n_sites for c in crystals])
    en = load_element_table().column("Electronegativity")[g["species"][:, 0]]
    mean_en = np.bincount(struct, en) / n_sites
    extra = np.c_[mean_en, 10 * n_sites]  # ordinary features: mean electronegativity, site count
    descriptors = np.c_[vol, mean_inv, mean_en]
    return layout, list(crystals), extra, np.array(formulas, dtype=object), descriptors


def _tasks(data, with_extra: bool) -> list[Task]:
    """Four tasks whose graph rows are packed separately, so each task has its own row width."""
    layout, crystals, extra, formulas, desc = data
    D = (desc - desc.mean(0)) / desc.std(0)
    rng = np.random.default_rng(1)
    tasks = []
    for t in range(4):
        rows = rng.choice(len(crystals), 70, replace=False)
        G = graph_features([crystals[r] for r in rows], layout)
        X = np.c_[G, extra[rows]] if with_extra else G
        w = rng.normal(size=3) + np.array([1.0, -1.0, 0.0])  # volume per atom and 1/distance dominate
        y = 3.0 * t + D[rows] @ w + 0.05 * rng.normal(size=70)
        tasks.append(Task(f"struct_{t}", X, y, formulas[rows], quantity=f"q{t}"))
    assert len({t.X.shape[1] for t in tasks}) > 1
    return tasks


CASES = [("maml", True), ("fomaml", True), ("anil", True), ("metasgd", True), ("dkgp", True), ("dkgp", False),
         ("protonet", True), ("protonet", False), ("transfer_head", True), ("transfer_last", False)]


@pytest.mark.parametrize(("name", "with_extra"), CASES)
def test_learner_with_graph_encoder(name, with_extra, data, tmp_path):
    layout = data[0]
    tasks = _tasks(data, with_extra)
    kw = {"inner_steps": 2} if name in ("maml", "fomaml", "anil", "metasgd") else {}
    m = make_meta_model(name, hidden=(16,), embed_dim=8, encoder="cgcnn",
                        encoder_options={**layout.to_dict(), "extra_dim": 2 if with_extra else 0, "n_conv": 2,
                                         "n_gaussians": 12}, **kw)
    assert m.meta_fit(tasks[:3], tasks[3:], **FAST) is m
    enc = next(mod for mod in m.net_.modules() if isinstance(mod, CrystalGraphEncoder))
    assert enc.extra_dim == (2 if with_extra else 0) and enc.n_conv == 2
    assert m.prep_.passthrough_ == HEADER and m.prep_.n_features_in_ == HEADER + (2 if with_extra else 0)
    ep = sample_episode(tasks[3], 10, n_query=25, rng=0)
    # the graph block reaches the encoder unchanged; the ordinary columns are standardized
    Z = m.prepare(ep.X_query).numpy()
    w = graph_width(ep.X_query, 2 if with_extra else 0)
    np.testing.assert_array_equal(Z[:, :w], ep.X_query[:, :w].astype(np.float32))
    if with_extra:
        assert np.abs(Z[:, w:]).max() < 5 and np.abs(ep.X_query[:, w + 1:]).max() > 5
    mean, std = m.fit(ep.X_support, ep.y_support).predict(ep.X_query, return_std=True)
    assert mean.shape == std.shape == (len(ep.query),)
    assert np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)
    base = save_model(m, tmp_path / name)
    assert json.loads(base.with_suffix(".json").read_text())["params"]["encoder_options"]["cutoff"] == 4.0
    loaded = load_model(base)
    assert loaded.prep_.passthrough_ == HEADER
    m2, s2 = loaded.fit(ep.X_support, ep.y_support).predict(ep.X_query, return_std=True)
    np.testing.assert_allclose(m2, mean, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(s2, std, rtol=1e-6, atol=1e-9)


def test_graph_encoder_options_are_checked(data):
    tasks = _tasks(data, True)
    m = make_meta_model("protonet", hidden=(16,), embed_dim=8, encoder="cgcnn",
                        encoder_options={**data[0].to_dict(), "extra_dim": 2, "n_conv": 1})
    m.meta_fit(tasks[:2], None, **FAST)
    X, y = tasks[3].X[:8], tasks[3].y[:8]
    with pytest.raises(ValueError, match="at least"):
        m.fit(X[:, :HEADER + 1], y)
    with pytest.raises(ValueError, match="cannot set"):
        make_meta_model("protonet", encoder="cgcnn", encoder_options={**data[0].to_dict(), "out_dim": 3}
                        ).meta_fit(tasks[:2], None, **FAST)


@pytest.mark.parametrize("name", ["maml", "metasgd"])
def test_maml_batch_of_tasks_with_different_widths(name, data):
    """MAML stacks the episodes of a meta-batch: rows of different widths are zero-padded, and the batch loss is
    the mean of the per-task losses on the unpadded rows."""
    from metamat.models.base import FeaturePrep
    from metamat.models.meta.base import pool_features

    tasks = _tasks(data, True)
    torch.manual_seed(0)
    m = make_meta_model(name, hidden=(16,), embed_dim=8, inner_steps=2, encoder="cgcnn",
                        encoder_options={**data[0].to_dict(), "extra_dim": 2, "n_conv": 2, "n_gaussians": 12})
    m.prep_ = FeaturePrep(passthrough=HEADER).fit(pool_features(tasks, tail=2))
    m._build(m.prep_.n_features_in_)
    rng = np.random.default_rng(0)
    eps = [sample_episode(tasks[i], 6, n_query=10, rng=rng) for i in range(3)]
    batch = m.episode_tensors(eps)
    loss = m.batch_loss(*batch)
    single = [m.batch_loss(*m.episode_tensors([ep])) for ep in eps]
    assert len({ep.X_support.shape[1] for ep in eps}) > 1
    torch.testing.assert_close(loss, torch.stack(single).mean(), rtol=1e-5, atol=1e-6)
    params = [p for p in m.net_.parameters() if p.requires_grad]
    assert any(g.abs().sum() > 0 for g in torch.autograd.grad(loss, params))
