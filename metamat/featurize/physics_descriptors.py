"""Fast physical structure descriptors for small data: packing, coordination, bonds, local order, symmetry,
mobile-ion network and free volume (``featurize_structures(..., names="physics")``).

Every feature is intensive and invariant to rotation, reflection, translation, site order and the choice of
(super)cell. Disordered sites count with their occupancy: masses, volumes and neighbours are
occupancy-weighted, a vacancy (site occupancy < 1) lowers density and packing, and a partially occupied
Li site contributes its Li occupancy to the mobile-ion features.

- ``density`` (g/cm³, pymatgen atomic masses), ``volume_per_atom`` (Å³ per occupied atom),
  ``packing_fraction`` (Σ occ · 4/3 π r³ / V with pymatgen's ``Element.atomic_radius``): the definitions of
  matminer's ``DensityFeatures``.
- coordination: Hoppe's effective coordination number (ECoN; R. Hoppe, Z. Kristallogr. 150, 23 (1979)) per
  site, from the neighbour list within ``cutoff``: weights ``exp(1 - (d / l)^6)`` with the weighted mean bond
  length ``l`` iterated to its fixed point from the shortest distance (as pymatgen's ``EconNN``);
  occupancy-weighted mean, std, min and max over sites.
- bonds: nearest-neighbour distance (mean, std, min over sites), mean ECoN bond length, bond-length spread
  (weighted std / mean per site, mean over sites), nearest-neighbour distance over the sum of covalent radii.
- local order: Steinhardt q4 and q6 with ECoN bond weights (P. J. Steinhardt, D. R. Nelson, M. Ronchetti,
  Phys. Rev. B 28, 784 (1983)); q6 = 0.575 (fcc), 0.354 (simple cubic), 0.629 (diamond) for ideal lattices.
- symmetry (spglib on the majority species, ``symprec`` 0.1 Å): space-group number, crystal system (1 triclinic
  ... 7 cubic), centrosymmetric (0/1).
- mobile ion (the first of Li, Na, K, Ag, Cu, Mg, Zn, Ca present; none -> fraction 0 and distances =
  ``cutoff``): its atomic fraction, nearest mobile-mobile distance (mean and min over mobile sites), and
  mobile neighbours within 4 Å (mean).
- free volume on a grid (spacing <= ``grid_spacing`` Å, default 0.6, at most ``max_grid`` points per cell):
  clearance of a grid point = min over its 3 nearest atoms of (distance - atomic radius); the largest empty
  sphere radius (refined around the best grid point to ~h/8), the mean clearance, the fraction of the cell
  with clearance above 1 Å (room for a Li+ ion, radius ~0.76 Å) and the channel radius: the largest sphere
  that can travel through the crystal along a cell axis (bisection over the clearance with a periodic
  connected-component test; the bottleneck size of Voronoi-network tools such as Zeo++'s free sphere).
  Simple cubic lattice of spacing a and atomic radius r: empty sphere a sqrt(3)/2 - r, channel a/sqrt(2) - r.

The neighbour part is vectorized over the whole batch (segment reductions over the sorted edge list); the
symmetry search and the free-volume grid run per structure (spglib / a k-d tree), like the neighbour search.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from metamat.data.structures import Edges, StructureBatch
from metamat.featurize.elements import load_element_table
from metamat.featurize.structure_descriptors import NeighborCache, StructureFeaturizer

HOPPE_1979 = "R. Hoppe, Effective coordination numbers (ECoN) and mean fictive ionic radii (MEFIR), " \
             "Z. Kristallogr. 150, 23 (1979)."
STEINHARDT_1983 = "P. J. Steinhardt, D. R. Nelson, M. Ronchetti, Bond-orientational order in liquids and " \
                  "glasses, Phys. Rev. B 28, 784 (1983)."
SPGLIB = "A. Togo, K. Shinohara, I. Tanaka, Spglib: a software library for crystal symmetry search, " \
         "Sci. Technol. Adv. Mater. Meth. 4, 2384822 (2024)."
MOBILE_IONS = (3, 11, 19, 47, 29, 12, 30, 20)  # Li, Na, K, Ag, Cu, Mg, Zn, Ca
_AMU_A3_TO_G_CM3 = 1.66053906660
_IMAGE_MARGIN = 4.0  # Å: periodic images farther than this from the cell never hold a grid point's nearest atom
_CRYSTAL_SYSTEM_BOUNDS = np.array([2, 15, 74, 142, 167, 194, 230])  # last space group of each system

LABELS = ("density", "volume_per_atom", "packing_fraction",
          "ecn_mean", "ecn_std", "ecn_min", "ecn_max",
          "nn_dist_mean", "nn_dist_std", "nn_dist_min", "bond_length_mean", "bond_length_spread",
          "nn_over_covalent",
          "q4_mean", "q6_mean",
          "spacegroup_number", "crystal_system", "centrosymmetric",
          "mobile_fraction", "mobile_nn_mean", "mobile_nn_min", "mobile_neighbors_4A", "mobile_nn_max",
          "empty_sphere_max", "clearance_mean", "free_fraction_1A", "channel_radius")


@lru_cache(maxsize=1)
def atomic_radii() -> np.ndarray:
    """(104,) pymatgen ``Element.atomic_radius`` (Å; covalent radius where pymatgen has none, row 0 = 0)."""
    from pymatgen.core import Element

    cov = covalent_radii()
    out = np.zeros(104)
    for z in range(1, 104):
        r = Element.from_Z(z).atomic_radius
        out[z] = float(r) if r is not None else cov[z]
    out.setflags(write=False)
    return out


@lru_cache(maxsize=1)
def atomic_masses() -> np.ndarray:
    """(104,) pymatgen ``Element.atomic_mass`` (amu; row 0 = 0), the masses matminer's densities use."""
    from pymatgen.core import Element

    out = np.zeros(104)
    out[1:] = [float(Element.from_Z(z).atomic_mass) for z in range(1, 104)]
    out.setflags(write=False)
    return out


