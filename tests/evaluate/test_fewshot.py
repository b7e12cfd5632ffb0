"""Few-shot evaluator: aggregation by hand, metric definitions, episode determinism, schema, failures."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from metamat.errors import InputError
from metamat.evaluate import episodes, reporting, running, scoring
from metamat.evaluate.model_specs import ModelSpec
from metamat.tasks.task import Episode, Task

ELEMENTS = ["Li", "Na", "K", "Mg", "Ca", "Sr", "Fe", "Co", "Ni", "Cu", "Zn", "Al", "Ga", "Ti", "Zr", "Nb"]


def synthetic_task(name: str = "synth", n: int = 240, transform: str = "identity", kind: str = "regression",
                   n_elements: int = len(ELEMENTS), seed: int = 0) -> Task:
    """Binary oxides A_x B_y O_z over ``n_elements`` cations; y depends smoothly on the features."""
    rng = np.random.default_rng(seed)
    els = ELEMENTS[:n_elements]
    formulas = []
    for _ in range(n):
        a, b = rng.choice(els, 2, replace=False)
        formulas.append(f"{a}{rng.integers(1, 4)}{b}{rng.integers(1, 4)}O{rng.integers(1, 6)}")
    X = rng.normal(size=(n, 6))
    signal = X @ np.array([1.0, -0.5, 0.3, 0.0, 0.0, 0.2]) + 0.1 * rng.normal(size=n)
    if kind == "classification":
        y = (signal > 0).astype(float)
    elif transform == "log10":
        y = 10.0 ** (1.0 + 0.5 * signal)
    else:
        y = 50.0 + 20.0 * signal
    return Task(name=name, X=X, y=y, formulas=np.array(formulas, dtype=object), kind=kind, units="u",
                transform=transform)


# ------------------------------------------------------------------------------------------ aggregation
def test_aggregate_by_hand():
    records = [{"task": "a", "model": "m", "k": 5, "episode": i, "metrics": {"mae": v, "r2": r}}
               for i, (v, r) in enumerate([(1.0, 0.5), (2.0, float("nan")), (3.0, 0.7)])]
    records.append({"task": "a", "model": "m", "k": 5, "episode": 3, "error": "boom"})  # ignored
    out = scoring.aggregate(records)
    cell = out["a"]["m"]["5"]["mae"]
    half = stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)  # std(ddof=1) of [1, 2, 3] is 1
    assert cell["mean"] == pytest.approx(2.0)
    assert cell["ci_low"] == pytest.approx(2.0 - half)
    assert cell["ci_high"] == pytest.approx(2.0 + half)
    assert cell["n"] == 3
    r2 = out["a"]["m"]["5"]["r2"]  # the NaN episode is left out
    assert r2["n"] == 2 and r2["mean"] == pytest.approx(0.6)


def test_summary_averages_tasks_per_episode():
    vals = {"a": [1.0, 2.0, 3.0], "b": [3.0, 4.0, 8.0]}
    records = [{"task": t, "model": "m", "k": 10, "episode": i, "metrics": {"smae": v, "mae": 100 * v}}
               for t, vs in vals.items() for i, v in enumerate(vs)]
    # a classification-only metric on one task: averaged over the tasks that have it
    records.append({"task": "c", "model": "m", "k": 10, "episode": 0, "metrics": {"roc_auc": 0.8}})
    out = scoring.summarize(records)
    per_episode = np.array([2.0, 3.0, 5.5])
    m, lo, hi = per_episode.mean(), *stats.t.interval(0.95, 2, per_episode.mean(), stats.sem(per_episode))
    cell = out["m"]["10"]["smae"]
    assert (cell["mean"], cell["ci_low"], cell["ci_high"]) == pytest.approx((m, lo, hi))
    assert cell["n_tasks"] == 2 and cell["n_episodes"] == 3
    assert "mae" not in out["m"]["10"]  # not scale-free: never averaged across tasks
    assert out["m"]["10"]["roc_auc"]["n_tasks"] == 1


# ------------------------------------------------------------------------------------------- metrics
def test_log10_task_metrics_follow_their_definitions():
    task = synthetic_task(transform="log10", n=60)
    rows = np.arange(10, 40)
    rng = np.random.default_rng(1)
    z_mu = task.y_model[rows] + rng.normal(0, 0.2, len(rows))
    z_s = np.full(len(rows), 0.25)
    out = scoring.regression_scores(task, rows, z_mu, z_s)
    y, z = task.y[rows], task.y_model[rows]
    assert out["mae"] == pytest.approx(np.mean(np.abs(y - 10**z_mu)))  # original units, median prediction
    assert out["mae_log10"] == pytest.approx(np.mean(np.abs(z - z_mu)))
    z_all = task.y_model  # the MAD is the task's, in log10 units
    assert out["smae"] == pytest.approx(out["mae_log10"] / np.mean(np.abs(z_all - z_all.mean())))
    # NLL = log-normal density of y in original units
    lognormal = stats.lognorm(s=z_s * np.log(10), scale=10**z_mu)
    assert out["nll"] == pytest.approx(-np.mean(lognormal.logpdf(y)))
    # coverage in model space = share inside the exact 90% log-normal interval in original units
    lo, hi = lognormal.ppf(0.05), lognormal.ppf(0.95)
    assert out["coverage90"] == pytest.approx(np.mean((y >= lo) & (y <= hi)))
    assert out["n_query"] == len(rows)


def test_identity_task_smae_uses_task_mad():
    task = synthetic_task(n=50)
    rows = np.arange(20)
    out = scoring.regression_scores(task, rows, task.y[rows] + 3.0)
    assert out["mae"] == pytest.approx(3.0)
    assert out["smae"] == pytest.approx(3.0 / task.mad)
    assert "nll" not in out  # no std, no probabilistic metrics


class ZeroModel:
    """Predicts 0 (the support mean after standardization) with std 1, and records what it was fitted on."""

    seen: list[np.ndarray] = []

    def fit(self, X, y):
        ZeroModel.seen.append(np.asarray(y).copy())
        return self

    def predict(self, X, return_std=False):
        return (np.zeros(len(X)), np.ones(len(X))) if return_std else np.zeros(len(X))


def zero_factory(kind, seed):
    return ZeroModel()


def test_model_is_fitted_on_support_standardized_targets_and_mapped_back():
    task = synthetic_task(transform="log10")
    ep = episodes.make_episode(task, 10, 0, seed=3)
    ZeroModel.seen.clear()
    out = scoring.score_model(ZeroModel(), ep)
    assert np.allclose(ZeroModel.seen[0], ep.y_support_fit) and len(ZeroModel.seen[0]) == 10
    assert ZeroModel.seen[0].mean() == pytest.approx(0.0, abs=1e-12)
    support_log_mean = task.y_model[ep.support].mean()  # standardized 0 -> support mean in log10 space
    assert out["mae_log10"] == pytest.approx(np.mean(np.abs(task.y_model[ep.query] - support_log_mean)))
    assert out["mean_std"] == pytest.approx(task.y_model[ep.support].std())  # std 1 -> support std


# ------------------------------------------------------------------------------------------- episodes
def test_episodes_are_deterministic_and_shared():
    task = synthetic_task()
    a = episodes.make_episode(task, 5, 7, seed=1, max_query=50)
    b = episodes.make_episode(task, 5, 7, seed=1, max_query=50)
    c = episodes.make_episode(task, 5, 8, seed=1, max_query=50)
    assert np.array_equal(a.support, b.support) and np.array_equal(a.query, b.query)
    assert not np.array_equal(a.support, c.support)
    assert len(a.query) == 50
    # chemical-system policy: no query material shares a chemical system with the support
    assert not set(task.system_codes[a.query]) & set(task.system_codes[a.support])


@pytest.mark.slow  # over 5 s (measured with --durations)
def test_results_do_not_depend_on_other_tasks_or_workers():
    a, b = synthetic_task("a", seed=0), synthetic_task("b", seed=1)
    kw = {"shots": [5, 10], "episodes": 4, "seed": 2, "max_query": 40}
    both = running.run_episodes([a, b], ["dummy", "ridge"], **kw)
    alone = running.run_episodes([a], ["ridge"], **kw)
    assert both["results"]["a"]["ridge"] == alone["results"]["a"]["ridge"]
    parallel = running.run_episodes([a, b], ["dummy", "ridge"], n_jobs=2, chunk_size=2, **kw)
    assert parallel["results"] == both["results"] and parallel["summary"] == both["summary"]


def test_degenerate_chemical_system_policy_falls_back_to_random():
    few = synthetic_task("few", n_elements=4)  # 6 element pairs = 6 chemical systems
    doc = running.run_episodes([few], ["dummy"], shots=[5], episodes=2, min_systems=30)
    assert doc["tasks"]["few"]["policy"] == "random"
    assert doc["tasks"]["few"]["n_chemical_systems"] == 6
    many = running.run_episodes([synthetic_task()], ["dummy"], shots=[5], episodes=2)
    assert many["tasks"]["synth"]["policy"] == "chemical_system"


# ----------------------------------------------------------------------------------------- the document
def test_document_schema_and_json(tmp_path):
    doc = running.run_episodes([synthetic_task("a"), synthetic_task("b", transform="log10", seed=4)],
                              ["dummy", "rf"], shots=[5, 20], episodes=3, max_query=30, rf_trees=10,
                              keep_records=True)
    assert doc["schema_version"] == running.SCHEMA_VERSION and doc["kind"] == "fewshot"
    assert {"models", "tasks", "shots", "episodes", "seed", "policy", "max_query", "versions",
            "model_kwargs"} <= set(doc["config"])
    assert doc["config"]["model_kwargs"]["rf"] == {"n_estimators": 10, "n_jobs": 1}
    assert set(doc["tasks"]["b"]) >= {"n", "units", "quantity", "transform", "mad", "mad_model", "policy"}
    cell = doc["results"]["b"]["rf"]["20"]
    for metric in ("mae", "rmse", "r2", "smae", "mae_log10", "nll", "coverage90", "calibration_error"):
        assert set(cell[metric]) == {"mean", "ci_low", "ci_high", "n"}
        assert cell[metric]["n"] == 3
    assert "mae_log10" not in doc["results"]["a"]["rf"]["20"]
    assert set(doc["summary"]["rf"]["5"]) == {"smae", "srmse", "coverage90", "interval_coverage90",
                                              "calibration_error"}
    assert doc["summary"]["rf"]["5"]["smae"]["n_tasks"] == 2
    paths = reporting.write_benchmark(doc, tmp_path / "out")
    names = {p.name for p in paths}
    assert {"results.json", "episodes.csv.gz", "summary.md", "fewshot_smae.png", "fewshot_coverage90.png"} <= names
    summary = (tmp_path / "out" / "summary.md").read_text()  # the README promises it: the tables of results.json
    rf = doc["summary"]["rf"]["5"]["smae"]
    assert f"| rf | {rf['mean']:.3f} [{rf['ci_low']:.3f}, {rf['ci_high']:.3f}] |" in summary
    assert "## b (n=" in summary and "## a (n=" in summary
    back = json.loads((tmp_path / "out" / "results.json").read_text())
    assert back["results"]["a"]["dummy"]["5"]["smae"]["n"] == 3
    assert "episodes" not in back
    header, rows = reporting.table_rows(doc, "smae")
    assert header == ["model", "k=5", "k=20"] and [r[0] for r in rows] == ["dummy", "rf"]


def test_classification_task_uses_classifiers():
    task = synthetic_task("cls", kind="classification")
    doc = running.run_episodes([task], ["dummy", "rf"], shots=[10], episodes=3, rf_trees=10)
    cell = doc["results"]["cls"]["rf"]["10"]
    assert {"roc_auc", "accuracy", "balanced_accuracy", "log_loss"} <= set(cell)
    assert doc["results"]["cls"]["dummy"]["10"]["roc_auc"]["mean"] == pytest.approx(0.5)
    assert cell["roc_auc"]["mean"] > 0.7
    assert "roc_auc" in doc["summary"]["rf"]["10"]
    with pytest.raises(InputError, match="classifier"):
        running.run_episodes([task], ["gbm"], shots=[5], episodes=1)


def failing_factory(kind, seed):
    raise RuntimeError("cannot fit")


def test_failures_are_recorded_not_fatal():
    doc = running.run_episodes([synthetic_task()], [ModelSpec("broken", factory=failing_factory), "dummy"],
                              shots=[5], episodes=2)
    assert len(doc["failures"]) == 2 and "cannot fit" in doc["failures"][0]["error"]
    assert doc["results"]["synth"]["dummy"]["5"]["mae"]["n"] == 2
    assert "broken" not in doc["results"]["synth"]


def test_episode_that_cannot_be_drawn_is_skipped():
    tiny = synthetic_task("tiny", n=8)
    doc = running.run_episodes([tiny], ["dummy"], shots=[20], episodes=2, policy="random")
    assert len(doc["skipped"]) == 2 and "cannot draw" in doc["skipped"][0]["reason"]


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"models": ["nope"]}, "--models"),
    ({"shots": [0]}, "--shots"),
    ({"policy": "bogus"}, "--policy"),
    ({"episodes": 0}, "--episodes"),
])
def test_bad_arguments_name_the_option(kwargs, field):
    args = {"models": ["dummy"], "shots": [5], "episodes": 1, **kwargs}
    with pytest.raises(InputError) as info:
        running.run_episodes([synthetic_task()], args.pop("models"), **args)
    assert info.value.field == field
    if field == "--models":
        assert "ridge" in str(info.value)  # the valid names are listed


def test_parse_int_list():
    assert running.parse_int_list("5, 10,20", "--shots") == [5, 10, 20]
    with pytest.raises(InputError, match="--shots"):
        running.parse_int_list("5,x", "--shots")


def test_episode_scaler_never_sees_query_targets():
    task = synthetic_task()
    ep = episodes.make_episode(task, 5, 0)
    changed = np.where(np.isin(np.arange(len(task)), ep.query), 1e9, task.y)  # query targets replaced
    other = Task(name=task.name, X=task.X, y=changed, formulas=task.formulas, units=task.units)
    ep2 = Episode(other, ep.support, ep.query)
    assert np.allclose(ep.y_support_fit, ep2.y_support_fit)
    assert ep.scaler.mean_ == pytest.approx(ep2.scaler.mean_)


def test_baseline_factory_labels_one_baseline_with_options():
    from metamat.evaluate.model_specs import BaselineFactory

    reg = BaselineFactory("rf", n_estimators=7)("regression", 3)
    clf = BaselineFactory("rf", n_estimators=7)("classification", 3)
    assert reg.get_params()["n_estimators"] == 7 and type(reg) is not type(clf)
