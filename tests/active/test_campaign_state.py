"""Campaign: state round trip through JSON, suggestions respect constraints and measured rows."""

import json

import numpy as np
import pytest

from metamat.active.campaign import Campaign
from metamat.active.constraints import Constraints
from metamat.errors import InputError

MEASURED = {"NaCl": 1.0, "KCl": 1.5, "NaBr": 0.8, "KBr": 1.2, "LiCl": 0.5, "LiBr": 0.3}


def test_round_trip(tmp_path):
    c = Campaign(target="y", goal="range:1..2", acquisition="ucb", model="gp", seed=7)
    c.add(list(MEASURED), list(MEASURED.values()))
    c.rounds.append({"suggested": ["RbCl"], "n_measured": 6})
    path = c.save(tmp_path / "state.json")
    raw = json.loads(path.read_text())
    assert raw["goal"] == "range:1..2" and len(raw["measurements"]) == 6
    d = Campaign.load(path)
    assert d.to_dict() == c.to_dict()
    assert d.goal.lo == 1 and d.goal.hi == 2 and d.values == list(MEASURED.values())
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left no temporary


def test_suggest_excludes_measured_and_constrained():
    c = Campaign(target="y", goal="max", model="gp").add(list(MEASURED), list(MEASURED.values()))
    cands = ["RbCl", "CsCl", "KCl", "RbBr", "CsBr", "LiI"]
    t = c.suggest(cands, batch=2, constraints=Constraints(exclude="Cs"))
    assert t["selected"].sum() == 2
    assert set(t.loc[t["selected"], "formula"]) <= {"RbCl", "RbBr", "LiI"}
    assert t.set_index("formula").loc["KCl", "excluded"] == "already measured"
    assert t["rank"].tolist() == list(range(1, 7))
    assert c.rounds[-1]["suggested"] == t.loc[t["selected"], "formula"].tolist()
    assert np.all((t["lower90"] <= t["prediction"]) & (t["prediction"] <= t["upper90"]))


def test_bad_state_and_values(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"version": 1, "goal": "max", "measurements": []}')
    with pytest.raises(InputError) as e:
        Campaign.load(p)
    assert e.value.field == "target"
    with pytest.raises(InputError) as e:
        Campaign(target="y").add(["NaCl", "KCl"], [1.0, float("nan")])
    assert e.value.row == 2 and e.value.field == "y"
