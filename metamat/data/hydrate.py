"""A warning for a plain ``.`` that looks like a hydrate dot (``CuSO4.5H2O``).

The parser reads a plain dot as a decimal point (:mod:`metamat.data.formula`): ``CuSO4.5H2O`` is
Cu S O4.5 H2 O, not copper sulfate pentahydrate (``CuSO4·5H2O``, also ``CuSO4*5H2O``). That stays so (a dot
in ``Al0.5Cu0.5`` is a decimal point), but a formula where the dot is followed by a count and
water gets a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_HYDRATE_DOT = re.compile(r"[A-Za-z0-9)\]}]\.(\d+)([HD]2O)(?![a-z])")


def hydrate_dot_warnings(formulas: Iterable[object], source: str | None = None, limit: int = 3) -> list[str]:
    """One warning naming up to ``limit`` formulas whose plain dot looks like a hydrate dot (empty if none)."""
    hits = sorted({f for f in formulas if isinstance(f, str) and _HYDRATE_DOT.search(f)})
    if not hits:
        return []
    where = f"{source}: " if source else ""
    shown = ", ".join(repr(h) for h in hits[:limit]) + (f" and {len(hits) - limit} more" if len(hits) > limit else "")
    example = _HYDRATE_DOT.sub(lambda m: m.group(0)[0] + "·" + m.group(1) + m.group(2), hits[0], count=1)
    return [f"warning: {where}{len(hits)} formula(s) with a plain '.' before water ({shown}): read as a decimal "
            f"point; for a hydrate write {example!r} (or '*' instead of '·')"]
