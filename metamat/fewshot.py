"""Few-shot prediction for a user's small table: the library behind ``metamat fewshot``.

:func:`run_fewshot` reads a support table (5-50+ measured materials: formula + target), adapts a
meta-trained model to it (the shipped ``default`` model, see ``metamat/pretrained/MODEL_CARD.md``, or a
saved model path), predicts the query table and writes it back with ``prediction``, ``std``, ``lower90``,
``upper90`` (original units). A leave-one-out check on the support (MAE and 90% interval coverage) tells
the user whether to trust the predictions, and a parity plot of the leave-one-out predictions is saved as
PNG. This module returns data and prints nothing: ``metamat fewshot`` (:mod:`metamat.app.fewshot`) prints
:meth:`FewShotResult.summary`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metamat.errors import InputError, Problem
from metamat.files import table_format, write_table

MIN_SUPPORT = 5
OUTPUT_COLUMNS = ("prediction", "std", "lower90", "upper90")
#: Domain-of-applicability columns added for composition models (see :mod:`metamat.models.domain`).
DOMAIN_COLUMNS = ("in_domain", "support_distance")
#: A model must beat the forest's leave-one-out MAE within this factor, else the verdict says so.
RF_MARGIN = 0.95


# ------------------------------------------------------------------------------------------------ model
def fewshot_model_spec(model: str | os.PathLike | Any | None) -> str | os.PathLike | Any:
    """The one place that decides the model when none is given: ``auto`` (with ``--structure-column``,
    :func:`load_fewshot_model` makes it the structure-aware ``auto``, which keeps composition-only inputs
    unless structure wins in CV on the support). A given model (name, path, object) is kept."""
    return "auto" if model is None else model


def load_fewshot_model(model: str | os.PathLike = "default", log_target: bool = False, structure: bool = False,
                       structure_features: str = "physics"):
    """The shipped default meta-model (``"default"`` or ``"pretrained"``; with ``structure`` the shipped
    crystal-graph model) or a saved model (``path``, ``path.safetensors`` or ``pretrained:path``); a missing
    or damaged file raises :class:`~metamat.models.io.ModelFileError` (an ``InputError``). ``auto`` with
    ``structure`` is the structure ``auto``; ``structure_features="physics+embedding"`` adds its embedding
    candidates (:data:`~metamat.models.structure_auto.EMBEDDING_CANDIDATES`)."""
    from metamat.models.registry import load

    transform = "log10" if log_target else "identity"
    if str(model) == "auto" and structure:  # composition-only unless structure inputs win in CV on the support
        from metamat.fewshot_inputs import STRUCTURE_FEATURE_CHOICES
        from metamat.models.structure_auto import EMBEDDING_CANDIDATES, StructureAutoRegressor

        embedding = EMBEDDING_CANDIDATES if structure_features == STRUCTURE_FEATURE_CHOICES[1] else ()
        return StructureAutoRegressor(target_transform=transform, embedding_candidates=embedding)
    if str(model) == "auto" and not structure:
        from metamat.models.registry import make_model

        return make_model("auto", target_transform=transform, n_jobs=os.cpu_count() or 1)  # same numbers, any n_jobs
    return load(model, structure=structure, target_transform=transform)


# ------------------------------------------------------------------------------------------------ checks
def check_support(y: np.ndarray, formulas: np.ndarray, *, source: str, target: str, log_target: bool,
                  min_rows: int = MIN_SUPPORT, distinct_compositions: bool = True,
                  rows: np.ndarray | None = None) -> None:
    """Raise :class:`InputError` for a support that cannot be learned from (too few rows, constant, ...).

    ``rows`` (the 1-based data row of each value) puts row numbers into the problems."""
    if len(y) < min_rows:
        raise InputError(f"only {len(y)} usable support rows for target {target!r}; need at least {min_rows} "
                         "measured materials", source=source, field=target)
    if log_target:
        bad = np.flatnonzero(~(y > 0))
        if len(bad):
            raise InputError(problems=[Problem(f"--log-target needs positive values, got {float(y[r]):g}", source,
                                               None if rows is None else int(rows[r]), target, float(y[r]))
                                       for r in bad])
    if np.ptp(y) <= 1e-12 * max(1.0, float(np.max(np.abs(y)))):
        raise InputError(f"target {target!r} is constant ({y[0]:g}) in every support row: nothing to learn",
                         source=source, field=target)
    if distinct_compositions and len(np.unique(formulas)) < min_rows:
        raise InputError(f"only {len(np.unique(formulas))} distinct compositions in the support; need at "
                         f"least {min_rows}", source=source, field="formula")


def read_query(path: Path, formula_column: str | None, notes: list[str], structure_column: str | None = None
                ) -> tuple[pd.DataFrame, str]:
    from metamat.data.readers import read_frame

    df = read_frame(path)
    notes.extend(df.attrs.get("read_notes", []))  # e.g. the delimiter detected in a .csv
    return query_frame(df, str(path), formula_column, notes, structure_column)


def query_frame(df: pd.DataFrame, source: str, formula_column: str | None, notes: list[str],
                structure_column: str | None = None) -> tuple[pd.DataFrame, str]:
    """The query table (columns as strings) and its formula (or structure) column, checked."""
    from metamat.data.readers import guess_formula_column

    if len(df) == 0:
        raise InputError("no data rows", source=source)
    df = df.copy()
    df.columns = [str(c) for c in df.columns]
    if structure_column is not None:
        if structure_column not in df.columns:
            raise InputError(f"no column {structure_column!r} in the query table; columns: "
                             f"{', '.join(map(repr, df.columns))}", source=source, field="--structure-column")
        col = structure_column
    elif formula_column is not None and formula_column in df.columns:
        col = formula_column
    else:
        col = guess_formula_column(df, exclude=set(), notes=notes)
        if col is None:
            raise InputError("no formula column found in the query table (by name or content); pass "
                             f"--formula-column; columns: {', '.join(map(repr, df.columns))}", source=source)
    clash = [c for c in (*OUTPUT_COLUMNS, *DOMAIN_COLUMNS) if c in df.columns]
    if clash:
        raise InputError(f"query table already has column(s) {clash}; rename them (they would be "
                         "overwritten)", source=source, field=clash[0])
    return df, col


def _structure_inputs(model, sub, column: str, support: Path, qdf: pd.DataFrame, query: Path):
    """Support and query input matrices of a structure-aware model; query rows whose structure cannot be
    read or fails validation get no prediction and are listed."""
    from metamat.data.structures import crystals_from_objects, crystals_or_raise
    from metamat.featurize.structure import crystal_formula
    from metamat.tasks.structure_tasks import model_inputs

    rows = sub.data["source_row"].to_numpy() if "source_row" in sub.data else None
    crystals = crystals_or_raise(sub.structures, str(support), column, rows=rows, base_dir=support.parent,
                                 earlier=[p for p in sub.report.rejected if p.field == column])
    X = model_inputs(model, crystals, [crystal_formula(c) for c in crystals], source=str(support))
    qcrystals, problems = crystals_from_objects(qdf[column].to_numpy(dtype=object), str(query), column,
                                                base_dir=query.parent)
    problems.sort(key=lambda p: p.row or 0)
    ok = np.array([c is not None for c in qcrystals], bool)
    good = [c for c in qcrystals if c is not None]
    Xq = model_inputs(model, good, [crystal_formula(c) for c in good], source=str(query)) if good else np.zeros((0, 1))
    return X, Xq, ok, problems


# ------------------------------------------------------------------------------------------------ LOO
def leave_one_out(model, X: np.ndarray, y: np.ndarray, level: float = 0.9, max_folds: int = 100,
                  seed: int = 0) -> dict[str, Any]:
    """Leave-one-out (k-fold with ``max_folds`` folds above that size) predictions on the support."""
    n = len(y)
    folds = np.arange(n) if n <= max_folds else np.random.default_rng(seed).permutation(n) % max_folds
    mean, std = np.empty(n), np.empty(n)
    lo, hi = np.empty(n), np.empty(n)
    for f in np.unique(folds):
        test = folds == f
        model.fit(X[~test], y[~test])
        mean[test], std[test], lo[test], hi[test] = model.predict_dist(X[test], level=level)
    return check_metrics(y, mean, std, lo, hi, level, "leave-one-out" if n <= max_folds else f"{max_folds}-fold")


def check_metrics(y: np.ndarray, mean: np.ndarray, std: np.ndarray, lo: np.ndarray, hi: np.ndarray, level: float,
                  scheme: str) -> dict[str, Any]:
    """The support check's record: held-out predictions, MAE, MAE / mean absolute deviation, coverage."""
    inside = (y >= lo) & (y <= hi)
    mad = float(np.mean(np.abs(y - y.mean())))
    err = float(np.mean(np.abs(y - mean)))
    return {"mean": mean, "std": std, "lower": lo, "upper": hi, "mae": err,
            "scale_free_mae": err / mad if mad > 0 else float("nan"), "coverage": float(inside.mean()),
            "level": level, "n": len(y), "scheme": scheme}


