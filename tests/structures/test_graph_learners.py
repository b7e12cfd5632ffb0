"""Every meta-learner meta-trains, adapts and round-trips with the crystal-graph encoder (encoder="cgcnn")."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from metamat.featurize.elements import load_element_table
from metamat.featurize.graphs import GraphLayout, graph_features, unpack_graph
from metamat.models.meta import make_meta_model
from metamat.models.meta.graph_encoder import CrystalGraphEncoder
from metamat.models.registry import load_model, save_model
from metamat.tasks.splits import sample_episode
from metamat.tasks.task import Task
from metamat.train.synthetic import random_crystal

torch.set_num_threads(1)

FAST = dict(steps=6, batch=3, k_min=5, k_max=10, n_query=12, eval_every=3, val_episodes=1, progress=False)
@pytest.fixture(scope="module")
def data():
    """Graph rows (+ 2 ordinary feature columns), formulas and descriptors of 160 rattled cells."""
    rng = np.random.default_rng(0)
    crystals, formulas = zip(*[random_crystal(rng) for _ in range(160)], strict=True)
    layout = GraphLayout.fit(crystals, cutoff=4.0, species_slots=1, headroom=1.1)
    G = graph_features(crystals, layout)
    g = unpack_graph(G, layout)
    inv = np.where(g["edge_mask"] > 0, 1.0 / np.where(g["distance"] > 0, g["distance"], 1.0), 0.0)
    mask = g["site_mask"]
    mean_inv = (inv.sum(-1) / np.maximum(g["edge_mask"].sum(-1), 1) * mask).sum(1) / mask.sum(1)
    vol = np.array([c.volume / c.n_sites for c in crystals])
    en = load_element_table().column("Electronegativity")[g["species"][..., 0].astype(int)]
    mean_en = np.where(mask > 0, en, 0.0).sum(1) / mask.sum(1)  # padded sites have Z = 0 (no element)
    extra = np.c_[mean_en, 10 * mask.sum(1)]  # ordinary features: mean electronegativity, site count
    descriptors = np.c_[vol, mean_inv, mean_en]
    return layout, G, extra, np.array(formulas, dtype=object), descriptors


def _tasks(data, with_extra: bool) -> list[Task]:
    layout, G, extra, formulas, desc = data
    X = np.c_[G, extra] if with_extra else G
    D = (desc - desc.mean(0)) / desc.std(0)
    rng = np.random.default_rng(1)
    tasks = []
    for t in range(4):
        rows = rng.choice(len(X), 70, replace=False)
        w = rng.normal(size=3) + np.array([1.0, -1.0, 0.0])  # volume per atom and 1/distance dominate
        y = 3.0 * t + D[rows] @ w + 0.05 * rng.normal(size=70)
        tasks.append(Task(f"struct_{t}", X[rows], y, formulas[rows], quantity=f"q{t}"))
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
    assert m.prep_.passthrough_ == layout.width
    ep = sample_episode(tasks[3], 10, n_query=25, rng=0)
    # the graph block reaches the encoder unchanged; the ordinary columns are standardized
    Z = m.prepare(ep.X_query).numpy()
    np.testing.assert_array_equal(Z[:, :layout.width], ep.X_query[:, :layout.width].astype(np.float32))
    if with_extra:
        assert np.abs(Z[:, layout.width:]).max() < 5
    mean, std = m.fit(ep.X_support, ep.y_support).predict(ep.X_query, return_std=True)
    assert mean.shape == std.shape == (len(ep.query),)
    assert np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)
    base = save_model(m, tmp_path / name)
    assert json.loads(base.with_suffix(".json").read_text())["params"]["encoder_options"]["max_sites"] == \
        layout.max_sites
    loaded = load_model(base)
    assert loaded.prep_.passthrough_ == layout.width
    m2, s2 = loaded.fit(ep.X_support, ep.y_support).predict(ep.X_query, return_std=True)
    np.testing.assert_allclose(m2, mean, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(s2, std, rtol=1e-6, atol=1e-9)


def test_graph_encoder_options_are_checked(data):
    tasks = _tasks(data, False)
    with pytest.raises(ValueError, match="max_sites"):
        make_meta_model("protonet", encoder="cgcnn").meta_fit(tasks[:2], None, **FAST)
    for sites, message in ((data[0].max_sites - 1, "in_dim"), (99, "leading raw columns")):  # wrong layout
        with pytest.raises(ValueError, match=message):
            make_meta_model("protonet", encoder="cgcnn", encoder_options={**data[0].to_dict(), "max_sites": sites}
                            ).meta_fit(tasks[:2], None, **FAST)
    with pytest.raises(ValueError, match="cannot set"):
        make_meta_model("protonet", encoder="cgcnn", encoder_options={**data[0].to_dict(), "out_dim": 3}
                        ).meta_fit(tasks[:2], None, **FAST)


@pytest.mark.parametrize("name", ["maml", "metasgd"])
def test_maml_task_loop_equals_vmap(name, data):
    """MAML loops over tasks for a graph encoder (sparse edges); the vmap (dense padded) loss and its second-order
    meta-gradient are the same."""
    from metamat.models.meta.base import PoolFeaturePrep, pool_features

    layout = data[0]
    tasks = _tasks(data, True)
    torch.manual_seed(0)
    m = make_meta_model(name, hidden=(16,), embed_dim=8, inner_steps=2, encoder="cgcnn",
                        encoder_options={**layout.to_dict(), "extra_dim": 2, "n_conv": 2, "n_gaussians": 12})
    m.prep_ = PoolFeaturePrep(passthrough=layout.width).fit(pool_features(tasks))
    m._build(m.prep_.n_features_in_)
    rng = np.random.default_rng(0)
    batch = m.episode_tensors([sample_episode(tasks[i], 6, n_query=10, rng=rng) for i in range(3)])
    params = [p for p in m.net_.parameters() if p.requires_grad]
    loop = m.batch_loss(*batch)
    vmapped = torch.func.vmap(m.task_loss, in_dims=(None, None, 0, 0, 0, 0))(m._params(), m._lrs(), *batch).mean()
    torch.testing.assert_close(loop, vmapped, rtol=1e-5, atol=1e-6)
    g_loop, g_vmap = torch.autograd.grad(loop, params), torch.autograd.grad(vmapped, params)
    assert any(g.abs().sum() > 0 for g in g_loop)
    for a, b in zip(g_loop, g_vmap, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5)
