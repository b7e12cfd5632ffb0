"""Boolean flags on the command line: shown as flags in ``--help`` and tolerant of ``--flag true``.

Typer labels every bool option ``<bool>`` although it takes no value -- including the ``--help`` option
click adds to every command; :func:`flag_help_as_flags` blanks that label. ``--skip-invalid true`` (a
value after a flag) is a natural guess; :func:`normalize_flag_values` rewrites ``--flag true|yes|1|on``
to ``--flag`` and ``--flag false|no|0|off`` to nothing (the default) before click parses the line
(typer ships its own click: objects are duck-typed here).
"""

from __future__ import annotations

from typing import Any

TRUE_WORDS = {"true", "yes", "1", "on", "y"}
FALSE_WORDS = {"false", "no", "0", "off", "n"}


def _commands(cmd: Any):
    yield cmd
    if hasattr(cmd, "commands"):
        for sub in cmd.commands.values():
            yield from _commands(sub)


def flag_options(root: Any) -> list[Any]:
    """Every boolean flag of every command under ``root``."""
    return [p for c in _commands(root) for p in c.params if getattr(p, "is_flag", False)]


def _help_options(root: Any) -> list[Any]:
    """The ``--help`` option of every command under ``root`` (click creates it once per command and caches
    it, outside ``params``)."""
    options = (cmd.get_help_option(cmd.context_class(cmd)) for cmd in _commands(root))
    return [opt for opt in options if opt is not None]


def flag_help_as_flags(root: Any) -> None:
    """No ``<bool>`` value label for flags (``--help`` included) in ``--help``."""
    for opt in [*flag_options(root), *_help_options(root)]:
        opt.metavar = ""


def normalize_flag_values(argv: list[str], root: Any) -> list[str]:
    """``--flag true`` -> ``--flag``; ``--flag false`` -> dropped (see module docstring)."""
    names = {name for opt in flag_options(root) for name in opt.opts if name.startswith("-")}
    out, i = [], 0
    while i < len(argv):
        tok = argv[i]
        nxt = argv[i + 1].lower() if i + 1 < len(argv) else None
        if tok in names and nxt in TRUE_WORDS | FALSE_WORDS:
            if nxt in TRUE_WORDS:
                out.append(tok)
            i += 2
            continue
        out.append(tok)
        i += 1
    return out
