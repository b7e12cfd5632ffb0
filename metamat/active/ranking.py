"""Rank candidates for the next experiments: one table with prediction, interval, acquisition, P(goal)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from metamat.active.acquisition import Goal
from metamat.active.batch import select_batch

COLUMNS = ("rank", "selected", "prediction", "std", "lower90", "upper90", "acquisition", "p_goal", "excluded")


def rank_candidates(model, X: np.ndarray, y: np.ndarray, Xc: np.ndarray, goal: Goal, acquisition: str = "ei",
                    batch: int = 5, *, seed: int = 0, reasons: np.ndarray | None = None,
                    fantasy: str = "believer") -> pd.DataFrame:
    """A frame over the candidates (input order) with the columns of :data:`COLUMNS`.

    The ``batch`` picks get ranks 1..batch in pick order (``selected``); the other eligible candidates follow
    by acquisition value; candidates excluded by a constraint (``reasons[i] != ''``) are ranked last and
    say why in ``excluded``. ``p_goal`` is P(y > best measured) (max), P(y < best) (min) or P(LO <= y <= HI).
    """
    n = len(Xc)
    reasons = np.full(n, "", dtype=object) if reasons is None else np.asarray(reasons, dtype=object)
    eligible = reasons == ""
    sel = select_batch(model, X, y, Xc, goal, acquisition, batch, rng=np.random.default_rng(seed),
                       fantasy=fantasy, eligible=eligible)
    picked = np.zeros(n, bool)
    picked[sel.indices] = True
    order_rest = np.lexsort((-np.nan_to_num(sel.acquisition, nan=-np.inf), ~eligible))
    order = np.concatenate([sel.indices, order_rest[~picked[order_rest]]])
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(1, n + 1)
    return pd.DataFrame({"rank": rank, "selected": picked, "prediction": sel.mean, "std": sel.std,
                         "lower90": sel.lower, "upper90": sel.upper, "acquisition": sel.acquisition,
                         "p_goal": sel.p_goal, "excluded": reasons})
