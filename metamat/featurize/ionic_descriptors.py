"""Ionic structure descriptors: Ewald site energies of guessed formal charges and the anion framework
(``featurize_structures(..., names="ionic")``, 12 intensive features).

- charges: pymatgen's ``Composition.oxi_state_guesses`` (ICSD statistics) on the cell's composition, once per
  distinct composition; a fractional (disordered) composition is first approximated by an integer formula
  (``get_integer_formula_and_factor``, denominators <= 12). A site's charge is the occupancy-weighted sum of
  its species' charges (as pymatgen's ``EwaldSummation`` does). No charge-balanced guess (metals, alloys):
  every charge 0, ``charge_balanced`` = 0 and the Ewald features are 0.
- Ewald (P. P. Ewald, Ann. Phys. 369, 253 (1921)), per site ``E_i = q_i phi_i / 2`` in eV with
  ``phi_i = sum_j,n' q_j erfc(eta r) / r + (4 pi / V) sum_k exp(-k^2 / 4 eta^2) / k^2 Re[S(k) e^(-i k.r_i)]
  - 2 eta q_i / sqrt(pi)``, ``S(k) = sum_j q_j e^(i k.r_j)``: pymatgen's site energies (no charged-cell term);
  ``eta`` and the k-space cutoff follow from the real-space cutoff and ``accuracy`` (each neglected term below
  ``accuracy`` times its leading term). Pairs closer than ``MIN_DISTANCE`` (alternative positions of a split
  site) are left out. Features: energy per atom, occupancy-weighted std / min / max of the site energies per
  atom, the mean site energy of cations and of anions, and of the mobile ion (the physics descriptors' Li, Na,
  ...; 0 without one).
- anion framework (sites of negative charge; without charges, the most electronegative element): the
  anions' share of the atoms, their first-shell anion coordination (anion neighbours within 1.1 x the
  shortest anion-anion distance), Steinhardt q4 / q6 of that shell, and its likeness to the fcc, hcp and bcc
  frameworks of ionic conductors (Wang et al., Nat. Mater. 14, 1026 (2015): bcc anion lattices conduct best),
  ``exp(-|(q4, q6) - ideal|^2 / (2 * 0.05^2))`` with the ideal first-shell values fcc (0.1909, 0.5745), hcp
  (0.0972, 0.4848), bcc (0.5092, 0.6285).

Non-periodic structures (molecules) get zeros for the Ewald part.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.special import erfc

from metamat.data.structures import MIN_DISTANCE, Edges, StructureBatch, neighbor_list
from metamat.featurize.structure_descriptors import NeighborCache, StructureFeaturizer

COULOMB = 14.399645478425668  # e^2 / (4 pi eps0) in eV Å (CODATA 2018)
EWALD_1921 = "P. P. Ewald, Die Berechnung optischer und elektrostatischer Gitterpotentiale, Ann. Phys. 369, " \
             "253 (1921)."
WANG_2015 = "Y. Wang, W. D. Richards, S. P. Ong, L. J. Miara, J. C. Kim, Y. Mo, G. Ceder, Design principles for " \
            "solid-state lithium superionic conductors, Nat. Mater. 14, 1026 (2015)."
IDEAL_FRAMEWORKS = {"fcc": (0.19094, 0.57452), "hcp": (0.09722, 0.48476), "bcc": (0.50918, 0.62854)}
LABELS = ("charge_balanced", "ewald_energy_per_atom", "ewald_site_std", "ewald_site_min", "ewald_site_max",
          "ewald_cation_mean", "ewald_anion_mean", "ewald_mobile_mean",
          "anion_fraction", "anion_cn", "anion_q4", "anion_q6", "anion_fcc", "anion_hcp", "anion_bcc")


@lru_cache(maxsize=8192)
def guess_charges(composition: tuple[tuple[int, float], ...]) -> dict[int, float] | None:
    """Most likely formal charge per atomic number of a composition ((Z, amount) pairs), or ``None``."""
    import warnings

    from pymatgen.core import Composition, Element

    comp = Composition({Element.from_Z(z): amount for z, amount in composition})
    if len(comp) < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not all(abs(a - round(a)) < 1e-6 for a in comp.values()):
            formula, _ = comp.get_integer_formula_and_factor(max_denominator=12)
            comp = Composition(formula)
        try:
            guesses = comp.oxi_state_guesses(max_sites=-50)
        except ValueError:
            return None
    if not guesses:
        return None
    return {Element(el).Z: float(q) for el, q in guesses[0].items()}


def site_charges(batch: StructureBatch) -> tuple[np.ndarray, np.ndarray]:
    """Per site: occupancy-weighted guessed charge (N,); per structure: whether a guess exists (B,)."""
    charges = np.zeros(len(batch.positions))
    balanced = np.zeros(len(batch))
    for b, c in enumerate(batch.crystals):
        real = c.species > 0
        amounts = np.bincount(c.species[real], weights=c.occupancy[real])
        z = np.flatnonzero(amounts > 1e-9)
        table = guess_charges(tuple((int(k), round(float(amounts[k]), 6)) for k in z))
        if table is None:
            continue
        lookup = np.zeros(max(table) + 1 if table else 1)
        for k, q in table.items():
            lookup[k] = q
        species = np.where(c.species < len(lookup), c.species, 0)
        charges[batch.offsets[b]:batch.offsets[b + 1]] = (c.occupancy * lookup[species]).sum(1)
        balanced[b] = 1.0
    return charges, balanced


def ewald_parameters(cutoff: float, accuracy: float) -> tuple[float, float]:
    """(eta in 1/Å, k-space cutoff in 1/Å) for a real-space ``cutoff`` and relative ``accuracy``."""
    p = np.sqrt(-np.log(accuracy))
    eta = p / cutoff
    return eta, 2.0 * eta * p


def _reciprocal_vectors(cell: np.ndarray, k_max: float) -> np.ndarray:
    """Half of the reciprocal lattice vectors with 0 < |k| <= k_max (one of each +-k pair), (K, 3)."""
    rec = 2.0 * np.pi * np.linalg.inv(cell).T
    n = np.ceil(k_max / (2.0 * np.pi) * np.linalg.norm(cell, axis=1)).astype(int)
    grid = np.stack(np.meshgrid(*[np.arange(-m, m + 1) for m in n], indexing="ij"), -1).reshape(-1, 3)
    g0, g1, g2 = grid.T
    half = (g0 > 0) | ((g0 == 0) & (g1 > 0)) | ((g0 == 0) & (g1 == 0) & (g2 > 0))
    k = grid[half] @ rec
    return k[np.einsum("ij,ij->i", k, k) <= k_max * k_max]


def ewald_site_energies(batch: StructureBatch, charges: np.ndarray, cutoff: float = 6.0, accuracy: float = 1e-6,
                        edges: Edges | None = None) -> np.ndarray:
    """Per site Ewald energy ``q_i phi_i / 2`` in eV (module docstring); 0 on non-periodic structures.

    ``edges``: a neighbour list of the batch within at least ``cutoff`` (searched if omitted)."""
    eta, k_max = ewald_parameters(cutoff, accuracy)
    e = edges if edges is not None else neighbor_list(batch, cutoff)
    keep = (e.distances < cutoff) & (e.distances >= MIN_DISTANCE)
    d = e.distances[keep]
    n = len(batch.positions)
    phi = np.bincount(e.center[keep], charges[e.neighbor[keep]] * erfc(eta * d) / d, n)
    phi -= 2.0 * eta / np.sqrt(np.pi) * charges
    for b, c in enumerate(batch.crystals):
        lo, hi = batch.offsets[b], batch.offsets[b + 1]
        if not np.all(c.pbc):
            phi[lo:hi] = 0.0
            continue
        k = _reciprocal_vectors(c.cell, k_max)
        k2 = np.einsum("ij,ij->i", k, k)
        phase = np.exp(1j * (c.positions @ k.T))                      # (n_b, K)
        s = charges[lo:hi] @ phase                                   # S(k)
        weight = 2.0 * 4.0 * np.pi / c.volume * np.exp(-k2 / (4 * eta * eta)) / k2   # 2: the -k half
        phi[lo:hi] += (phase.conj() * s).real @ weight
    return 0.5 * COULOMB * charges * phi


def _first_shell_order(batch: StructureBatch, anion: np.ndarray, e: Edges) -> tuple[np.ndarray, ...]:
    """Per site of the anion sublattice: first-shell count (occupancy-weighted), q4, q6 (0 elsewhere)."""
    from metamat.featurize.physics_descriptors import _segment_min, _steinhardt

    n = len(batch.positions)
    occ = batch.site_occupancy
    keep = anion[e.center] & anion[e.neighbor] & (e.distances >= MIN_DISTANCE)
    e = Edges(e.center[keep], e.neighbor[keep], e.vectors[keep], e.distances[keep])
    dmin = _segment_min(e.distances, e.center, n, np.inf)
    shell = e.distances < 1.1 * dmin[e.center]
    w = np.where(shell, occ[e.neighbor], 0.0)
    cn = np.bincount(e.center, w, n)
    q4, q6 = _steinhardt(e, w, n)
    return cn, q4, q6


class IonicDescriptors(StructureFeaturizer):
    """Ewald site energies of guessed charges and the anion framework type (module docstring; 15 features)."""

    name = "ionic"

    def __init__(self, cutoff: float = 6.0, accuracy: float = 1e-6, anion_cutoff: float = 6.0, width: float = 0.05):
        self.cutoff, self.accuracy = float(cutoff), float(accuracy)
        self.anion_cutoff, self.width = float(anion_cutoff), float(width)

    def feature_labels(self) -> list[str]:
        return [f"ionic_{label}" for label in LABELS]

    def citations(self) -> list[str]:
        return [EWALD_1921, WANG_2015]

    def featurize(self, batch: StructureBatch, neighbors: NeighborCache | None = None) -> np.ndarray:
        from metamat.featurize.physics_descriptors import MOBILE_IONS, _segment_max, _segment_min, _weighted_stats

        cache = neighbors if neighbors is not None else NeighborCache(batch)
        B = len(batch)
        struct = batch.site_structure
        occ = batch.site_occupancy
        atoms = np.bincount(struct, occ, B)
        q, balanced = site_charges(batch)
        energy = ewald_site_energies(batch, q, self.cutoff, self.accuracy, cache.get(self.cutoff))
        per_atom = energy / np.where(occ > 0, occ, 1.0)
        out = np.zeros((B, len(LABELS)))
        out[:, 0] = balanced
        out[:, 1] = np.bincount(struct, energy, B) / atoms
        out[:, 2] = _weighted_stats(per_atom, occ, struct, B)[1]
        out[:, 3] = _segment_min(per_atom, struct, B, np.inf)
        out[:, 4] = _segment_max(per_atom, struct, B, -np.inf)
        mobile = np.isin(batch.species, MOBILE_IONS).any(1) & (q > 0)
        for col, mask in ((5, q > 0), (6, q < 0), (7, mobile)):
            w = occ * mask
            has = np.bincount(struct, w, B) > 0
            out[:, col] = np.where(has, _weighted_stats(per_atom, w, struct, B)[0], 0.0)
        # anion sublattice: negative charge, else the most electronegative element of the structure
        anion = q < -1e-9
        if not np.all(balanced):
            from metamat.featurize.elements import load_element_table

            chi = load_element_table().column("X")
            site_chi = np.where(batch.species > 0, chi[batch.species], -np.inf).max(1)
            top = _segment_max(site_chi, struct, B, -np.inf)
            anion = np.where(balanced[struct] > 0, anion, site_chi >= top[struct] - 1e-9)
        out[:, 8] = np.bincount(struct, occ * anion, B) / atoms
        cn, q4, q6 = _first_shell_order(batch, anion, cache.get(self.anion_cutoff))
        w = occ * anion
        has = np.bincount(struct, w, B) > 0
        for col, values in ((9, cn), (10, q4), (11, q6)):
            out[:, col] = np.where(has, _weighted_stats(values, w, struct, B)[0], 0.0)
        for col, (r4, r6) in zip((12, 13, 14), IDEAL_FRAMEWORKS.values(), strict=True):
            dist2 = (out[:, 10] - r4) ** 2 + (out[:, 11] - r6) ** 2
            out[:, col] = np.where(has & (out[:, 9] > 0), np.exp(-dist2 / (2 * self.width ** 2)), 0.0)
        return out

    def __repr__(self) -> str:
        return f"IonicDescriptors(cutoff={self.cutoff}, accuracy={self.accuracy:g})"


__all__ = ["COULOMB", "IDEAL_FRAMEWORKS", "IonicDescriptors", "LABELS", "ewald_site_energies", "guess_charges",
           "site_charges"]
