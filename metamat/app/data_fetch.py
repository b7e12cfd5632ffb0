"""`metamat data fetch NAME|--all`: download datasets from their original sources, with a progress bar.

The work is :func:`metamat.data.fetch.fetch_dataset`; this module parses the options, draws one progress bar
per file on stderr and prints where each dataset went. Failures of single datasets under ``--all`` are
reported and counted; the command then exits with status 2.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from metamat.errors import InputError, MetamatError, cli_text

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def fetch(
    name: str | None = typer.Argument(None, help="Dataset to download (see `metamat data list`)."),
    all_: bool = typer.Option(False, "--all", help="Download every dataset that can be downloaded."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Where to store the datasets (default: $METAMAT_DATA_DIR, else "
                                 "~/.local/share/metamat, where every metamat command finds them)."),
    mirror: str | None = typer.Option(
        None, "--mirror", help="Base URL serving the same files as <mirror>/<host>/<path> (for proxies and "
                               "offline copies; default: $METAMAT_FETCH_MIRROR, else the original hosts)."),
    force: bool = typer.Option(False, "--force", help="Download again even when the dataset is already there."),
) -> None:
    """Download datasets from their original public sources, convert them and verify their checksums."""
    from metamat.data.fetch import fetch_dataset, fetchable_datasets
    from metamat.data.registry import fetch_dir, get_spec, list_datasets

    if (name is None) == (not all_):
        raise InputError("name one dataset (see `metamat data list`) or pass --all, not both")
    names = fetchable_datasets() if all_ else [get_spec(name).name]
    err_console.print(f"data directory: {fetch_dir(data_dir)}", highlight=False)
    failed = 0
    for dataset in names:
        with _Bars() as progress:
            try:
                result = fetch_dataset(dataset, data_dir, mirror=mirror, force=force, progress=progress)
            except MetamatError as exc:
                if not all_:
                    raise
                failed += 1
                err_console.print(f"[bold red]{dataset}: failed:[/] {escape(cli_text(exc))}", highlight=False)
                continue
        word = "already present" if result.status == "present" else "fetched"
        checked = f"; checksums: {result.checksums}" if result.checksums else ""
        console.print(f"{dataset}: {word} ({result.path}){checked}", highlight=False)
    manual = [s.name for s in list_datasets() if s.origin is None or s.origin.how == "manual"]
    if all_ and manual:
        err_console.print(f"not downloadable by metamat: {', '.join(manual)} (`metamat data fetch NAME` says how "
                          "to get one)", highlight=False)
    if failed:
        err_console.print(f"{failed} of {len(names)} datasets failed", highlight=False)
        raise typer.Exit(2)


class _Bars:
    """One rich download bar per file, driven by ``progress(label, done, total)``."""

    def __enter__(self):
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                 TransferSpeedColumn(), TimeRemainingColumn(), console=err_console,
                                 transient=True)
        self.progress.__enter__()
        self.tasks: dict[str, int] = {}

        def update(label: str, done: int, total: int | None) -> None:
            if label not in self.tasks:
                self.tasks[label] = self.progress.add_task(label, total=total)
            self.progress.update(self.tasks[label], completed=done, total=total)

        return update

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)
