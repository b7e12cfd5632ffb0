"""``Campaign``: the measure -> update -> suggest loop as one object, with its state saved as JSON.

    c = Campaign(target="band_gap", goal="range:1.1..1.6", acquisition="ei", model="default")
    c.add(["GaAs", "ZnO"], [1.42, 3.37])
    table = c.suggest(["GaP", "InP", "CdTe"], batch=2)   # ranked candidates
    c.save("campaign.json"); c = Campaign.load("campaign.json")

The state file holds the settings, every measurement (formula, value, round) and every suggestion round;
it is written atomically (:func:`metamat.files.write_json`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metamat.active.acquisition import ACQUISITIONS, Goal, parse_goal
from metamat.active.constraints import Constraints
from metamat.active.ranking import rank_candidates
from metamat.errors import InputError, Problem
from metamat.files import write_json

STATE_VERSION = 1


@dataclass
class Campaign:
    """Settings plus the measurements so far; ``suggest`` refits the model each call."""

    target: str
    goal: Goal | str = "max"
    acquisition: str = "ei"
    model: str = "default"
    features: str = "composition"
    seed: int = 0
    formulas: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    rounds: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.goal = parse_goal(self.goal)
        if self.acquisition not in ACQUISITIONS:
            raise InputError(f"unknown acquisition {self.acquisition!r}; choose from {ACQUISITIONS}",
                             field="acquisition")

    # ------------------------------------------------------------------ measurements
    def add(self, formulas: Sequence[str] | str, values: Sequence[float] | float) -> Campaign:
        """Record measurements (formulas are checked; values must be finite)."""
        from metamat.data.compositions import parse_formulas

        formulas = [formulas] if isinstance(formulas, str) else list(formulas)
        values = np.atleast_1d(np.asarray(values, dtype=float)).tolist()
        if len(formulas) != len(values):
            raise InputError(f"{len(formulas)} formulas but {len(values)} values", field="values")
        parse_formulas(formulas, source="measurements", field="formula")  # raises on a bad formula
        bad = [Problem("value is not a finite number", "measurements", i + 1, self.target, v)
               for i, v in enumerate(values) if not np.isfinite(v)]
        if bad:
            raise InputError(problems=bad)
        self.formulas += formulas
        self.values += values
        return self

    @property
    def measured(self) -> pd.DataFrame:
        return pd.DataFrame({"formula": self.formulas, self.target: self.values})

    def best(self) -> tuple[str, float] | None:
        if not self.values:
            return None
        i = int(np.argmax(self.goal.score(np.asarray(self.values))))
        return self.formulas[i], self.values[i]

    # ------------------------------------------------------------------ suggestions
    def suggest(self, candidates: Sequence[str], batch: int = 5, *, goal: Goal | str | None = None,
                acquisition: str | None = None, constraints: Constraints | None = None,
                exclude_measured: bool = True) -> pd.DataFrame:
        """Ranked candidates (``formula`` + the columns of :data:`metamat.active.ranking.COLUMNS`).

        Candidates already measured are excluded (``exclude_measured``); unparsable ones raise.
        """
        from metamat.active.surrogate import auto_surrogate, make_surrogate
        from metamat.data.compositions import parse_formulas
        from metamat.featurize.pipeline import featurize_formulas

        if len(self.values) < 2:
            raise InputError(f"need at least 2 measurements to suggest, have {len(self.values)}", field=self.target)
        goal = parse_goal(goal) if goal is not None else self.goal
        acquisition = acquisition or self.acquisition
        candidates = list(candidates)
        X = featurize_formulas(self.formulas, self.features, source="measurements", field="formula").values
        Xc = featurize_formulas(candidates, self.features, source="candidates", field="formula").values
        y = np.asarray(self.values, float)
        reasons = np.full(len(candidates), "", dtype=object)
        if constraints is not None and constraints.active:
            _, why = constraints.check(parse_formulas(candidates).compositions)
            reasons = np.where(why == "", reasons, why)
        if exclude_measured:
            done = np.isin(np.asarray(candidates, dtype=object), np.asarray(self.formulas, dtype=object))
            reasons[done & (reasons == "")] = "already measured"
        if self.model == "auto":
            surrogate, name, note = auto_surrogate(X, y, seed=self.seed)
        else:
            surrogate, name, note = make_surrogate(self.model, self.seed), self.model, ""
        table = rank_candidates(surrogate, X, y, Xc, goal, acquisition, batch,
                                seed=self.seed + len(self.rounds), reasons=reasons)
        table.insert(0, "formula", candidates)
        table = table.sort_values("rank", kind="stable").reset_index(drop=True)
        self.rounds.append({"n_measured": len(y), "goal": str(goal), "acquisition": acquisition, "model": name,
                            "note": note, "suggested": table.loc[table["selected"], "formula"].tolist()})
        return table

    # ------------------------------------------------------------------ state
    def to_dict(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, "target": self.target, "goal": str(self.goal),
                "acquisition": self.acquisition, "model": self.model, "features": self.features,
                "seed": self.seed,
                "measurements": [{"formula": f, "value": v} for f, v in zip(self.formulas, self.values, strict=True)],
                "rounds": self.rounds}

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "campaign state") -> Campaign:
        if d.get("version") != STATE_VERSION:
            raise InputError(f"unsupported campaign state version {d.get('version')!r}", source=source,
                             field="version")
        missing = [k for k in ("target", "goal", "measurements") if k not in d]
        if missing:
            raise InputError(f"missing key(s) {missing}", source=source, field=missing[0])
        c = cls(target=d["target"], goal=d["goal"], acquisition=d.get("acquisition", "ei"),
                model=d.get("model", "default"), features=d.get("features", "composition"), seed=int(d.get("seed", 0)))
        if d["measurements"]:
            c.add([m["formula"] for m in d["measurements"]], [m["value"] for m in d["measurements"]])
        c.rounds = list(d.get("rounds", []))
        return c

    def save(self, path: str | os.PathLike) -> Path:
        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Campaign:
        try:
            d = json.loads(Path(path).read_text())
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc}", source=str(path)) from None
        return cls.from_dict(d, source=str(path))
