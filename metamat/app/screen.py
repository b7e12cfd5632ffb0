"""``metamat screen``: generate or read candidates, filter them, predict with uncertainty, rank (on Dask)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from metamat.app.console import console, err_console
from metamat.errors import InputError


def _adapted_model(measured: Path, target: str | None, log_target: bool):
    """The shipped few-shot default adapted to the measured rows; returns (model, target name, tag)."""
    from metamat.data.readers import read_table
    from metamat.featurize.pipeline import featurize_formulas
    from metamat.fewshot import check_support, load_fewshot_model

    table = read_table(measured, target_columns=target, outlier_z=None, duplicates="median")
    if len(table.targets) > 1:
        raise InputError(f"several numeric columns could be the target: {list(table.targets)}; choose one with "
                         "--target", source=str(measured), field="--target")
    name = next(iter(table.targets))
    sub = table.for_target(name)
    y, formulas = sub.target(name), sub.formulas
    check_support(y, formulas, source=str(measured), target=name, log_target=log_target)
    model = load_fewshot_model("default", log_target=log_target)
    model.fit(featurize_formulas(formulas, "composition", source=str(measured), field="formula").values, y)
    tag = hashlib.sha256(("\n".join(map(str, formulas)) + repr(np.round(y, 12).tolist()) + str(log_target))
                         .encode()).hexdigest()[:16]
    return model, name, tag, len(y)


def _candidate_formulas(path: Path, formula_column: str | None) -> tuple[str, ...]:
    from metamat.data.compositions import parse_formulas
    from metamat.data.readers import guess_formula_column, read_frame

    df = read_frame(path)
    if formula_column is None:
        formula_column = guess_formula_column(df, set(), [])
        if formula_column is None:
            raise InputError(f"no formula column found among {list(df.columns)}; name it with --formula-column",
                             source=str(path))
    elif formula_column not in df.columns:
        raise InputError(f"column {formula_column!r} not found; available: {list(df.columns)}", source=str(path),
                         field=formula_column)
    values = df[formula_column].tolist()
    parse_formulas(values, source=str(path), field=formula_column)  # every bad row named, nothing dropped
    return tuple(str(v) for v in values)


def _symbols(text: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip()) if text else ()


def screen(
    elements: str | None = typer.Option(None, "--elements", help="Element set of the composition grid, e.g. "
                                                                  "Li,La,Zr,O."),
    step: float = typer.Option(0.05, "--step", help="Fraction step of the grid (1/n)."),
    max_elements: int | None = typer.Option(None, "--max-elements", help="At most this many elements per "
                                                                          "candidate (default: all)."),
    min_elements: int = typer.Option(2, "--min-elements", help="At least this many elements per grid candidate."),
    exclude_elements: str | None = typer.Option(None, "--exclude-elements", help="Drop candidates containing any "
                                                                                 "of these, e.g. Pb,Cd,Hg."),
    require_elements: str | None = typer.Option(None, "--require-elements", help="Keep only candidates containing "
                                                                                 "all of these."),
    max_cost: float | None = typer.Option(None, "--max-cost", help="Raw-material cost limit, USD/kg (element "
                                                                   "prices from pymatgen's cost table)."),
    max_hhi: float | None = typer.Option(None, "--max-hhi", help="Supply-risk limit: mass-weighted HHI of "
                                                                 "production (0-10000)."),
    candidates: Path | None = typer.Option(None, "--candidates", help="CSV/parquet of candidate formulas "
                                                                      "instead of a grid."),
    substitute: Path | None = typer.Option(None, "--substitute", help="Known compounds (a formula column): screen "
                                                                      "their single-element substitutions (by "
                                                                      "--elements if given)."),
    formula_column: str | None = typer.Option(None, "--formula-column", help="Formula column of --candidates / "
                                                                             "--substitute."),
    measured: Path | None = typer.Option(None, "--measured", help="Measured rows (formula + target): adapt the "
                                                                  "few-shot default to them and rank by it."),
    target: str | None = typer.Option(None, "--target", help="Target column of --measured."),
    log_target: bool = typer.Option(False, "--log-target", help="Learn log10 of a positive target."),
    minimize: bool = typer.Option(False, "--minimize", help="Rank the lowest predictions first."),
    filters: str = typer.Option("charge,stability", "--filters", help="Comma-separated: charge, stability; "
                                                                      "'none' for no filter."),
    threshold: float = typer.Option(0.1, "--ehull-threshold", help="Stability: e_hull threshold (eV/atom)."),
    min_probability: float = typer.Option(0.5, "--min-probability",
                                          help="Stability: keep P(e_hull < threshold) >= this."),
    scheduler: str | None = typer.Option(None, "--scheduler", help="Existing Dask scheduler, tcp://host:port."),
    workers: int | None = typer.Option(None, "--workers", help="Local Dask workers (default: cores; 0: run in "
                                                               "this process, no Dask)."),
    chunk_size: int = typer.Option(100_000, "--chunk-size", help="Candidates per chunk (memory per worker)."),
    output: Path = typer.Option(..., "-o", "--output", help="Output folder (parts/*.parquet, top.csv, "
                                                            "summary.json); rerun to resume."),
    top: int = typer.Option(20, "--top", help="Best N candidates to top.csv and the screen."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Folder of the shared datasets (known phases "
                                                                  "for the hull; default $METAMAT_DATA_DIR)."),
) -> None:
    """Screen a composition space: generate candidates, filter (charge balance, stability), predict, rank."""
    from metamat.screen.generate import parse_elements
    from metamat.screen.pipeline import ScreenConfig, run_screen, start_client

    if output.exists() and not output.is_dir():
        raise InputError("output must be a folder", source=str(output), field="--output")
    allowed = parse_elements(elements) if elements else None
    if substitute is not None:
        if candidates is not None:
            raise InputError("give --candidates or --substitute, not both", field="--substitute")
        from metamat.screen.generate import substitute as substitutions

        new = substitutions(_candidate_formulas(substitute, formula_column), allowed=allowed, source=str(substitute))
        if not len(new):
            raise InputError("no substitution candidates (no similar elements among the allowed ones)",
                             source=str(substitute))
        err_console.print(f"{len(new):,} single-element substitutions of the compounds in {substitute}")
        subst_formulas, elements = tuple(new["formula"]), None
    elif (elements is None) == (candidates is None):
        raise InputError("give either --elements (a composition grid), --candidates FILE or --substitute FILE",
                         field="--elements")
    chosen = tuple(f.strip() for f in filters.split(",") if f.strip() and f.strip() != "none")
    model, tname, tag = None, None, ""
    if measured is not None:
        model, tname, tag, n = _adapted_model(measured, target, log_target)
        err_console.print(f"adapted the few-shot default model to {n} measured rows of {tname!r}")
    elif target is not None:
        raise InputError("--target needs --measured", field="--target")
    data = str(data_dir) if data_dir else os.environ.get("METAMAT_DATA_DIR")
    config = ScreenConfig(
        elements=allowed if elements else (), step=step, max_elements=max_elements, min_elements=min_elements,
        candidates=subst_formulas if substitute else _candidate_formulas(candidates, formula_column) if candidates
        else (), filters=chosen,
        stability_threshold=threshold, min_probability=min_probability, chunk_size=chunk_size, top=top,
        maximize=not minimize, target=tname, model_tag=tag, data_dir=data,
        exclude=_symbols(exclude_elements), require=_symbols(require_elements), max_cost_per_kg=max_cost,
        max_hhi=max_hhi)
    if "stability" in chosen:
        from metamat.data.registry import dataset_available

        if not (data and dataset_available("CritExam__Ef", data)):
            err_console.print("[yellow]no known phases (CritExam__Ef not in --data-dir / $METAMAT_DATA_DIR): "
                              "e_hull is measured against the elements only[/]")
    err_console.print(f"{config.n_candidates():,} candidates in {len(config.chunks())} chunks")
    client = None
    try:
        if workers != 0:
            import logging

            logging.getLogger("distributed").setLevel(logging.ERROR)  # no worker start/stop chatter
            try:
                client, dashboard = start_client(scheduler, workers)
                err_console.print(f"Dask dashboard: {dashboard}")
            except ImportError:
                if scheduler:
                    raise InputError("--scheduler needs Dask: pip install 'metamat[screen]'",
                                     field="--scheduler") from None
                err_console.print("[yellow]Dask is not installed (pip install 'metamat[screen]'): running in this "
                                  "process[/]")
        columns = (TextColumn("[bold]screening"), BarColumn(), MofNCompleteColumn(), TextColumn("chunks"),
                   TimeElapsedColumn(), TimeRemainingColumn())
        with Progress(*columns, console=err_console) as bar:
            task = bar.add_task("screen", total=len(config.chunks()))
            summary = run_screen(config, output, client=client, model=model,
                                 progress=lambda done, total: bar.update(task, completed=done, total=total))
    finally:
        if client is not None:
            cluster = client.cluster
            client.close()
            if cluster is not None:
                cluster.close()
    if summary.skipped:
        err_console.print(f"resumed: {summary.skipped} chunks already written, {summary.computed} computed")
    console.print(f"candidates: {summary.candidates:,}")
    for f in summary.filters:
        console.print(f"after {f['name']} filter: {f['kept']:,} (removed {f['seen'] - f['kept']:,})")
        for reason, count in f["removed"].items():
            console.print(f"    {count:,}: {escape(reason)}", highlight=False)
    console.print(f"written: {summary.written:,} rows to {summary.files['parts']}/")
    _print_top(summary.top, tname)
    console.print(f"top {len(summary.top)} in {summary.files['top']}; counts in {summary.files['summary']}")


def _print_top(top, target: str | None) -> None:
    title = f"top candidates by predicted {target}" if target else "top candidates by predicted stability"
    table = Table(title=title, title_justify="left")
    show = [c for c in ("formula", "prediction", "std", "lower90", "upper90", "e_hull", "p_stable") if c in top]
    for c in show:
        table.add_column(c, justify="left" if c == "formula" else "right")
    for _, row in top.head(20).iterrows():
        table.add_row(*(str(row[c]) if c == "formula" else f"{row[c]:.3f}" for c in show))
    console.print(table)