def auto_leave_one_out(model, y: np.ndarray, level: float = 0.9) -> dict[str, Any]:
    """The support check of a fitted ``auto`` model from its own cross-validation (no nested refits): the
    chosen model's CV predictions, and for each row the interval ``pred_i -+ q_-i``, q_-i the conformal
    quantile of the other rows' CV residuals (where that rank exceeds them, ``auto``'s small-sample interval:
    :func:`metamat.models.small_n_interval.split_halfwidth`). It reuses the data the choice was made on, so it
    is slightly optimistic (selection bias); the choice table says by how much the candidates differed."""
    from metamat.models.auto import SMALL_N_INTERVAL
    from metamat.models.small_n_interval import split_halfwidth

    z = model.transform_.forward(y)
    pred = model.cv_predictions_[model.chosen_]
    r = np.abs(z - pred)
    method = getattr(model, "small_n_interval", SMALL_N_INTERVAL)
    q = np.array([split_halfwidth(np.delete(r, i), level, method) for i in range(len(z))])
    inv = model.transform_.inverse
    mean, lo, hi = inv(pred), inv(pred - q), inv(pred + q)
    return check_metrics(y, mean, (hi - lo) / 3.29, lo, hi, level,
                         model.choice_["scheme"] + " (auto's own cross-validation)")


