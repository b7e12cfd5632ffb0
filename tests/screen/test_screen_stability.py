"""Hull energies against pymatgen and a hand computation; the formation-energy model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from metamat.featurize.pipeline import featurize_formulas
from metamat.screen.formation import FormationEnergyModel, load_formation_model
from metamat.screen.stability import (
    HullCache,
    KnownPhases,
    StabilityFilter,
    _dense,
    build_phase_diagram,
    predict_stability,
)

PHASES = pd.DataFrame({"formula": ["Li2O", "Li2O2", "La2O3", "LaLiO2", "ZrO2", "Li2ZrO3", "La2Zr2O7", "LiO3"],
                       "target": [-2.07, -1.65, -3.80, -2.90, -3.80, -3.30, -3.75, 0.20]})
Z = [3, 8, 40, 57]  # Li, O, Zr, La


def test_hull_energy_by_hand() -> None:
    phases = KnownPhases.from_frame(pd.DataFrame({"formula": ["Li2O", "LiO"], "target": [-2.0, -1.0]}))
    hulls = HullCache(phases)
    # x_O = 1/2 lies between Li2O (x_O = 1/3, -2) and O (x_O = 1, 0): -2 + (1/2 - 1/3) / (2/3) * 2 = -1.5
    h = hulls.hull_energy([3, 8], np.array([[0.5, 0.5], [2 / 3, 1 / 3], [1.0, 0.0], [0.25, 0.75]]))
    np.testing.assert_allclose(h, [-1.5, -2.0, 0.0, -0.75], atol=1e-12)  # x_O = 3/4: -2 * (1 - 3/4) / (2/3)
    st = predict_stability(np.array([[0.5, 0.5]]), [3, 8], np.array([-1.0]), np.array([0.25]), hulls, threshold=0.5)
    assert st.e_hull[0] == pytest.approx(0.5)  # LiO at -1.0 lies 0.5 eV/atom above the Li2O-O tie line
    assert st.p_stable[0] == pytest.approx(0.5)  # e_hull exactly at the threshold
    st = predict_stability(np.array([[0.5, 0.5]]), [3, 8], np.array([-1.0]), np.array([0.25]), hulls, threshold=0.1)
    assert st.p_stable[0] == pytest.approx(norm.cdf((0.1 - 0.5) / 0.25))
    ok, report = StabilityFilter(0.1, 0.5).apply(st)
    assert not ok[0] and report.kept == 0


def test_hull_energy_matches_pymatgen_on_a_quaternary() -> None:
    from pymatgen.core import Composition

    phases = KnownPhases.from_frame(PHASES)
    hulls = HullCache(phases)
    rng = np.random.default_rng(0)
    x = rng.dirichlet(np.full(4, 0.5), size=150)
    x[x < 0.05] = 0  # sub-systems too (binaries, ternaries)
    x /= x.sum(axis=1, keepdims=True)
    ours = hulls.hull_energy(Z, x)
    idx = phases.within(Z)
    pd_ = build_phase_diagram(Z, _dense(phases.comps, idx, Z), phases.energy[idx])
    symbols = ["Li", "O", "Zr", "La"]
    ref = [pd_.get_hull_energy_per_atom(Composition({s: v for s, v in zip(symbols, row, strict=True) if v > 0}))
           for row in x]
    np.testing.assert_allclose(ours, ref, atol=1e-9)
    assert (np.asarray(ref) < -1).sum() > 50  # the points do probe the hull, not just the elements


def test_no_known_phases_means_elements_at_zero() -> None:
    hulls = HullCache(None)
    assert hulls.hull_energy([3, 8], np.array([[0.5, 0.5]]))[0] == 0.0


def test_formation_model_same_seed_same_weights_and_roundtrip(tmp_path) -> None:
    fm = featurize_formulas(["NaCl", "KCl", "LiF", "MgO", "Al2O3", "Fe2O3", "CuZn", "SiC", "GaN", "ZnS"])
    y = np.array([-2.1, -2.2, -3.1, -3.0, -3.4, -1.7, -0.1, -0.3, -0.8, -1.0])
    a = FormationEnergyModel(hidden=(16,), n_members=2, epochs=3, batch_size=4, seed=3).fit(fm.values, y)
    b = FormationEnergyModel(hidden=(16,), n_members=2, epochs=3, batch_size=4, seed=3).fit(fm.values, y)
    np.testing.assert_array_equal(a.predict(fm.values), b.predict(fm.values))
    a.save(tmp_path / "fe")
    c = FormationEnergyModel.load(tmp_path / "fe")
    for got, want in zip(c.predict(fm.values, return_std=True), a.predict(fm.values, return_std=True), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_shipped_formation_model_against_experiment() -> None:
    # experimental standard enthalpies of formation (CRC Handbook), kJ/mol -> eV/atom:
    # NaCl -411.2 / 2 atoms, Al2O3 -1675.7 / 5, MgO -601.6 / 2, SiO2 (quartz) -910.7 / 3
    kj = 96.485
    ref = {"NaCl": -411.2 / 2 / kj, "Al2O3": -1675.7 / 5 / kj, "MgO": -601.6 / 2 / kj, "SiO2": -910.7 / 3 / kj}
    model = load_formation_model()
    mean, std = model.predict(featurize_formulas(list(ref)).values, return_std=True)
    np.testing.assert_allclose(mean, list(ref.values()), atol=0.35)
    assert np.all((std > 0.02) & (std < 0.6))
