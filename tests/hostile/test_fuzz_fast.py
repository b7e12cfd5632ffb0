"""The fast subset of the fuzz benchmark (benchmarks/fuzz_inputs.py): 500 generated hostile inputs across
formulas, tables, structure files, potential frames and the CLI; none may hang, crash, be silently wrong or
lose data."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "fuzz_inputs.py"


@pytest.fixture(scope="module")
def fuzz():
    spec = importlib.util.spec_from_file_location("fuzz_inputs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # about 5 s alone
def test_fast_fuzz_subset_has_no_hang_crash_silent_wrong_or_data_loss(fuzz) -> None:
    start = time.perf_counter()
    result = fuzz.run(n=500, seed=1)
    elapsed = time.perf_counter() - start
    total = result["total"]
    assert result["n"] == 500 and sum(total.values()) == 500
    bad = {k: total[k] for k in ("hang", "crash", "silent_wrong", "data_loss", "wrongly_rejected", "unlocated")}
    assert bad == dict.fromkeys(bad, 0), result["examples"]
    # every category ran and most inputs were hostile (rejected), some valid ones were accepted
    assert all(sum(c.values()) > 0 for c in result["counts"].values())
    assert total["rejected"] > 200 and total["ok"] > 50
    assert elapsed < 20


def test_the_oracle_catches_a_silently_wrong_parser(fuzz, monkeypatch) -> None:
    """The benchmark must be able to fail: a parser that ignores NUL bytes is flagged as silently wrong."""
    from metamat.data import formula

    real = formula.parse_amounts
    monkeypatch.setattr(formula, "parse_amounts", lambda text: real(text.replace("\x00", "")))
    assert fuzz.check_formula("Fe2O3\x00", None) == "silent_wrong"
    assert fuzz.check_formula("Fe2O3", {"Fe": 0.4, "O": 0.6}) == "ok"