def cv_check(model: Any, X: np.ndarray, y: np.ndarray, level: float) -> dict[str, np.ndarray] | None:
    """Cross-validated (mean, lower, upper) on the support of a *fitted* model whose innermost model is
    ``auto`` (its own CV predictions and conformal intervals, mapped through the wrappers); ``None`` for
    any other model (the caller runs a leave-one-out check with refits)."""
    from metamat.fewshot_inputs import PerAtomRegressor
    from metamat.models.auto import AutoRegressor
    from metamat.models.physics import BoundedRegressor, ResidualRegressor

    if isinstance(model, AutoRegressor):
        r = auto_leave_one_out(model, y, level=level)
        return {"mean": r["mean"], "lower": r["lower"], "upper": r["upper"], "scheme": r["scheme"]}
    if isinstance(model, BoundedRegressor):
        r = cv_check(model.model_, X, model._forward(y), level)
        return None if r is None else {**r, **{k: model._inverse(r[k]) for k in ("mean", "lower", "upper")}}
    if isinstance(model, ResidualRegressor):
        F, offset = model.offset(X)
        r = cv_check(model.model_, F, y - offset, level)
        return None if r is None else {**r, **{k: r[k] + offset for k in ("mean", "lower", "upper")}}
    if isinstance(model, PerAtomRegressor):
        Z, f = model._split(X)
        r = cv_check(model.model_, Z, y / f, level)
        return None if r is None else {**r, **{k: r[k] * f for k in ("mean", "lower", "upper")}}
    return None


def forest_check(X: np.ndarray, y: np.ndarray, log_target: bool, max_folds: int = 20) -> dict[str, Any]:
    """Leave-one-out (``max_folds``-fold above) MAE of the random forest on the support, for the verdict."""
    from metamat.models.registry import make_model

    z = np.log10(y) if log_target else y
    res = leave_one_out(make_model("rf", n_estimators=100, n_jobs=1), X, z, max_folds=max_folds)
    mean = 10 ** res["mean"] if log_target else res["mean"]
    return {"model": "rf", "mae": float(np.mean(np.abs(y - mean))), "scheme": res["scheme"]}


def query_domain(model, X: np.ndarray, Xq: np.ndarray) -> dict[str, np.ndarray]:
    """Domain-of-applicability columns per query row (:class:`~metamat.models.domain.SupportDomain`), in the
    meta-learner's standardized feature space when there is one, else the support's."""
    from metamat.models.domain import SupportDomain

    if hasattr(model, "domain"):
        return model.domain(Xq)
    prep = getattr(model, "prep_", None)
    meta_prep = prep if prep is not None and hasattr(prep, "low_") and hasattr(prep, "mean_") else None
    return SupportDomain(meta_prep=meta_prep).fit(X).score(Xq)


