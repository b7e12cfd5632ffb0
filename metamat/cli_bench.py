"""`metamat bench ...`: evaluation commands (few-shot curves, cross-validation, matbench)."""

from __future__ import annotations

import typer

bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks: few-shot curves, cross-validation, matbench.")
