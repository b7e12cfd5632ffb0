"""``auto``: choose the model for a task by cross-validation on the support itself, with conformal intervals.

Given a support ``(X, y)``, :class:`AutoRegressor`

1. fits every candidate (default: the shipped meta-learner, GP, random forest, tree-median forest, support
   median, ridge) on each cross-validation fold of the support: leave-one-out for ``n <= loo_max``
   (20), else ``n_folds`` (5) shuffled folds; each candidate gets one absolute CV error per support row;
2. chooses by the *margin rule*: the candidate with the lowest CV MAE wins only if it beats the
   ``fallback`` (default: the tree-median forest ``rf_median``) by more than ``margin`` (default 1) standard
   errors of the paired per-row differences ``|e_best| - |e_fallback|``; otherwise the fallback is used.
   Leave-one-out on 5-10 rows is noisy; a plain arg-min picks a worse model too often, so the rule keeps the
   baseline that is best across training tasks unless the support clearly says otherwise. The rule was
   chosen on tasks the evaluation never scores (``benchmarks/auto_rule_metaval.py``): on 14 META-TRAIN
   tasks, one per quantity family, meta-learner left out (``results/auto_rule_metatrain``), "margin 1
   over rf_median" scored 1.002 / 0.832 / 0.752 / 0.666 (scale-free MAE, k = 5/10/20/50) against
   1.032 / 0.868 / 0.771 / 0.678 for "margin 1 over the median" and 1.009 / 0.845 / 0.753 / 0.674 for the
   arg-min. On the 2 META-VALIDATION tasks (``results/auto_rule_metaval``) the median fallback was better
   at k = 5 (1.112 vs 1.231) and 50 (0.943 vs 0.979) and tied at 10 and 20: two tasks against fourteen.
   Physically, the median of the trees predicts exactly the typical value of zero-inflated (metals' gaps)
   and heavy-tailed targets, and it degrades to about the support median when the inputs carry no signal;
3. refits the chosen model on the whole support for the mean, and gives CV+ / jackknife+ intervals
   (Barber et al. 2021, Ann. Stat. 49:486) from the same folds: with ``R_i`` the CV residual of row i and
   ``mu_-f(i)(x)`` the prediction at x of the model fitted without row i's fold,
   lower = floor(a (n+1))-th smallest of ``mu_-f(i)(x) - R_i``, upper = ceil((1-a)(n+1))-th smallest of
   ``mu_-f(i)(x) + R_i`` (a = 1 - level), so coverage is calibrated for whichever model won. Where the
   rank ceil(level (n+1)) exceeds n (n <= 8 at 0.9) no such interval reaches the level (clamped to n it
   covered 0.83 on meta-train and 0.81 on the meta-test at k = 5); there the interval is parametric from the
   held-out residuals, ``mu(x) -+ t_{(1+level)/2, n-1} rms(R) sqrt(1 + 1/n)`` (``small_n_interval``, chosen
   among Student-t, Laplace and CV+-union variants on META-TRAIN tasks: :mod:`metamat.models.small_n_interval`,
   ``benchmarks/auto_small_n_interval.py``), recorded as ``choice_["interval_method"]`` /
   ``["interval_why"]``. ``std`` = half the 90% interval width / 1.645.

From ``refit_below`` (10) support rows on, steps 1 and 3 refit nothing for the forests, ridge and the GP
(``refit_cv=True`` refits every candidate per fold at any size, the reference): one forest gives ``rf`` and
``rf_median`` their out-of-bag errors and a jackknife+-after-bootstrap interval, ridge and the GP their fold
predictions in closed form, the meta-learner adapts to all folds at once (``vmap``;
:mod:`metamat.models.fast_cv`), and the queries are predicted once, by the winner only. Below 10 rows every
candidate is refitted per fold: on 10 META-TRAIN tasks (``benchmarks/auto_small_support_cv.py``, 8 episodes)
the refit-free CV at k = 5 chose the GP on 29 of 80 supports instead of 8 (its closed-form held-out errors
use hyperparameters fitted on all 5 rows, so they are optimistic; 90% coverage 0.68 where it won), and
covered 0.792 instead of 0.828 with a scale-free MAE of 1.070 instead of 1.056; at k = 10 the two tie
(coverage 0.913 vs 0.917, MAE 0.856 vs 0.862) and refits cost 8x the time.

Two physically motivated additions (issue 13), each a few more candidates under the same margin rule and
CV+ intervals (refitted per fold like every candidate):

- **same-quantity low fidelity** (``low_fidelity``: columns of X holding a lower-fidelity estimate of the
  *same* quantity in the target's unit, e.g. the DFT band-gap surrogates for a measured gap; several
  columns are averaged, a missing value counts as the support's mean): ``lowfi`` (low + support median
  of y - low), ``delta`` (tree-median forest on y - low) and ``delta_slope`` (the same on y - a low, ``a``
  fitted by least squares shrunk towards 1 with 5 rows' weight). Evaluators fit on support-standardized
  targets and pass the map in ``fit_scaling`` (``metamat.evaluate.running``), so the low value is read in
  the same space. With a low-fidelity input ``delta`` becomes the fallback (``low_fidelity_fallback``),
  chosen on 5 META-TRAIN tasks whose rows the surrogates never saw (C2DB HSE06 / G0W0 / PBE gaps and
  2DMatPedia gaps with the OQMD + AFLOW bulk band-gap surrogates, C2DB heat of formation with the OQMD +
  Bartel formation-energy surrogates; ``results/auto_rule_lowfi_metatrain``, 8 episodes): scale-free MAE
  at k = 5/10/20/50 without the candidates 0.973 / 0.898 / 0.777 / 0.654; with them over rf_median
  0.829 / 0.779 / 0.721 / 0.631; over ``delta`` 0.780 / 0.707 / 0.691 / 0.624 (paired ratio to "without"
  0.80 [0.75, 0.86] / 0.79 [0.75, 0.83] / 0.89 [0.84, 0.93] / 0.96 [0.93, 0.99]); over ``lowfi`` 0.775 /
  0.709 / 0.704 / 0.644, over ``delta_slope`` 0.779 / 0.713 / 0.693 / 0.620. It loses on C2DB PBE gaps
  (1.03-1.12x: 60% 2D metals, the bulk surrogates misjudge which are metallic).
- **a point mass on the physical bound 0** (metals' gaps, stable compounds' energy above hull): when at
  least ``zero_inflation`` = 0.3 of the support sits exactly on 0 (and every value is >= 0; never for
  log targets), ``hurdle`` (forest classifier P(y > 0) x tree-median forest above 0, mixture median) is
  offered and becomes the fallback (``hurdle_fallback``); predictions and interval ends of every
  candidate are then clipped at 0. Chosen on 9 zero-inflated META-TRAIN tasks (DFT gaps of AFLOW, OQMD,
  MP, C2DB PBE/HSE06, 2DMatPedia; MP and C2DB energy above hull, 2DMatPedia decomposition energy;
  ``results/auto_rule_hurdle_metatrain``, 8 episodes, k = 5/10/20/50): "margin 1 over rf_median"
  0.926 / 0.835 / 0.791 / 0.742; hurdle offered from 0.3 of the support on 0 and the fallback there
  0.921 / 0.831 / 0.779 / 0.737 (paired ratio 0.994 [0.981, 1.009] / 0.995 [0.982, 1.011] /
  0.985 [0.976, 0.993] / 0.993 [0.983, 1.004]); offered without becoming the fallback changed nothing
  (0.927 / 0.834 / 0.789 / 0.741); triggers 0.1-0.5 were within 0.01 of each other. It loses on
  aflow__Egap at k = 5 and 50 (1.04x) and matbench_mp_gap at k = 10 (1.04x); tasks without zeros are
  unaffected.

``choice_`` records the CV table (per candidate: CV MAE, paired difference to the fallback and its
standard error), the winner, the rule and why, and every candidate that was dropped (e.g. the
meta-learner when its training quantities overlap ``exclude_quantities``, the quantity of the task being
tested: the leakage guard of :mod:`metamat.models.leakage`).

The meta-learner needs the ``composition`` features it was trained on: with exactly that many columns it
takes them; with ``meta_prefix=True`` wider inputs whose first columns are those (``composition+knowledge``)
feed the other candidates in full and the meta-learner its own block; otherwise it is dropped (recorded).
Every other candidate takes whatever feature matrix it is given. The GP is skipped above ``max_gp_rows``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import norm

from metamat.models.base import Model, check_X, check_y
from metamat.models.domain import SupportDomain
from metamat.models.fast_cv import fast_cv
from metamat.models.fast_cv import same_forest as _same_forest
from metamat.models.small_n_interval import auto_interval, explain_interval, interval_method
from metamat.tasks.task import TargetTransform

META = "pretrained"
DEFAULT_CANDIDATES: tuple[str, ...] = (META, "gp", "rf", "rf_median", "median", "ridge")
#: Candidates added when a same-quantity low-fidelity input is given (``low_fidelity``): the low value plus
#: the support median of ``y - low``; a tree-median forest on ``y - low``; the same with a fitted slope.
LOW_FIDELITY_CANDIDATES: tuple[str, ...] = ("lowfi", "delta", "delta_slope")
#: The fallback of the margin rule when a low-fidelity input is given (rule study in the module docstring).
LOW_FIDELITY_FALLBACK = "delta"
#: Candidate added when a point mass sits on the physical lower bound 0 (zero-inflated support).
HURDLE = "hurdle"
#: Share of the support exactly at the lower bound 0 from which ``hurdle`` is offered (rule study below).
ZERO_INFLATION = 0.3
#: Whether ``hurdle`` becomes the fallback of the margin rule when it is offered (rule study below).
HURDLE_FALLBACK = True
#: The interval where the CV+ rank exceeds the support size (n <= 8 at 0.9; :mod:`metamat.models.small_n_interval`).
SMALL_N_INTERVAL = "student_t_inflated"
CANDIDATE_DESCRIPTIONS = {
    "lowfi": "low fidelity + support median of (target - low fidelity)",
    "delta": "low fidelity + tree-median forest on (target - low fidelity)",
    "delta_slope": "fitted slope x low fidelity + tree-median forest on the rest (slope shrunk towards 1)",
    HURDLE: "P(above the bound) from a forest classifier x tree-median forest above it (point mass at 0)",
}
_Z90 = float(norm.ppf(0.95))
QUERY_CHUNK = 50_000  # queries per block in predict_dist


def cv_folds(n: int, loo_max: int, n_folds: int, seed: int) -> np.ndarray:
    """Fold id per row: leave-one-out for ``n <= loo_max``, else ``n_folds`` shuffled folds."""
    if n <= loo_max:
        return np.arange(n)
    return np.random.default_rng(seed).permutation(n) % n_folds


def margin_choice(errors: dict[str, np.ndarray], fallback: str, margin: float) -> tuple[str, dict[str, Any]]:
    """The margin rule on per-row absolute CV errors: (winner, {candidate: stats}) (see module docstring)."""
    table: dict[str, Any] = {}
    ref = errors[fallback]
    n = len(ref)
    for name, e in errors.items():
        d = e - ref
        se = float(np.std(d, ddof=1) / np.sqrt(n)) if n > 1 else float("inf")
        table[name] = {"cv_mae": float(np.mean(e)), "diff_vs_fallback": float(np.mean(d)), "se_diff": se}
    best = min(errors, key=lambda c: (table[c]["cv_mae"], c != fallback))
    st = table[best]
    if best == fallback or st["diff_vs_fallback"] + margin * st["se_diff"] < 0:
        return best, table
    return fallback, table


def explain_choice(winner: str, fallback: str, table: dict[str, Any], margin: float, fallback_label: str,
                   kept: str) -> str:
    """One sentence on why the margin rule chose ``winner`` (``fallback_label`` names the fallback, ``kept``
    says what keeping it means)."""
    best = min(table, key=lambda c: table[c]["cv_mae"])
    errors = "standard error" if margin == 1 else "standard errors"
    if winner != fallback:
        return (f"{winner} beat {fallback_label} in cross-validation by {-table[winner]['diff_vs_fallback']:.3g} "
                f"(> {margin:g} {errors}, {table[winner]['se_diff']:.3g})")
    if best == fallback:
        return f"{fallback_label} had the lowest cross-validation MAE: {kept}"
    return (f"{best} had the lowest cross-validation MAE, but not by more than {margin:g} {errors} "
            f"over {fallback_label}: {kept}")


class AutoRegressor(Model):
    """Cross-validated choice among candidate models on the support, with CV+ intervals (module docstring)."""

    def __init__(self, candidates: Sequence[str] = DEFAULT_CANDIDATES, fallback: Sequence[str] = ("rf_median",),
                 margin: float = 1.0, loo_max: int = 20, n_folds: int = 5, rf_trees: int = 100,
                 meta_model: str = "default", exclude_quantities: Sequence[str] = (), meta_prefix: bool = False,
                 max_gp_rows: int = 1000, refit_cv: bool = False, refit_below: int = 10,
                 low_fidelity: Sequence[int] = (),
                 low_fidelity_fallback: str | None = LOW_FIDELITY_FALLBACK,
                 zero_inflation: float | None = ZERO_INFLATION, hurdle_fallback: bool = HURDLE_FALLBACK,
                 fit_scaling: tuple[float, float] = (0.0, 1.0), small_n_interval: str = SMALL_N_INTERVAL,
                 target_transform: str = "identity", n_jobs: int | None = 1, seed: int = 0):
        self.candidates = candidates
        self.fallback = fallback
        self.margin = margin
        self.loo_max = loo_max
        self.n_folds = n_folds
        self.rf_trees = rf_trees
        self.meta_model = meta_model
        self.exclude_quantities = exclude_quantities
        self.meta_prefix = meta_prefix
        self.max_gp_rows = max_gp_rows
        self.refit_cv = refit_cv
        self.refit_below = refit_below
        self.low_fidelity = low_fidelity
        self.low_fidelity_fallback = low_fidelity_fallback
        self.zero_inflation = zero_inflation
        self.hurdle_fallback = hurdle_fallback
        self.fit_scaling = fit_scaling
        self.small_n_interval = small_n_interval
        self.target_transform = target_transform
        self.n_jobs = n_jobs
        self.seed = seed

    # -------------------------------------------------------------------------------- candidates
    def _meta_template(self, dropped: dict[str, str]) -> Any:
        from metamat.models.leakage import overlap
        from metamat.models.registry import MetaModelFactory, saved_path, training_info

        info = training_info(saved_path(self.meta_model))
        clash = overlap(info, self.exclude_quantities)
        if clash:
            dropped[META] = (f"leakage guard: the meta-learner was trained on {', '.join(clash)}, the quantity "
                             "of this task")
            return None
        return MetaModelFactory(self.meta_model)("regression", self.seed)

    def _make(self, name: str, template: Any) -> Any:
        from metamat.models.registry import make_model, run_options

        if name == META:
            m = copy.deepcopy(template)
            m.target_transform = "identity"
            return m
        if name in LOW_FIDELITY_CANDIDATES:
            from metamat.models.multifidelity import DeltaRegressor

            base = "median" if name == "lowfi" else self._make("rf_median", template)
            return DeltaRegressor(base=base, low_column=-1, scale=None if name == "delta_slope" else 1.0,
                                  seed=self.seed)
        if name == HURDLE:
            from metamat.models.physics import HurdleRegressor

            return HurdleRegressor(classifier=self._make("rf_clf", template),
                                   regressor=self._make("rf_median", template), bound=self.bound_, seed=self.seed)
        return make_model(name, seed=self.seed, **run_options(name, self.n_jobs, self.rf_trees))

    def _low(self, X: np.ndarray) -> np.ndarray:
        """The low-fidelity value of each row in the space the model is fitted in: the mean of the
        ``low_fidelity`` columns (NaN-aware; NaN where every one is missing), through the target transform
        and ``fit_scaling``."""
        cols = X[:, list(self.low_fidelity)]
        have = np.isfinite(cols)
        n = have.sum(axis=1)
        low = np.where(n > 0, np.where(have, cols, 0.0).sum(axis=1) / np.maximum(n, 1), np.nan)
        if self.transform_.kind == "log10":
            low = np.log10(np.where(low > 0, low, np.nan))  # a non-positive estimate counts as missing
        center, scale = self.fit_scaling
        return (low - center) / scale

    def _inputs(self, name: str, X: np.ndarray, template: Any) -> np.ndarray:
        if name == META:
            return X[:, :template.prep_.n_features_in_]
        if name in LOW_FIDELITY_CANDIDATES:
            return np.column_stack([X, self._low(X)])
        return X

    def _zero_inflated(self, z: np.ndarray) -> tuple[float, float | None]:
        """(share of the support on the physical lower bound 0, the bound in the fitted space or ``None``
        when the targets are log-transformed and cannot reach 0)."""
        if self.transform_.kind != "identity":
            return 0.0, None
        center, scale = self.fit_scaling
        bound = (0.0 - center) / scale
        on = np.abs(z - bound) <= 1e-9 * (1.0 + abs(bound))
        return float(on.mean()), (bound if on.any() and np.all(z >= bound - 1e-9 * (1.0 + abs(bound))) else None)

    # -------------------------------------------------------------------------------- fit
    def fit(self, X: np.ndarray, y: np.ndarray) -> AutoRegressor:
        """Cross-validate every candidate on (X, y), choose, refit the winner (module docstring). Runs on one
        BLAS and torch thread: many small fits on a loaded machine are many times slower with BLAS threads
        spinning (measured: the GP's 6 fits on 50 rows, 6.9 s CPU -> 0.11 s on one thread). ``n_jobs`` > 1
        threads fit the forest beside the other candidates and split its trees at prediction, so the numbers
        are the same for every ``n_jobs``."""
        with self._threads():
            return self._fit_all(X, y)

    def _threads(self):
        from contextlib import nullcontext

        from metamat.threads import limit_threads

        if META in self.candidates:
            import torch  # noqa: F401  (the meta-learner's; loaded first so that its threads are limited too)
        return nullcontext() if self.n_jobs is None or self.n_jobs < 1 else limit_threads(1)

    def _fit_all(self, X: np.ndarray, y: np.ndarray) -> AutoRegressor:
        X = check_X(X)
        y = check_y(y, len(X))
        self.transform_ = TargetTransform(self.target_transform)
        z = self.transform_.forward(y, source="support")
        self.n_features_in_ = X.shape[1]
        n = len(z)
        dropped: dict[str, str] = {}
        names = list(dict.fromkeys(self.candidates))
        template = None
        if META in names:
            template = self._meta_template(dropped)
            width = None if template is None else template.prep_.n_features_in_
            if width is not None and not (X.shape[1] == width or (self.meta_prefix and X.shape[1] > width)):
                hint = "" if self.meta_prefix else f" (meta_prefix=True when they are the first {width})"
                dropped[META] = (f"the meta-learner reads its {width} composition features, which are not among "
                                 f"the {X.shape[1]} input columns{hint}")
                template = None
            if template is None:
                names.remove(META)
        zero_share, bound = self._zero_inflated(z)
        self.bound_ = bound
        offer_hurdle = (self.zero_inflation is not None and bound is not None and zero_share >= self.zero_inflation
                        and int(np.sum(z > bound)) >= 2)
        if offer_hurdle and HURDLE not in names:
            names.append(HURDLE)
        elif not offer_hurdle and HURDLE in names:
            names.remove(HURDLE)
            dropped[HURDLE] = (f"{zero_share:.0%} of the support on the lower bound 0 (offered from "
                               f"{self.zero_inflation if self.zero_inflation is not None else 'never'})")
        lowfi = list(self.low_fidelity)
        if lowfi:
            if any(not -X.shape[1] <= c < X.shape[1] for c in lowfi):
                raise ValueError(f"low_fidelity columns {lowfi} outside the {X.shape[1]} input columns")
            if not np.isfinite(self._low(X)).any():
                for c in LOW_FIDELITY_CANDIDATES:
                    dropped[c] = "no support row has a low-fidelity value"
            else:
                names += [c for c in LOW_FIDELITY_CANDIDATES if c not in names]
        if "gp" in names and n > self.max_gp_rows:
            names.remove("gp")
            dropped["gp"] = f"skipped above {self.max_gp_rows} support rows (cubic cost)"
        folds = cv_folds(n, self.loo_max, self.n_folds, self.seed)
        fold_ids = np.unique(folds)
        pred = {c: np.empty(n) for c in names}
        fold_models: dict[str, list[Any]] = {c: [] for c in names}
        refit = self.refit_cv or n < self.refit_below  # small supports: refits (module docstring)
        fast = {} if refit else fast_cv(names, lambda c: self._make(c, template),
                                        lambda c: self._inputs(c, X, template), z, folds, n_jobs=self.n_jobs)
        for c in names:
            if c in fast:  # out-of-bag / closed form, no refits (metamat.models.fast_cv)
                pred[c] = fast[c].pred
                continue
            Xc = self._inputs(c, X, template)
            for j, f in enumerate(fold_ids):
                test = folds == f
                try:
                    if c == "rf_median" and len(fold_models.get("rf", [])) == len(fold_ids):
                        m = _same_forest(self._make(c, template), fold_models["rf"][j])  # one fit, two centres
                    else:
                        m = self._make(c, template).fit(Xc[~test], z[~test])
                    pred[c][test] = m.predict(Xc[test])
                except (ValueError, np.linalg.LinAlgError) as exc:  # e.g. a GP on 4 identical rows
                    dropped[c] = f"failed in cross-validation: {type(exc).__name__}: {exc}"
                    break
                fold_models[c].append(m)
        names = [c for c in names if c not in dropped]
        errors = {c: np.abs(z - pred[c]) for c in names}
        order = [*([self.low_fidelity_fallback] if lowfi and self.low_fidelity_fallback else []),
                 *([HURDLE] if offer_hurdle and self.hurdle_fallback else []), *self.fallback]
        fallback = next((c for c in order if c in names), None)
        if fallback is None:
            fallback = min(names, key=lambda c: errors[c].mean())
        winner, table = margin_choice(errors, fallback, self.margin)
        for c in table:
            table[c]["cv_method"] = fast[c].method if c in fast else "refit per fold"
        why = explain_choice(winner, fallback, table, self.margin, f"the fallback {fallback}",
                             f"keeping {fallback}")
        self.chosen_ = winner
        won = fast.get(winner)
        self.model_ = won.model if won else self._make(winner, template).fit(self._inputs(winner, X, template), z)
        self.engine_ = won.engine if won else None
        self.fold_models_ = fold_models[winner]
        self.fold_of_row_ = np.searchsorted(fold_ids, folds)
        self.residuals_ = errors[winner]
        self.cv_predictions_ = pred
        self.cv_errors_ = errors
        self.template_ = template
        self.domain_ = SupportDomain(meta_prep=None if template is None else template.prep_).fit(X)
        self.choice_ = {"chosen": winner, "why": why, "fallback": fallback, "margin": self.margin,
                        "scheme": "leave-one-out" if n <= self.loo_max else f"{len(fold_ids)}-fold",
                        "n": n, "table": table, "dropped": dropped,
                        "cv_mae_space": "log10" if self.transform_.kind == "log10" else "target units",
                        "low_fidelity": {"columns": lowfi, "fallback": self.low_fidelity_fallback} if lowfi else None,
                        "zero_inflation": {"share_on_bound": zero_share, "offered_from": self.zero_inflation,
                                           "hurdle": offer_hurdle, "hurdle_fallback": self.hurdle_fallback},
                        "descriptions": {c: CANDIDATE_DESCRIPTIONS[c] for c in names if c in CANDIDATE_DESCRIPTIONS},
                        **self.interval_info(0.9)}
        return self

    def interval_info(self, level: float = 0.9) -> dict[str, str]:
        """How the ``level`` intervals are made for this support: ``interval_method`` (``cv_plus`` where its rank
        fits, else e.g. ``student_t_small_n``) and ``interval_why`` (one sentence)."""
        self._check_fitted()
        n = len(self.residuals_)
        return {"interval_method": interval_method(n, level, self.small_n_interval),
                "interval_why": explain_interval(n, level, self.small_n_interval)}

    # -------------------------------------------------------------------------------- predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError("AutoRegressor is not fitted: call fit(X, y) first")

    def _model_space(self, X: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._check_fitted()
        X = check_X(X, self.n_features_in_)
        if len(X) > QUERY_CHUNK:  # bounded memory: the fold predictions are (support rows x queries)
            parts = [self._model_space(X[i:i + QUERY_CHUNK], level) for i in range(0, len(X), QUERY_CHUNK)]
            return tuple(np.concatenate(p) for p in zip(*parts, strict=True))
        return self.interval_from_parts(*self.interval_parts(X), level)

    def interval_parts(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(mu, loo, r)`` in the fitted space for checked inputs ``X``: the refitted winner's centre (q,), the
        fold models' predictions ``mu_-f(i)(x)`` (n, q) and the held-out absolute residuals (n,)."""
        Xc = self._inputs(self.chosen_, X, self.template_)
        if getattr(self, "engine_", None) is not None:  # centre and fold predictions in one pass
            mu, loo = self.engine_.parts(Xc)
            return mu, loo, self.engine_.residuals
        mu = np.asarray(self.model_.predict(Xc), dtype=float)
        loo = np.stack([m.predict(Xc) for m in self.fold_models_])[self.fold_of_row_]  # (n, q)
        return mu, loo, self.residuals_

    def interval_from_parts(self, mu: np.ndarray, loo: np.ndarray, r: np.ndarray, level: float,
                            method: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(mu, lower, upper)``: CV+ where its rank fits, else the small-sample ``method`` (default
        ``small_n_interval``), then clipped at the physical bound (in that order)."""
        lower, upper = auto_interval(mu, loo, r, level, method or self.small_n_interval,
                                     n_jobs=self.n_jobs)  # CV+ query blocks on n_jobs threads
        lower, upper = np.minimum(lower, mu), np.maximum(upper, mu)
        if self.bound_ is not None:  # the support sits on the physical bound 0: nothing goes below it
            mu, lower, upper = (np.maximum(a, self.bound_) for a in (mu, lower, upper))
        return mu, lower, upper

    def predict_dist(self, X: np.ndarray, level: float = 0.9) -> tuple[np.ndarray, ...]:
        """``(mean, std, lower, upper)``: refitted winner's mean, CV+ interval (module docstring)."""
        with self._threads():
            mu, lo, hi = self._model_space(X, level)
            mu90, lo90, hi90 = (mu, lo, hi) if level == 0.9 else self._model_space(X, 0.9)
        inv = self.transform_.inverse
        sz = np.maximum((hi90 - lo90) / (2 * _Z90), 1e-12)
        std = sz if self.transform_.kind == "identity" else self.transform_.inverse_std(mu, sz)
        return inv(mu), std, inv(lo), inv(hi)

    def predict(self, X: np.ndarray, return_std: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        mean, std, _, _ = self.predict_dist(X)
        return (mean, std) if return_std else mean

    def predict_interval(self, X: np.ndarray, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        return self.predict_dist(X, level)[2:]

    def domain(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Per query row: distance to the support, whether it is inside the support's domain, and how many
        features lie outside the meta-training range (see :class:`~metamat.models.domain.SupportDomain`)."""
        self._check_fitted()
        return self.domain_.score(check_X(X, self.n_features_in_))
