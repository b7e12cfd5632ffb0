"""Chemical formula parsing: what people type in, normalized element fractions out.

Accepted: ``LiCoO2``, ``Al0.5Cu0.3Zn0.2``, ``Ca(OH)2``, ``(Li0.5La0.5)TiO3``, nested brackets of any kind
(``()``, ``[]``, ``{}``), hydrates with a middle dot (``CuSO4·5H2O``; ``*``, ``•`` and ``⋅`` work too),
unicode subscripts (``Fe₂O₃``), whitespace before a symbol or bracket (``Fe2 O3``), elements in any order
and repeated (``CH3COOH``). A plain ``.`` is always a decimal point (``Ag0.5Ge1Pb1.75S4``).

Rejected with a :class:`~metamat.errors.FormulaError` that names the input and the reason: unknown or
unsupported elements, empty strings, zero or negative amounts, amounts outside :data:`AMOUNT_RANGE`
(overflow), unbalanced or too deeply nested brackets, NaN/None, control characters, non-ASCII digits,
whitespace inside a number or before an amount (``Yb1 0.0``, ``Sn 1.5``) or between two formulas that
repeat an element (``H2O2 H2O``), strings longer than :data:`MAX_FORMULA_LENGTH` and text that is not a
formula. The scanner is a single left-to-right pass (no backtracking regex, no recursion): time is linear
in the length of the input.
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

_NUMBER = r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)"  # ASCII digits only: Python's \d also matches ٢ and २
MAX_FORMULA_LENGTH = 1000  # characters; real formulas are far shorter, and the cap bounds the work per string
MAX_BRACKET_DEPTH = 16  # nested brackets; the deepest real formulas use 3
AMOUNT_RANGE = (1e-8, 1e8)  # every element amount (after bracket multipliers) must lie in this range
_SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_CLOSING = {"(": ")", "[": "]", "{": "}"}
_DOTS = frozenset("·•⋅∙*")
_MISSING_WORDS = frozenset({"nan", "NAN", "None", "none", "NONE", "null", "NULL", "Null", "NA", "na", "N/A", "n/a"})


def _bad(formula: object, reason: str) -> FormulaError:
    shown = formula if not isinstance(formula, str) or len(formula) <= 80 else formula[:77] + "..."
    return FormulaError(f"cannot parse formula {shown!r}: {reason}", value=shown)


def _element(symbol: str, formula: str) -> str:
    if symbol in ATOMIC_NUMBER:
        return symbol
    if symbol in _BEYOND_TABLE:
        raise _bad(formula, f"element '{symbol}' is outside the supported range Z = 1-103")
    raise _bad(formula, f"unknown element '{symbol}'")


def _amount(text: str, formula: str, after: str) -> float:
    value = float(text)
    if value <= 0.0:
        raise _bad(formula, f"amount {text!r} after {after!r} must be positive")
    lo, hi = AMOUNT_RANGE
    if not lo <= value <= hi:  # also inf from "9" * 400
        shown = text if len(text) <= 20 else text[:17] + "..."
        raise _bad(formula, f"amount {shown!r} after {after!r} is outside the range {lo:g}-{hi:g}")
    return value


_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


def _is_control(char: str) -> bool:
    code = ord(char)
    return (code < 32 and char not in " \t\n\r") or 0x7F <= code <= 0x9F or code in (0x2028, 0x2029, 0xFEFF)


def _check_text(formula: object) -> str:
    """The stripped text of ``formula`` (subscripts as ASCII digits), or a FormulaError for what is not one."""
    if formula is None:
        raise _bad(formula, "missing value (None)")
    if isinstance(formula, float) and math.isnan(formula):
        raise _bad(formula, "missing value (NaN)")
    if not isinstance(formula, str):
        raise _bad(formula, f"expected a string, got {type(formula).__name__}")
    if len(formula) > MAX_FORMULA_LENGTH:
        raise _bad(formula, f"longer than {MAX_FORMULA_LENGTH} characters ({len(formula)}); not a formula")
    control = _CONTROL_RE.search(formula)  # before stripping: str.strip() removes U+0085 and U+001C-U+001F
    if control:
        raise _bad(formula, f"control character U+{ord(control.group()):04X} at position {control.start()}")
    text = formula.strip()
    if not text:
        raise _bad(formula, "empty formula")
    if "".join(text.split()) in _MISSING_WORDS:  # "NaN" itself is sodium nitride, and "Na" is sodium: both parse
        raise _bad(formula, "missing value")
    return text.translate(_SUBSCRIPTS)


def _tokens(text: str, formula: str) -> list[tuple[str, str, int, bool]]:
    """Tokens (kind, text, position, follows whitespace) of ``text`` in one left-to-right pass (linear time)."""
    tokens: list[tuple[str, str, int, bool]] = []
    pos, n, gap = 0, len(text), False
    while pos < n:
        char = text[pos]
        start = pos
        if "A" <= char <= "Z":
            pos += 1
            if pos < n and "a" <= text[pos] <= "z":
                pos += 1
            tokens.append(("el", text[start:pos], start, gap))
        elif "0" <= char <= "9" or (char == "." and pos + 1 < n and "0" <= text[pos + 1] <= "9"):
            while pos < n and "0" <= text[pos] <= "9":
                pos += 1
            if pos < n and text[pos] == ".":
                pos += 1
                while pos < n and "0" <= text[pos] <= "9":
                    pos += 1
            if gap and tokens and tokens[-1][0] == "num":
                raise _bad(formula, f"whitespace inside a number at position {start}")
            if gap and tokens and tokens[-1][0] != "dot":  # "Sn\t1.5": a separate value, not Sn's amount
                raise _bad(formula, f"whitespace between {tokens[-1][1]!r} and the amount {text[start:pos]!r} at "
                                    f"position {start}; write amounts right after their symbol or bracket")
            tokens.append(("num", text[start:pos], start, gap))
        elif char in _CLOSING:
            pos += 1
            tokens.append(("open", char, start, gap))
        elif char in ")]}":
            pos += 1
            tokens.append(("close", char, start, gap))
        elif char in _DOTS:
            pos += 1
            tokens.append(("dot", char, start, gap))
        elif char.isspace() and not _is_control(char):
            pos += 1
            gap = True
            continue
        elif _is_control(char):
            raise _bad(formula, f"control character U+{ord(char):04X} at position {pos}")
        elif char == "-" and pos + 1 < n and (text[pos + 1].isdigit() or text[pos + 1] == "."):
            raise _bad(formula, f"negative amount at position {pos}")
        else:
            raise _bad(formula, f"unexpected character {char!r} at position {pos}; not a formula")
        gap = False
    return tokens


def _add(into: dict[str, float], part: dict[str, float], factor: float) -> None:
    for symbol, value in part.items():
        into[symbol] = into.get(symbol, 0.0) + factor * value


def parse_amounts(formula: str) -> dict[str, float]:
    """Element amounts of ``formula`` as written (not normalized), in order of first appearance.

    One pass over the tokens with an explicit bracket stack: time is linear in the length, and deep
    nesting is an error, never a RecursionError.
    """
    text = _check_text(formula)
    tokens = _tokens(text, formula)
    total: dict[str, float] = {}
    stack: list[dict[str, float]] = [{}]
    opens: list[tuple[str, int]] = []
    factor, parts, i, n = 1.0, 0, 0, len(tokens)
    n_symbols, spaced = 0, False

    def count_after(j: int, after: str) -> tuple[float, int]:
        if j < n and tokens[j][0] == "num":
            return _amount(tokens[j][1], formula, after), j + 1
        return 1.0, j

    while i < n:
        kind, value, pos, gap = tokens[i]
        if gap and i > 0 and kind != "dot" and tokens[i - 1][0] != "dot":
            spaced = True
        if kind == "el":
            symbol = _element(value, formula)
            count, i = count_after(i + 1, symbol)
            stack[-1][symbol] = stack[-1].get(symbol, 0.0) + count
            n_symbols += 1
        elif kind == "open":
            if len(opens) >= MAX_BRACKET_DEPTH:
                raise _bad(formula, f"brackets nested deeper than {MAX_BRACKET_DEPTH} levels at position {pos}")
            stack.append({})
            opens.append((value, pos))
            i += 1
        elif kind == "close":
            if not opens:
                raise _bad(formula, f"unbalanced brackets: {value!r} at position {pos} has no opening bracket")
            opening, at = opens.pop()
            if value != _CLOSING[opening]:
                raise _bad(formula, f"mismatched brackets: expected {_CLOSING[opening]!r} at position {pos}, "
                                    f"got {value!r}")
            inner = stack.pop()
            if not inner:
                raise _bad(formula, f"empty brackets at position {at}")
            count, i = count_after(i + 1, opening + "..." + value)
            _add(stack[-1], inner, count)
        elif kind == "dot":
            if opens:
                raise _bad(formula, f"hydrate separator inside brackets at position {pos}")
            if not stack[0]:
                raise _bad(formula, "empty part between hydrate separators" if parts else "no elements")
            _add(total, stack[0], factor)
            stack[0], parts = {}, parts + 1
            if i + 1 == n:
                raise _bad(formula, "formula ends with a hydrate separator")
            factor, i = count_after(i + 1, value)  # after a hydrate dot an optional multiplier, e.g. ·5H2O
        else:  # a number with no element before it
            raise _bad(formula, f"number {value!r} at position {pos} does not follow an element or bracket")
    if opens:
        opening, at = opens[-1]
        raise _bad(formula, f"unbalanced brackets: {opening!r} at position {at} is never closed")
    if not stack[0]:
        raise _bad(formula, "empty part between hydrate separators" if parts else "no elements")
    _add(total, stack[0], factor)
    if spaced and n_symbols > len(total):
        raise _bad(formula, "whitespace between parts that repeat an element: two formulas? (write a hydrate "
                            "with '·', or remove the space)")
    lo, hi = AMOUNT_RANGE
    for symbol, value in total.items():
        if not lo <= value <= hi:
            raise _bad(formula, f"total amount {value:g} of {symbol!r} is outside the range {lo:g}-{hi:g}")
    return total


def _parse_z(formula: object) -> dict[int, float]:
    """Element amounts keyed by atomic number."""
    return {ATOMIC_NUMBER[s]: v for s, v in parse_amounts(formula).items()}  # type: ignore[arg-type]


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