@lru_cache(maxsize=1)
def covalent_radii() -> np.ndarray:
    """(104,) covalent radii in Å (Magpie table, pm / 100)."""
    out = load_element_table().column("CovalentRadius") / 100.0
    out[0] = 0.0
    return out


def _site_sum(table: np.ndarray, batch: StructureBatch) -> np.ndarray:
    """Per site, the occupancy-weighted sum of an element table over the site's species."""
    return (batch.occupancy * table[batch.species]).sum(1)


def _weighted_stats(values: np.ndarray, w: np.ndarray, structure: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """Per structure weighted mean and std of per-site ``values`` (weights ``w``)."""
    total = np.bincount(structure, w, n)
    safe = np.where(total > 0, total, 1.0)
    mean = np.bincount(structure, w * values, n) / safe
    var = np.bincount(structure, w * (values - mean[structure]) ** 2, n) / safe
    return mean, np.sqrt(np.maximum(var, 0.0))


def _segment_min(values: np.ndarray, segment: np.ndarray, n: int, fill: float) -> np.ndarray:
    out = np.full(n, fill)
    np.minimum.at(out, segment, values)
    return out


def _segment_max(values: np.ndarray, segment: np.ndarray, n: int, fill: float) -> np.ndarray:
    out = np.full(n, fill)
    np.maximum.at(out, segment, values)
    return out


def _econ(e: Edges, occ_j: np.ndarray, n_sites: int, cutoff: float) -> tuple[np.ndarray, ...]:
    """Per site: shortest distance, ECoN, mean bond length, bond-length spread; per edge: ECoN weight."""
    d = e.distances
    dmin = _segment_min(d, e.center, n_sites, cutoff)
    length = dmin
    for _ in range(50):  # fixed point of Hoppe's mean bond length (converges in a few steps)
        w = occ_j * np.exp(1.0 - (d / length[e.center]) ** 6)
        wsum = np.bincount(e.center, w, n_sites)
        new = np.where(wsum > 0, np.bincount(e.center, w * d, n_sites) / np.where(wsum > 0, wsum, 1), dmin)
        done = np.abs(new - length).max(initial=0.0) < 1e-7
        length = new
        if done:
            break
    w = occ_j * np.exp(1.0 - (d / length[e.center]) ** 6)
    wsum = np.bincount(e.center, w, n_sites)
    safe = np.where(wsum > 0, wsum, 1.0)
    mean_b = np.bincount(e.center, w * d, n_sites) / safe
    var_b = np.bincount(e.center, w * (d - mean_b[e.center]) ** 2, n_sites) / safe
    spread = np.sqrt(np.maximum(var_b, 0)) / np.where(mean_b > 0, mean_b, 1.0)
    return dmin, wsum, np.where(wsum > 0, mean_b, cutoff), spread, w


def _steinhardt(e: Edges, w: np.ndarray, n_sites: int, ls=(4, 6)) -> list[np.ndarray]:
    """Per-site Steinhardt q_l with edge weights ``w``."""
    from scipy.special import sph_harm_y

    wsum = np.bincount(e.center, w, n_sites)
    keep = w > 1e-6  # weights <= 1e-6 change q_l by less than that: skip their spherical harmonics
    e = Edges(e.center[keep], e.neighbor[keep], e.vectors[keep], e.distances[keep])
    w = w[keep]
    u = e.vectors / np.where(e.distances > 0, e.distances, 1.0)[:, None]
    theta = np.arccos(np.clip(u[:, 2], -1.0, 1.0))
    phi = np.arctan2(u[:, 1], u[:, 0])
    safe = np.where(wsum > 0, wsum, 1.0)
    out = []
    for ell in ls:
        power = np.zeros(n_sites)
        for m in range(ell + 1):  # real weights: |q_l,-m| = |q_lm|, so m < 0 counts twice via m > 0
            y = w * sph_harm_y(ell, m, theta, phi)
            qlm = (np.bincount(e.center, y.real, n_sites) + 1j * np.bincount(e.center, y.imag, n_sites)) / safe
            power += (1.0 if m == 0 else 2.0) * np.abs(qlm) ** 2
        out.append(np.sqrt(4 * np.pi / (2 * ell + 1) * power))
    return out


def _symmetry(crystal, symprec: float) -> tuple[float, float, float]:
    import spglib

    if not np.all(crystal.pbc):
        return 1.0, 1.0, 0.0
    try:
        ds = spglib.get_symmetry_dataset((crystal.cell, crystal.positions @ np.linalg.inv(crystal.cell),
                                          crystal.numbers), symprec=symprec)
    except Exception:  # noqa: BLE001 - spglib raises its own error types on degenerate input
        ds = None
    if ds is None:
        return 1.0, 1.0, 0.0
    number = int(ds.number)
    centro = any(np.allclose(r, -np.eye(3)) for r in ds.rotations)
    return float(number), float(np.searchsorted(_CRYSTAL_SYSTEM_BOUNDS, number) + 1), float(centro)


def _free_volume(crystal, radius: np.ndarray, spacing: float, max_grid: int) -> tuple[float, ...]:
    """(largest empty sphere radius, mean clearance, fraction with clearance > 1 Å, channel radius) on a
    grid in the cell; the largest sphere is refined around the best grid point (steps h/2, h/4, h/8)."""
    if not np.all(crystal.pbc):
        return np.nan, np.nan, np.nan, np.nan
    from scipy.spatial import cKDTree

    cell = crystal.cell
    lengths = np.linalg.norm(cell, axis=1)
    counts = np.maximum(np.ceil(lengths / spacing), 1)
    if counts.prod() > max_grid:
        counts = np.maximum(np.floor(counts * (max_grid / counts.prod()) ** (1 / 3)), 1)
    counts = counts.astype(int)
    axes = [(np.arange(k) + 0.5) / k for k in counts]
    frac = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    grid = frac @ cell
    inv = np.linalg.inv(cell)
    pos = crystal.positions - np.floor(crystal.positions @ inv) @ cell
    shifts = np.stack(np.meshgrid(*[np.arange(-1, 2)] * 3, indexing="ij"), -1).reshape(-1, 3)
    frac_img = ((pos @ inv)[None] + shifts[:, None]).reshape(-1, 3)
    r_img = np.tile(radius, len(shifts))
    heights = 1.0 / np.sqrt((inv * inv).sum(0))
    margin = np.minimum(_IMAGE_MARGIN / heights, 1.0)           # images only near the cell (fractional)
    inside = np.all((frac_img > -margin) & (frac_img < 1 + margin), axis=1)
    clearance = _clearance(grid, cKDTree(frac_img[inside] @ cell), r_img[inside])
    # an image left out is >= _IMAGE_MARGIN from every grid point: exact wherever the nearest atom is closer;
    # elsewhere (vacuum of a 2D slab) search again among all 27 images
    far = clearance > _IMAGE_MARGIN - r_img.max()
    full = cKDTree(frac_img @ cell)
    if far.any() and not inside.all():
        clearance[far] = _clearance(grid[far], full, r_img)
    best_frac, best = frac[np.argmax(clearance)], float(clearance.max())
    for level in (2, 4, 8):
        trial = (best_frac + shifts / (level * counts)) % 1.0
        c = _clearance(trial @ cell, full, r_img)
        if c.max() > best:
            best, best_frac = float(c.max()), trial[np.argmax(c)]
    channel = _channel_radius(clearance.reshape(*counts))
    return best, float(clearance.mean()), float((clearance > 1.0).mean()), channel


def _channel_radius(clearance: np.ndarray, steps: int = 12) -> float:
    """Largest r such that grid points with clearance >= r connect a point to its own periodic image along
    some cell axis (a percolating channel; the bottleneck of ion transport). Bisection over r; the cell is
    tiled 2 x 2 x 2 and labelled with face connectivity, so a channel that only percolates by leaving that
    box is missed (the estimate is then lower)."""
    from scipy import ndimage

    k = np.array(clearance.shape)
    tiled = np.tile(clearance, (2, 2, 2))

    def percolates(r: float) -> bool:
        labels, _ = ndimage.label(tiled >= r)
        base = labels[:k[0], :k[1], :k[2]]
        return any(np.any((base > 0) & (base == np.roll(labels, -k[a], axis=a)[:k[0], :k[1], :k[2]]))
                   for a in range(3))

    lo, hi = float(clearance.min()), float(clearance.max())
    if not percolates(lo):
        return lo
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if percolates(mid) else (lo, mid)
    return lo


def _clearance(points: np.ndarray, tree, radius: np.ndarray, k: int = 3) -> np.ndarray:
    """min over the ``k`` nearest atoms (a ``cKDTree``) of (distance - atomic radius), per point."""
    k = min(k, tree.n)
    d, idx = tree.query(points, k=k)
    d, idx = d.reshape(len(points), k), idx.reshape(len(points), k)
    return (d - radius[idx]).min(1)


class PhysicsDescriptors(StructureFeaturizer):
    """Density, packing, coordination, bond lengths, local order, symmetry, mobile-ion network, free volume
    (see the module docstring; 27 intensive features)."""

    name = "physics"

    def __init__(self, cutoff: float = 6.0, mobile_cutoff: float = 4.0, grid_spacing: float = 0.6,
                 max_grid: int = 5000, symprec: float = 0.1):
        self.cutoff, self.mobile_cutoff = float(cutoff), float(mobile_cutoff)
        self.grid_spacing, self.max_grid, self.symprec = float(grid_spacing), int(max_grid), float(symprec)

    def feature_labels(self) -> list[str]:
        return [f"physics_{label}" for label in LABELS]

    def citations(self) -> list[str]:
        return [HOPPE_1979, STEINHARDT_1983, SPGLIB]

    def featurize(self, batch: StructureBatch, neighbors: NeighborCache | None = None) -> np.ndarray:
        cache = neighbors if neighbors is not None else NeighborCache(batch)
        e = cache.get(self.cutoff)
        B, N = len(batch), len(batch.positions)
        struct = batch.site_structure
        occ = batch.site_occupancy
        out = np.empty((B, len(LABELS)))
        volume = np.array([c.volume for c in batch.crystals])
        atoms = np.bincount(struct, occ, B)
        mass = np.bincount(struct, _site_sum(atomic_masses(), batch), B)
        r_atomic = atomic_radii()
        sphere = np.bincount(struct, _site_sum(4.0 / 3.0 * np.pi * r_atomic ** 3, batch), B)
        out[:, 0] = mass / volume * _AMU_A3_TO_G_CM3
        out[:, 1] = volume / atoms
        out[:, 2] = sphere / volume
        # coordination and bonds: beyond twice the shortest distance an ECoN weight is below 1e-8
        near = e.distances < 2.0 * _segment_min(e.distances, e.center, N, self.cutoff)[e.center]
        en = Edges(e.center[near], e.neighbor[near], e.vectors[near], e.distances[near])
        dmin, ecn, bond, spread, w = _econ(en, occ[en.neighbor], N, self.cutoff)
        out[:, 3], out[:, 4] = _weighted_stats(ecn, occ, struct, B)
        out[:, 5] = _segment_min(ecn, struct, B, np.inf)
        out[:, 6] = _segment_max(ecn, struct, B, -np.inf)
        out[:, 7], out[:, 8] = _weighted_stats(dmin, occ, struct, B)
        out[:, 9] = _segment_min(dmin, struct, B, np.inf)
        out[:, 10] = _weighted_stats(bond, occ, struct, B)[0]
        out[:, 11] = _weighted_stats(spread, occ, struct, B)[0]
        r_cov = _site_sum(covalent_radii(), batch) / np.where(occ > 0, occ, 1.0)
        nearest = _nearest_neighbor(en, N)
        ratio = np.where(nearest >= 0, dmin / (r_cov + r_cov[np.maximum(nearest, 0)]), 1.0)
        out[:, 12] = _weighted_stats(ratio, occ, struct, B)[0]
        q4, q6 = _steinhardt(en, w, N)
        out[:, 13] = _weighted_stats(q4, occ, struct, B)[0]
        out[:, 14] = _weighted_stats(q6, occ, struct, B)[0]
        out[:, 15:18] = [_symmetry(c, self.symprec) for c in batch.crystals]
        out[:, 18:23] = self._mobile(batch, e, atoms)
        for b, c in enumerate(batch.crystals):
            lo, hi = batch.offsets[b], batch.offsets[b + 1]
            radius = _site_sum(r_atomic, batch)[lo:hi] / np.where(occ[lo:hi] > 0, occ[lo:hi], 1.0)
            out[b, 23:27] = _free_volume(c, radius, self.grid_spacing, self.max_grid)
        return out

    def _mobile(self, batch: StructureBatch, e: Edges, atoms: np.ndarray) -> np.ndarray:
        """Mobile-ion fraction, nearest mobile-mobile distance (mean, min), mobile neighbours within 4 Å,
        largest nearest mobile-mobile distance (the longest hop every mobile ion must make at least)."""
        B, N = len(batch), len(batch.positions)
        struct = batch.site_structure
        amount = np.stack([(batch.occupancy * (batch.species == z)).sum(1) for z in MOBILE_IONS], 1)  # (N, I)
        per_struct = np.zeros((B, len(MOBILE_IONS)))
        np.add.at(per_struct, struct, amount)
        present = per_struct > 1e-9
        choice = np.where(present.any(1), present.argmax(1), -1)                       # first present ion
        site_choice = choice[struct]
        m = np.where(site_choice >= 0, amount[np.arange(N), np.maximum(site_choice, 0)], 0.0)   # (N,)
        out = np.empty((B, 5))
        out[:, 0] = np.bincount(struct, m, B) / atoms
        pair = (m[e.center] > 0) & (m[e.neighbor] > 0)
        dmm = _segment_min(np.where(pair, e.distances, self.cutoff), e.center, N, self.cutoff)
        close = np.bincount(e.center, np.where(pair & (e.distances < self.mobile_cutoff), m[e.neighbor], 0.0), N)
        has = np.bincount(struct, m, B) > 0
        mean_d = _weighted_stats(dmm, m, struct, B)[0]
        out[:, 1] = np.where(has, mean_d, self.cutoff)
        out[:, 2] = _segment_min(np.where(m > 0, dmm, self.cutoff), struct, B, self.cutoff)
        out[:, 3] = np.where(has, _weighted_stats(close, m, struct, B)[0], 0.0)
        out[:, 4] = np.where(has, _segment_max(np.where(m > 0, dmm, 0.0), struct, B, 0.0), self.cutoff)
        return out

    def __repr__(self) -> str:
        return f"PhysicsDescriptors(cutoff={self.cutoff}, grid_spacing={self.grid_spacing})"


def _nearest_neighbor(e: Edges, n_sites: int) -> np.ndarray:
    """Index of each site's nearest neighbour (-1 if none within the cutoff)."""
    out = np.full(n_sites, -1)
    if len(e.center):
        order = np.lexsort((e.distances, e.center))
        first = np.r_[True, e.center[order][1:] != e.center[order][:-1]]
        out[e.center[order][first]] = e.neighbor[order][first]
    return out


__all__ = ["HOPPE_1979", "LABELS", "MOBILE_IONS", "PhysicsDescriptors", "atomic_radii", "covalent_radii"]
