"""The ``metamat`` command: a thin typer shell that registers the command flows of :mod:`metamat.app`.

Bad input ends with a short message naming file, row and field and exit status 2, never a traceback
(set ``METAMAT_DEBUG=1`` to see one).
"""

from __future__ import annotations

import os
import sys

import typer
from rich.markup import escape

from metamat.app.bench import bench_app
from metamat.app.console import err_console
from metamat.app.data_fetch import fetch as data_fetch
from metamat.app.datasets import data_list, data_show
from metamat.app.demo import demo
from metamat.app.design import design
from metamat.app.featurize import featurize
from metamat.app.fewshot import fewshot
from metamat.app.potential import potential_app
from metamat.app.screen import screen
from metamat.app.suggest import suggest
from metamat.errors import MetamatError, cli_text

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="metamat: learn a new materials property from a handful of measurements.")
data_app = typer.Typer(no_args_is_help=True, help="Built-in and registered datasets.")
data_app.command("list")(data_list)
data_app.command("show")(data_show)
app.command("fewshot")(fewshot)
app.command("featurize")(featurize)
app.command("demo")(demo)
app.add_typer(data_app, name="data")
data_app.command("fetch")(data_fetch)
app.add_typer(bench_app, name="bench")
app.add_typer(potential_app, name="potential")
app.command("suggest")(suggest)
app.command("design")(design)
app.command("screen")(screen)


def main() -> None:
    """Console entry point: run the app, turn metamat errors into a message and exit status 2."""
    from metamat.files import terminate_on_sigterm

    terminate_on_sigterm()  # SIGTERM -> exception: temporary files of running writes are removed
    try:
        app()
    except MetamatError as exc:
        err_console.print(f"[bold red]error:[/] {escape(cli_text(exc))}", highlight=False)
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


if __name__ == "__main__":
    main()
