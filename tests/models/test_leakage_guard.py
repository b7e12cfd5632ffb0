"""Leakage guard: a pretrained model that saw the tested quantity is refused unless overridden."""

from __future__ import annotations

import pytest

from metamat.models.leakage import LeakageError, check_leakage, seen_quantities
from metamat.models.registry import training_info


def test_the_shipped_default_records_what_it_saw():
    info = training_info("default")
    names = {t["name"] for t in info["meta_train_tasks"]}
    assert "matbench_expt_gap" in names and "band gap" in seen_quantities(info)
    assert "yield strength" not in seen_quantities(info)


def test_refused_on_expt_gap_and_recorded_with_override():
    info = training_info("default")
    with pytest.raises(LeakageError, match="band gap"):
        check_leakage(info, "matbench_expt_gap", ["band gap"], model="pretrained")
    rec = check_leakage(info, "matbench_expt_gap", ["band gap"], model="pretrained", allow=True)
    assert rec["overlap"] == ["band gap"] and rec["override"] and rec["same_task_rows"] == 4604
    assert check_leakage(info, "matbench_steels", ["yield strength"], model="pretrained")["status"] == "clean"
    with pytest.raises(LeakageError, match="no training data"):
        check_leakage({}, "x", ["q"], model="pretrained:m")


def test_matbench_runner_refuses_before_loading_data():
    from metamat.evaluate.matbench_runner import run_matbench

    with pytest.raises(LeakageError, match="allow-leakage"):
        run_matbench("matbench_expt_gap", "pretrained", data_dir="/nonexistent")


@pytest.mark.slow
def test_bench_fewshot_refuses_pretrained_on_a_seen_quantity_and_records_the_override():
    import numpy as np

    from metamat.evaluate.running import run_episodes
    from metamat.tasks.task import Task

    rng = np.random.default_rng(0)
    formulas = np.array([f"Li{i + 1}O{i + 2}" for i in range(30)], dtype=object)
    task = Task(name="gap_like", X=rng.normal(size=(30, 148)), y=rng.normal(size=30), formulas=formulas,
                units="eV", quantity="band gap")
    with pytest.raises(LeakageError, match="band gap"):
        run_episodes([task], ["pretrained", "median"], shots=[5], episodes=1, policy="random")
    doc = run_episodes([task], ["pretrained", "median"], shots=[5], episodes=1, policy="random", allow_leakage=True)
    rec = doc["leakage"][0]
    assert rec["overlap"] == ["band gap"] and rec["override"] and rec["task"] == "gap_like"
    assert "median" in doc["summary_families"] and doc["families_method"]["family_of"] == {"gap_like": "band gap"}
    auto = run_episodes([task], ["auto"], shots=[5], episodes=1, policy="random", rf_trees=10)
    assert auto["leakage"][0]["model"] == "auto" and sum(auto["choices"]["auto"]["gap_like"]["5"].values()) == 1


def test_name_only_training_records_map_to_quantity_groups():
    """The shipped structure model lists task names only; the guard must still see its quantity groups
    (its JSON names the 2D exfoliation tasks, so an exfoliation-energy task overlaps; a Tc task does not
    unless it is listed)."""
    import json
    from pathlib import Path

    import metamat.pretrained as pretrained
    from metamat.models.leakage import overlap, seen_quantities

    info = json.loads((Path(pretrained.__file__).parent / "structure.json").read_text())["training"]
    assert "jdft2d:exfoliation_energy" in info["train_tasks"]
    assert "exfoliation energy" in seen_quantities(info)
    assert overlap(info, ["exfoliation energy"]) == ["exfoliation energy"]
    assert overlap({"train_tasks": ["perov5:heat_of_formation"]}, ["band gap"]) == []
    assert overlap({"train_tasks": ["perov5:heat_of_formation"]}, ["formation energy"]) == ["formation energy"]
