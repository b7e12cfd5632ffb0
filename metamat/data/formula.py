"""Chemical formula parsing: what people type in, normalized element fractions out.

Accepted: ``LiCoO2``, ``Al0.5Cu0.3Zn0.2``, ``Ca(OH)2``, ``(Li0.5La0.5)TiO3``, nested brackets of any kind
(``()``, ``[]``, ``{}``), hydrates with a middle dot (``CuSO4·5H2O``; ``*``, ``•`` and ``⋅`` work too),
unicode subscripts (``Fe₂O₃``), whitespace anywhere, elements in any order and repeated (``CH3COOH``).
A plain ``.`` is always a decimal point (``Ag0.5Ge1Pb1.75S4``).

Rejected with a :class:`~metamat.errors.FormulaError` that names the input and the reason: unknown or
unsupported elements, empty strings, zero or negative amounts, unbalanced brackets, NaN/None and text
that is not a formula.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

import numpy as np

from metamat.errors import FormulaError

#: Element symbols for Z = 1..103, the range of the element table (index = Z - 1).
ELEMENTS: tuple[str, ...] = tuple(
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr "
    "Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb "
    "Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No Lr".split()
)
ATOMIC_NUMBER: dict[str, int] = {s: i + 1 for i, s in enumerate(ELEMENTS)}
_BEYOND_TABLE = frozenset("Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og".split())

_NUMBER = r"(?:\d+\.?\d*|\.\d+)"
_FLAT_RE = re.compile(rf"(?:[A-Z][a-z]?{_NUMBER}?)+")
_FLAT_TOKEN_RE = re.compile(rf"([A-Z][a-z]?)({_NUMBER})?")
_TOKEN_RE = re.compile(rf"(?P<el>[A-Z][a-z]?)|(?P<num>{_NUMBER})|(?P<open>[(\[{{])|(?P<close>[)\]}}])"
                       r"|(?P<dot>[·•⋅∙*])")
_SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_CLOSING = {"(": ")", "[": "]", "{": "}"}
_MISSING_WORDS = frozenset({"nan", "NAN", "None", "none", "NONE", "null", "NULL", "Null", "NA", "na", "N/A", "n/a"})


def _bad(formula: object, reason: str) -> FormulaError:
    return FormulaError(f"cannot parse formula {formula!r}: {reason}", value=formula)


def _element(symbol: str, formula: str) -> str:
    if symbol in ATOMIC_NUMBER:
        return symbol
    if symbol in _BEYOND_TABLE:
        raise _bad(formula, f"element '{symbol}' is outside the supported range Z = 1-103")
    raise _bad(formula, f"unknown element '{symbol}'")


def _amount(text: str, formula: str, after: str) -> float:
    value = float(text)
    if value <= 0.0 or not math.isfinite(value):
        raise _bad(formula, f"amount {text!r} after {after!r} must be positive")
    return value


def _check_text(formula: object) -> str:
    if formula is None:
        raise _bad(formula, "missing value (None)")
    if isinstance(formula, float) and math.isnan(formula):
        raise _bad(formula, "missing value (NaN)")
    if not isinstance(formula, str):
        raise _bad(formula, f"expected a string, got {type(formula).__name__}")
    text = "".join(formula.split())
    if not text:
        raise _bad(formula, "empty formula")
    if text in _MISSING_WORDS:  # "NaN" itself is sodium nitride, and "Na" is sodium: both parse
        raise _bad(formula, "missing value")
    return text


def parse_amounts(formula: str) -> dict[str, float]:
    """Element amounts of ``formula`` as written (not normalized), in order of first appearance."""
    text = _check_text(formula)
    if not _FLAT_RE.fullmatch(text):
        return _parse_general(text.translate(_SUBSCRIPTS), formula)
    amounts: dict[str, float] = {}
    for symbol, number in _FLAT_TOKEN_RE.findall(text):
        _element(symbol, formula)
        value = _amount(number, formula, symbol) if number else 1.0
        amounts[symbol] = amounts.get(symbol, 0.0) + value
    return amounts


def _parse_z(formula: object) -> dict[int, float]:
    """Element amounts keyed by atomic number."""
    return {ATOMIC_NUMBER[s]: v for s, v in parse_amounts(formula).items()}  # type: ignore[arg-type]


def _tokenize(text: str, formula: str) -> list[tuple[str, str, int]]:
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            char = text[pos]
            if char == "-" and pos + 1 < len(text) and (text[pos + 1].isdigit() or text[pos + 1] == "."):
                raise _bad(formula, f"negative amount at position {pos}")
            raise _bad(formula, f"unexpected character {char!r} at position {pos}; not a formula")
        kind = m.lastgroup
        tokens.append((kind, m.group(kind), pos))
        pos = m.end()
    return tokens


def _parse_general(text: str, formula: str) -> dict[str, float]:
    """Recursive-descent parse of brackets and hydrate parts (``A·nB·mC``)."""
    tokens = _tokenize(text, formula)
    total: dict[str, float] = {}
    i, n = 0, len(tokens)
    part_index = 0
    while i < n:
        factor = 1.0
        if part_index > 0:  # after a hydrate dot an optional multiplier, e.g. ·5H2O
            if i < n and tokens[i][0] == "num":
                factor = _amount(tokens[i][1], formula, "·")
                i += 1
        part, i = _parse_group_sequence(tokens, i, formula, closing=None)
        if not part:
            raise _bad(formula, "empty part between hydrate separators" if part_index else "no elements")
        for symbol, value in part.items():
            total[symbol] = total.get(symbol, 0.0) + factor * value
        if i < n:  # must be a dot
            if tokens[i][0] != "dot":
                raise _bad(formula, f"unexpected {tokens[i][1]!r} at position {tokens[i][2]}")
            i += 1
            if i == n:
                raise _bad(formula, "formula ends with a hydrate separator")
        part_index += 1
    return total


def _parse_group_sequence(tokens, i, formula, closing):
    """Parse elements and bracketed groups until ``closing`` (or a dot / the end when ``closing`` is None)."""
    amounts: dict[str, float] = {}
    n = len(tokens)
    while i < n:
        kind, value, pos = tokens[i]
        if kind == "el":
            symbol = _element(value, formula)
            i += 1
            count = 1.0
            if i < n and tokens[i][0] == "num":
                count = _amount(tokens[i][1], formula, symbol)
                i += 1
            amounts[symbol] = amounts.get(symbol, 0.0) + count
        elif kind == "open":
            inner, i = _parse_group_sequence(tokens, i + 1, formula, closing=_CLOSING[value])
            if i >= n:
                raise _bad(formula, f"unbalanced brackets: {value!r} at position {pos} is never closed")
            i += 1  # the closing bracket
            if not inner:
                raise _bad(formula, f"empty brackets at position {pos}")
            count = 1.0
            if i < n and tokens[i][0] == "num":
                count = _amount(tokens[i][1], formula, value + "..." + _CLOSING[value])
                i += 1
            for symbol, v in inner.items():
                amounts[symbol] = amounts.get(symbol, 0.0) + count * v
        elif kind == "close":
            if closing is None:
                raise _bad(formula, f"unbalanced brackets: {value!r} at position {pos} has no opening bracket")
            if value != closing:
                raise _bad(formula, f"mismatched brackets: expected {closing!r} at position {pos}, got {value!r}")
            return amounts, i
        elif kind == "dot":
            if closing is not None:
                raise _bad(formula, f"hydrate separator inside brackets at position {pos}")
            return amounts, i
        else:  # a number with no element before it
            raise _bad(formula, f"number {value!r} at position {pos} does not follow an element or bracket")
    return amounts, i


def parse_formula(formula: str) -> dict[str, float]:
    """Normalized element fractions of ``formula`` (they sum to 1), in order of first appearance."""
    amounts = parse_amounts(formula)
    total = sum(amounts.values())
    return {symbol: value / total for symbol, value in amounts.items()}


def format_formula(amounts: dict[str, float] | Iterable[tuple[str, float]], digits: int = 8) -> str:
    """Write element amounts as a flat formula string (``{'Li': 1, 'O': 2}`` -> ``'LiO2'``)."""
    items = amounts.items() if isinstance(amounts, dict) else amounts
    parts = []
    for symbol, value in items:
        text = np.format_float_positional(float(value), precision=digits, unique=True, trim="-")
        parts.append(symbol if text == "1" else symbol + text)
    return "".join(parts)
