"""Cross-validation without refits, for ``auto``'s candidates: out-of-bag for forests, closed form for ridge and GP.

``auto`` (:mod:`metamat.models.auto`) needs, per candidate, one held-out prediction per support row, and for
the winner the fold models' predictions ``mu_-f(i)(x)`` at every query for its CV+ / jackknife+ interval.
Refitting every candidate per fold and predicting the queries with every fold model dominated its cost
(715 ms at k = 50 + 10,000 queries, one thread). Here one fit on the whole support gives both:

- forests (``rf``, ``rf_median``): ONE forest; row i's held-out prediction is the centre (mean for ``rf``,
  median over trees for ``rf_median``) of the trees whose bootstrap sample left row i out (out-of-bag). The
  interval is the jackknife+-after-bootstrap (J+aB; Kim, Xu & Barber 2020, NeurIPS 33): with the
  aggregation phi = mean over the out-of-bag trees, ``mu_-i(x)`` = mean of row i's out-of-bag trees at x,
  ``R_i = |y_i - mu_-i(x_i)|``, then the CV+ order statistics over i. J+aB's coverage guarantee holds for
  any aggregation; the mean is used for the interval of both forests because it is one matrix product
  (the median over n different subsets of trees at 10,000 queries costs about 200 ms, measured), while
  ``rf_median``'s point prediction and CV errors stay the tree median. The per-tree query predictions are
  computed once and give the centre and the interval together.
- ``ridge``: a linear smoother with the unpenalized intercept; with ``H`` the hat matrix of the fit on all
  rows at its chosen alpha and ``e`` its residuals, the held-out residuals of fold f are
  ``(I - H_ff)^-1 e_f`` (exact for any quadratic penalty), and the fold coefficients follow by the same
  downdate, so ``mu_-f(x)`` needs no refit.
- ``pretrained`` (a MAML-family meta-learner, MLP encoder): the same per-fold adaptation as a refit (fold
  target standardization, inner steps from the meta-learned start), all folds at once under ``torch.func.vmap``
  when the folds have equal size (leave-one-out, or n divisible by the number of folds); else refits.
- ``median``: the fold models are the medians of the other folds' targets (exact, no features read).
- ``gp``: with ``A = K^-1`` (kernel matrix with its noise, hyperparameters and y normalization of the fit on
  all rows) and ``a = A y``, the held-out means of fold f are ``y_f - A_ff^-1 a_f`` (Rasmussen & Williams
  2006, eq. 5.12, block form) and the fold models' weights ``a_-f - A_-f,f A_ff^-1 a_f``, so ``mu_-f(x)`` is
  one cross-kernel product.

Threads (``auto``'s ``n_jobs``): the forest is fitted on a second thread beside the other candidates, its
trees are split among threads on the queries, tree medians and CV+ order statistics are taken in query blocks
(:func:`by_columns`), and the meta-learner's centre and fold passes run on per-thread network copies. BLAS and
torch stay on one thread each and no matrix product is split (BLAS results depend on the block shape), so
every number is the same for any ``n_jobs`` (``tests/models/test_speed_paths.py``).

What changes against per-fold refits (measured in ``benchmarks/results/fewshot_speed``, the paired
``bench fewshot`` rerun in its ``auto_paired_bench.json``; README "Speed"): the held-out rows no longer refit the
feature standardization, ridge's alpha or the GP's hyperparameters (they come from all rows, so the CV errors are
slightly optimistic for ridge and GP), and a forest's held-out prediction uses its ~37% out-of-bag trees
instead of a refitted forest.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from metamat.models.baselines import _ranks, _rf_tree_predictions
from metamat.models.forest_fit import MIN_ROWS_FOR_THREADS

#: candidates with a refit-free cross-validation here
FAST_CANDIDATES = ("rf", "rf_median", "ridge", "gp", "median", "pretrained")


#: fewest query columns per thread when a per-column computation is split among threads
MIN_COLUMNS_PER_THREAD = 1000


def by_columns(fn, A: np.ndarray, n_jobs: int | None) -> Any:
    """``fn(A)`` for a function that treats each column of ``A`` on its own (a median, a partition) and
    returns one array or a tuple of arrays over the columns; with ``n_jobs`` > 1, column blocks on that many
    threads (numpy's sorts and arithmetic release the GIL). Each column's numbers are the same either way.
    Not for matrix products: BLAS results depend on the block shape."""
    from joblib import effective_n_jobs

    jobs = min(effective_n_jobs(n_jobs), A.shape[1] // MIN_COLUMNS_PER_THREAD)
    if jobs <= 1:
        return fn(A)
    from concurrent.futures import ThreadPoolExecutor

    cuts = np.linspace(0, A.shape[1], jobs + 1).astype(int)
    with ThreadPoolExecutor(jobs) as pool:
        parts = list(pool.map(fn, [A[:, a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)]))
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate(p) for p in zip(*parts, strict=True))
    return np.concatenate(parts)


def conformal_plus(loo: np.ndarray, residuals: np.ndarray, level: float,
                   n_jobs: int | None = 1) -> tuple[np.ndarray, np.ndarray]:
    """CV+ / jackknife+ interval (Barber et al. 2021): ``loo`` (n, q) = ``mu_-f(i)(x)``; lower = the
    floor(a(n+1))-th smallest of ``loo - R``, upper = the ceil((1-a)(n+1))-th smallest of ``loo + R``
    (a = 1 - level, ranks clamped to [1, n]); query blocks on ``n_jobs`` threads (:func:`by_columns`)."""
    r = np.asarray(residuals, float)[:, None]
    lo, hi = _ranks(len(r), level)

    def ends(L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.partition(L - r, lo - 1, axis=0)[lo - 1], np.partition(L + r, hi - 1, axis=0)[hi - 1]

    return by_columns(ends, loo, n_jobs)


@dataclass
class FastCV:
    """One candidate's refit-free cross-validation: ``pred`` (held-out prediction per support row),
    ``model`` (fitted on all rows) and ``engine`` (query centre + fold predictions for the interval)."""

    pred: np.ndarray
    model: Any
    engine: Any
    method: str = "refit"  # how the held-out predictions were made (recorded in auto's choice table)


# ------------------------------------------------------------------------------------------------ forests
def oob_mask(forest: Any, n: int) -> np.ndarray:
    """(trees, n) True where row i is out of tree t's bootstrap sample."""
    oob = np.ones((len(forest.estimators_), n), dtype=bool)
    for t, rows in enumerate(forest.estimators_samples_):
        oob[t, rows] = False
    return oob


class BaggedEngine:
    """J+aB with the out-of-bag mean (module docstring): one pass of per-tree predictions gives the centre
    (``centre`` over all trees) and ``mu_-i(x)``."""

    def __init__(self, model: Any, oob: np.ndarray, residuals: np.ndarray):
        self.model, self.residuals = model, residuals
        self.weights = (oob / oob.sum(axis=0)).T  # (n, trees): mean over row i's out-of-bag trees

    def parts(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        jobs = self.model.n_jobs
        per_tree = _rf_tree_predictions(self.model.model_, self.model._prepare_predict(X), jobs)  # (trees, q)
        return by_columns(self.model._center, per_tree, jobs), self.weights @ per_tree


def forest_cv(model: Any, z: np.ndarray, make) -> dict[str, FastCV] | None:
    """``rf`` and ``rf_median`` from one fitted forest (``model`` is fitted on the support ``z``; ``make(name)``
    gives an unfitted candidate); ``None`` if a row sits in every bootstrap sample (no out-of-bag tree: the
    caller refits per fold instead)."""
    n = len(z)
    oob = oob_mask(model.model_, n)
    if not oob.any(axis=0).all():
        return None
    per_tree = _rf_tree_predictions(model.model_, model.train_Z_)  # (trees, n)
    masked = np.where(oob, per_tree, np.nan)
    mean = np.nanmean(masked, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(masked, axis=0)
    out = {}
    for name, pred in (("rf", mean), ("rf_median", median)):
        m = model if name == model._registry_name else same_forest(make(name), model)
        out[name] = FastCV(pred, m, BaggedEngine(m, oob, np.abs(z - mean)),
                           f"out-of-bag ({len(oob)} trees, min {int(oob.sum(axis=0).min())} per row)")
    return out


def same_forest(target: Any, fitted: Any) -> Any:
    """``target`` (an unfitted ``rf`` or ``rf_median``) sharing the trees and fitted state of a fitted forest
    with the same options: the two differ only in how they centre the per-tree predictions."""
    name = target._registry_name
    target.__dict__.update(fitted.__dict__)
    target._registry_name = name
    return target


# ------------------------------------------------------------------------------------------- linear smoothers
class SmootherEngine:
    """``mu(x) = basis(x) @ w`` and ``mu_-f(i)(x) = basis(x) @ W[:, fold(i)]`` for a model linear in y."""

    def __init__(self, basis, w: np.ndarray, W: np.ndarray, fold_of_row: np.ndarray, residuals: np.ndarray,
                 scale: float = 1.0, shift: float = 0.0):
        self.basis, self.w, self.W, self.fold_of_row, self.residuals = basis, w, W, fold_of_row, residuals
        self.scale, self.shift = scale, shift

    def parts(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        B = self.basis(X)
        mu = B @ self.w * self.scale + self.shift
        folds = (B @ self.W) * self.scale + self.shift  # (q, folds)
        return mu, folds.T[self.fold_of_row]


def _fold_index(folds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids = np.unique(folds)
    return ids, np.searchsorted(ids, folds)


def ridge_fold_solution(D: np.ndarray, y: np.ndarray, penalty: np.ndarray,
                        folds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Penalized least squares ``min |y - D b|^2 + b' diag(penalty) b`` and its fold downdates:
    (b on all rows, held-out predictions per row, fold coefficients (p, folds))."""
    G = np.linalg.inv(D.T @ D + np.diag(penalty))
    b = G @ (D.T @ y)
    e = y - D @ b
    ids, _ = _fold_index(folds)
    pred = np.empty(len(y))
    B = np.empty((D.shape[1], len(ids)))
    for j, f in enumerate(ids):
        rows = np.flatnonzero(folds == f)
        Df = D[rows]
        H_ff = Df @ G @ Df.T
        ef = np.linalg.solve(np.eye(len(rows)) - H_ff, e[rows])  # held-out residuals of fold f
        pred[rows] = y[rows] - ef
        B[:, j] = b - G @ Df.T @ ef
    return b, pred, B


def ridge_cv(model: Any, X: np.ndarray, z: np.ndarray, folds: np.ndarray) -> FastCV:
    """Closed-form fold predictions of a :class:`~metamat.models.baselines.RidgeRegressor` fitted on (X, z), at
    its alpha (intercept unpenalized, features as prepared on all rows)."""
    Z = model.prep_.transform(X)
    D = np.hstack([np.ones((len(Z), 1)), Z])
    penalty = np.r_[0.0, np.full(Z.shape[1], model.alpha_)]
    b, pred, B = ridge_fold_solution(D, z, penalty, folds)
    _, fold_of_row = _fold_index(folds)

    def basis(X):
        Zq = model._prepare_predict(X)
        return np.hstack([np.ones((len(Zq), 1)), Zq])

    return FastCV(pred, model, SmootherEngine(basis, b, B, fold_of_row, np.abs(z - pred)),
                  f"closed form at alpha {model.alpha_:.3g} (chosen on all rows)")


def gp_fold_solution(K: np.ndarray, y: np.ndarray, folds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Zero-mean GP with covariance ``K`` (noise included) on targets ``y``: (a = K^-1 y, held-out means per
    row, fold weights (n, folds) with ``mu_-f(x) = k(x, X) @ W[:, f]``)."""
    A = np.linalg.inv(K)
    A = 0.5 * (A + A.T)
    a = A @ y
    ids, _ = _fold_index(folds)
    pred = np.empty(len(y))
    W = np.zeros((len(y), len(ids)))
    for j, f in enumerate(ids):
        rows = np.flatnonzero(folds == f)
        c = np.linalg.solve(A[np.ix_(rows, rows)], a[rows])
        pred[rows] = y[rows] - c
        W[:, j] = a - A[:, rows] @ c
        W[rows, j] = 0.0
    return a, pred, W


def gp_cv(model: Any, X: np.ndarray, z: np.ndarray, folds: np.ndarray) -> FastCV:
    """Closed-form fold predictions of a :class:`~metamat.models.baselines.GPRegressor` fitted on (X, z), with
    the hyperparameters and y normalization of the fit on all rows."""
    gp = model.model_
    Z = gp.X_train_
    K = gp.kernel_(Z) + np.eye(len(Z)) * gp.alpha
    mean, scale = float(np.ravel(gp._y_train_mean)[0]), float(np.ravel(gp._y_train_std)[0])
    a, pred, W = gp_fold_solution(K, (z - mean) / scale, folds)
    _, fold_of_row = _fold_index(folds)
    pred = pred * scale + mean

    def basis(X):
        return gp.kernel_(model._prepare_predict(X), Z)

    return FastCV(pred, model, SmootherEngine(basis, a, W, fold_of_row, np.abs(z - pred), scale, mean),
                  "closed form at the kernel fitted on all rows")


# ------------------------------------------------------------------------------------------------ median
class ConstantEngine:
    """A model constant in x: ``mu`` everywhere and the fold models' constants per support row."""

    def __init__(self, mu: float, row_values: np.ndarray, residuals: np.ndarray):
        self.mu, self.row_values, self.residuals = mu, row_values, residuals

    def parts(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = len(X)
        return np.full(q, self.mu), np.repeat(self.row_values[:, None], q, axis=1)


def median_cv(model: Any, X: np.ndarray, z: np.ndarray, folds: np.ndarray) -> FastCV:
    """The support median's fold predictions (the median of the other folds' targets: exactly the refits)
    and its constant interval parts: the queries' features are never read."""
    ids, fold_of_row = _fold_index(folds)
    if len(ids) < 2:
        raise ValueError("one fold: nothing to hold out")
    pred = np.array([np.median(z[folds != f]) for f in ids])[fold_of_row]
    return FastCV(pred, model, ConstantEngine(float(model.mean_), pred, np.abs(z - pred)), "exact fold medians")


# ------------------------------------------------------------------------------------------------ meta-learner
class MetaEngine:
    """The meta-learner adapted on all rows (centre) and its per-fold adapted weights (fold predictions).
    With ``n_jobs`` > 1 the centre and the fold models run on that many threads, each thread on its own copy
    of the network (``functional_call`` swaps a module's parameters in place, so one module cannot serve two
    threads); every pass is computed exactly as on one thread (torch releases the GIL; one intra-op thread)."""

    def __init__(self, model: Any, fold_params: list[dict], scalers: list, fold_of_row: np.ndarray,
                 residuals: np.ndarray, n_jobs: int | None = 1):
        self.model, self.fold_params, self.scalers = model, fold_params, scalers
        self.fold_of_row, self.residuals, self.n_jobs = fold_of_row, residuals, n_jobs

    def _fold_mean(self, model: Any, j: int, Z) -> np.ndarray:
        import torch

        with torch.no_grad():  # thread-local in torch: set in the thread that runs the pass
            return self.scalers[j].inverse(model._forward(self.fold_params[j], Z)[:, 0].double().numpy())

    def _map(self, tasks: list) -> list:
        """``task(model)`` for each task; thread i runs tasks i, i + jobs, ... on its own network copy."""
        from joblib import effective_n_jobs

        jobs = min(effective_n_jobs(self.n_jobs), len(tasks))
        if jobs <= 1:
            return [t(self.model) for t in tasks]
        import copy
        from concurrent.futures import ThreadPoolExecutor

        copies = getattr(self, "_copies", [])
        while len(copies) < jobs - 1:
            m = copy.copy(self.model)
            m.net_ = copy.deepcopy(self.model.net_)
            copies.append(m)
        self._copies = copies
        models = [self.model, *copies]
        out: list = [None] * len(tasks)

        def run(i: int) -> None:
            for t in range(i, len(tasks), jobs):
                out[t] = tasks[t](models[i])

        with ThreadPoolExecutor(jobs) as pool:
            list(pool.map(run, range(jobs)))
        return out

    def fold_means(self, Z) -> np.ndarray:
        """(folds, rows) means of the fold models on prepared rows ``Z`` (target units, as ``predict``)."""
        return np.stack(self._map([lambda m, j=j: self._fold_mean(m, j, Z) for j in range(len(self.fold_params))]))

    def parts(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch

        with torch.no_grad():
            Z = self.model.prepare(self.model._check_X(X))
        centre, *folds = self._map([lambda m: np.asarray(m.predict(X), dtype=float),
                                    *[lambda m, j=j: self._fold_mean(m, j, Z) for j in range(len(self.fold_params))]])
        return centre, np.stack(folds)[self.fold_of_row]


def meta_cv(model: Any, X: np.ndarray, z: np.ndarray, folds: np.ndarray) -> FastCV:
    """All fold adaptations of an unfitted copy ``model`` of a MAML-family meta-learner in one ``vmap`` (module
    docstring); ``ValueError`` when that does not apply (the caller refits per fold)."""
    import torch
    from torch.func import vmap

    from metamat.tasks.task import TargetStandardizer

    body = getattr(getattr(model, "net_", None), "body", None)
    if not hasattr(model, "adapt_params") or body is None or getattr(body.encoder, "prefers_task_loop", False) \
            or model._row_tail() is not None or getattr(model, "target_transform", "identity") != "identity":
        raise ValueError("no batched adaptation for this meta-learner")
    ids, fold_of_row = _fold_index(folds)
    train = [np.flatnonzero(folds != f) for f in ids]
    test = [np.flatnonzero(folds == f) for f in ids]
    if len(ids) < 2 or len({len(t) for t in train}) != 1:
        raise ValueError("folds of unequal size")
    model.fit(X, z)
    scalers = [TargetStandardizer().fit(z[t]) for t in train]
    with torch.no_grad():
        Z = model.prepare(model._check_X(X))
        ys = torch.stack([torch.as_tensor(s.transform(z[t]), dtype=torch.float64).float()
                          for s, t in zip(scalers, train, strict=True)])
        params = {n: p.detach() for n, p in model._params().items()}
        lrs = {n: v.detach() for n, v in model._lrs().items()}
        fast = vmap(model.adapt_params, in_dims=(None, None, 0, 0))(params, lrs, Z[np.stack(train)], ys)
    fold_params = [{n: v[j] for n, v in fast.items()} for j in range(len(ids))]
    engine = MetaEngine(model, fold_params, scalers, fold_of_row, np.zeros(len(z)))
    pred = np.empty(len(z))
    for j, t in enumerate(test):
        with torch.no_grad():
            out = model._forward(fold_params[j], Z[t])[:, 0].double().numpy()
        pred[t] = scalers[j].inverse(out)
    engine.residuals = np.abs(z - pred)
    return FastCV(pred, model, engine, "fold adaptations batched (as refits)")


# ------------------------------------------------------------------------------------------------ entry
def _fit_forest(make, X_of, name: str, z: np.ndarray) -> Any:
    try:
        return make(name).fit(X_of(name), z)
    except (ValueError, np.linalg.LinAlgError):
        return None


def fast_cv(names: list[str], make, X_of, z: np.ndarray, folds: np.ndarray,
            n_jobs: int | None = 1) -> dict[str, FastCV]:
    """Refit-free CV for every name in ``names`` that has one (:data:`FAST_CANDIDATES`): ``make(name)`` gives
    an unfitted candidate, ``X_of(name)`` its input matrix. A candidate whose fit fails, or a forest with a
    row in every bootstrap sample, is left out (the caller cross-validates it by refits). With ``n_jobs`` > 1
    the forest is fitted on a second thread while the other candidates run on this one (its tree building
    releases the GIL; from ``MIN_ROWS_FOR_THREADS`` rows on); every candidate computes exactly what it
    computes alone."""
    out: dict[str, FastCV] = {}
    forests = [c for c in ("rf", "rf_median") if c in names]
    pending = None
    from joblib import effective_n_jobs

    if forests and effective_n_jobs(n_jobs) > 1 and len(z) >= MIN_ROWS_FOR_THREADS:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(1)
        pending = pool.submit(_fit_forest, make, X_of, forests[0], z)
        pool.shutdown(wait=False)
    for c, cv in (("ridge", ridge_cv), ("gp", gp_cv), ("median", median_cv), ("pretrained", meta_cv)):
        if c not in names:
            continue
        try:  # meta_cv fits its unfitted copy itself (one adaptation on all rows, not two)
            out[c] = cv(make(c) if c == "pretrained" else make(c).fit(X_of(c), z), X_of(c), z, folds)
            if c == "pretrained":
                out[c].engine.n_jobs = n_jobs
        except (ValueError, np.linalg.LinAlgError):
            continue
    if forests:
        rf = pending.result() if pending is not None else _fit_forest(make, X_of, forests[0], z)
        got = None if rf is None else forest_cv(rf, z, make)
        if got is not None:
            out.update({c: got[c] for c in forests})
    return {c: out[c] for c in (*forests, "ridge", "gp", "median", "pretrained") if c in out}


__all__ = ["FAST_CANDIDATES", "BaggedEngine", "by_columns", "ConstantEngine", "FastCV", "MetaEngine", "SmootherEngine",
           "conformal_plus", "fast_cv", "forest_cv", "gp_cv", "gp_fold_solution", "median_cv", "meta_cv", "oob_mask",
           "ridge_cv", "ridge_fold_solution", "same_forest"]
