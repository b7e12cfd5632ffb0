"""Errors that name the file, row and field of bad input (see docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One bad value: where it is and why it is bad. ``row`` is the 1-based data row (header excluded)."""

    reason: str
    source: str | None = None
    row: int | None = None
    field: str | None = None
    value: object = None

    def __str__(self) -> str:
        where = [p for p in (self.source, None if self.row is None else f"row {self.row}",
                             None if self.field is None else f"field '{self.field}'") if p]
        prefix = ", ".join(where)
        return f"{prefix}: {self.reason}" if prefix else self.reason


class MetamatError(Exception):
    """Base class of every error metamat raises on purpose.

    ``cli_message`` is the same message in command-line terms (flags and environment variables instead of
    Python argument names); the CLI prints it when set (see :func:`cli_text`).
    """

    cli_message: str | None = None


def cli_text(exc: BaseException) -> str:
    """The message of ``exc`` as the command line should show it (``cli_message`` if the error has one)."""
    return getattr(exc, "cli_message", None) or str(exc)


class InputError(MetamatError, ValueError):
    """Bad user input. Carries every problem found, not just the first."""

    def __init__(self, reason: str | None = None, *, source: str | None = None, row: int | None = None,
                 field: str | None = None, value: object = None,
                 problems: Sequence[Problem] | None = None):
        if problems is None:
            problems = [Problem(reason or "invalid input", source, row, field, value)]
        self.problems: list[Problem] = list(problems)
        first = self.problems[0]
        self.source, self.row, self.field, self.value = first.source, first.row, first.field, first.value
        self.reason = reason if reason is not None else first.reason
        super().__init__(self.render())

    def render(self, limit: int = 50) -> str:
        """Human-readable text: one line per problem (at most ``limit``)."""
        if len(self.problems) == 1:
            return str(self.problems[0])
        lines = [f"{len(self.problems)} problems:"]
        lines += [f"  - {p}" for p in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"  ... and {len(self.problems) - limit} more")
        return "\n".join(lines)


class FormulaError(InputError):
    """A chemical formula that cannot be parsed."""


class DataSourceError(MetamatError):
    """A dataset or online source that is unavailable (missing file, no cache and no network, no API key)."""

    def __init__(self, message: str, *, cli_message: str | None = None):
        super().__init__(message)
        self.cli_message = cli_message
