"""Helpers for the hostile-input corpus: run the CLI in-process through its real entry point."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """``run_cli(*args) -> (exit code, stdout, stderr)`` through ``metamat.cli.main`` (exit 2 on bad input)."""
    from metamat import cli

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["metamat", *map(str, args)])
        code = 0
        try:
            cli.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