# ------------------------------------------------------------------------------------------------ main
@dataclass
class FewShotResult:
    predictions: pd.DataFrame
    loo: dict[str, Any]
    target: str
    n_support: int
    support_report: Any
    query_problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    output: Path | None = None
    plot: Path | None = None
    support_y: np.ndarray | None = None
    choice: dict[str, Any] | None = None
    forest: dict[str, Any] | None = None
    n_out_of_domain: int = 0

    def trust_message(self) -> str:
        cov, sf = self.loo["coverage"], self.loo["scale_free_mae"]
        if sf < 0.5 and 0.75 <= cov <= 1.0:
            msg = "good: leave-one-out error is well below the spread of the data and intervals hold"
        elif sf < 0.9 and cov >= 0.7:
            msg = "usable with care: predictions beat the support mean, but check the intervals"
        else:
            msg = ("weak: leave-one-out error is close to (or above) just predicting the mean; add measurements "
                   "or treat predictions as rough")
        if self.forest is not None and self.forest["mae"] < RF_MARGIN * self.loo["mae"]:
            msg += (f"; the random forest was better in leave-one-out (MAE {self.forest['mae']:.4g} vs "
                    f"{self.loo['mae']:.4g}): try --model auto, which chooses by cross-validation")
        n_q = int(self.predictions["prediction"].notna().sum())
        if self.n_out_of_domain:
            msg += (f"; {self.n_out_of_domain} of {n_q} query rows are extrapolations (in_domain = False: farther "
                    "from the support than any support row is from the others): treat them as rough, or measure "
                    "one or two of them and add them to the support")
        return msg

    def choice_lines(self) -> list[str]:
        """The ``auto`` diagnostics: chosen model, why, and the cross-validation table."""
        if not self.choice:
            return []
        c = self.choice
        lines = [f"auto chose {c['chosen']} ({c['scheme']} on the support, MAE in {c['cv_mae_space']}): {c['why']}"]
        for name, row in sorted(c["table"].items(), key=lambda kv: kv[1]["cv_mae"]):
            mark = "*" if name == c["chosen"] else " "
            how = f"  [{row['cv_method']}]" if "cv_method" in row else ""
            lines.append(f"  {mark} {name:11s} CV MAE {row['cv_mae']:.4g}  vs {c['fallback']}: "
                         f"{row['diff_vs_fallback']:+.3g} (se {row['se_diff']:.2g}){how}")
        lines += [f"  - {name}: not used ({why})" for name, why in c["dropped"].items()]
        if c.get("low_fidelity_source"):
            lines.append(f"  {c['low_fidelity_source']}")
        z = c.get("zero_inflation") or {}
        if z.get("hurdle"):
            lines.append(f"  hurdle offered: {z['share_on_bound']:.0%} of the support sits on the lower bound 0 "
                         f"(offered from {z['offered_from']:.0%})")
        lines += [f"  {name}: {text}" for name, text in c.get("descriptions", {}).items()]
        if c.get("interval_why"):
            lines.append(f"  {c['interval_why']}")
        return lines

    def summary(self) -> str:
        lo = self.loo
        lines = [f"support: {self.n_support} materials, target {self.target!r}",
                 f"{lo['scheme']} check on the support: MAE {lo['mae']:.4g} (MAE / mean abs. deviation "
                 f"{lo['scale_free_mae']:.2f}), {int(lo['level'] * 100)}% interval coverage {lo['coverage']:.0%} "
                 f"of {lo['n']}",
                 *self.choice_lines(),
                 f"trust: {self.trust_message()}",
                 f"query: {len(self.predictions)} rows, predicted {int(self.predictions['prediction'].notna().sum())}"]
        if self.query_problems:
            lines.append(f"query rows without a prediction ({len(self.query_problems)}):")
            lines += [f"  - {p}" for p in self.query_problems[:20]]
            if len(self.query_problems) > 20:
                lines.append(f"  ... and {len(self.query_problems) - 20} more")
        lines += [f"note: {n}" for n in self.notes]
        if self.output:
            lines.append(f"wrote {self.output}")
        if self.plot:
            lines.append(f"parity plot {self.plot}")
        return "\n".join(lines)


def run_fewshot(support: str | os.PathLike, query: str | os.PathLike, *, target: str | None = None,
                model: str | os.PathLike | Any | None = None, formula_column: str | None = None,
                log_target: bool = False, output: str | os.PathLike | None = None,
                plot: str | os.PathLike | None | bool = True, level: float = 0.9,
                min_support: int = MIN_SUPPORT, structure_column: str | None = None,
                precision: int | None = 6, features: str = "composition", baseline_column: str | None = None,
                basis: str | None = "auto", bounds: str | tuple | None = None,
                low_fidelity: str | None = "auto", structure_features: str = "physics") -> FewShotResult:
    """Adapt ``model`` to the support table and predict the query table (see module docstring).

    ``model``: ``None`` (default) is ``auto`` for composition runs (:class:`~metamat.models.auto.AutoRegressor`:
    the shipped meta-learner, GP, forests, median and ridge, chosen by cross-validation on the support; with
    ``structure_column`` also structure descriptors and the shipped structure-aware model);
    ``"default"``/``"pretrained"`` is the shipped meta-learner (with ``structure_column`` the shipped
    structure-aware model); a path is a saved model. ``features``, ``baseline_column``, ``basis``, ``bounds``,
    ``low_fidelity`` (default ``auto``: a same-quantity knowledge surrogate when the target's name and unit
    match one, else nothing): see :mod:`metamat.fewshot_inputs`.

    ``structure_column`` names a column (in both tables) of CIF text or structure-file paths relative to the
    table (CIF, POSCAR, extxyz); structure inputs (descriptors, crystal graphs) are then available.
    ``structure_features`` (``physics`` or ``physics+embedding``): the structure ``auto``'s candidate inputs
    (:data:`~metamat.fewshot_inputs.STRUCTURE_FEATURE_CHOICES`).

    ``plot=True`` saves the parity plot next to ``output`` (``<output stem>_loo_parity.png``), a path saves it
    there, ``False``/``None`` skips it. ``model`` may also be an already loaded meta-model. ``precision``:
    significant digits of the floats written to a text output (``None``: all).
    """
    from metamat.data.readers import read_frame

    support, query = Path(support), Path(query)
    if output is not None:
        table_format(output)  # an unknown suffix or a folder is refused before any work
    sdf = read_frame(support)
    qdf = read_frame(query)
    res = fewshot_frames(sdf, qdf, target=target, model=model, formula_column=formula_column,
                         log_target=log_target, level=level, min_support=min_support,
                         structure_column=structure_column, support_source=support, query_source=query,
                         support_notes=sdf.attrs.get("read_notes", []), query_notes=qdf.attrs.get("read_notes", []),
                         features=features, baseline_column=baseline_column, basis=basis, bounds=bounds,
                         low_fidelity=low_fidelity, structure_features=structure_features)
    tname, loo, y = res.target, res.loo, res.support_y
    if plot:  # the side file's name is checked before anything is written
        from metamat.files import side_report_path

        if plot is True:
            base = Path(output) if output is not None else Path(f"fewshot_{tname}.csv")
            ppath = side_report_path(base, "loo_parity", ".png", own_header=b"\x89PNG", sep="_")
        else:
            ppath = Path(plot)
    if output is not None:
        res.output = Path(output)
        write_table(res.predictions, res.output, precision=precision)
    if plot:
        from metamat.evaluate.plots import plot_parity

        yerr = np.vstack([loo["mean"] - loo["lower"], loo["upper"] - loo["mean"]])
        res.plot = plot_parity(y, loo["mean"], ppath, yerr=yerr, log=log_target,
                               ylabel="leave-one-out prediction (90% interval)",
                               title=f"{tname}: {loo['scheme']} on {len(y)} support rows\nMAE {loo['mae']:.3g}, "
                                     f"coverage {loo['coverage']:.0%}")
    return res


