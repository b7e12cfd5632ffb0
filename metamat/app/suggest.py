"""``metamat suggest``: which candidates to measure next, ranked, from a measured table and a candidate pool.

Register with ``app.command("suggest")(suggest)``. Reading reuses the ``fewshot`` readers (measured table via
:func:`metamat.data.readers.read_table`, candidate table via the few-shot query reader); the ranking is
:func:`metamat.active.ranking.rank_candidates`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import typer

from metamat.app import input_options
from metamat.errors import InputError
from metamat.files import table_format

RESULT_COLUMNS = ("rank", "selected", "prediction", "std", "lower90", "upper90", "acquisition", "p_goal", "excluded")


@dataclass
class SuggestResult:
    table: pd.DataFrame
    target: str
    model: str
    n_measured: int
    best: float
    formula_column: str
    notes: list[str] = field(default_factory=list)
    output: Path | None = None
    spec: str = "composition"  # featurizer spec of the surrogate's inputs
    n_features: int = 0  # columns the surrogate reads (features, physics, baseline)


def check_output(output: Path | None, *inputs: Path) -> None:
    """Refuse an output path that is one of the input files (it would be overwritten)."""
    if output is None:
        return
    table_format(output)  # a known table format, not a folder: refused before any work
    for path in inputs:
        if Path(output).resolve() == Path(path).resolve():
            raise InputError(f"output would overwrite the input file {path}; choose another name", source=str(output),
                             field="--output")


def read_measured(path: Path, target: str, formula_column: str | None, baseline_column: str | None = None):
    """(formulas, y, report) of the measured table (duplicate formulas averaged by their median); with
    ``baseline_column``, (formulas, y, report, baseline values of those rows)."""
    from metamat.data.readers import read_table
    from metamat.fewshot import _support_baseline, check_support

    if baseline_column is not None and baseline_column == target:
        raise InputError("the baseline column cannot be the target", field="--baseline-column",
                         value=baseline_column)
    if baseline_column is not None:
        from metamat.data.readers import read_frame

        cols = list(map(str, read_frame(path, nrows=1).columns))
        if baseline_column not in cols:
            raise InputError(f"no column {baseline_column!r} in the measured table; columns: "
                             f"{', '.join(map(repr, cols))}", source=str(path), field="--baseline-column")
    targets = target if baseline_column is None else [target, baseline_column]
    table = read_table(path, formula_column=formula_column, target_columns=targets, outlier_z=None)
    sub = table.for_target(target)
    y = sub.target(target)
    check_support(y, sub.formulas, source=str(path), target=target, log_target=False, min_rows=3)
    if baseline_column is None:
        return sub.formulas, y, table.report
    return sub.formulas, y, table.report, _support_baseline(table, target, baseline_column, str(path))


def read_candidates(path: Path, formula_column: str | None, notes: list[str]) -> tuple[pd.DataFrame, str]:
    from metamat.fewshot import read_query

    df, col = read_query(path, formula_column, notes)
    clash = [c for c in RESULT_COLUMNS if c in df.columns]
    if clash:
        raise InputError(f"candidate table already has column(s) {clash}; rename them (they would be "
                         "overwritten)", source=str(path), field=clash[0])
    return df, col


def model_inputs(model: str, target: str, y: np.ndarray, features: str, basis: str | None, bounds,
                 baseline_column: str | None, source: Path):
    """(:class:`~metamat.fewshot_inputs.SurrogateInputs`, whether the model reads any feature matrix): ``auto``
    and the registry's models do; the shipped or a saved meta-model reads its composition block only."""
    from metamat.fewshot_inputs import surrogate_inputs
    from metamat.models.registry import ENTRIES

    reads_any = model == "auto" or model in ENTRIES
    inp = surrogate_inputs(target, y, features=features, basis=basis, bounds=bounds,
                           baseline=baseline_column is not None, reads_any_features=reads_any, source=str(source))
    return inp, reads_any


def fit_surrogate(model: str, inp, reads_any: bool, X: np.ndarray, y: np.ndarray, seed: int):
    """(surrogate inside the input wrappers, its name, notes): ``auto`` chooses on the measured rows."""
    from metamat.active.surrogate import auto_surrogate, make_surrogate

    if model == "auto":
        surrogate, name, why = auto_surrogate(X, y, seed=seed, meta_prefix=True,
                                              wrap=lambda m: inp.wrap(m, reads_any_features=True, seed=seed))
        return surrogate, name, [why]
    return inp.wrap(make_surrogate(model, seed), reads_any_features=reads_any, seed=seed), model, []


