"""Bootstrap CIs and the family-weighted few-shot summary."""

from __future__ import annotations

import numpy as np
import pytest

from metamat.evaluate.uncertainty import bootstrap_mean_ci, family_summary, hierarchical_ci


def test_bootstrap_ci_of_a_known_mean():
    # 400 values, half 0 and half 1: mean 0.5, standard error 0.5 / sqrt(400) = 0.025, so the 95% interval
    # is about 0.5 -+ 1.96 * 0.025 = [0.451, 0.549]
    v = np.array([0.0, 1.0] * 200)
    m, lo, hi = bootstrap_mean_ci(v, n_boot=4000, seed=3)
    assert m == 0.5
    assert lo == pytest.approx(0.451, abs=0.008) and hi == pytest.approx(0.549, abs=0.008)
    assert bootstrap_mean_ci([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)


def test_family_weighting_and_its_interval():
    # family A (one task at 1) and family B (two tasks at 3): family-weighted mean (1 + 3) / 2 = 2, not the
    # task mean 7/3. Resampling the two families gives means 1, 2 or 3 with probability 1/4, 1/2, 1/4, so
    # the 95% percentile interval is [1, 3].
    groups = {"A": {"t1": np.ones(4)}, "B": {"t2": np.full(4, 3.0), "t3": np.full(4, 3.0)}}
    assert hierarchical_ci(groups, n_boot=2000) == (2.0, 1.0, 3.0)


def test_family_summary_from_records():
    recs = [{"task": t, "model": "m", "k": 5, "episode": i, "metrics": {"smae": v}}
            for t, v in (("a", 1.0), ("b", 3.0), ("c", 3.0)) for i in range(3)]
    out = family_summary(recs, {"a": "A", "b": "B", "c": "B"}, metrics=("smae",), n_boot=200)
    assert out["summary"]["m"]["5"]["smae"]["mean"] == 2.0
    assert out["summary"]["m"]["5"]["smae"]["n_families"] == 2
    assert out["families"]["B"]["tasks"] == ["b", "c"]
    assert out["families"]["B"]["results"]["m"]["5"]["smae"]["mean"] == 3.0


def test_srmse_is_rmse_over_the_task_std():
    from metamat.evaluate.scoring import regression_scores
    from metamat.tasks.task import Task

    # y = 1, 2, 3, 4 (std sqrt(1.25)); predictions 1, 2, 3, 6: RMSE sqrt(4 / 4) = 1, so sRMSE = 1 / 1.1180
    task = Task(name="t", X=np.zeros((4, 1)), y=np.array([1.0, 2.0, 3.0, 4.0]),
                formulas=np.array(["Li", "Na", "K", "Rb"], dtype=object), units="u")
    out = regression_scores(task, np.arange(4), np.array([1.0, 2.0, 3.0, 6.0]))
    assert out["rmse"] == pytest.approx(1.0) and out["srmse"] == pytest.approx(1 / np.sqrt(1.25))
