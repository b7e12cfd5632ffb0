"""`metamat featurize`: add composition features to a user's table (input rows and columns kept in order)."""

from __future__ import annotations

from pathlib import Path

import typer

from metamat.app.console import err_console
from metamat.errors import InputError
from metamat.files import problems_error, report_path_for, table_format, write_problem_report, write_table


def featurize(
    input: Path = typer.Argument(..., help="CSV, TSV, Excel or parquet file with a formula column."),
    output: Path = typer.Option(..., "-o", "--output", help="Output table; format by suffix: .csv, .csv.gz, .tsv, "
                                                            ".parquet, .xlsx."),
    formula_column: str | None = typer.Option(None, "--formula-column", "-f",
                                              help="Column with formulas (guessed if omitted)."),
    features: str = typer.Option("composition", "--features",
                                 help="Featurizers or presets, comma-separated: composition, magpie, "
                                      "fractions, stoichiometry, valence, ionic, all, knowledge (predicted DFT "
                                      "properties), physics (atoms per formula unit, molar mass), "
                                      "composition+knowledge, composition+physics."),
    exclude_quantity: list[str] = typer.Option([], "--exclude-quantity",
                                               help="Quantity of your target (e.g. 'band gap'): knowledge "
                                                    "surrogates of it and of tied quantities are left out. "
                                                    "Repeatable."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid",
                                      help="Write the good rows and a report of the rejected ones instead of "
                                           "failing."),
    precision: int = typer.Option(6, "--precision", min=1, max=17,
                                  help="Significant digits of the floats in a CSV/TSV output (17: exact)."),
) -> None:
    """Add composition features to a table: input rows in order, input columns first, then the features."""
    from metamat.data.readers import guess_formula_column, read_frame
    from metamat.featurize.pipeline import featurize_formulas

    table_format(output)  # refused before any work: unknown suffix or a folder
    df = read_frame(input)
    for note in df.attrs.get("read_notes", []):  # e.g. the delimiter detected in a .csv
        err_console.print(note, highlight=False, markup=False)
    if formula_column is None:
        notes: list[str] = []
        formula_column = guess_formula_column(df, set(), notes)
        if formula_column is None:
            raise InputError(f"no formula column found among {list(df.columns)}; name it with --formula-column",
                             source=str(input))
        err_console.print(notes[-1], highlight=False, markup=False)
    elif formula_column not in df.columns:
        raise InputError(f"column {formula_column!r} not found; available: {list(df.columns)}",
                         source=str(input), field=formula_column)
    from metamat.data.hydrate import hydrate_dot_warnings

    for warning in hydrate_dot_warnings(df[formula_column].tolist(), str(input)):
        err_console.print(warning, highlight=False, markup=False)
    fm = featurize_formulas(df[formula_column].tolist(), features, errors="mask", source=str(input),
                            field=formula_column, exclude_quantities=tuple(exclude_quantity))
    if fm.problems and not skip_invalid:
        raise problems_error(fm.problems, output)
    report = report_path_for(output) if fm.problems else None  # checked before anything is written
    clash = sorted(set(fm.labels) & set(map(str, df.columns)))
    if clash:
        raise InputError(f"input already has columns named like features: {clash[:5]}", source=str(input))
    import pandas as pd

    features_df = pd.DataFrame(fm.values, columns=fm.labels, index=df.index)
    out = pd.concat([df, features_df], axis=1)[fm.valid]
    write_table(out, output, precision=precision)
    if fm.removed:
        err_console.print(f"left out for leakage: {'; '.join(fm.removed)}", highlight=False, markup=False)
    err_console.print(f"read {len(df)} rows, wrote {int(fm.valid.sum())} rows x {len(fm.labels)} features "
                      f"to {output}")
    if report is not None:
        write_problem_report(fm.problems, report)
        err_console.print(f"rejected {len(fm.problems)} rows (listed in {report}):")
        for p in fm.problems[:10]:
            err_console.print(f"  row {p.row}: {p.reason}", highlight=False, markup=False)
        if len(fm.problems) > 10:
            err_console.print(f"  ... and {len(fm.problems) - 10} more")
