"""Campaign simulation metrics against exact references, and a smoke run on a synthetic pool."""

import numpy as np
import pytest

from metamat.active.acquisition import Goal
from metamat.evaluate.campaign import (
    Pool,
    experiments_to_find,
    pca_features,
    random_median_experiments,
    run_campaign,
    summarize,
    top_mask,
)


def test_random_median_exact():
    # one marked item in 10: P(found within t) = t/10, so the median is 5
    assert random_median_experiments(10, 1) == 5
    # two marked in 4: P(miss first draw) = 2/4, so the median is 1
    assert random_median_experiments(4, 2) == 1
    rng = np.random.default_rng(0)
    n, k = 300, 15
    sims = [int(np.flatnonzero(rng.permutation(n) < k)[0]) + 1 for _ in range(20000)]
    assert random_median_experiments(n, k) == pytest.approx(np.median(sims), abs=1)


def test_counts_and_top_mask():
    y = np.array([5.0, 1.0, 9.0, 3.0, 7.0])
    assert top_mask(y, Goal("max"), 0.2).tolist() == [False, False, True, False, False]
    assert top_mask(y, Goal("min"), 0.4).tolist() == [False, True, False, True, False]
    top = top_mask(y, Goal("max"), 0.2)
    assert experiments_to_find(np.array([1, 3, 2, 0]), top) == 3.0
    assert experiments_to_find(np.array([1, 3]), top) == float("inf")


def _pool(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = X[:, 0] + 0.5 * X[:, 1] ** 2
    return Pool("synthetic", X, pca_features(X, 5), y, Goal("max"))


def test_enhancement_of_random_is_about_one():
    pool = _pool()
    orders = np.array([np.random.default_rng(s).permutation(len(pool.y))[:40] for s in range(400)])
    s = summarize(pool, orders, budgets=(20, 40))
    assert s["enhancement_top5"]["20"]["enhancement"] == pytest.approx(1.0, abs=0.1)
    assert s["top5"]["median"] == pytest.approx(s["top5"]["random_median_exact"], abs=2)


@pytest.mark.slow
def test_gp_ei_beats_random_on_a_smooth_pool():
    pool = _pool()
    gp = np.array([run_campaign(pool, "gp_ei", 1, 25, 3, s) for s in range(4)])
    rnd = np.array([run_campaign(pool, "random", 1, 25, 3, s) for s in range(4)])
    assert (gp[:, :3] == rnd[:, :3]).all()  # same random starts per seed
    assert all(len(set(o)) == 25 for o in gp)  # nothing measured twice
    top = top_mask(pool.y, pool.goal, 0.05)
    assert np.median([experiments_to_find(o, top) for o in gp]) < random_median_experiments(200, int(top.sum()))
