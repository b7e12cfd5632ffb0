"""Baseline models behind the one interface, and their registry entries (:data:`BASELINES`).

Adding a baseline: write its class here and add one entry to :data:`BASELINES` (plus a test); the model
registry (:mod:`metamat.models.registry`), evaluators and CLI then accept its name.

How each regressor gets its predictive std:

- ``dummy``: the training mean; std = training target std (population, ddof=0).
- ``ridge``: RidgeCV (efficient leave-one-out over ``alphas``); std = root mean leave-one-out squared
  residual at the chosen alpha, the same for every query (residual variance). Adding the leverage
  term of Bayesian linear regression made the intervals too wide on matbench episodes (90% coverage
  0.94-1.00, calibration error 0.11-0.26 vs 0.07-0.25 without).
- ``knn``: mean of the k nearest neighbours' targets; std = their spread (ddof=0).
- ``gp``: GaussianProcessRegressor, ConstantKernel*RBF + WhiteKernel, normalize_y; std = posterior
  predictive std (includes the fitted white noise).
- ``rf``: the matbench RF-SCM/Magpie learner, RandomForestRegressor(n_estimators=500) with scikit-learn
  defaults otherwise (matbench ``benchmarks/matbench_v0.1_rf/run.py``; training-mean imputation as its
  DataCleaner; its trees fitted by :mod:`metamat.models.forest_fit`, bit for bit scikit-learn's); std =
  spread of the per-tree predictions.
- ``gbm``: gradient boosting (exact GradientBoostingRegressor below 2000 rows, HistGradientBoosting
  above) for the mean; std = half the distance between two quantile-loss models at the 15.87% and
  84.13% quantiles (= 1 sigma for a Gaussian).
- ``mlp``: a torch MLP, ensemble of ``n_ensemble`` seeds, each early-stopped on its own held-out slice;
  std = sqrt(ensemble variance + mean held-out MSE) (the second term is the noise the ensemble spread
  cannot see; it is 0 when the training set is too small for a held-out slice).
- ``median``: the training median; std = 1.4826 x median absolute deviation (the training std if that
  is 0).

How each regressor gets its central ``level`` interval (``predict_interval`` / ``predict_dist``):

- ``dummy``, ``median``: from the training distribution, conformal order statistics of the training
  targets: the floor((n+1)(1-level)/2)-th and ceil((n+1)(1+level)/2)-th smallest, ranks clamped to
  [1, n] (so below n = 19 at level 0.9 it is [min, max], whose coverage is (n-1)/(n+1)).
- ``knn``: jackknife+ (Barber et al. 2021, Ann. Stat. 49:486): leave-one-out residuals R_i of the
  training rows and leave-one-out predictions mu_-i(x); lower = floor(a(n+1))-th smallest of
  mu_-i(x) - R_i, upper = ceil((1-a)(n+1))-th smallest of mu_-i(x) + R_i, a = 1 - level (ranks
  clamped to [1, n]). Exact in closed form for kNN (no refits).
- ``rf``, ``rf_median``: out-of-bag normalized conformal. Each training row i gets the score
  |y_i - centre_-i| / spread_-i from the trees whose bootstrap sample left it out; the interval is
  centre(x) -+ q * spread(x), q = the ceil((n+1) level)-th smallest score. Empirical quantiles of the
  per-tree predictions were measured first and undercover (90% intervals: 0.70 on synthetic data with
  known noise, 0.81-0.86 on matbench episodes; see ``benchmarks/baseline_intervals.py``).
- ``ridge``, ``gp``, ``gbm``, ``mlp``: Gaussian, mean -+ z * std (posterior predictive for gp; the
  leave-one-out residual variance for ridge).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from metamat.models.base import Classifier, Regressor
from metamat.models.protocol import ModelEntry

#: Training rows scored for the random-forest conformal interval (a seeded random subset beyond this).
MAX_CONFORMAL_ROWS = 5000
_DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-3, 3, 13))


def _rf_tree_predictions(forest: Any, Z: np.ndarray, n_jobs: int | None = 1) -> np.ndarray:
    """(n_trees, n_rows) predictions of each tree of a fitted single-output forest: each tree's leaf values
    at its leaves (``tree_.apply``), the numbers of ``tree.predict``; with ``n_jobs`` > 1 the trees are
    split among that many threads (the traversal releases the GIL; every row is the same tree's, so the
    result does not depend on ``n_jobs``)."""
    from joblib import effective_n_jobs

    Z32 = np.ascontiguousarray(Z, dtype=np.float32)
    trees = [t.tree_ for t in forest.estimators_]
    out = np.empty((len(trees), len(Z32)))

    def run(part: range) -> None:
        for t in part:
            np.take(trees[t].value[:, 0, 0], trees[t].apply(Z32), out=out[t])

    jobs = min(effective_n_jobs(n_jobs), len(trees))
    if jobs <= 1:
        run(range(len(trees)))
        return out
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(run, [range(j, len(trees), jobs) for j in range(jobs)]))
    return out


def _ranks(n: int, level: float) -> tuple[int, int]:
    """1-based ranks floor(a(n+1)) and ceil((1-a)(n+1)) for a two-sided miscoverage a, clamped to [1, n]."""
    a = 1.0 - level
    lo = int(np.floor(a * (n + 1) + 1e-9))
    hi = int(np.ceil((1.0 - a) * (n + 1) - 1e-9))
    return min(max(lo, 1), n), min(max(hi, 1), n)


def _order_stat_interval(y: np.ndarray, level: float) -> tuple[float, float]:
    """Conformal interval for a new draw from the distribution of ``y`` (see the module docstring)."""
    lo, hi = _ranks(len(y), 1.0 - (1.0 - level) / 2)  # a/2 on each side
    ys = np.sort(y)
    return float(ys[lo - 1]), float(ys[hi - 1])


class DummyRegressor(Regressor):
    """Predicts the training mean; std = training target std; interval from the training targets."""

    def __init__(self, seed: int = 0):
        self.seed = seed

    def _fit(self, Z: np.ndarray, y: np.ndarray) -> None:
        self.mean_ = float(y.mean())
        self.std_ = float(y.std())
        self.y_ = y

    def _predict(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.full(len(Z), self.mean_), np.full(len(Z), self.std_)

    def _interval(self, X: np.ndarray, mean: np.ndarray, std: np.ndarray,
                  level: float) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = _order_stat_interval(self.y_, level)
        return np.full(len(mean), lo), np.full(len(mean), hi)


class MedianRegressor(DummyRegressor):
    """Predicts the training median; std = 1.4826 x MAD (training std if the MAD is 0)."""

    def _fit(self, Z: np.ndarray, y: np.ndarray) -> None:
        self.mean_ = float(np.median(y))
        mad = 1.482602218505602 * float(np.median(np.abs(y - self.mean_)))
        self.std_ = mad if mad > 0 else float(y.std())
        self.y_ = y


class RidgeRegressor(Regressor):
    """Ridge regression with leave-one-out choice of alpha (RidgeCV); std = LOO residual RMS."""

    def __init__(self, alphas: Sequence[float] = _DEFAULT_ALPHAS, seed: int = 0):
        self.alphas = alphas
        self.seed = seed

    def _fit(self, Z: np.ndarray, y: np.ndarray) -> None:
        from sklearn.linear_model import Ridge, RidgeCV

        n = len(y)
        if n >= 3:
            self.model_ = RidgeCV(alphas=tuple(self.alphas), store_cv_results=True).fit(Z, y)
            self.alpha_ = float(self.model_.alpha_)
            best = int(np.flatnonzero(np.isclose(np.asarray(self.alphas, float), self.alpha_))[0])
            self.noise_var_ = float(np.mean(np.asarray(self.model_.cv_results_).reshape(n, -1)[:, best]))
        else:  # too few rows for leave-one-out: middle alpha, spread of y as noise
            self.alpha_ = float(np.median(self.alphas))
            self.model_ = Ridge(alpha=self.alpha_).fit(Z, y)
            self.noise_var_ = float(np.var(y))

    def _predict(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.model_.predict(Z), np.full(len(Z), np.sqrt(self.noise_var_))


class KNNRegressor(Regressor):
    """Mean of the ``n_neighbors`` nearest training targets (Euclidean, standardized features)."""

    def __init__(self, n_neighbors: int = 5, seed: int = 0):
        self.n_neighbors = n_neighbors
        self.seed = seed

    def _fit(self, Z: np.ndarray, y: np.ndarray) -> None:
        from sklearn.neighbors import NearestNeighbors

        self.nn_ = NearestNeighbors(n_neighbors=min(self.n_neighbors, len(y))).fit(Z)
        self.y_ = y

        n = len(y)
        if n >= 2:  # leave-one-out residuals for the jackknife+ interval
            kk = min(self.n_neighbors, n - 1)
            idx = self.nn_.kneighbors(Z, n_neighbors=kk + 1, return_distance=False)
            is_self = idx == np.arange(n)[:, None]
            dropped = np.where(is_self.any(axis=1), y, y[idx[:, kk]])  # self if found, else the (kk+1)-th
            self.loo_residuals_ = np.abs(y - (y[idx].sum(axis=1) - dropped) / kk)

    def _predict(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = self.nn_.kneighbors(Z, return_distance=False)
        ys = self.y_[idx]
        return ys.mean(axis=1), ys.std(axis=1)

    def _interval(self, X: np.ndarray, mean: np.ndarray, std: np.ndarray,
                  level: float) -> tuple[np.ndarray, np.ndarray]:
        """Jackknife+ (module docstring); Gaussian for a single training row."""
        n = len(self.y_)
        if n < 2:
            return super()._interval(X, mean, std, level)
        kk = min(self.n_neighbors, n - 1)
        idx = self.nn_.kneighbors(self._prepare_predict(X), n_neighbors=kk + 1, return_distance=False)
        ys = self.y_[idx]
        top = ys[:, :kk].sum(axis=1)
        # mu_-i(x): the k nearest without row i; only rows among the k nearest change the average
        mu = np.repeat((top / kk)[:, None], n, axis=1)
        rows = np.repeat(np.arange(len(idx)), kk)
        mu[rows, idx[:, :kk].ravel()] = ((top[:, None] - ys[:, :kk] + ys[:, kk:]) / kk).ravel()
        lo, hi = _ranks(n, level)
        lower = np.partition(mu - self.loo_residuals_, lo - 1, axis=1)[:, lo - 1]
        upper = np.partition(mu + self.loo_residuals_, hi - 1, axis=1)[:, hi - 1]
        return lower, upper


def _scaled_rbf(d: int):
    """ConstantKernel * isotropic RBF with a length scale starting at sqrt(d) (standardized features)."""
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel

    return ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.sqrt(d), (1e-2 * np.sqrt(d), 1e3 * np.sqrt(d)))


class GPRegressor(Regressor):
    """Gaussian process, ConstantKernel * RBF (isotropic) + WhiteKernel, normalize_y=True."""

    def __init__(self, n_restarts: int = 2, seed: int = 0):
        self.n_restarts = n_restarts
        self.seed = seed

    def _fit(self, Z: np.ndarray, y: np.ndarray) -> None:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import WhiteKernel

        from metamat.models.gp_objective import fast_optimizer, normalized_targets

        kernel = _scaled_rbf(Z.shape[1]) + WhiteKernel(0.1, (1e-6, 1e1))
        # scikit-learn's L-BFGS-B on the same objective without its kernel objects' overhead (bit-identical)
        self.model_ = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=self.n_restarts,
                                               optimizer=fast_optimizer(Z, normalized_targets(y)),
                                               random_state=self.seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model_.fit(Z, y)

    def _predict(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, std = self.model_.predict(Z, return_std=True)
        return mean, std


class RFRegressor(Regressor):
    """matbench RF-SCM/Magpie learner: RandomForestRegressor(n_estimators=500), defaults otherwise."""

    def __init__(self, n_estimators: int = 500, n_jobs: int | None = None, seed: int = 0):
        self.n_estimators = n_estimators
        self.n_jobs = n_jobs
        self.seed = seed

    def _fit(self, Z: np.ndarray, y: np.ndarray) -> None:
        from sklearn.ensemble import RandomForestRegressor

        from metamat.models.forest_fit import fit_bagged_trees

        # scikit-learn's trees without its per-tree bookkeeping (the same trees, metamat.models.forest_fit)
        self.model_ = fit_bagged_trees(Z, y, self.n_estimators, self.seed, self.n_jobs)
        if self.model_ is None:  # non-finite inputs: scikit-learn's forest as is
            self.model_ = RandomForestRegressor(n_estimators=self.n_estimators, n_jobs=self.n_jobs,
                                                random_state=self.seed).fit(Z, y)
        # kept for the out-of-bag interval scores, computed on the first interval request only (a plain
        # fit/predict, e.g. the matbench runner's 500 trees on 100k rows, never pays for them)
        self.train_Z_, self.train_y_, self.scores_ = Z, y, None

    def _predict(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        per_tree = _rf_tree_predictions(self.model_, Z, self.n_jobs)
        return self._center(per_tree), per_tree.std(axis=0)

    _nan_center = staticmethod(np.nanmean)  # centre of the out-of-bag trees of each row

    @staticmethod
    def _center(per_tree: np.ndarray) -> np.ndarray:
        return per_tree.mean(axis=0)

    def _conformal_scores(self) -> np.ndarray:
        """|y_i - OOB centre_i| / OOB spread_i, from the trees whose bootstrap sample left row i out (for at
        most ``MAX_CONFORMAL_ROWS`` training rows, a seeded random subset beyond that)."""
        Z, y = self.train_Z_, self.train_y_
        keep = np.arange(len(y))
        if len(y) > MAX_CONFORMAL_ROWS:
            keep = np.sort(np.random.default_rng(self.seed).choice(len(y), MAX_CONFORMAL_ROWS, replace=False))
        per_tree = _rf_tree_predictions(self.model_, Z[keep])  # (trees, rows)
        position = np.full(len(y), -1)
        position[keep] = np.arange(len(keep))
        oob = np.ones(per_tree.shape, dtype=bool)
        for t, rows in enumerate(self.model_.estimators_samples_):
            pos = position[rows]
            oob[t, pos[pos >= 0]] = False
        y = y[keep]
        masked = np.where(oob, per_tree, np.nan)
        enough = oob.sum(axis=0) >= 2  # a row inside (almost) every bootstrap sample gives no evidence
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns of those rows
            centre, spread = self._nan_center(masked, axis=0), np.nanstd(masked, axis=0)
        return np.where(enough, np.abs(y - centre) / np.maximum(spread, self.std_floor_), np.inf)

    def _interval(self, X: np.ndarray, mean: np.ndarray, std: np.ndarray,
                  level: float) -> tuple[np.ndarray, np.ndarray]:
        """Out-of-bag normalized conformal: centre -+ q * spread(x), q = the ceil((n+1) level)-th smallest OOB
        score |y_i - centre_-i| / spread_-i (rank clamped to n)."""
        if self.scores_ is None:
            self.scores_ = self._conformal_scores()
        n = len(self.scores_)
        q = float(np.sort(self.scores_)[min(int(np.ceil((n + 1) * level - 1e-9)), n) - 1])
        if not np.isfinite(q):  # too few out-of-bag trees: fall back to the Gaussian interval
            return super()._interval(X, mean, std, level)
        return mean - q * std, mean + q * std


class RFMedianRegressor(RFRegressor):
    """Random forest predicting the median over its trees (for skewed per-tree distributions); std =
    spread of the per-tree predictions; interval as ``rf`` around the median."""

    _nan_center = staticmethod(np.nanmedian)

    @staticmethod
    def _center(per_tree: np.ndarray) -> np.ndarray:
        return np.median(per_tree, axis=0)


class GBMRegressor(Regressor):
    """Gradient boosting for the mean plus two quantile-loss models (15.87% and 84.13%) for the std.

    Below ``hist_threshold`` training rows scikit-learn's exact GradientBoostingRegressor is used
    (stochastic: ``subsample`` of the rows per tree), above it HistGradientBoostingRegressor (binned,
    much faster on thousands of rows; ``max_leaf_nodes=8`` ~ depth-3 trees). Few-shot supports take the
    exact path: on matbench episodes (k = 10-200) it was as accurate as the histogram version and its
    quantile spread was better calibrated. ``n_threads`` caps the OpenMP threads of the histogram path.
    """

    def __init__(self, n_estimators: int = 200, learning_rate: float = 0.05, max_depth: int = 3,
                 subsample: float = 0.7, hist_threshold: int = 2000, n_threads: int | None = None,
                 seed: int = 0):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.subsample = subsample
        self.hist_threshold = hist_threshold
        self.n_threads = n_threads
        self.seed = seed

    def _limits(self) -> Any:
        from threadpoolctl import threadpool_limits

        return threadpool_limits(self.n_threads, user_api="openmp")

    def _make(self, n: int, quantile: float | None) -> Any:
        from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingRegressor

        if n >= self.hist_threshold:
            kw: dict[str, Any] = {} if quantile is None else {"loss": "quantile", "quantile": quantile}
            return HistGradientBoostingRegressor(
                max_iter=self.n_estimators, learning_rate=self.learning_rate, max_leaf_nodes=2**self.max_depth,
                early_stopping=False, random_state=self.seed, **kw)
        kw = {} if quantile is None else {"loss": "quantile", "alpha": quantile}
        return GradientBoostingRegressor(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate, max_depth=self.max_depth,
            subsample=self.subsample if n >= 10 else 1.0, random_state=self.seed, **kw)

    def _fit(self, Z: np.ndarray, y: np.ndarray) -> None:
        n = len(y)
        with self._limits():
            self.mean_model_ = self._make(n, None).fit(Z, y)
            self.lo_model_ = self._make(n, 0.15865525393145707).fit(Z, y)
            self.hi_model_ = self._make(n, 0.8413447460685429).fit(Z, y)

    def _predict(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with self._limits():
            half = 0.5 * np.abs(self.hi_model_.predict(Z) - self.lo_model_.predict(Z))
            return self.mean_model_.predict(Z), half


class MLPRegressor(Regressor):
    """Small torch MLP (ReLU), ensemble of ``n_ensemble`` seeds with early stopping on a held-out slice.

    Each member holds out its own random ``val_fraction`` of the rows (none if fewer than 10 rows, then
    it trains ``max_epochs``) and keeps the weights of its best held-out epoch. Targets are standardized
    inside. Deterministic for a given seed and thread count; global torch RNG state is left untouched
    and ``n_threads=None`` keeps the current ``torch.get_num_threads()``.
    """

    def __init__(self, hidden: Sequence[int] = (64, 64), n_ensemble: int = 5, max_epochs: int = 300,
                 patience: int = 20, lr: float = 3e-3, weight_decay: float = 1e-4, batch_size: int = 128,
                 val_fraction: float = 0.15, n_threads: int | None = None, seed: int = 0):
        self.hidden = hidden
        self.n_ensemble = n_ensemble
        self.max_epochs = max_epochs
        self.patience = patience
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.n_threads = n_threads
        self.seed = seed

    def _net(self, d: int) -> Any:
        from torch import nn

        layers: list[nn.Module] = []
        for width in self.hidden:
            layers += [nn.Linear(d, width), nn.ReLU()]
            d = width
        layers.append(nn.Linear(d, 1))
        return nn.Sequential(*layers)

    def _train_member(self, Z: Any, y: Any, member_seed: int) -> tuple[Any, float]:
        import torch

        n = len(y)
        rng = np.random.default_rng(member_seed)
        n_val = int(round(self.val_fraction * n)) if n >= 10 else 0
        perm = rng.permutation(n)
        val, tr = perm[:n_val], perm[n_val:]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(member_seed)
            net = self._net(Z.shape[1])
            opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            best_state, best_loss, bad_epochs = copy.deepcopy(net.state_dict()), np.inf, 0
            Ztr, ytr, Zval, yval = Z[tr], y[tr], Z[val], y[val]
            for _ in range(self.max_epochs):
                net.train()
                order = torch.randperm(len(tr))
                for start in range(0, len(tr), self.batch_size):
                    batch = order[start:start + self.batch_size]
                    opt.zero_grad()
                    loss = torch.mean((net(Ztr[batch]).squeeze(-1) - ytr[batch]) ** 2)
                    loss.backward()
                    opt.step()
                if n_val == 0:
                    continue
                net.eval()
                with torch.no_grad():
                    val_loss = float(torch.mean((net(Zval).squeeze(-1) - yval) ** 2))
                if val_loss < best_loss - 1e-7:
                    best_state, best_loss, bad_epochs = copy.deepcopy(net.state_dict()), val_loss, 0
                else:
                    bad_epochs += 1
                    if bad_epochs >= self.patience:
                        break
            if n_val:
                net.load_state_dict(best_state)
        net.eval()
        return net, (best_loss if n_val else 0.0)

    def _fit(self, Z: np.ndarray, y: np.ndarray) -> None:
        import torch

        from metamat.threads import torch_threads

        self.y_mean_, self.y_scale_ = float(y.mean()), float(y.std()) or 1.0
        seeds = np.random.SeedSequence(self.seed).generate_state(self.n_ensemble)
        Zt = torch.as_tensor(Z, dtype=torch.float32)
        yt = torch.as_tensor((y - self.y_mean_) / self.y_scale_, dtype=torch.float32)
        with torch_threads(self.n_threads):
            members = [self._train_member(Zt, yt, int(s)) for s in seeds]
        self.nets_ = [m[0] for m in members]
        self.noise_var_ = float(np.mean([m[1] for m in members]))

    def _predict(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch

        Zt = torch.as_tensor(Z, dtype=torch.float32)
        with torch.no_grad():
            preds = np.stack([net(Zt).squeeze(-1).numpy() for net in self.nets_]).astype(np.float64)
        mean = preds.mean(axis=0) * self.y_scale_ + self.y_mean_
        std = np.sqrt(preds.var(axis=0) + self.noise_var_) * self.y_scale_
        return mean, std


# ---------------------------------------------------------------- classifiers

class DummyClassifier(Classifier):
    """P(class 1) = smoothed training rate (n1 + 0.5) / (n + 1) for every row (the prior)."""

    def __init__(self, seed: int = 0):
        self.seed = seed

    def _fit(self, Z: np.ndarray, y: np.ndarray) -> None:
        self.rate_ = (float(y.sum()) + 0.5) / (len(y) + 1)

    def _proba(self, Z: np.ndarray) -> np.ndarray:
        return np.full(len(Z), self.rate_)


class LogisticClassifier(Classifier):
    """L2 logistic regression (scikit-learn LogisticRegression, lbfgs)."""

    def __init__(self, C: float = 1.0, seed: int = 0):
        self.C = C
        self.seed = seed

    def _fit(self, Z: np.ndarray, y: np.ndarray) -> None:
        from sklearn.linear_model import LogisticRegression

        self.model_ = LogisticRegression(C=self.C, max_iter=2000, random_state=self.seed).fit(Z, y)

    def _proba(self, Z: np.ndarray) -> np.ndarray:
        return self.model_.predict_proba(Z)[:, 1]


class KNNClassifier(Classifier):
    """P(class 1) = share of class-1 labels among the ``n_neighbors`` nearest training rows."""

    def __init__(self, n_neighbors: int = 5, seed: int = 0):
        self.n_neighbors = n_neighbors
        self.seed = seed

    def _fit(self, Z: np.ndarray, y: np.ndarray) -> None:
        from sklearn.neighbors import NearestNeighbors

        self.nn_ = NearestNeighbors(n_neighbors=min(self.n_neighbors, len(y))).fit(Z)
        self.y_ = y

    def _proba(self, Z: np.ndarray) -> np.ndarray:
        return self.y_[self.nn_.kneighbors(Z, return_distance=False)].mean(axis=1)


class RFClassifier(Classifier):
    """RandomForestClassifier(n_estimators=500), defaults otherwise (the matbench RF classifier)."""

    def __init__(self, n_estimators: int = 500, n_jobs: int | None = None, seed: int = 0):
        self.n_estimators = n_estimators
        self.n_jobs = n_jobs
        self.seed = seed

    def _fit(self, Z: np.ndarray, y: np.ndarray) -> None:
        from sklearn.ensemble import RandomForestClassifier

        self.model_ = RandomForestClassifier(n_estimators=self.n_estimators, n_jobs=self.n_jobs,
                                             random_state=self.seed).fit(Z, y)

    def _proba(self, Z: np.ndarray) -> np.ndarray:
        return self.model_.predict_proba(Z)[:, 1]


class GPClassifier(Classifier):
    """GaussianProcessClassifier (Laplace approximation) with a ConstantKernel * RBF kernel."""

    def __init__(self, n_restarts: int = 0, seed: int = 0):
        self.n_restarts = n_restarts
        self.seed = seed

    def _fit(self, Z: np.ndarray, y: np.ndarray) -> None:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessClassifier

        kernel = _scaled_rbf(Z.shape[1])
        self.model_ = GaussianProcessClassifier(kernel, n_restarts_optimizer=self.n_restarts,
                                                random_state=self.seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model_.fit(Z, y)

    def _proba(self, Z: np.ndarray) -> np.ndarray:
        return self.model_.predict_proba(Z)[:, 1]


# ---------------------------------------------------------------- registry entries

BASELINES: dict[str, ModelEntry] = {
    # regressors
    "dummy": ModelEntry(DummyRegressor, "support mean", classifier="dummy_clf"),
    "median": ModelEntry(MedianRegressor, "support median", classifier="dummy_clf"),
    "ridge": ModelEntry(RidgeRegressor, "ridge", classifier="logistic"),
    "knn": ModelEntry(KNNRegressor, "k nearest neighbours", classifier="knn_clf"),
    "gp": ModelEntry(GPRegressor, "Gaussian process", classifier="gp_clf"),
    "rf": ModelEntry(RFRegressor, "random forest", classifier="rf_clf", threads="n_jobs", forest=True),
    "rf_median": ModelEntry(RFMedianRegressor, "random forest (median of trees)", classifier="rf_clf",
                            threads="n_jobs", forest=True),
    "gbm": ModelEntry(GBMRegressor, "gradient boosting", threads="n_threads"),
    "mlp": ModelEntry(MLPRegressor, "neural network ensemble", threads="n_threads"),
    # classifiers (each is its own classifier on 0/1 tasks)
    "dummy_clf": ModelEntry(DummyClassifier, "support rate", "classification", classifier="dummy_clf"),
    "logistic": ModelEntry(LogisticClassifier, "logistic regression", "classification", classifier="logistic"),
    "knn_clf": ModelEntry(KNNClassifier, "k nearest neighbours", "classification", classifier="knn_clf"),
    "rf_clf": ModelEntry(RFClassifier, "random forest", "classification", classifier="rf_clf", threads="n_jobs",
                         forest=True),
    "gp_clf": ModelEntry(GPClassifier, "Gaussian process", "classification", classifier="gp_clf"),
}
#: name -> class of every baseline
MODELS: dict[str, type] = {name: e.target for name, e in BASELINES.items()}  # type: ignore[misc]
REGRESSORS: tuple[str, ...] = tuple(k for k, e in BASELINES.items() if e.kind == "regression")
CLASSIFIERS: tuple[str, ...] = tuple(k for k, e in BASELINES.items() if e.kind == "classification")


def make_model(name: str, seed: int = 0, **kwargs: Any) -> Any:
    """A fresh baseline by name; kept for old imports -- :func:`metamat.models.registry.make_model` takes
    every name (meta-learners too)."""
    if name not in BASELINES:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(BASELINES)}")
    return BASELINES[name].make(name, seed, **kwargs)