def run_suggest(measured: Path, candidates: Path, target: str, *, batch: int = 5, goal: str = "max",
                acquisition: str = "ei", model: str = "auto", constraints=None, formula_column: str | None = None,
                output: Path | None = None, seed: int = 0, precision: int | None = 6, features: str = "composition",
                baseline_column: str | None = None, basis: str | None = "auto",
                bounds: str | tuple | None = None) -> SuggestResult:
    """Read, fit, rank, write (see module docstring). Candidates whose formula cannot be parsed stay in the
    output without a prediction and say why in ``excluded``. ``features``, ``baseline_column``, ``basis``,
    ``bounds``: as in ``metamat fewshot`` (:mod:`metamat.fewshot_inputs`)."""
    from metamat.active.acquisition import ACQUISITIONS, parse_goal
    from metamat.active.ranking import rank_candidates
    from metamat.data.compositions import parse_formulas
    from metamat.featurize.pipeline import featurize_formulas
    from metamat.files import write_table

    if batch < 1:
        raise InputError(f"must be at least 1, got {batch}", field="--batch")
    if acquisition not in ACQUISITIONS:
        raise InputError(f"unknown acquisition {acquisition!r}; choose from {', '.join(ACQUISITIONS)}",
                         field="--acquisition")
    g = parse_goal(goal)
    measured, candidates = Path(measured), Path(candidates)
    check_output(output, measured, candidates)
    notes: list[str] = []
    formulas, y, report, *base = read_measured(measured, target, formula_column, baseline_column)
    notes += [f"measured table: {n}" for n in report.notes]
    inp, reads_any = model_inputs(model, target, y, features, basis, bounds, baseline_column, measured)
    notes += inp.notes
    cdf, ccol = read_candidates(candidates, formula_column, notes)
    X = inp.with_baseline(featurize_formulas(formulas, inp.spec, source=str(measured), field="formula").values,
                          base[0] if base else None)
    cvals = cdf[ccol].astype(object).where(cdf[ccol].notna(), None).to_numpy()
    fm = featurize_formulas(cvals, inp.spec, errors="mask", source=str(candidates), field=ccol)
    ok = np.asarray(fm.valid, bool)
    if not ok.any():
        raise InputError("no candidate formula could be parsed", source=str(candidates), field=ccol)
    Xc = fm.values[ok]
    if inp.baseline:
        from metamat.fewshot import _query_baseline

        Xc = inp.with_baseline(Xc, _query_baseline(cdf, ok, baseline_column, str(candidates)))
    reasons = np.full(ok.sum(), "", dtype=object)
    if constraints is not None and constraints.active:
        _, reasons = constraints.check(parse_formulas(list(cvals[ok])).compositions)
    measured_set = set(map(str, formulas))
    already = np.array([str(f) in measured_set for f in cvals[ok]])
    reasons = np.where((reasons == "") & already, "already measured", reasons)
    surrogate, name, why = fit_surrogate(model, inp, reads_any, X, y, seed)
    notes += why
    ranked = rank_candidates(surrogate, X, y, Xc, g, acquisition, batch, seed=seed, reasons=reasons)
    out = cdf.copy()
    idx = np.flatnonzero(ok)
    for c in RESULT_COLUMNS:
        col = np.zeros(len(out), bool) if c == "selected" else np.full(len(out), "", dtype=object) \
            if c == "excluded" else np.full(len(out), np.nan)
        col[idx] = ranked[c].to_numpy()
        out[c] = col
    for p in fm.problems:
        out.loc[p.row - 1, "excluded"] = f"unreadable formula: {p.reason}"
    out.loc[~ok, "rank"] = ranked["rank"].max() + 1 + np.arange((~ok).sum())
    out["rank"] = out["rank"].astype(np.int64)
    out = out.sort_values("rank", kind="stable").reset_index(drop=True)
    res = SuggestResult(out, target, name, len(y), g.best(y), ccol, notes, spec=inp.spec, n_features=X.shape[1])
    if not ranked["selected"].any():
        notes.append("no candidate meets the constraints (see column 'excluded'); nothing selected")
    if fm.problems:
        notes.append(f"{len(fm.problems)} candidate row(s) have unreadable formulas (listed last, see 'excluded')")
    if output is not None:
        res.output = Path(output)
        write_table(out, res.output, precision=precision)
    return res


