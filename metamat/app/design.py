"""``metamat design``: compositions over given elements most likely to meet a goal, under a model fitted on
the measured rows (enumeration of the fraction grid for small spaces, evolutionary search for large ones;
see :mod:`metamat.active.design`). Register with ``app.command("design")(design)``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from metamat.app import input_options


def measured_fractions(formulas, symbols: list[str]) -> np.ndarray:
    """Fraction rows (over ``symbols``) of the measured compositions made only of those elements."""
    from metamat.data.compositions import parse_formulas
    from metamat.data.formula import ATOMIC_NUMBER

    comps = parse_formulas(list(formulas)).compositions
    dense = comps.dense_fractions()
    cols = np.array([ATOMIC_NUMBER[s] - 1 for s in symbols])
    inside = np.isclose(dense[:, cols].sum(axis=1), 1.0)
    return dense[inside][:, cols]


def run_design(measured: Path, target: str, elements: str, *, goal: str, step: float = 0.02,
               max_elements: int | None = None, model: str = "auto", top: int = 50,
               formula_column: str | None = None, output: Path | None = None, seed: int = 0, filters=None,
               trust_radius: float | None = None, min_separation: float = 0.0, features: str = "composition",
               basis: str | None = "auto", bounds: str | tuple | None = None):
    """Read the measured table, fit, search, write; returns (:class:`~metamat.active.design.DesignResult`,
    model name). ``features``, ``basis``, ``bounds``: as in ``metamat fewshot`` (a baseline column has no value
    for a composition the search makes up, so ``--baseline-column`` is not offered)."""
    from metamat.active.acquisition import parse_goal
    from metamat.active.constraints import Constraints, _symbols
    from metamat.active.design import check_step
    from metamat.active.design import design as search
    from metamat.app.suggest import check_output, fit_surrogate, model_inputs, read_measured
    from metamat.featurize.pipeline import featurize_formulas
    from metamat.files import write_table

    check_output(output, Path(measured))
    check_step(step)
    g = parse_goal(goal)
    symbols = list(_symbols(elements, "--elements"))
    formulas, y, report = read_measured(Path(measured), target, formula_column)
    inp, reads_any = model_inputs(model, target, y, features, basis, bounds, None, Path(measured))
    X = featurize_formulas(formulas, inp.spec, source=str(measured), field="formula").values
    notes = [f"measured table: {n}" for n in report.notes] + inp.notes
    if inp.basis == "per_formula_unit":
        notes.append("designs are written as fractions (one atom per formula unit): their predictions are per atom")
    surrogate, name, why = fit_surrogate(model, inp, reads_any, X, y, seed)
    notes += why
    cons = Constraints(max_elements=max_elements, filters=list(filters or []))
    res = search(surrogate, X, y, symbols, g, step=step, max_elements=max_elements, top=top,
                 constraints=cons, seeds=measured_fractions(formulas, symbols), seed=seed, trust_radius=trust_radius,
                 min_separation=min_separation, features=inp.spec)
    res.notes = notes + res.notes
    if output is not None:
        write_table(res.table, Path(output))
    return res, name


def design(
    target: str = typer.Option(..., "--target", "-t", help="Target column of the measured table."),
    goal: str = typer.Option(..., "--goal", help="max, min or range:LO..HI."),
    elements: str = typer.Option(..., "--elements", help="Element space, comma-separated, e.g. Li,La,Zr,Ta,O."),
    measured: Path = typer.Option(..., "--measured", help="Table of measured materials: formula + target."),
    output: Path = typer.Option(..., "-o", "--output", help="Output CSV of ranked compositions."),
    max_elements: int | None = typer.Option(None, "--max-elements", help="At most this many elements per "
                                                                         "composition."),
    step: float = typer.Option(0.02, "--step", help="Fraction grid step (must divide 1)."),
    model: str = typer.Option("auto", "--model", help="auto, default, rf, gp or a saved model path."),
    top: int = typer.Option(50, "--top", help="How many compositions to write."),
    formula_column: str | None = typer.Option(None, "--formula-column", "-f", help="Formula column."),
    trust_radius: float | None = typer.Option(None, "--trust-radius", help="Only propose compositions within "
                                              "this fraction-L1 distance of a measured one in the space."),
    min_separation: float = typer.Option(0.0, "--min-separation", help="Keep designs at least this fraction-L1 "
                                                                        "apart (a diverse list)."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the search."),
    features: str = input_options.FEATURES,
    basis: str = input_options.BASIS,
    bounds: str | None = input_options.BOUNDS,
) -> None:
    """Inverse design: the compositions over the given elements most likely to meet the goal."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    res, name = run_design(measured, target, elements, goal=goal, step=step, max_elements=max_elements,
                           model=model, top=top, formula_column=formula_column, output=output, seed=seed,
                           trust_radius=trust_radius, min_separation=min_separation, features=features, basis=basis,
                           bounds=bounds)
    console = Console(soft_wrap=True)
    for n in res.notes:
        console.print(f"note: {escape(n)}", highlight=False)
    tab = Table(title=f"{target}, goal {goal}: top designs by P(goal) (model {name}, {res.method}, "
                      f"{res.evaluated:,} compositions scored)", title_justify="left")
    for c in ("rank", "formula", "prediction", "90% interval", "P(goal)"):
        tab.add_column(c)
    for _, r in res.table.head(10).iterrows():
        tab.add_row(str(r["rank"]), r["formula"], f"{r['prediction']:.4g} ± {r['std']:.2g}",
                    f"[{r['lower90']:.4g}, {r['upper90']:.4g}]", f"{r['p_goal']:.0%}")
    console.print(tab)
    console.print(f"wrote {len(res.table)} designs to {output}")
