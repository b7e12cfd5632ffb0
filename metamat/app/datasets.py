"""`metamat data list|show`: the registered datasets, their targets, units and row reports."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from metamat.app.console import console

DataDirOption = typer.Option(None, "--data-dir", help="Folder of the shared datasets (default: $METAMAT_DATA_DIR).")


def data_list(data_dir: Path | None = DataDirOption) -> None:
    """List the registered datasets, their targets and units, where they load from and how to get them."""
    from metamat.data.fetch import availability
    from metamat.data.registry import list_datasets

    wide = console.width >= 120  # the description only fits a wide terminal
    table = Table(title="metamat datasets")
    table.add_column("name", no_wrap=True)
    for column in ("kind", "targets (unit)", "available from", "how to get") + (("description",) if wide else ()):
        table.add_column(column, overflow="fold")
    for spec in list_datasets():
        targets = ", ".join(f"{t.name} ({t.unit or '-'})" for t in spec.targets.values())
        a = availability(spec.name, data_dir)
        fetch = "fetch" + ("*" if a.checksums == "recorded on first download" else "") + (
            f" {a.size / 1e6:.1f} MB" if a.size else "")
        how = {"fetch": fetch, "package": f"pip: {a.package}", "manual": "manual"}[a.how]
        table.add_row(spec.name, spec.kind, targets, a.where or "no", how,
                      *((spec.description[:60],) if wide else ()))
    console.print(table)
    console.print("fetch: `metamat data fetch NAME` (or --all for every one), checked against pinned SHA-256 sums; "
                  "fetch*: a GitHub file at a fixed commit, checked against the sum recorded on its first download; "
                  "manual: `metamat data fetch NAME` says how; pip: ships in that package. "
                  "`metamat data show NAME` describes one dataset.")


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
    if spec.origin is not None:
        console.print(f"source: {', '.join(spec.origin.sources)} (DOI {spec.origin.doi})", highlight=False)
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
