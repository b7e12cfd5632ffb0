"""Inverse design in composition space: which fractions of the given elements most likely meet the goal.

Small spaces are enumerated exactly: every composition on the fraction grid (multiples of ``step``, summing
to 1, at most ``max_elements`` non-zero) is built as one numpy array, featurized as one matrix (in chunks)
and scored. Larger spaces are searched by an evolutionary local search over fractions (elites kept,
mutations move one grid step or more of fraction between two elements, crossovers average two parents;
everything snapped back onto the grid), seeded with the measured compositions that lie in the space.

Candidates are ranked by P(goal) under the model fitted on the measured rows: P(y > best measured) for
``max``, P(y < best) for ``min``, P(LO <= y <= HI) for a range. ``constraints`` (a
:class:`~metamat.active.constraints.Constraints`, whose ``filters`` hook takes e.g. charge-neutrality
filters) removes compositions before scoring.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from math import comb

import numpy as np
import pandas as pd

from metamat.active.acquisition import Goal, probability_of_goal
from metamat.active.constraints import Constraints
from metamat.data.compositions import compositions_from_dense
from metamat.data.formula import ATOMIC_NUMBER, format_formula
from metamat.errors import InputError

MAX_GRID = 300_000


@dataclass
class DesignResult:
    """Ranked designs; ``method`` is ``"enumeration"`` or ``"evolutionary search"``; ``evaluated`` counts
    the compositions scored."""

    table: pd.DataFrame
    method: str
    evaluated: int
    notes: list[str] = field(default_factory=list)


def check_step(step: float) -> int:
    """Grid points per unit fraction (``1 / step``); raises unless ``step`` divides 1 and is in (0, 0.5]."""
    n = round(1 / step) if step > 0 else 0
    if not 0 < step <= 0.5 or abs(n * step - 1) > 1e-9:
        raise InputError(f"step must divide 1 and be at most 0.5 (e.g. 0.02, 0.05, 0.1), got {step}", field="--step")
    return n


def grid_size(n_elements: int, step: float) -> int:
    """Number of compositions of ``n_elements`` elements on the ``step`` grid (zeros allowed)."""
    n = round(1 / step)
    return comb(n + n_elements - 1, n_elements - 1)


def composition_grid(n_elements: int, step: float, max_elements: int | None = None,
                     min_elements: int = 1) -> np.ndarray:
    """All fraction vectors (rows) on the grid, as multiples of ``step`` summing to 1 (stars and bars)."""
    n = check_step(step)
    k = n_elements
    if k == 1:
        return np.ones((1, 1))
    bars = np.array(list(combinations(range(n + k - 1), k - 1)), dtype=np.int64)
    edges = np.hstack([np.full((len(bars), 1), -1), bars, np.full((len(bars), 1), n + k - 1)])
    counts = np.diff(edges, axis=1) - 1
    nonzero = (counts > 0).sum(axis=1)
    keep = (nonzero >= min_elements) & (nonzero <= (max_elements or k))
    return counts[keep] / n


def snap_to_grid(F: np.ndarray, step: float) -> np.ndarray:
    """Nearest grid point per row that sums to 1 (largest-remainder rounding)."""
    n = round(1 / step)
    F = np.clip(F, 0, None)
    F = F / F.sum(axis=1, keepdims=True)
    q = F * n
    base = np.floor(q)
    deficit = (n - base.sum(axis=1)).astype(np.int64)
    order = np.argsort(-(q - base), axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(F.shape[1])[None, :].repeat(len(F), 0), axis=1)
    return (base + (rank < deficit[:, None])) / n


def formulas_of(F: np.ndarray, symbols: Sequence[str], digits: int = 4) -> list[str]:
    """Formula strings of fraction rows (elements in the given order, zero fractions left out)."""
    return [format_formula([(s, round(float(v), digits)) for s, v in zip(symbols, row, strict=True) if v > 0])
            for row in F]


def min_l1_distance(F: np.ndarray, ref: np.ndarray, chunk: int = 2000) -> np.ndarray:
    """Fraction-L1 distance of each row of ``F`` to its nearest row of ``ref``."""
    out = np.empty(len(F))
    for a in range(0, len(F), chunk):
        out[a:a + chunk] = np.abs(F[a:a + chunk, None, :] - ref[None, :, :]).sum(axis=2).min(axis=1)
    return out


def _score(model, F: np.ndarray, symbols: Sequence[str], goal: Goal, best: float, features: str,
           constraints: Constraints | None, trust: tuple[np.ndarray, float] | None = None,
           chunk: int = 50_000) -> tuple[np.ndarray, ...]:
    """(mean, std, lower, upper, p_goal, ok) over rows of ``F`` (rejected rows get p_goal = -1). ``trust`` =
    (reference fractions, radius) rejects rows farther than ``radius`` (fraction L1) from every reference."""
    from metamat.featurize.pipeline import featurize_compositions

    out = np.full((6, len(F)), np.nan)
    for a in range(0, len(F), chunk):
        comps = compositions_from_dense(symbols, F[a:a + chunk])
        ok = np.ones(len(comps), bool) if constraints is None else constraints.check(comps)[0]
        if trust is not None and len(trust[0]):
            ok &= min_l1_distance(F[a:a + chunk], trust[0]) <= trust[1]
        out[5, a:a + chunk] = ok
        if ok.any():
            X, _ = featurize_compositions(comps, features)
            m, s, lo, hi = model.predict_dist(X[ok])
            idx = a + np.flatnonzero(ok)
            out[0, idx], out[1, idx], out[2, idx], out[3, idx] = m, s, lo, hi
            out[4, idx] = probability_of_goal(m, s, goal, best)
    p = np.where(out[5] > 0, out[4], -1.0)
    return out[0], out[1], out[2], out[3], p, out[5] > 0


def _row_keys(F: np.ndarray, step: float) -> np.ndarray:
    """One hashable scalar per grid row (the row's integer counts viewed as raw bytes)."""
    counts = np.ascontiguousarray(np.round(F / step).astype(np.int64))
    return counts.view(np.dtype((np.void, counts.dtype.itemsize * counts.shape[1]))).ravel()


def _unique_rows(F: np.ndarray, step: float) -> np.ndarray:
    keys = np.round(F / step).astype(np.int64)
    _, idx = np.unique(keys, axis=0, return_index=True)
    return F[np.sort(idx)]


def evolutionary_search(score: Callable[[np.ndarray], np.ndarray], n_elements: int, step: float,
                        rng: np.random.Generator, seeds: np.ndarray | None = None, population: int = 2000,
                        generations: int = 15, elite: int = 200, max_elements: int | None = None
                        ) -> tuple[np.ndarray, np.ndarray, int]:
    """Maximize ``score`` (rows of fractions -> values) over the grid. Returns (F, scores, n_evaluated) of all
    distinct compositions evaluated."""
    k = n_elements

    def sparse_random(n: int) -> np.ndarray:
        F = rng.dirichlet(np.full(k, 0.5), size=n)
        if max_elements and max_elements < k:  # keep the largest max_elements fractions
            cut = np.sort(F, axis=1)[:, -max_elements][:, None]
            F = np.where(F >= cut, F, 0.0)
        return snap_to_grid(F, step)

    def legal(F: np.ndarray) -> np.ndarray:
        F = _unique_rows(F, step)
        if max_elements:
            F = F[(F > 0).sum(axis=1) <= max_elements]
        return F

    start = sparse_random(population)
    if seeds is not None and len(seeds):
        start = np.vstack([snap_to_grid(seeds, step), start])
    pool_F = legal(start)
    pool_s = score(pool_F)
    seen = _row_keys(pool_F, step)
    for _ in range(generations):
        top = pool_F[np.argsort(-pool_s)[:elite]]
        parents = top[rng.integers(len(top), size=population)]
        child = parents.copy()
        mut = rng.random(population) < 0.8
        i, j = rng.integers(k, size=(2, population))
        amount = step * rng.integers(1, 4, size=population)
        moved = np.minimum(amount, child[np.arange(population), i])
        child[np.arange(population), i] -= np.where(mut, moved, 0)
        child[np.arange(population), j] += np.where(mut, moved, 0)
        other = top[rng.integers(len(top), size=population)]
        child = np.where(mut[:, None], child, 0.5 * (child + other))
        child = legal(snap_to_grid(child, step))
        keys = _row_keys(child, step)
        new = ~np.isin(keys, seen)
        child = child[new]
        if not len(child):
            continue
        seen = np.concatenate([seen, keys[new]])
        pool_F = np.vstack([pool_F, child])
        pool_s = np.concatenate([pool_s, score(child)])
    return pool_F, pool_s, len(pool_F)


def spread_out(F: np.ndarray, order: np.ndarray, top: int, min_separation: float) -> np.ndarray:
    """The first ``top`` rows of ``order`` that are each >= ``min_separation`` (fraction L1) from the rows
    kept before them."""
    kept: list[int] = []
    for i in order:
        if len(kept) == top:
            break
        if not kept or np.abs(F[kept] - F[i]).sum(axis=1).min() >= min_separation:
            kept.append(int(i))
    return np.asarray(kept, dtype=np.int64)


def design(model, X_measured: np.ndarray, y_measured: np.ndarray, symbols: Sequence[str], goal: Goal, *,
           step: float = 0.02, max_elements: int | None = None, top: int = 50, constraints: Constraints | None = None,
           features: str = "composition", seeds: np.ndarray | None = None, seed: int = 0, max_grid: int = MAX_GRID,
           population: int = 2000, generations: int = 15, trust_radius: float | None = None,
           min_separation: float = 0.0) -> DesignResult:
    """Fit ``model`` on the measured rows and return the ``top`` compositions over ``symbols`` by P(goal).

    ``seeds``: fraction rows (over ``symbols``) to start the evolutionary search from (e.g. measured
    compositions in the space). ``trust_radius``: only propose compositions within this fraction-L1 distance
    of a seed (a domain of applicability: models extrapolate badly far from their data).
    ``min_separation``: keep the list diverse, each design at least this fraction-L1 distance from every
    better-ranked one.
    """
    symbols = list(symbols)
    if len(set(symbols)) != len(symbols) or not symbols:
        raise InputError(f"need distinct element symbols, got {symbols}", field="--elements")
    bad = [s for s in symbols if s not in ATOMIC_NUMBER]
    if bad:
        raise InputError(f"unknown element symbol(s) {bad}", field="--elements")
    check_step(step)
    if trust_radius is not None and (seeds is None or not len(seeds)):
        raise InputError("a trust radius needs measured compositions inside the element space",
                         field="--trust-radius")
    trust = None if trust_radius is None else (np.asarray(seeds, float), float(trust_radius))
    model.fit(X_measured, y_measured)
    best = goal.best(y_measured)
    notes: list[str] = []
    k = len(symbols)
    size = grid_size(k, step)
    if size <= max_grid:
        F = composition_grid(k, step, max_elements)
        mean, std, lo, hi, p, ok = _score(model, F, symbols, goal, best, features, constraints, trust)
        method, evaluated = "enumeration", len(F)
    else:
        notes.append(f"{size:,} grid compositions: too many to enumerate, evolutionary search instead")
        rng = np.random.default_rng(seed)

        def p_only(F: np.ndarray) -> np.ndarray:
            return _score(model, F, symbols, goal, best, features, constraints, trust)[4]

        F, _, evaluated = evolutionary_search(p_only, k, step, rng, seeds, population, generations,
                                              max_elements=max_elements)
        mean, std, lo, hi, p, ok = _score(model, F, symbols, goal, best, features, constraints, trust)
        method = "evolutionary search"
    order = np.lexsort((-np.nan_to_num(mean) * (1 if goal.kind != "min" else -1), -p))
    order = order[ok[order]]
    order = order[:top] if not min_separation else spread_out(F, order, top, min_separation)
    Fo = F[order]
    table = pd.DataFrame({"rank": np.arange(1, len(order) + 1), "formula": formulas_of(Fo, symbols)})
    for j, s in enumerate(symbols):
        table[f"x_{s}"] = Fo[:, j]
    table["prediction"], table["std"] = mean[order], std[order]
    table["lower90"], table["upper90"], table["p_goal"] = lo[order], hi[order], p[order]
    return DesignResult(table, method, int(evaluated), notes)
