"""``metamat fewshot``: adapt a meta-trained model to a small measured table and predict candidates.

The app flow over the library call :func:`metamat.fewshot.run_fewshot` (which a notebook can make too):
parse options, run it, print the support's row report and the result summary. Imports stay light (the
library is imported when the command runs).
"""

from __future__ import annotations

from pathlib import Path

import typer

from metamat.app import input_options


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
    structure_features: str = typer.Option(
        "physics", "--structure-features", help="With --structure-column and --model auto: what the structure "
                                                "candidates see. physics (composition + physics and ionic "
                                                "descriptors; the shipped graph model too) or physics+embedding "
                                                "(adds RF and kNN on composition + the frozen pretrained "
                                                "graph-encoder embedding; it did not help on the 2D benchmark)."),
    precision: int = typer.Option(6, "--precision", min=1, max=17,
                                  help="Significant digits of the floats in a CSV/TSV output (17: exact)."),
    features: str = input_options.FEATURES,
    baseline_column: str | None = input_options.BASELINE_COLUMN,
    basis: str = input_options.BASIS,
    bounds: str | None = input_options.BOUNDS,
    low_fidelity: str = input_options.LOW_FIDELITY,
) -> None:
    """Learn a new property from a few measurements and predict candidates, with uncertainty."""
    from rich.markup import escape

    from metamat.app.console import console
    from metamat.fewshot import run_fewshot

    res = run_fewshot(support, query, target=target, model=model, formula_column=formula_column,
                      log_target=log_target, output=output, plot=plot if plot is not None else True,
                      structure_column=structure_column, precision=precision, features=features,
                      baseline_column=baseline_column, basis=basis, bounds=bounds, low_fidelity=low_fidelity,
                      structure_features=structure_features)
    console.print(escape(res.support_report.summary()), highlight=False)
    console.print(escape(res.summary()), highlight=False)