def fewshot_frames(sdf_in: pd.DataFrame, qdf_in: pd.DataFrame, *, target: str | None = None,
                   model: str | os.PathLike | Any | None = None, formula_column: str | None = None,
                   log_target: bool = False, level: float = 0.9, min_support: int = MIN_SUPPORT,
                   structure_column: str | None = None, features: str = "composition",
                   baseline_column: str | None = None, basis: str | None = "auto",
                   bounds: str | tuple | None = None, support_source: str | os.PathLike = "support",
                   query_source: str | os.PathLike = "query", support_notes: list[str] | tuple = (),
                   query_notes: list[str] | tuple = (), low_fidelity: str | None = "auto",
                   structure_features: str = "physics") -> FewShotResult:
    """The few-shot flow on DataFrames (what :func:`run_fewshot` runs after reading its two files): validate
    the support, adapt the model, predict every query row. Nothing is written. ``*_source`` names the tables
    in messages (and is the folder structure paths are relative to). ``features``, ``baseline_column``,
    ``basis``, ``bounds`` and ``low_fidelity``: see :mod:`metamat.fewshot_inputs` (composition runs only);
    ``structure_features`` (structure ``auto`` only): :func:`~metamat.fewshot_inputs.check_structure_features`."""
    from metamat.data.readers import table_from_frame
    from metamat.fewshot_inputs import check_features, check_structure_features, resolve_low_fidelity

    support, query = Path(support_source), Path(query_source)
    structure = structure_column is not None
    if structure:
        given = {"--features": features != "composition", "--baseline-column": baseline_column is not None,
                 "--basis": basis not in (None, "auto"), "--bounds": bounds is not None,
                 "--low-fidelity": low_fidelity not in (None, "auto", "none")}
        bad = [k for k, v in given.items() if v]
        if bad:
            raise InputError(f"{bad[0]} is for composition runs; it is not available with --structure-column",
                             field=bad[0])
    check_features(features)
    model = fewshot_model_spec(model)
    check_structure_features(structure_features, structure, model)
    targets: Any = target
    if baseline_column is not None:
        if baseline_column not in map(str, sdf_in.columns):
            raise InputError(f"no column {baseline_column!r} in the support table; columns: "
                             f"{', '.join(map(repr, map(str, sdf_in.columns)))}", source=str(support),
                             field="--baseline-column")
        if baseline_column == target:
            raise InputError("the baseline column cannot be the target", field="--baseline-column",
                             value=baseline_column)
        targets = None if target is None else [target, baseline_column]
    columns = [str(c) for c in sdf_in.columns]
    lowfi, lowfi_note = None, ""
    if not structure and low_fidelity not in (None, "auto"):  # resolved once; unknown names raise here
        lowfi, lowfi_note = resolve_low_fidelity(low_fidelity, target or "", columns)
    low_column = None if lowfi is None else lowfi.column
    if low_column is not None and targets is not None:
        targets = [*targets, low_column] if isinstance(targets, list) else [targets, low_column]
    table = table_from_frame(sdf_in, source=str(support), name=support.stem, formula_column=formula_column,
                             target_columns=targets, outlier_z=None, structure_column=structure_column,
                             duplicates="keep" if structure else "median", base_dir=support.parent,
                             notes=list(support_notes))
    candidates = [t for t in table.targets if t not in (baseline_column, low_column)]
    if len(candidates) > 1:
        raise InputError(f"several numeric columns could be the target: {candidates}; choose one with "
                         "--target", source=str(support), field="--target")
    if not candidates:
        raise InputError("no numeric target column besides the baseline column", source=str(support),
                         field="--target")
    tname = candidates[0]
    baseline = None if baseline_column is None else _support_baseline(table, tname, baseline_column, str(support))
    sub = table.for_target(tname)
    y = sub.target(tname)
    formulas = sub.formulas
    notes: list[str] = []  # the support's own notes are in support_report
    check_support(y, formulas, source=str(support), target=tname, log_target=log_target, min_rows=min_support,
                  distinct_compositions=not structure,
                  rows=sub.data["source_row"].to_numpy() if "source_row" in sub.data.columns else None)
    qnotes: list[str] = list(query_notes)
    qdf, qcol = query_frame(qdf_in, str(query), formula_column, qnotes, structure_column)
    notes += [f"query {n}" for n in qnotes]
    if structure:
        m = model if hasattr(model, "predict_dist") else load_fewshot_model(
            model, log_target=log_target, structure=True, structure_features=structure_features)
        return _structure_run(m, sub, y, tname, table, structure_column, support, qdf, query, notes, level,
                              log_target)
    from metamat.data.hydrate import hydrate_dot_warnings

    notes += hydrate_dot_warnings(list(formulas), str(support))
    notes += hydrate_dot_warnings(qdf[qcol].tolist(), str(query))
    import torch  # noqa: F401  (loaded before the limit so that its threads are limited too)

    from metamat.threads import limit_threads

    with limit_threads(1):  # small models, many small fits: a second (BLAS or torch) thread spins on a shared
        # machine (k = 50 + 10,000 queries, shipped model: 25 s CPU in its 50 leave-one-out fits on 2 threads)
        if low_fidelity == "auto":  # the target's quantity is known only now
            lowfi, lowfi_note = resolve_low_fidelity(low_fidelity, tname, columns)
        if lowfi_note:
            notes.append(lowfi_note)
        return _composition_run(model, formulas, y, tname, table, qdf, qcol, support, query, notes, level=level,
                                log_target=log_target, features=features, baseline=baseline,
                                baseline_column=baseline_column, basis=basis, bounds=bounds, lowfi=lowfi,
                                lowfi_given=low_fidelity not in (None, "auto", "none"))


