"""check_targets: every rejection and flag path, duplicates, outliers, composition keys."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymatgen.core import Structure

from metamat.data.compositions import parse_formulas
from metamat.data.quality import check_targets, composition_keys, normalize_quantity
from metamat.data.table import TargetSpec

GAP = {"gap": TargetSpec("gap", "eV", quantity="band gap")}


def frame(formulas, **targets):
    return pd.DataFrame({"id": [f"m{k}" for k in range(len(formulas))], "formula": formulas, **targets})


def by_row(problems):
    return {(p.row, p.field): p for p in problems}


def test_each_single_target_rejection_names_row_field_and_value():
    df = frame(["Si", "Xx2", "GaAs", "NaCl", "KCl", "LiF", "MgO", None, "ZnO"],
               gap=["1.1", "2.0", None, "abc", "inf", "-0.5", "nan", "3.0", "3.4"])
    out, rep = check_targets(df, GAP, source="s.csv", field_names={"formula": "composition"})
    assert list(out["id"]) == ["m0", "m8"]
    problems = by_row(rep.rejected)
    assert problems[(2, "composition")].reason.startswith("bad formula: ")
    assert "unknown element 'Xx'" in problems[(2, "composition")].reason
    assert problems[(3, "gap")].reason.startswith("missing value")
    assert problems[(4, "gap")].reason.startswith("not a number") and problems[(4, "gap")].value == "abc"
    assert problems[(5, "gap")].reason.startswith("infinite value")
    assert problems[(6, "gap")].reason == "outside physical range: band gap must be >= 0"
    assert problems[(7, "gap")].reason.startswith("missing value")
    assert problems[(8, "composition")].reason.startswith("bad formula: missing formula")
    assert rep.n_read == 9 and rep.n_used == 2 and rep.n_rejected == 7
    assert all(p.source == "s.csv" for p in rep.rejected)


@pytest.mark.parametrize(("text", "bound"), [("<1E-10", "<1e-10"), (">100", ">100"), ("≤ 5", "<=5"),
                                             (" >= 2.5e3 ", ">=2500")])
def test_censored_values_are_flagged_never_numbers(text, bound):
    out, rep = check_targets(frame(["Si", "GaAs"], gap=["1.1", text]), GAP, source="s")
    assert len(out) == 2 and np.isnan(out["gap"].iloc[1]) and out["gap"].iloc[0] == 1.1
    assert out["gap__censored"].tolist() == [None, bound]
    (p,) = rep.flagged
    assert (p.row, p.field, p.value) == (2, "gap", text) and p.reason.startswith("censored value")
    assert any("censored" in n for n in rep.notes)


def test_multi_target_row_kept_if_one_target_is_valid():
    targets = {"gap": GAP["gap"], "k": TargetSpec("k", "W/m/K", "log10")}
    df = frame(["Si", "GaAs", "NaCl"], gap=[-1.0, 1.4, np.nan], k=[150.0, -2.0, np.nan])
    out, rep = check_targets(df, targets, source="s")
    assert list(out["id"]) == ["m0", "m1"]
    assert np.isnan(out["gap"].iloc[0]) and out["k"].iloc[0] == 150.0
    assert np.isnan(out["k"].iloc[1])
    flagged = by_row(rep.flagged)
    assert flagged[(1, "gap")].reason.startswith("outside physical range")
    assert flagged[(2, "k")].reason.startswith("non-positive value for log10")
    assert {(p.row, p.field) for p in rep.rejected} == {(3, "gap"), (3, "k")}


def test_classification_labels_and_bounds_override():
    spec = {"metal": TargetSpec("metal", quantity="metallicity", kind="classification")}
    out, rep = check_targets(frame(["Cu", "Si", "Fe"], metal=[1, 0.5, 2]), spec, source="s")
    assert list(out["id"]) == ["m0"]
    assert by_row(rep.rejected)[(2, "metal")].reason.startswith("not a class label")
    assert by_row(rep.rejected)[(3, "metal")].reason.startswith("outside physical range")
    out, rep = check_targets(frame(["Si", "Ge"], gap=[1.1, 7.0]), GAP, source="s", bounds={"gap": (0, 5)})
    assert len(out) == 1 and rep.rejected[0].row == 2


def test_duplicates_by_composition_not_string_median_and_conflicts():
    df = frame(["Fe2O3", "O3Fe2", "Fe4O6", "NaCl", "Na1Cl1", "Si"], gap=[2.0, 2.2, 3.0, 5.0, 5.01, 1.1])
    out, rep = check_targets(df, GAP, source="s")
    assert list(out["id"]) == ["m0", "m3", "m5"]
    assert out["gap"].tolist() == pytest.approx([np.median([2.0, 2.2, 3.0]), np.median([5.0, 5.01]), 1.1])
    assert out["n_merged"].tolist() == [3, 2, 1] and out["source_row"].tolist() == [1, 4, 6]
    assert rep.n_merged == 3 and rep.n_used == 3 and rep.n_read == 6
    (conflict,) = rep.flagged  # NaCl differs by 0.2%: not a conflict; Fe2O3 spread 1.0/2.2 > 5%
    assert conflict.row == 1 and conflict.reason.startswith("conflicting duplicates: rows 1, 2, 3")
    note = next(n for n in rep.notes if n.startswith("duplicates"))
    assert "2 compositions occur more than once (5 rows)" in note and "1 groups conflict" in note


def test_duplicate_policies_mean_keep_and_log_scale():
    df = frame(["Si", "Si", "Si"], s=[1.0, 10.0, 1000.0])
    log = {"s": TargetSpec("s", transform="log10")}
    out, _ = check_targets(df, log, source="s", duplicates="mean")
    assert out["s"].iloc[0] == pytest.approx(10 ** np.mean(np.log10([1, 10, 1000])))  # geometric mean
    out, _ = check_targets(df, {"s": TargetSpec("s")}, source="s", duplicates="mean")
    assert out["s"].iloc[0] == pytest.approx(337.0)
    out, rep = check_targets(df, log, source="s", duplicates="keep")
    assert len(out) == 3 and "all kept" in " ".join(rep.notes)
    with pytest.raises(ValueError):
        check_targets(df, log, source="s", duplicates="first")


def test_duplicates_with_structures_are_polymorphs(small_structures):
    si = small_structures[0]
    df = frame(["Si", "Si"], gap=[1.1, 0.6])
    df["structure"] = [si, si.copy()]
    out, rep = check_targets(df, GAP, source="s")
    assert len(out) == 2 and rep.n_merged == 0 and any("polymorphs" in n for n in rep.notes)
    assert isinstance(out["structure"].iloc[0], Structure)


def test_classification_duplicates_majority_and_tie():
    spec = {"metal": TargetSpec("metal", kind="classification")}
    df = frame(["Cu", "Cu", "Cu", "Si", "Si"], metal=[1, 1, 0, 0, 1])
    out, rep = check_targets(df, spec, source="s")
    assert list(out["id"]) == ["m0"] and out["metal"].iloc[0] == 1.0
    assert [p.row for p in rep.rejected] == [4] and rep.rejected[0].reason.startswith("conflicting duplicates")
    assert rep.n_read == 5 and rep.n_used + rep.n_rejected + rep.n_merged == 5


def test_outliers_flagged_not_removed():
    rng = np.random.default_rng(0)
    y = rng.normal(10.0, 1.0, 200)
    y[17] = 40.0
    formulas = [f"Fe{k + 1}O" for k in range(200)]  # all distinct compositions
    out, rep = check_targets(frame(formulas, y=y), {"y": TargetSpec("y", "eV")}, source="s")
    assert len(out) == 200
    med = np.median(y)
    z = 0.6745 * np.abs(y - med) / np.median(np.abs(y - med))
    assert sorted(p.row for p in rep.flagged) == sorted((np.flatnonzero(z > 3.5) + 1).tolist())
    assert 18 in {p.row for p in rep.flagged}


def test_outlier_check_skipped_for_zero_inflated_or_multimodal_data():
    gaps = [0.0] * 60 + list(np.linspace(0.5, 6, 40))
    _, rep = check_targets(frame([f"Fe{k + 1}O" for k in range(100)], gap=gaps), GAP, source="s")
    assert not rep.flagged and any("MAD = 0" in n for n in rep.notes)
    bimodal = [1.0 + 0.01 * k for k in range(55)] + [1000.0 + k for k in range(45)]
    _, rep = check_targets(frame([f"Fe{k + 1}O" for k in range(100)], y=bimodal), {"y": TargetSpec("y")}, source="s")
    assert not rep.flagged and any("not applied" in n for n in rep.notes)


def test_source_row_column_is_used_for_problem_rows():
    df = frame(["Si", "Xx"], gap=[1.0, 2.0])
    df["source_row"] = [10, 12]
    _, rep = check_targets(df, GAP, source="s", rejected=[], n_read=5)
    assert rep.rejected[0].row == 12 and rep.n_read == 5


def test_quantity_aliases():
    assert normalize_quantity("Tc") == "superconducting critical temperature"
    assert normalize_quantity("Band_Gap") == "band gap"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["Li", "Fe", "O", "Si", "Cu", "N"]), st.integers(1, 9)),
                min_size=1, max_size=4, unique_by=lambda t: t[0]),
       st.integers(1, 5), st.randoms())
def test_composition_keys_ignore_order_and_scale(parts, scale, rnd):
    formula = "".join(f"{el}{n}" for el, n in parts)
    shuffled = parts[:]
    rnd.shuffle(shuffled)
    scaled = "".join(f"{el}{n * scale}" for el, n in shuffled)
    other = "".join(f"{el}{n + 1 if k == 0 else n}" for k, (el, n) in enumerate(parts))
    parsed = parse_formulas([formula, scaled, other], errors="mask")
    keys = composition_keys(parsed.compositions)[parsed.codes]
    assert keys[0] == keys[1]
    if len(parts) > 1:
        assert keys[0] != keys[2]


def test_check_is_vectorized_fast():
    n = 100_000
    rng = np.random.default_rng(1)
    formulas = [f"Li{a}Fe{b}O{c}" for a, b, c in rng.integers(1, 40, (n, 3))]
    df = frame(formulas, a=rng.lognormal(size=n), b=rng.normal(size=n).astype(object))
    df.loc[::1000, "b"] = "<0.1"
    targets = {"a": TargetSpec("a", transform="log10"), "b": TargetSpec("b")}
    start = time.perf_counter()
    out, rep = check_targets(df, targets, source="big")
    elapsed = time.perf_counter() - start
    assert rep.n_used + rep.n_rejected + rep.n_merged == n and out["b__censored"].notna().sum() > 0
    assert elapsed < 10.0, f"check_targets took {elapsed:.1f} s for {n} rows"
