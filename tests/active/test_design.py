"""Inverse design: the fraction grid against brute-force counting, featurization of grid points against
parsed formulas, snapping, diversity and trust-radius filters."""

import itertools

import numpy as np
import pytest

from metamat.active.acquisition import Goal
from metamat.active.design import (
    composition_grid,
    design,
    formulas_of,
    grid_size,
    snap_to_grid,
    spread_out,
)
from metamat.data.compositions import compositions_from_dense
from metamat.featurize.pipeline import featurize_compositions, featurize_formulas
from metamat.models.baselines import make_model


@pytest.mark.parametrize("k,step,max_el", [(3, 0.1, None), (4, 0.25, 2), (5, 0.2, 3)])
def test_grid_matches_brute_force(k, step, max_el):
    n = round(1 / step)
    brute = {c for c in itertools.product(range(n + 1), repeat=k)
             if sum(c) == n and sum(x > 0 for x in c) <= (max_el or k)}
    G = composition_grid(k, step, max_el)
    assert {tuple(int(round(v * n)) for v in row) for row in G} == brute and len(G) == len(brute)
    if max_el is None:
        assert grid_size(k, step) == len(brute)


def test_grid_points_featurize_like_their_formulas():
    F = np.array([[0.5, 0.25, 0.25], [0.0, 0.4, 0.6]])
    symbols = ["O", "Li", "Fe"]
    a, _ = featurize_compositions(compositions_from_dense(symbols, F))
    b = featurize_formulas(formulas_of(F, symbols)).values
    np.testing.assert_allclose(a, b, rtol=1e-12)
    assert formulas_of(F, symbols) == ["O0.5Li0.25Fe0.25", "Li0.4Fe0.6"]


def test_snap_and_spread():
    S = snap_to_grid(np.array([[0.333, 0.333, 0.334], [0.26, 0.26, 0.48]]), 0.1)
    # 2.6, 2.6, 4.8 tenths: floors 2, 2, 4 leave 2 tenths for the largest remainders (0.8, then the first 0.6)
    np.testing.assert_allclose(S, [[0.3, 0.3, 0.4], [0.3, 0.2, 0.5]])
    np.testing.assert_allclose(S.sum(axis=1), 1.0)
    F = np.array([[1.0, 0.0], [0.98, 0.02], [0.5, 0.5], [0.0, 1.0]])
    assert spread_out(F, np.arange(4), 3, 0.1).tolist() == [0, 2, 3]


def test_design_prefers_the_region_the_data_points_to_and_respects_trust():
    # measured: A-B binaries whose value rises with the fraction of B
    xs = np.array([0.0, 0.2, 0.4, 0.6])
    formulas = [f"Al{1 - x:g}Cu{x:g}" if 0 < x < 1 else ("Al" if x == 0 else "Cu") for x in xs]
    X = featurize_formulas(formulas).values
    y = 10 * xs
    res = design(make_model("gp", n_restarts=0), X, y, ["Al", "Cu"], Goal("range", 7.5, 100), step=0.05, top=3)
    assert res.method == "enumeration" and res.evaluated == 21
    assert (res.table["x_Cu"] >= 0.8).all()
    seeds = np.c_[1 - xs, xs]
    res = design(make_model("gp", n_restarts=0), X, y, ["Al", "Cu"], Goal("range", 7.5, 100), step=0.05, top=50,
                 seeds=seeds, trust_radius=0.2)
    assert res.table["x_Cu"].max() <= 0.7 + 1e-9  # within L1 0.2 of Cu 0.6 means x_Cu <= 0.7


def test_evolutionary_search_finds_a_known_optimum():
    from metamat.active.design import evolutionary_search

    target = np.array([0.35, 0.0, 0.25, 0.0, 0.4, 0.0])  # on the 0.05 grid of 6 elements (53,130 points)

    def score(F):
        return -np.abs(F - target).sum(axis=1)

    F, s, n = evolutionary_search(score, 6, 0.05, np.random.default_rng(0), population=500, generations=20,
                                  max_elements=3)
    assert n < grid_size(6, 0.05) / 4  # far fewer evaluations than enumeration
    np.testing.assert_allclose(F[np.argmax(s)], target, atol=1e-12)
    assert ((F > 0).sum(axis=1) <= 3).all()