def _low_fidelity_values(src, table, tname: str, formulas, qdf: pd.DataFrame, ok: np.ndarray, query_formulas,
                         source: str, query_source: str) -> tuple[np.ndarray, np.ndarray]:
    """(support, query) low-fidelity columns in the target's unit: each surrogate's prediction, or the user's
    column (missing values allowed: those rows use the support's mean low fidelity)."""
    if src.column is None:
        from metamat.featurize.knowledge import predict_property

        s = np.column_stack([predict_property(list(formulas), n)[0] for n in src.surrogates])
        q = (np.column_stack([predict_property(list(query_formulas), n)[0] for n in src.surrogates])
             if len(query_formulas) else np.empty((0, len(src.surrogates))))
        return s, q
    keep = np.isfinite(table.target(tname))
    s = table.target(src.column)[keep]
    if not np.isfinite(s).any():
        raise InputError("no support row has a low-fidelity value", source=source, field="--low-fidelity",
                         value=src.column)
    if src.column not in qdf.columns:
        raise InputError(f"no column {src.column!r} in the query table; columns: {', '.join(map(repr, qdf.columns))}",
                         source=query_source, field="--low-fidelity")
    raw = qdf[src.column]
    q = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(np.isnan(q) & raw.notna().to_numpy() & (raw.astype(str).str.strip() != "").to_numpy())
    if len(bad):  # an empty cell is a missing estimate; text is an error, never a silent NaN
        raise InputError(f"not a number: {raw.iloc[bad[0]]!r} (empty cells are allowed: the row then uses the "
                         "support's mean low fidelity)", source=query_source, row=int(bad[0]) + 1,
                         field=src.column)
    return s[:, None], q[ok][:, None]


def _support_baseline(table, tname: str, column: str, source: str) -> np.ndarray:
    """The baseline value of each support row that has a target value; a missing one is an error naming
    the row (the model learns target - baseline)."""
    keep = np.isfinite(table.target(tname))
    values = table.target(column)[keep]
    rows = table.data["source_row"].to_numpy()[keep] if "source_row" in table.data.columns else np.arange(
        keep.sum()) + 1
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        why = ("missing or non-numeric baseline value (the model learns target - baseline, so every support row "
               "with a target needs one)")
        raise InputError(problems=[Problem(why, source, int(rows[i]), column, None) for i in bad])
    return values