def suggest(
    measured: Path = typer.Option(..., "--measured", help="Table of measured materials: formula + target."),
    candidates: Path = typer.Option(..., "--candidates", help="Table of candidate materials (a formula column)."),
    target: str = typer.Option(..., "--target", "-t", help="Target column of the measured table."),
    output: Path = typer.Option(..., "-o", "--output", help="Output CSV: candidates ranked, with prediction, std, "
                                                            "lower90, upper90, acquisition, p_goal."),
    batch: int = typer.Option(5, "--batch", help="How many candidates to pick for the next round."),
    goal: str = typer.Option("max", "--goal", help="max, min or range:LO..HI."),
    acquisition: str = typer.Option("ei", "--acquisition", help="ei, ucb, pi, maxvar or thompson."),
    model: str = typer.Option("auto", "--model", help="auto (lowest cross-validated MAE of the shipped "
                                                      "meta-model, GP and RF; conformal intervals), default "
                                                      "(shipped meta-model), rf, gp, or a saved model path."),
    exclude_elements: str | None = typer.Option(None, "--exclude-elements", help="e.g. Pb,Cd,Hg"),
    require_elements: str | None = typer.Option(None, "--require-elements", help="e.g. Li"),
    max_elements: int | None = typer.Option(None, "--max-elements", help="At most this many elements."),
    max_cost: float | None = typer.Option(None, "--max-cost", help="At most this raw-material cost, USD/kg "
                                                                    "(pymatgen element price table)."),
    max_hhi: float | None = typer.Option(None, "--max-hhi", help="At most this supply risk: mass-weighted HHI "
                                                                 "of production (0-10000; Gaultois 2013)."),
    formula_column: str | None = typer.Option(None, "--formula-column", "-f", help="Formula column (guessed "
                                                                                     "if omitted)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (Thompson draws, model seeds)."),
    precision: int = typer.Option(6, "--precision", min=1, max=17,
                                  help="Significant digits of the floats in a CSV/TSV output (17: exact)."),
    features: str = input_options.FEATURES,
    baseline_column: str | None = input_options.BASELINE_COLUMN,
    basis: str = input_options.BASIS,
    bounds: str | None = input_options.BOUNDS,
) -> None:
    """Which candidates to measure next: ranked by an acquisition function, with a diverse batch picked."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from metamat.active.constraints import Constraints

    cons = Constraints(exclude=exclude_elements, require=require_elements, max_elements=max_elements,
                       max_cost_per_kg=max_cost, max_hhi=max_hhi)
    res = run_suggest(measured, candidates, target, batch=batch, goal=goal, acquisition=acquisition.lower(),
                      model=model, constraints=cons, formula_column=formula_column, output=output, seed=seed,
                      precision=precision, features=features, baseline_column=baseline_column, basis=basis,
                      bounds=bounds)
    console = Console(soft_wrap=True)
    for n in res.notes:
        console.print(f"note: {escape(n)}", highlight=False)
    t = res.table
    tab = Table(title=f"next {int(t['selected'].sum())} to measure ({res.target}, goal {goal}, {acquisition}, "
                      f"model {res.model}; {res.n_measured} measured, best {res.best:.4g})", title_justify="left")
    for c in ("rank", "candidate", "prediction", "90% interval", "acquisition", "P(goal)"):
        tab.add_column(c)
    for _, r in t[t["selected"]].iterrows():
        tab.add_row(str(r["rank"]), escape(str(r[res.formula_column])), f"{r['prediction']:.4g} ± {r['std']:.2g}",
                    f"[{r['lower90']:.4g}, {r['upper90']:.4g}]", f"{r['acquisition']:.3g}", f"{r['p_goal']:.0%}")
    console.print(tab)
    n_ex = int((t["excluded"] != "").sum())
    console.print(f"wrote {len(t)} ranked candidates to {res.output}" + (f" ({n_ex} excluded, reasons in column "
                                                                        "'excluded')" if n_ex else ""))
