"""MAML / FOMAML / ANIL / Meta-SGD: the torch.func meta-gradient equals a plain autograd loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metamat.models.meta import make_meta_model
from metamat.tasks.splits import sample_episode
from metamat.train.synthetic import synthetic_tasks

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tasks():
    return synthetic_tasks(n_tasks=5, n_rows=100, seed=3)


def _built(name, tasks, **kw):
    from metamat.models.base import FeaturePrep
    from metamat.models.meta.base import pool_features

    torch.manual_seed(0)
    m = make_meta_model(name, hidden=(16,), embed_dim=8, inner_steps=3, inner_lr=0.1, **kw)
    m.prep_ = FeaturePrep().fit(pool_features(tasks))
    m._build(m.prep_.n_features_in_)
    if m.meta_sgd:  # make per-entry rates differ, so the test sees them
        with torch.no_grad():
            for p in m.net_.log_lr.values():
                p.add_(0.3 * torch.randn_like(p))
    return m


def _reference_loss(m, xs, ys, xq, yq):
    """The same objective with a Python loop over tasks and torch.autograd.grad(create_graph=...)."""
    body = m.net_.body
    names = [n for n, _ in body.named_parameters()]
    total = 0.0
    for b in range(len(xs)):
        params = dict(body.named_parameters())
        lrs = m._lrs()
        shift = torch.func.functional_call(body, params, (xs[b],))[:, 0].mean()
        params["head.bias"] = params["head.bias"] - torch.stack([shift, torch.zeros_like(shift)])
        for _ in range(m.inner_steps):
            # fresh graph nodes: the inner gradient is taken at the shifted start, not through the shift itself
            params = {n: p * 1.0 for n, p in params.items()}
            out = torch.func.functional_call(body, params, (xs[b],))
            loss = (2.0 * torch.nn.functional.huber_loss(out[:, 0], ys[b], delta=1.0) if m.inner_loss == "huber"
                    else ((out[:, 0] - ys[b]) ** 2).mean())
            adapt = [n for n in names if n in lrs]
            grads = torch.autograd.grad(loss, [params[n] for n in adapt], create_graph=not m.first_order,
                                        retain_graph=True)
            if m.first_order:
                grads = [g.detach() for g in grads]
            norm = torch.sqrt(sum((g * g).sum() for g in grads))
            grads = [g * torch.clamp(m.inner_clip / (norm + 1e-12), max=1.0) for g in grads]
            params = {**params, **{n: params[n] - lrs[n] * g for n, g in zip(adapt, grads, strict=True)}}
        out = torch.func.functional_call(body, params, (xq[b],))
        mean, std = out[:, 0], torch.exp(out[:, 1].clamp(-5.0, 3.0))
        dist = (torch.distributions.Laplace(mean, std / np.sqrt(2.0)) if m.query_loss == "laplace"
                else torch.distributions.Normal(mean, std))
        total = total - dist.log_prob(yq[b]).mean()
    return total / len(xs)


@pytest.mark.parametrize(("name", "query_loss", "inner_loss"),
                         [("maml", "gaussian", "mse"), ("fomaml", "gaussian", "mse"), ("anil", "gaussian", "mse"),
                          ("metasgd", "gaussian", "mse"), ("metasgd", "laplace", "mse"),
                          ("metasgd", "laplace", "huber"), ("fomaml", "laplace", "huber")])
def test_meta_gradient_matches_autograd_loop(name, query_loss, inner_loss, tasks):
    m = _built(name, tasks, query_loss=query_loss, inner_loss=inner_loss)
    rng = np.random.default_rng(0)
    eps = [sample_episode(tasks[i], 8, n_query=20, rng=rng) for i in range(4)]
    batch = m.episode_tensors(eps)
    params = [p for p in m.net_.parameters() if p.requires_grad]
    g_func = torch.autograd.grad(m.batch_loss(*batch), params)
    g_ref = torch.autograd.grad(_reference_loss(m, *batch), params, allow_unused=True)
    assert any(g.abs().sum() > 0 for g in g_func)
    for a, b in zip(g_func, g_ref, strict=True):
        torch.testing.assert_close(a, torch.zeros_like(a) if b is None else b, rtol=1e-4, atol=1e-6)


def test_second_order_differs_from_first_order(tasks):
    rng = np.random.default_rng(1)
    eps = [sample_episode(tasks[i], 8, n_query=20, rng=rng) for i in range(3)]
    g = {}
    for name in ("maml", "fomaml"):
        m = _built(name, tasks)
        enc = m.net_.body.encoder.net[0].weight
        g[name] = torch.autograd.grad(m.batch_loss(*m.episode_tensors(eps)), enc)[0]
    assert not torch.allclose(g["maml"], g["fomaml"])


def test_laplace_query_loss_is_the_laplace_nll_with_the_predicted_std(tasks):
    """Hand value: zero adaptation, so the loss is the Laplace NLL of the raw network output, scale std/sqrt 2."""
    m = _built("metasgd", tasks, query_loss="laplace")
    m.inner_steps = 0
    rng = np.random.default_rng(2)
    xs, ys, xq, yq = m.episode_tensors([sample_episode(tasks[0], 8, n_query=20, rng=rng)])
    with torch.no_grad():
        out = m.net_.body(xq[0]).double()
        shift = m.net_.body(xs[0])[:, 0].double().mean()
        mu, b = out[:, 0] - shift, np.exp(out[:, 1].clamp(-5, 3).numpy()) / np.sqrt(2.0)
        expected = np.mean(np.log(2 * b) + np.abs(yq[0].double().numpy() - mu.numpy()) / b)
        assert float(m.batch_loss(xs, ys, xq, yq)) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="query_loss"):
        _built("metasgd", tasks, query_loss="cauchy")
    with pytest.raises(ValueError, match="inner_loss"):
        _built("metasgd", tasks, inner_loss="l1")


@pytest.mark.parametrize("name", ["maml", "anil"])
def test_maml_interface_and_learning(name, tasks):
    m = make_meta_model(name, hidden=(32,), embed_dim=16, inner_steps=3)
    m.meta_fit(tasks[:4], tasks[4:], steps=40, batch=4, k_min=5, k_max=15, n_query=24, eval_every=20,
               val_episodes=2, progress=False)
    ep = sample_episode(tasks[4], 10, n_query=40, rng=0)
    mean, std = m.fit(ep.X_support, ep.y_support).predict(ep.X_query, return_std=True)
    assert mean.shape == std.shape == (len(ep.query),) and np.all(std > 0) and np.all(np.isfinite(mean))
    # adaptation moves the predictions toward the support
    before = m.net_.body.head.bias.detach().clone()
    m.fit(ep.X_support, ep.y_support + 1000.0)
    assert np.allclose(m.predict(ep.X_query), mean + 1000.0, rtol=1e-5)
    torch.testing.assert_close(m.net_.body.head.bias, before)  # meta-parameters untouched by fit
