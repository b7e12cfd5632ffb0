"""Meta-learners plug into the few-shot evaluator through ModelSpec(factory=MetaModelFactory(...))."""

from __future__ import annotations

import pickle

import torch

from metamat.evaluate import running
from metamat.evaluate.model_specs import ModelSpec
from metamat.models.meta import make_meta_model
from metamat.models.meta.registry import MetaModelFactory, get_meta_model
from metamat.models.registry import save_model
from metamat.train.synthetic import synthetic_tasks

torch.set_num_threads(1)


def test_factory_in_evaluator(tmp_path):
    tasks = synthetic_tasks(n_tasks=4, n_rows=90, seed=11)
    m = make_meta_model("dkgp", hidden=(16,), embed_dim=8).meta_fit(
        tasks[:3], None, steps=8, batch=3, k_min=5, k_max=10, n_query=16, progress=False)
    path = save_model(m, tmp_path / "m")
    factory = pickle.loads(pickle.dumps(MetaModelFactory(str(path))))
    assert get_meta_model(str(path)).get_params()["embed_dim"] == 8
    spec = ModelSpec("dkgp", factory=factory)
    # synthetic task 3 shares quantity group 'synthetic-0' with training task 0: the leakage guard refuses
    # it unless overridden (and records the override)
    res = running.run_episodes(tasks[3:], [spec, "dummy"], shots=(5,), episodes=2, min_systems=1,
                                    max_query=30, allow_leakage=True)
    assert res["leakage"][0]["overlap"] == ["synthetic-0"] and res["leakage"][0]["override"]
    assert not res["failures"]
    assert res["summary"]["dkgp"]["5"]["smae"]["n_episodes"] == 2
