"""Structure ``auto``: structure inputs are used only when cross-validation on the support says they help."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Composition, Lattice, Structure

from metamat.data.structures import Crystal
from metamat.featurize.structure import crystal_formula
from metamat.models.auto import AutoRegressor
from metamat.models.structure_auto import StructureAutoRegressor
from metamat.train.synthetic import random_crystal

FCC = np.array([[0, 0, 0], [.5, .5, 0], [.5, 0, .5], [0, .5, .5]])


def _nacl(a: float, rng: np.random.Generator) -> Crystal:
    frac = np.r_[FCC, (FCC + [.5, 0, 0]) % 1]
    cell = a * (np.eye(3) + rng.normal(0, 0.01, (3, 3)))
    pos = frac @ cell + rng.normal(0, 0.03, (8, 3))
    return Crystal(pos, cell, np.ones(3, bool), np.array([[11]] * 4 + [[17]] * 4), np.ones((8, 1)))


def _fit_both(crystals, y, n_support):
    """Structure auto and the composition-only auto on the same support (fast candidates only: no meta-models,
    no GP; the full set is exercised by the fewshot test below)."""
    formulas = [crystal_formula(c) for c in crystals]
    fast = {"candidates": ("rf", "median", "ridge", "knn"), "rf_trees": 50}
    sa = StructureAutoRegressor(graph_model=None, structure_candidates=("rf", "ridge", "knn"), **fast)
    X = sa.structure_inputs(crystals, formulas)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sa.fit(X[:n_support], y[:n_support])
        comp = AutoRegressor(**fast).fit(X[:n_support, :148], y[:n_support])
    err_s = np.abs(sa.predict(X[n_support:]) - y[n_support:]).mean()
    err_c = np.abs(comp.predict(X[n_support:, :148]) - y[n_support:]).mean()
    return sa, err_s, err_c


@pytest.mark.slow
def test_structure_only_target_picks_structure_inputs():
    """Same composition (NaCl), cells scaled by 5.0-6.2 Å: volume per atom (det(cell) / 8) is invisible to
    composition features. auto must choose a structure candidate and beat composition-only by far."""
    rng = np.random.default_rng(1)
    crystals = [_nacl(a, rng) for a in rng.uniform(5.0, 6.2, 40)]
    y = np.array([abs(np.linalg.det(c.cell)) / 8 for c in crystals])
    sa, err_s, err_c = _fit_both(crystals, y, 12)
    assert sa.chosen_.endswith("+structure"), sa.choice_
    assert sa.choice_["table"][sa.chosen_]["cv_mae"] < sa.choice_["table"]["composition"]["cv_mae"]
    assert err_s < 0.25 * err_c
    # the composition-only auto predicts about the support's centre: its error is the spread of y
    assert err_c > 0.5 * np.abs(y[12:] - np.median(y[:12])).mean()


@pytest.mark.slow
def test_composition_only_target_keeps_composition():
    """Mean atomic mass (pymatgen) of random fcc / bcc / rocksalt cells: structure adds nothing; auto keeps
    the composition model, or ties with it on the query."""
    rng = np.random.default_rng(2)
    crystals = [random_crystal(rng)[0] for _ in range(45)]
    y = np.array([Composition(crystal_formula(c)).weight / Composition(crystal_formula(c)).num_atoms
                  for c in crystals])
    sa, err_s, err_c = _fit_both(crystals, y, 15)
    assert sa.chosen_ == "composition" or err_s <= 1.05 * err_c, (sa.choice_, err_s, err_c)
    assert sa.choice_["composition_choice"]["chosen"] in sa.choice_["why"]


@pytest.mark.slow
def test_fewshot_auto_with_structures_reports_the_choice(tmp_path):
    """`fewshot --model auto --structure-column`: the shipped graph model is a candidate, the summary shows
    the chosen input set and every candidate's CV MAE, and the query rows are predicted."""
    from metamat.fewshot import run_fewshot

    rng = np.random.default_rng(3)
    crystals = [_nacl(a, rng) for a in rng.uniform(5.0, 6.2, 14)]
    cifs = [Structure(Lattice(c.cell), c.numbers.tolist(), c.positions, coords_are_cartesian=True).to(fmt="cif")
            for c in crystals]
    vpa = [abs(np.linalg.det(c.cell)) / 8 for c in crystals]
    pd.DataFrame({"cif": cifs[:10], "vpa": vpa[:10]}).to_csv(tmp_path / "s.csv", index=False)
    pd.DataFrame({"cif": cifs[10:]}).to_csv(tmp_path / "q.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run_fewshot(tmp_path / "s.csv", tmp_path / "q.csv", target="vpa", model="auto",
                          structure_column="cif", plot=False)
    text = res.summary()
    assert res.choice["chosen"] != "composition" and f"auto chose {res.choice['chosen']}" in text
    assert {"composition", "graph", "gp+structure", "ridge+structure"} <= set(res.choice["table"])
    pred = res.predictions["prediction"].to_numpy()
    assert np.isfinite(pred).all()
    assert np.abs(pred - vpa[10:]).mean() < 0.3 * np.abs(np.array(vpa[10:]) - np.median(vpa[:10])).mean()