def _query_baseline(qdf: pd.DataFrame, ok: np.ndarray, column: str, source: str) -> np.ndarray:
    """Baseline values of the query rows that get a prediction; missing or non-numeric ones are an error."""
    if column not in qdf.columns:
        raise InputError(f"no column {column!r} in the query table; columns: {', '.join(map(repr, qdf.columns))}",
                         source=source, field="--baseline-column")
    raw = qdf[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(ok & ~np.isfinite(values))
    if len(bad):
        raise InputError(problems=[Problem("missing or non-numeric baseline value", source, int(i) + 1, column,
                                           raw.iloc[i]) for i in bad])
    return values[ok]


def _structure_run(m, sub, y, tname, table, structure_column, support, qdf, query, notes, level, log_target
                   ) -> FewShotResult:
    """The structure-aware path (crystal graphs from a structure column)."""
    X, Xq, ok, qproblems = _structure_inputs(m, sub, structure_column, support, qdf, query)
    notes.append(f"structure-aware model: crystal graphs from column {structure_column!r}")
    if hasattr(m, "target_transform"):
        m.target_transform = "log10" if log_target else "identity"
    from metamat.models.auto import AutoRegressor

    if isinstance(m, AutoRegressor):
        m.fit(X, y)
        loo = auto_leave_one_out(m, y, level=level)
    else:
        loo = leave_one_out(m, X, y, level=level)
        m.fit(X, y)
    out = qdf.copy()
    for c in OUTPUT_COLUMNS:
        out[c] = np.nan
    if ok.any():
        mean, std, lo, hi = m.predict_dist(Xq, level=level)
        out.loc[ok, "prediction"], out.loc[ok, "std"] = mean, std
        out.loc[ok, "lower90"], out.loc[ok, "upper90"] = lo, hi
    return FewShotResult(out, loo, tname, len(y), table.report, qproblems, notes, support_y=y,
                         choice=getattr(m, "choice_", None))


def _composition_run(model, formulas, y, tname, table, qdf, qcol, support, query, notes, *, level, log_target,
                     features, baseline, baseline_column, basis, bounds, lowfi=None, lowfi_given=False
                     ) -> FewShotResult:
    """The composition path: features (+ physics inputs for extensive bases, + baseline column), the model
    (``auto`` or a meta-learner) inside the residual / bounded wrappers, the support check, predictions."""
    from metamat.featurize.pipeline import featurize_formulas
    from metamat.fewshot_inputs import (
        SCALED_BASES,
        feature_spec,
        innermost,
        layers,
        resolve_bounds,
        target_basis,
        wrap_model,
    )
    from metamat.models.auto import AutoRegressor
    from metamat.models.physics import BoundedRegressor

    given_model = hasattr(model, "predict_dist")
    core = model if given_model else load_fewshot_model(model, log_target=log_target)
    auto = isinstance(core, AutoRegressor)
    if not auto and features != "composition":
        raise InputError(f"the model {model!r} reads the composition features only; --features "
                         f"{features} needs --model auto", field="--features", value=features)
    if log_target and baseline is not None:
        raise InputError("--log-target and --baseline-column do not combine (the residual target - baseline "
                         "can be negative)", field="--baseline-column")
    b = target_basis(tname, basis)
    scaled = b.basis in SCALED_BASES
    qvals = qdf[qcol].astype(object).where(qdf[qcol].notna(), None).to_numpy()
    spec = feature_spec(features, b.basis) if auto else features
    X = featurize_formulas(formulas, spec, source=str(support), field="formula").values
    fm = featurize_formulas(qvals, spec, errors="mask", source=str(query), field=qcol)
    ok = np.asarray(fm.valid, dtype=bool)
    Xq, qproblems = fm.values[ok], list(fm.problems)
    if scaled:
        by = "atoms per formula unit" if b.basis == "per_formula_unit" else "atoms per formula unit / molar mass"
        notes.append(f"target basis {b.basis.replace('_', ' ')} ({b.reason}; override with --basis): learned per "
                     f"atom (divided by {by}, predictions multiplied back)"
                     + ("; physics inputs added: atoms per formula unit, molar mass, mean atomic mass" if auto else ""))
    else:
        notes.append(f"target basis {b.basis.replace('_', ' ')} ({b.reason}); override with --basis")
    X_feat, Xq_feat = X, Xq  # the featurized inputs, before physics, low-fidelity and baseline columns are appended
    if scaled and not auto:  # the per-atom wrapper reads its factor from physics columns the model does not see
        X = np.column_stack([X, featurize_formulas(formulas, "physics").values])
        Xq = np.column_stack([Xq, featurize_formulas(list(qvals[ok]), "physics").values])
    if lowfi is not None:
        clash = ("a model other than auto" if not auto else "--baseline-column (it is the low fidelity already)"
                 if baseline is not None else "an extensive target basis (learned per atom)" if scaled else None)
        if clash and lowfi_given:
            raise InputError(f"--low-fidelity does not combine with {clash}", field="--low-fidelity")
        if clash:
            notes.append(f"low fidelity not used with {clash}: {lowfi.describe().split(' (')[0]}")
            lowfi = None
    low_cols: list[int] = []
    if lowfi is not None:
        Ls, Lq = _low_fidelity_values(lowfi, table, tname, formulas, qdf, ok, qvals[ok], str(support), str(query))
        low_cols = list(range(X.shape[1], X.shape[1] + Ls.shape[1]))
        X, Xq = np.column_stack([X, Ls]), np.column_stack([Xq, Lq])
        core.low_fidelity = low_cols
    if baseline is not None:
        bq = _query_baseline(qdf, ok, baseline_column, str(query))
        X, Xq = np.column_stack([X, baseline]), np.column_stack([Xq, bq])
        notes.append(f"baseline column {baseline_column!r}: the model learns the target minus the baseline")
    bnds = resolve_bounds(bounds, y, log_target=log_target, scaled=scaled, source=str(support))
    if bnds is not None:
        notes.append(bnds.describe())
    if auto and not given_model:
        core.meta_prefix = True  # the meta-learner reads the composition block first in X (absent: left out)
    if hasattr(core, "target_transform"):
        core.target_transform = "log10" if log_target else "identity"
    m = wrap_model(core, baseline=baseline is not None, bounds=bnds, drop_baseline=not auto, clip=bool(low_cols),
                   per_atom=b.basis if scaled else None, drop_physics=not auto)
    if auto:
        m.fit(X, y)
        r = cv_check(m, X, y, level)
        scheme = r["scheme"]
        mean_s, lo_s, hi_s = r["mean"], r["lower"], r["upper"]
        forest = None
    else:
        r = leave_one_out(m, X, y, level=level)
        scheme, mean_s, lo_s, hi_s = r["scheme"], r["mean"], r["lower"], r["upper"]
        m.fit(X, y)
        forest = forest_check(X_feat, y, log_target)
    loo = check_metrics(y, mean_s, (hi_s - lo_s) / 3.29, lo_s, hi_s, level, scheme)
    out = qdf.copy()
    for c in OUTPUT_COLUMNS:
        out[c] = np.nan
    out["in_domain"] = pd.array([pd.NA] * len(out), dtype="boolean")
    out["support_distance"] = np.nan
    n_out = 0
    if ok.any():
        mean, std, lo, hi = m.predict_dist(Xq, level=level)
        out.loc[ok, "prediction"], out.loc[ok, "std"] = mean, std
        out.loc[ok, "lower90"], out.loc[ok, "upper90"] = lo, hi
        inner = innermost(m)
        if auto:  # in the inputs auto sees: a baseline per atom with a scaled basis
            dom = query_domain(inner, *((m._split(X)[0], m._split(Xq)[0]) if scaled else (X, Xq)))
        else:
            dom = query_domain(inner, X_feat, Xq_feat)
        out.loc[ok, "in_domain"] = dom["in_domain"]
        out.loc[ok, "support_distance"] = dom["distance_ratio"]
        n_out = int((~dom["in_domain"]).sum())
        notes.append("in_domain / support_distance: distance of each query row to its nearest support row "
                     "(standardized features) relative to the support rows' median nearest-neighbour "
                     "distance; in_domain is False beyond the largest of those")
    choice = None
    if auto:
        choice = {**innermost(m).choice_, **innermost(m).interval_info(level)}
        transform = next((w.transform_ for w in layers(m) if isinstance(w, BoundedRegressor)), "clip")
        bounded = bnds is not None and transform != "clip"
        space = [f"{transform} of the target (--bounds)" if bounded else choice["cv_mae_space"]] + \
            (["per atom"] if scaled else []) + ([f"after subtracting {baseline_column!r}"] if baseline is not None
                                                else [])
        choice["cv_mae_space"] = ", ".join(space)
        choice["features"] = features
        choice["low_fidelity_source"] = None if lowfi is None else lowfi.describe()
    return FewShotResult(out, loo, tname, len(y), table.report, qproblems, notes, support_y=y,
                         choice=choice, forest=forest, n_out_of_domain=n_out)


def predict_fewshot(support: pd.DataFrame | str | os.PathLike, query: pd.DataFrame | str | os.PathLike, *,
                    target: str | None = None, model: str | os.PathLike | Any | None = None,
                    formula_column: str | None = None, log_target: bool = False, level: float = 0.9,
                    structure_column: str | None = None, features: str = "composition",
                    baseline_column: str | None = None, basis: str | None = "auto",
                    bounds: str | tuple | None = None, low_fidelity: str | None = "auto",
                    structure_features: str = "physics") -> pd.DataFrame:
    """``metamat fewshot`` as one call: the query rows with ``prediction``, ``std``, ``lower90``, ``upper90``.
    Options as in :func:`run_fewshot` (``model=None``: ``auto``; ``"default"``: the shipped meta-learner).

    ``support`` and ``query`` are DataFrames or table files. The leave-one-out check, the support's row report
    and notes are in ``df.attrs["fewshot"]`` (a :class:`FewShotResult`)."""
    from metamat.data.readers import read_frame

    frames, sources = [], []
    for table, name in ((support, "support"), (query, "query")):
        if isinstance(table, pd.DataFrame):
            frames.append(table)
            sources.append(name)
        else:
            frames.append(read_frame(Path(table)))
            sources.append(Path(table))
    res = fewshot_frames(frames[0], frames[1], target=target, model=model, formula_column=formula_column,
                         log_target=log_target, level=level, structure_column=structure_column,
                         support_source=sources[0], query_source=sources[1],
                         support_notes=frames[0].attrs.get("read_notes", []),
                         query_notes=frames[1].attrs.get("read_notes", []), features=features,
                         baseline_column=baseline_column, basis=basis, bounds=bounds, low_fidelity=low_fidelity,
                         structure_features=structure_features)
    out = res.predictions
    out.attrs["fewshot"] = {"target": res.target, "n_support": res.n_support, "loo_mae": res.loo["mae"],
                            "loo_coverage": res.loo["coverage"], "trust": res.trust_message(),
                            "model": res.choice["chosen"] if res.choice else str(model), "choice": res.choice,
                            "notes": list(res.notes)}
    return out
