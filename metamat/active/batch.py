"""Batch selection that does not pick near-duplicates.

Two mechanisms, combined:

- **Kriging believer / constant liar** (Ginsbourger et al. 2010): after each pick the model is refitted
  with a fantasized measurement at the picked candidate (its predicted mean, ``"believer"``; or the worst
  value measured so far, ``"liar"``), so its uncertainty and improvement there collapse before the next
  pick. ``"none"`` skips refitting (fast; only the diversity term then separates the picks).
- **Local penalization in feature space** (after González et al., AISTATS 2016): the acquisition of every
  candidate is multiplied by ``prod_s (1 - exp(-d(x, x_s)^2 / (2 r^2)))`` over the picks ``x_s`` so far
  (standardized features; ``r`` defaults to ``radius_fraction`` x the median pairwise distance of the
  pool). Exact duplicates of a pick get zero. This also covers models whose spread does not collapse at a
  refitted point (a random forest's bootstrap spread).

With ``batch=1`` the pick is the argmax of the acquisition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metamat.active.acquisition import Goal, acquisition_values, posterior_samples, probability_of_goal

FANTASIES = ("believer", "liar", "none")


@dataclass(frozen=True)
class BatchSelection:
    """``indices``: the picked candidates in pick order. The arrays are over all candidates, from the model
    fitted on the measured rows only (before any fantasy): mean, std, 90% interval, acquisition, P(goal)."""

    indices: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    acquisition: np.ndarray
    p_goal: np.ndarray
    best: float


def standardized(X_ref: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Standardize by the columns of ``X_ref`` (NaN -> 0, constant columns -> 0)."""
    mu = np.nanmean(X_ref, axis=0)
    sd = np.nanstd(X_ref, axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return [np.nan_to_num((np.asarray(a, float) - mu) / sd) for a in (X_ref, *others)]


def median_distance(Z: np.ndarray, rng: np.random.Generator, n: int = 500) -> float:
    """Median pairwise Euclidean distance of (at most ``n`` random) rows of ``Z``."""
    sub = Z[rng.choice(len(Z), size=min(n, len(Z)), replace=False)]
    sq = np.sum(sub**2, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * sub @ sub.T, 0.0)
    iu = np.triu_indices(len(sub), 1)
    med = float(np.median(np.sqrt(d2[iu]))) if len(iu[0]) else 1.0
    return med if med > 0 else 1.0


def select_batch(model, X_train: np.ndarray, y_train: np.ndarray, X_cand: np.ndarray, goal: Goal,
                 acquisition: str = "ei", batch: int = 5, *, rng: np.random.Generator,
                 fantasy: str = "believer", diversity: bool = True, radius: float | None = None,
                 radius_fraction: float = 0.1, eligible: np.ndarray | None = None, xi: float = 0.0,
                 kappa: float = 2.0, level: float = 0.9) -> BatchSelection:
    """Fit ``model`` on the measured rows and pick ``batch`` candidates (see module docstring).

    ``eligible`` (bool over candidates) excludes candidates that fail constraints; they are never picked but
    still get predictions. Fewer than ``batch`` indices come back if fewer candidates are eligible.
    """
    if fantasy not in FANTASIES:
        raise ValueError(f"fantasy must be one of {FANTASIES}")
    X_train, y_train, X_cand = np.asarray(X_train, float), np.asarray(y_train, float), np.asarray(X_cand, float)
    n = len(X_cand)
    ok = np.ones(n, bool) if eligible is None else np.asarray(eligible, bool).copy()
    model.fit(X_train, y_train)
    mean, std, lower, upper = (np.asarray(a, float) for a in model.predict_dist(X_cand, level=level))
    best = goal.best(y_train)
    p_goal = probability_of_goal(mean, std, goal, best)
    thompson = acquisition.lower() == "thompson"
    draws = posterior_samples(model, X_cand, max(batch, 1), rng) if thompson else None
    acq0 = acquisition_values(acquisition, mean, std, goal, best, xi=xi, kappa=kappa, rng=rng,
                              samples=None if draws is None else draws[:1])
    if diversity and batch > 1:
        _, Zc = standardized(np.vstack([X_train, X_cand]), X_cand)
        r = radius if radius is not None else radius_fraction * median_distance(Zc, rng)
        penalty = np.ones(n)
    picks: list[int] = []
    acq, Xf, yf = acq0, X_train, y_train
    for b in range(batch):
        if not ok.any():
            break
        if b > 0:
            if thompson:
                acq = acquisition_values("thompson", mean, std, goal, best, rng=rng,
                                         samples=None if draws is None else draws[b:b + 1])
            elif fantasy != "none":
                # believer: the predicted mean; liar: the worst value measured so far
                lie = mean[picks[-1]] if fantasy == "believer" else float(y_train[np.argmin(goal.score(y_train))])
                Xf, yf = np.vstack([Xf, X_cand[picks[-1]]]), np.append(yf, lie)
                model.fit(Xf, yf)
                m2, s2 = model.predict(X_cand, return_std=True)
                acq = acquisition_values(acquisition, m2, s2, goal, goal.best(yf), xi=xi, kappa=kappa, rng=rng)
        score = np.asarray(acq, float)
        if diversity and batch > 1 and picks:
            d2 = np.sum((Zc - Zc[picks[-1]]) ** 2, axis=1)
            penalty *= 1.0 - np.exp(-d2 / (2 * r * r))
            lo = np.min(score[ok])
            score = (score - lo + 1e-12 * (1.0 + abs(lo))) * penalty
        score = np.where(ok, score, -np.inf)
        j = int(np.argmax(score))
        if not np.isfinite(score[j]) or (b > 0 and score[j] <= 0 and diversity):
            # everything left is a duplicate of a pick: fall back to the plain acquisition
            score = np.where(ok, np.asarray(acq, float), -np.inf)
            j = int(np.argmax(score))
        picks.append(j)
        ok[j] = False
    if fantasy != "none" and batch > 1 and not thompson:
        model.fit(X_train, y_train)  # leave the model as fitted on the real measurements
    return BatchSelection(np.asarray(picks, dtype=np.int64), mean, std, lower, upper, np.asarray(acq0, float),
                          p_goal, best)