def _nacl_tables(tmp_path, n_support: int = 10, n_query: int = 4) -> tuple[list[str], np.ndarray]:
    """NaCl cells scaled by 5.0-6.2 Å, target volume per atom; ``fewshot`` arguments on the written tables."""
    rng = np.random.default_rng(3)
    crystals = [_nacl(a, rng) for a in rng.uniform(5.0, 6.2, n_support + n_query)]
    cifs = [Structure(Lattice(c.cell), c.numbers.tolist(), c.positions, coords_are_cartesian=True).to(fmt="cif")
            for c in crystals]
    vpa = [abs(np.linalg.det(c.cell)) / 8 for c in crystals]
    pd.DataFrame({"cif": cifs[:n_support], "vpa": vpa[:n_support]}).to_csv(tmp_path / "s.csv", index=False)
    pd.DataFrame({"cif": cifs[n_support:]}).to_csv(tmp_path / "q.csv", index=False)
    return ["fewshot", "-s", str(tmp_path / "s.csv"), "-q", str(tmp_path / "q.csv"), "-o", str(tmp_path / "o.csv"),
            "-t", "vpa", "--structure-column", "cif"], np.array(vpa[:n_support])


def _run_cli(monkeypatch, capsys, args: list[str]) -> tuple[int, str, str]:
    import sys

    from metamat.cli import main

    monkeypatch.setattr(sys, "argv", ["metamat", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    out = capsys.readouterr()
    return (exc.value.code or 0), out.out, out.err


def test_structure_features_flag_refuses_bad_values_and_combinations(tmp_path, monkeypatch, capsys):
    args, _ = _nacl_tables(tmp_path)
    code, _, err = _run_cli(monkeypatch, capsys, [*args, "--structure-features", "graph"])
    assert code == 2 and "--structure-features" in err and "physics+embedding" in err and "Traceback" not in err
    no_structure = [a for a in args if a not in ("--structure-column", "cif")]
    code, _, err = _run_cli(monkeypatch, capsys, [*no_structure, "--structure-features", "physics+embedding"])
    assert code == 2 and "needs --structure-column" in err
    code, _, err = _run_cli(monkeypatch, capsys, [*args, "-m", "default", "--structure-features", "physics+embedding"])
    assert code == 2 and "--model default" in err
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.slow
def test_structure_features_embedding_adds_candidates_to_the_printed_cv_table(tmp_path, monkeypatch, capsys):
    """`--structure-features physics+embedding`: RF and kNN on composition + the pretrained embedding are in the
    CV table. All cells are NaCl, so composition alone cannot see the volume; the embedding (Gaussian-expanded
    Na-Cl distances) can: its forest's CV MAE must be well below predicting the support median."""
    import re

    args, vpa = _nacl_tables(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code, out, err = _run_cli(monkeypatch, capsys, [*args, "--structure-features", "physics+embedding"])
    assert code == 0, err
    rows = dict(re.findall(r"^\s+\*?\s*(\S+)\s+CV MAE ([0-9.eE+-]+)", out, flags=re.M))
    assert {"composition", "rf+embedding", "knn+embedding", "rf+structure"} <= set(rows), out
    # mean |y - median(y)|: the smallest MAE of any constant on these 10 values, which a volume-blind model
    # (composition: every row is NaCl) cannot beat by much in leave-one-out
    mad = np.mean(np.abs(vpa - np.median(vpa)))
    assert float(rows["rf+embedding"]) < 0.5 * mad, (rows, mad)
    assert float(rows["composition"]) > 0.8 * mad, (rows, mad)
    from metamat.fewshot import load_fewshot_model

    assert load_fewshot_model("auto", structure=True).embedding_candidates == ()  # the default stays unchanged
