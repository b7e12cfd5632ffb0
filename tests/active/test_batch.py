"""Batch selection: picks span distinct clusters of duplicates; batch=1 is the argmax."""

import numpy as np
import pytest

from metamat.active.acquisition import Goal, acquisition_values
from metamat.active.batch import select_batch
from metamat.models.baselines import make_model


def clustered_pool(seed=0, n_clusters=6, per=15):
    """Clusters of near-duplicate candidates; the target rises along feature 0, so the best cluster holds
    many equally attractive copies."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_clusters, 3)) * 3
    centers[:, 0] = np.arange(n_clusters) * 2.0
    X = np.repeat(centers, per, axis=0) + rng.normal(scale=1e-3, size=(n_clusters * per, 3))
    cluster = np.repeat(np.arange(n_clusters), per)
    return X, cluster


def f(X):
    return X[:, 0] + 0.1 * np.sin(X[:, 1])


@pytest.mark.parametrize("acq", ["ei", "ucb", "thompson"])
@pytest.mark.parametrize("fantasy", ["believer", "none"])
def test_batch_spans_distinct_clusters(acq, fantasy):
    X, cluster = clustered_pool()
    rng = np.random.default_rng(0)
    train = np.array([0, 15, 30])  # one measured member of each of the first three clusters
    cand = np.setdiff1d(np.arange(len(X)), train)
    sel = select_batch(make_model("gp", n_restarts=0), X[train], f(X[train]), X[cand], Goal("max"), acq, 4,
                       rng=rng, fantasy=fantasy)
    picked = cluster[cand[sel.indices]]
    assert len(set(picked.tolist())) == 4, picked


def test_without_diversity_duplicates_are_picked():
    """The control: plain top-k of the acquisition takes near-copies from one cluster (so the test above
    can fail)."""
    X, cluster = clustered_pool()
    train = np.array([0, 15, 30])
    cand = np.setdiff1d(np.arange(len(X)), train)
    sel = select_batch(make_model("gp", n_restarts=0), X[train], f(X[train]), X[cand], Goal("max"), "ucb", 4,
                       rng=np.random.default_rng(0), fantasy="none", diversity=False)
    assert len(set(cluster[cand[sel.indices]].tolist())) < 4


@pytest.mark.parametrize("acq,goal", [("ei", Goal("max")), ("pi", Goal("min")), ("ucb", Goal("max")),
                                      ("ei", Goal("range", 3.0, 5.0))])
def test_batch_of_one_is_argmax(acq, goal):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 4))
    y = X @ np.array([1.0, -0.5, 0.2, 0.0])
    model = make_model("gp", n_restarts=0)
    sel = select_batch(model, X[:12], y[:12], X[12:], goal, acq, 1, rng=rng)
    m, s = make_model("gp", n_restarts=0).fit(X[:12], y[:12]).predict(X[12:], return_std=True)
    ref = acquisition_values(acq, m, s, goal, goal.best(y[:12]))
    assert sel.indices.tolist() == [int(np.argmax(ref))]
    np.testing.assert_allclose(sel.acquisition, ref, rtol=1e-6, atol=1e-12)


def test_ineligible_never_picked():
    X, _ = clustered_pool()
    ok = np.zeros(len(X) - 3, bool)
    ok[:5] = True
    sel = select_batch(make_model("gp", n_restarts=0), X[:3], f(X[:3]), X[3:], Goal(), "ei", 8,
                       rng=np.random.default_rng(0), eligible=ok)
    assert sorted(sel.indices.tolist()) == [0, 1, 2, 3, 4]
