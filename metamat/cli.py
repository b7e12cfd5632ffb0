"""The ``metamat`` command: a thin shell over library calls.

Bad input ends with a short message naming file, row and field and exit status 2, never a traceback
(set ``METAMAT_DEBUG=1`` to see one).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from metamat.app.screen import screen
from metamat.cli_bench import bench_app
from metamat.cli_fewshot import fewshot
from metamat.cli_potential import potential_app
from metamat.errors import InputError, MetamatError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="metamat: learn a new materials property from a handful of measurements.")
data_app = typer.Typer(no_args_is_help=True, help="Built-in and registered datasets.")
app.add_typer(data_app, name="data")
app.add_typer(bench_app, name="bench")
app.command("fewshot")(fewshot)
app.add_typer(potential_app, name="potential")
app.command("screen")(screen)

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

DataDirOption = typer.Option(None, "--data-dir", help="Folder of the shared datasets (default: $METAMAT_DATA_DIR).")


def main() -> None:
    """Console entry point: run the app, turn metamat errors into a message and exit status 2."""
    try:
        app()
    except MetamatError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(2)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # anything else is a bug: say so briefly, traceback only on request
        if os.environ.get("METAMAT_DEBUG"):
            raise
        err_console.print(f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))}\n"
                          "Run again with METAMAT_DEBUG=1 for the traceback and report it.", highlight=False)
        sys.exit(1)


# ----------------------------------------------------------------------------------------------- files
def write_frame(df, path: Path) -> None:
    """Write CSV or parquet by the suffix of ``path`` (atomically: temporary name, then rename)."""
    name = path.name.lower()
    if not name.endswith((".csv", ".csv.gz", ".parquet", ".pq")):
        raise InputError("output must end in .csv, .csv.gz or .parquet", source=str(path))
    from metamat.files import atomic_path

    with atomic_path(path) as tmp:
        if name.endswith((".parquet", ".pq")):
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False, compression="gzip" if name.endswith(".gz") else None)


# -------------------------------------------------------------------------------------------- featurize
@app.command()
def featurize(
    input: Path = typer.Argument(..., help="CSV, TSV, Excel or parquet file with a formula column."),
    output: Path = typer.Option(..., "-o", "--output", help="Output .csv, .csv.gz or .parquet."),
    formula_column: str | None = typer.Option(None, "--formula-column", "-f",
                                              help="Column with formulas (guessed if omitted)."),
    features: str = typer.Option("composition", "--features",
                                 help="Featurizers or presets, comma-separated: composition, magpie, "
                                      "fractions, stoichiometry, valence, ionic, all."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid",
                                      help="Write the good rows and a report of the rejected ones instead of "
                                           "failing."),
) -> None:
    """Add composition features to a table: input rows in order, input columns first, then the features."""
    from metamat.data.readers import guess_formula_column, read_frame
    from metamat.featurize.pipeline import featurize_formulas

    df = read_frame(input)
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
    fm = featurize_formulas(df[formula_column].tolist(), features, errors="mask", source=str(input),
                            field=formula_column)
    if fm.problems and not skip_invalid:
        raise InputError(problems=fm.problems)
    clash = sorted(set(fm.labels) & set(map(str, df.columns)))
    if clash:
        raise InputError(f"input already has columns named like features: {clash[:5]}", source=str(input))
    import pandas as pd

    features_df = pd.DataFrame(fm.values, columns=fm.labels, index=df.index)
    out = pd.concat([df, features_df], axis=1)[fm.valid]
    write_frame(out, output)
    err_console.print(f"read {len(df)} rows, wrote {int(fm.valid.sum())} rows x {len(fm.labels)} features "
                      f"to {output}")
    if fm.problems:
        report = output.with_name(output.name.split(".")[0] + ".rejected.csv")
        rejected = pd.DataFrame([{"row": p.row, "field": p.field, "value": p.value, "reason": p.reason}
                                 for p in fm.problems])
        write_frame(rejected, report)
        err_console.print(f"rejected {len(fm.problems)} rows (listed in {report}):")
        for p in fm.problems[:10]:
            err_console.print(f"  row {p.row}: {p.reason}", highlight=False, markup=False)
        if len(fm.problems) > 10:
            err_console.print(f"  ... and {len(fm.problems) - 10} more")


# --------------------------------------------------------------------------------------------- datasets
@data_app.command("list")
def data_list(data_dir: Path | None = DataDirOption) -> None:
    """List the registered datasets, their targets and units, and whether their files are available."""
    from metamat.data.registry import dataset_available, list_datasets

    table = Table(title="metamat datasets")
    for column in ("name", "kind", "targets (unit)", "available", "description"):
        table.add_column(column, overflow="fold")
    for spec in list_datasets():
        targets = ", ".join(f"{t.name} ({t.unit or '-'})" for t in spec.targets.values())
        available = "yes" if dataset_available(spec.name, data_dir) else "no"
        table.add_row(spec.name, spec.kind, targets, available, spec.description[:60])
    console.print(table)


@data_app.command("show")
def data_show(name: str = typer.Argument(..., help="Dataset name (see `metamat data list`)."),
              data_dir: Path | None = DataDirOption) -> None:
    """Load a dataset and show its rows, units, target statistics and row report."""
    from metamat.data.registry import get_spec, load_dataset

    spec = get_spec(name)
    start = time.perf_counter()
    table = load_dataset(name, data_dir=data_dir)
    console.print(f"[bold]{spec.name}[/]: {spec.description}")
    console.print(f"citation: {spec.citation}")
    if spec.license:
        console.print(f"license: {spec.license}")
    console.print(f"{len(table)} materials loaded in {time.perf_counter() - start:.1f} s")
    stats = Table(title="targets")
    for column in ("target", "unit", "transform", "quantity", "count", "mean", "std", "min", "median", "max"):
        stats.add_column(column)
    for target, t in table.targets.items():
        d = table.describe(target)
        stats.add_row(target, t.unit or "-", t.transform, t.quantity or "-", str(d["count"]),
                      *(f"{d[k]:.4g}" for k in ("mean", "std", "min", "50%", "max")))
    console.print(stats)
    console.print(table.report.summary(), highlight=False, markup=False)
    console.print(table.data.head(5).drop(columns=["structure"], errors="ignore").to_string(max_colwidth=40))


# ------------------------------------------------------------------------------------------------- demo
@app.command()
def demo(n: int = typer.Option(4000, help="Materials to sample from the built-in table."),
         target: str = typer.Option("S_p", help="Target column of the Ricci transport table."),
         seed: int = typer.Option(0, help="Random seed.")) -> None:
    """The main job on built-in data: validate, featurize, baselines, then a few-shot run of the default model."""
    from metamat.demo import run_demo
    from metamat.fewshot import run_fewshot_demo

    run_demo(n=n, target=target, seed=seed, console=console)
    console.rule("[bold]4. few-shot: 20 measured materials, the rest predicted by the pretrained default model[/]")
    run_fewshot_demo(target=target, k=20, seed=seed, console=console)


if __name__ == "__main__":
    main()
