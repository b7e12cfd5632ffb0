"""Terminal output shared by every command: the two consoles, a progress bar, a table printer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from metamat.errors import InputError

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


class ProgressBar:
    """A rich progress bar on stderr, driven by ``callback(done, total)`` (the library's progress protocol)."""

    def __init__(self, description: str, *, transient: bool = False, enabled: bool = True):
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TimeRemainingColumn(), console=err_console,
                                 transient=transient, disable=not enabled)
        self.description = description
        self.task_id: int | None = None

    def __enter__(self) -> Callable[[int, int], None]:
        self.progress.__enter__()

        def update(done: int, total: int) -> None:
            if self.task_id is None:
                self.task_id = self.progress.add_task(self.description, total=total)
            self.progress.update(self.task_id, completed=done, total=total)

        return update

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    """A rich table on stdout with ``header`` columns and string ``rows``."""
    table = Table(title=title, title_justify="left")
    for h in header:
        table.add_column(h)
    for r in rows:
        table.add_row(*r)
    console.print(table)


def out_dir(out: Path) -> Path:
    """``out`` if it is a folder or does not exist yet; a file there is an :class:`InputError`."""
    if out.exists() and not out.is_dir():
        raise InputError("output must be a folder, not a file", source=str(out), field="--out")
    return out


def section(title: str, out: Console | None = None) -> None:
    """A section heading: a rule with the title in it when it fits the terminal, else a plain rule with the
    whole title on the next line (rich would cut a long title mid-word)."""
    from rich.text import Text

    out = out or console
    text = Text.from_markup(title)
    if text.cell_len + 6 <= out.width:
        out.rule(text)
    else:
        out.rule()
        out.print(text)
