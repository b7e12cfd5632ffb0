"""Composition features against hand computations, a textbook value and matminer itself."""

from __future__ import annotations

import math
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metamat.data.compositions import parse_formulas
from metamat.featurize.composition import ElementFraction, IonicCharacter, Stoichiometry, ValenceOrbital
from metamat.featurize.elements import load_element_table
from metamat.featurize.pipeline import featurize_formulas
from metamat.featurize.scaling import Standardizer


def comps(*formulas: str):
    return parse_formulas(list(formulas)).compositions


def test_element_table_covers_z_1_to_103_with_known_facts() -> None:
    table = load_element_table()
    assert len(table.symbols) == 103 and table.symbols[0] == "H" and table.symbols[-1] == "Lr"
    np.testing.assert_array_equal(table.column("Number")[1:], np.arange(1, 104))
    assert table.column("MeltingT")[26] == pytest.approx(1811, abs=1)  # Fe melts at 1811 K
    assert table.column("NValence")[8] == 6  # O: 2s2 2p4
    assert table.column("X")[11] == pytest.approx(0.93)  # Pauling electronegativity of Na
    assert math.isnan(table.values[2, table.properties.index("X")])  # He has none ...
    assert table.column("X")[2] == pytest.approx(np.nanmean(table.values[1:, table.properties.index("X")]),
                                                  abs=1e-3)  # ... and is imputed by the mean


def test_weighted_mean_melting_point_of_a_brass_matches_the_textbook() -> None:
    # CRC Handbook melting points: Al 933.47 K, Cu 1357.77 K, Zn 692.68 K
    expected = 0.50 * 933.47 + 0.30 * 1357.77 + 0.20 * 692.68  # = 1012.6 K, "about 1013 K"
    fm = featurize_formulas(["Al0.50Cu0.30Zn0.20"], "magpie")
    value = fm.values[0, fm.labels.index("MagpieData mean MeltingT")]
    assert value == pytest.approx(expected, abs=0.5)
    assert round(value) == 1013


def test_element_fraction_stoichiometry_valence_and_ionic_by_hand() -> None:
    c = comps("LiCoO2", "Fe2O3", "NaCl", "Cu")
    fractions = ElementFraction().featurize(c)
    assert fractions.shape == (4, 103)
    assert fractions[0, 2] == 0.25 and fractions[0, 26] == 0.25 and fractions[0, 7] == 0.5
    assert fractions.sum(axis=1) == pytest.approx(np.ones(4))
    norms = Stoichiometry((0, 2, 3)).featurize(c)
    assert norms[1] == pytest.approx([2, math.sqrt(0.4**2 + 0.6**2), (0.4**3 + 0.6**3) ** (1 / 3)])
    assert norms[3] == pytest.approx([1, 1, 1])
    valence = ValenceOrbital().featurize(c)
    # NaCl: Na 3s1, Cl 3s2 3p5 -> avg s = 1.5, avg p = 2.5, total valence = 4
    assert valence[2, :4] == pytest.approx([1.5, 2.5, 0, 0])
    assert valence[2, 4:] == pytest.approx([1.5 / 4, 2.5 / 4, 0, 0])
    ionic = IonicCharacter().featurize(c)
    i_nacl = 1 - math.exp(-0.25 * (3.16 - 0.93) ** 2)
    assert ionic[2] == pytest.approx([i_nacl, 0.5 * 0.5 * i_nacl])
    assert ionic[3] == pytest.approx([0.0, 0.0])


def test_mode_prefers_the_most_abundant_element_and_breaks_ties_low() -> None:
    fm = featurize_formulas(["Fe2O3", "NaCl"], "magpie")
    mode_z = fm.values[:, fm.labels.index("MagpieData mode Number")]
    assert list(mode_z) == [8, 11]


def test_bad_rows_become_nan_and_are_listed() -> None:
    fm = featurize_formulas(["NaCl", "Xx", "KCl"], "composition", errors="mask", source="f.csv", field="f")
    assert fm.valid.tolist() == [True, False, True]
    assert np.isnan(fm.values[1]).all() and np.isfinite(fm.values[[0, 2]]).all()
    assert fm.problems[0].row == 2 and "Xx" in fm.problems[0].reason
    assert fm.citations and len(fm.labels) == fm.values.shape[1]


def real_formulas(data_dir: Path | None, n: int = 2000) -> list[str]:
    """Formulas of the Ricci transport table shipped in the matminer wheel, plus shared-data ones if present."""
    import matminer

    archive = Path(matminer.__file__).parent / "utils/data_files/mp_transport/transport_database.tar.xz"
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(".csv"))
        formulas = pd.read_csv(tar.extractfile(member), usecols=["pretty_formula"])["pretty_formula"]
    picked = formulas.drop_duplicates().sample(n, random_state=0).tolist()
    steels = Path(data_dir or "/nonexistent") / "crabnet_matbench_composition" / "matbench_steels.csv.gz"
    if steels.exists():  # fractional, 10+ element alloys
        picked += pd.read_csv(steels)["formula"].tolist()
    return picked + ["Al0.5Cu0.3Zn0.2", "Li7La3Zr2O12", "(Li0.5La0.5)TiO3", "Ar", "HeNe"]


@pytest.mark.slow  # over 5 s (measured with --durations)
def test_values_equal_matminer_on_2000_real_formulas(optional_data_dir) -> None:
    from matminer.featurizers.composition import ElementProperty, IonProperty
    from matminer.featurizers.composition import Stoichiometry as MmStoichiometry
    from matminer.featurizers.composition import ValenceOrbital as MmValenceOrbital
    from pymatgen.core import Composition

    formulas = real_formulas(optional_data_dir)
    assert len(formulas) >= 2000
    featurizers = [MmStoichiometry(), ElementProperty.from_preset("magpie"), MmValenceOrbital(),
                   IonProperty(fast=True)]
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for formula in formulas:
            comp = Composition(formula)
            row = []
            for f in featurizers:
                row += f.featurize(comp)
            rows.append(row)
    labels = [label for f in featurizers for label in f.feature_labels()]
    keep = [i for i, label in enumerate(labels) if label != "compound possible"]
    reference = np.array(rows, dtype=float)[:, keep]
    ours = featurize_formulas(formulas, "composition")
    assert ours.labels == [labels[i] for i in keep]
    np.testing.assert_allclose(ours.values, reference, rtol=1e-6, atol=1e-12)


def test_standardizer_uses_training_rows_only() -> None:
    rng = np.random.default_rng(0)
    train, test = rng.normal(5, 2, (50, 3)), rng.normal(50, 20, (10, 3))
    train[:, 2] = 7.0  # a constant column keeps scale 1
    scaler = Standardizer().fit(train)
    z = scaler.transform(train)
    np.testing.assert_allclose(z[:, :2].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z[:, :2].std(axis=0), 1, atol=1e-12)
    np.testing.assert_array_equal(z[:, 2], 0)
    before = scaler.transform(test)
    np.testing.assert_allclose(before, (test - train.mean(axis=0)) / np.r_[train[:, :2].std(axis=0), 1])
    Standardizer().fit(np.vstack([train, test]))  # a different fit leaves the first untouched
    np.testing.assert_array_equal(scaler.transform(test), before)
    np.testing.assert_allclose(scaler.inverse_transform(before), test)
    with pytest.raises(RuntimeError, match="not fitted"):
        Standardizer().transform(test)
