"""``metamat fewshot``: adapt a meta-trained model to a small measured table and predict candidates.

The app flow over the library call :func:`metamat.fewshot.run_fewshot` (which a notebook can make too):
parse options, run it, print the support's row report and the result summary. Imports stay light (the
library is imported when the command runs).
"""

from __future__ import annotations

from pathlib import Path

import typer


def fewshot(
    support: Path = typer.Option(..., "--support", "-s", help="Table of measured materials: formula + target."),
    query: Path = typer.Option(..., "--query", "-q", help="Table of candidate materials (a formula column)."),
    output: Path = typer.Option(..., "-o", "--output", help="Output table (.csv, .csv.gz, .tsv, .parquet, "
                                                            ".xlsx): query rows + prediction, std, lower90, upper90."),
    target: str | None = typer.Option(None, "--target", "-t", help="Target column of the support (guessed "
                                                                   "if there is one numeric column)."),
    model: str | None = typer.Option(None, "--model", "-m", help="auto (the default: chooses among the shipped "
                                                                 "meta-learner, GP, forests, median and ridge by "
                                                                 "cross-validation on the support, prints why; "
                                                                 "conformal intervals), 'default' (the shipped "
                                                                 "meta-learner alone) or the path of a saved model "
                                                                 "(.safetensors/.json pair). With "
                                                                 "--structure-column: the shipped structure model."),
    formula_column: str | None = typer.Option(None, "--formula-column", "-f",
                                              help="Formula column (guessed and reported if omitted)."),
    log_target: bool = typer.Option(False, "--log-target", help="Fit positive targets spanning orders of "
                                                                "magnitude (e.g. conductivity) in log10 "
                                                                "space; results stay in original units."),
    plot: Path | None = typer.Option(None, "--plot", help="Parity plot PNG (default: next to the output)."),
    structure_column: str | None = typer.Option(
        None, "--structure-column", help="Column (in support and query) of CIF text or CIF/POSCAR/extxyz file "
                                         "paths relative to the table: use the structure-aware model."),
    precision: int = typer.Option(6, "--precision", min=1, max=17,
                                  help="Significant digits of the floats in a CSV/TSV output (17: exact)."),
    features: str = typer.Option("composition", "--features", help="composition, knowledge (predicted DFT "
                                                                   "properties) or composition+knowledge: what "
                                                                   "auto and every candidate see."),
    baseline_column: str | None = typer.Option(None, "--baseline-column", help="Column (in support and query) "
                                               "of a per-row physical or DFT estimate of the target, same unit; "
                                               "the model learns the difference."),
    basis: str = typer.Option("auto", "--basis", help="per-atom, per-formula-unit, per-mass, intensive, or auto "
                                                      "(guessed from the column name and unit, e.g. J/mol/K -> per "
                                                      "formula unit, J/g/K -> per mass; reported). Extensive "
                                                      "targets are learned per atom, with atoms per formula unit "
                                                      "and molar mass as inputs."),
    bounds: str | None = typer.Option(None, "--bounds", help="lo,hi (either may be empty, e.g. '0,'): predictions "
                                                             "and intervals stay inside. Default: clipped at 0 when "
                                                             "every support value is >= 0; 'none' turns that off."),
    low_fidelity: str = typer.Option("auto", "--low-fidelity", help="A same-quantity lower-fidelity estimate "
                                     "per row that auto can correct: 'auto' (a knowledge surrogate of the "
                                     "target's quantity, matched from its column name and unit, e.g. "
                                     "'gap_expt' -> the OQMD and AFLOW band-gap surrogates; nothing when there "
                                     "is no match; reported), a surrogate name, a column (in support and query) "
                                     "of per-row DFT values, or 'none'."),
) -> None:
    """Learn a new property from a few measurements and predict candidates, with uncertainty."""
    from rich.markup import escape

    from metamat.app.console import console
    from metamat.fewshot import run_fewshot

    res = run_fewshot(support, query, target=target, model=model, formula_column=formula_column,
                      log_target=log_target, output=output, plot=plot if plot is not None else True,
                      structure_column=structure_column, precision=precision, features=features,
                      baseline_column=baseline_column, basis=basis, bounds=bounds, low_fidelity=low_fidelity)
    console.print(escape(res.support_report.summary()), highlight=False)
    console.print(escape(res.summary()), highlight=False)
