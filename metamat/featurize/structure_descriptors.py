"""Local-environment structure descriptors in numpy: sorted inverse distances and (weighted) ACSF.

Both work on the edge list of a whole :class:`~metamat.data.structures.StructureBatch` (every directed pair
within the cutoff, sorted by centre): per-edge values, segment sums over each centre's edges with
``np.add.reduceat``, then occupancy-weighted mean (and standard deviation) over each structure's sites. No
Python loop runs per structure or per atom; the neighbour search itself is :func:`neighbor_list`.

Disordered sites: a neighbour counts with its total occupancy (element-agnostic parts) or with the
occupancy-weighted sum of its species' element weights (element-weighted parts); a centre counts in the
per-structure mean and standard deviation with its total occupancy. Two sites closer than
:data:`~metamat.data.structures.MIN_DISTANCE` are alternative positions of one split site (validation
accepts nothing else that close) and are never each other's neighbours.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from metamat.data.structures import MIN_DISTANCE, Edges, StructureBatch, neighbor_list
from metamat.featurize.elements import load_element_table

BEHLER_2011 = "J. Behler, Atom-centered symmetry functions for constructing high-dimensional neural network " \
              "potentials, J. Chem. Phys. 134, 074106 (2011)."
GASTEGGER_2018 = "M. Gastegger, L. Schwiedrzik, M. Bittermann, F. Berzsenyi, P. Marquetand, wACSF - Weighted " \
                 "atom-centered symmetry functions as descriptors in machine learning potentials, J. Chem. Phys. " \
                 "148, 241709 (2018)."
SCHUTT_2014 = "K. T. Schütt, H. Glawe, F. Brockherde, A. Sanna, K. R. Müller, E. K. U. Gross, How to represent " \
              "crystal structures for machine learning: towards fast prediction of electronic properties, " \
              "Phys. Rev. B 89, 205118 (2014)."
STATS = ("mean", "std")


class NeighborCache:
    """Edges of one batch, searched once at the largest cutoff asked for and filtered for smaller ones."""

    def __init__(self, batch: StructureBatch):
        self.batch = batch
        self._edges: dict[float, Edges] = {}

    def get(self, cutoff: float) -> Edges:
        cutoff = float(cutoff)
        if cutoff in self._edges:
            return self._edges[cutoff]
        larger = [c for c in self._edges if c > cutoff]
        if larger:
            e = self._edges[min(larger)]
            keep = e.distances < cutoff
            edges = Edges(e.center[keep], e.neighbor[keep], e.vectors[keep], e.distances[keep])
        else:
            e = neighbor_list(self.batch, cutoff)
            keep = e.distances >= MIN_DISTANCE  # alternative positions of a split site are not neighbours
            edges = e if keep.all() else Edges(e.center[keep], e.neighbor[keep], e.vectors[keep],
                                               e.distances[keep])
        self._edges[cutoff] = edges
        return edges


class StructureFeaturizer(ABC):
    """A featurizer of structures: ``featurize(batch)`` returns an (n_structures, n_features) array."""

    name: str = ""
    cutoff: float = 0.0  # neighbour cutoff (Å) the featurizer reads from the cache; 0 = none

    @abstractmethod
    def feature_labels(self) -> list[str]: ...

    @abstractmethod
    def citations(self) -> list[str]: ...

    @abstractmethod
    def featurize(self, batch: StructureBatch, neighbors: NeighborCache | None = None) -> np.ndarray: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def sorted_segment_sum(values: np.ndarray, segment: np.ndarray, n: int, out: np.ndarray | None = None) -> np.ndarray:
    """Add rows of ``values`` into ``out[segment]`` (``segment`` sorted); returns ``out`` of shape (n, ...)."""
    if out is None:
        out = np.zeros((n,) + values.shape[1:])
    if len(segment):
        starts = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]])
        out[segment[starts]] += np.add.reduceat(values, starts, axis=0)
    return out


def pool_sites(site_features: np.ndarray, batch: StructureBatch, stats: Sequence[str] = STATS) -> np.ndarray:
    """Per-structure statistics of site features, weighted by total site occupancy: (B, len(stats) * F)."""
    if np.any(np.diff(batch.offsets) == 0):
        raise ValueError("a structure without sites cannot be featurized")
    w = batch.site_occupancy[:, None]
    starts = batch.offsets[:-1]
    total = np.add.reduceat(w, starts, axis=0)
    mean = np.add.reduceat(site_features * w, starts, axis=0) / total
    parts = {"mean": mean}
    if "std" in stats:  # two-pass: no cancellation for sites that are all alike
        dev = site_features - np.repeat(mean, np.diff(batch.offsets), axis=0)
        parts["std"] = np.sqrt(np.add.reduceat(dev * dev * w, starts, axis=0) / total)
    return np.hstack([parts[s] for s in stats])


@lru_cache(maxsize=16)
def element_weights(properties: tuple[str, ...]) -> np.ndarray:
    """Table (104, 1 + len(properties)): column 0 is 1 for every element, then each property standardized
    over Z = 1..103 (missing values imputed). Row 0 (empty species slot) is 0."""
    table = load_element_table().matrix(list(properties)) if properties else np.zeros((104, 0))
    z = table[1:]
    std = z.std(axis=0)
    scaled = (z - z.mean(axis=0)) / np.where(std > 0, std, 1.0)
    out = np.zeros((table.shape[0], 1 + len(properties)))
    out[1:, 0] = 1.0
    out[1:, 1:] = scaled
    out.setflags(write=False)
    return out


def site_weights(batch: StructureBatch, properties: tuple[str, ...]) -> np.ndarray:
    """(N, 1 + len(properties)): total occupancy, then occupancy-weighted standardized element properties."""
    return np.einsum("ns,nsw->nw", batch.occupancy, element_weights(properties)[batch.species])


def _check_stats(stats: Sequence[str]) -> tuple[str, ...]:
    stats = tuple(stats)
    if not stats or set(stats) - set(STATS):
        raise ValueError(f"stats must be a non-empty subset of {STATS}, not {stats}")
    return stats


class SortedInverseDistance(StructureFeaturizer):
    """Per site, ``occ_j / r_ij`` of the neighbours within ``cutoff`` sorted in descending order and padded
    with 0 to ``n_neighbors``; per structure the occupancy-weighted mean and standard deviation over sites.

    For ordered structures this is the sorted 1/r of each site's nearest neighbours (a rotation-,
    translation-, permutation- and supercell-invariant cousin of the Coulomb/sine matrix eigenvalues, Schütt
    et al. 2014). A disordered neighbour site counts with its total occupancy; the weighted values (not the
    distances) are sorted, which keeps the descriptor continuous when distances tie.
    """

    name = "sorted_inverse_distance"

    def __init__(self, cutoff: float = 6.0, n_neighbors: int = 16, stats: Sequence[str] = STATS):
        if cutoff <= MIN_DISTANCE or n_neighbors < 1:
            raise ValueError(f"need cutoff > {MIN_DISTANCE} Å and n_neighbors >= 1")
        self.cutoff = float(cutoff)
        self.n_neighbors = int(n_neighbors)
        self.stats = _check_stats(stats)

    def feature_labels(self) -> list[str]:
        return [f"sorted 1/r {s} {k + 1}" for s in self.stats for k in range(self.n_neighbors)]

    def citations(self) -> list[str]:
        return [SCHUTT_2014]

    def site_features(self, batch: StructureBatch, neighbors: NeighborCache | None = None) -> np.ndarray:
        e = (neighbors or NeighborCache(batch)).get(self.cutoff)
        n = len(batch.positions)
        value = batch.site_occupancy[e.neighbor] / e.distances
        order = np.lexsort((-value, e.center))
        center, value = e.center[order], value[order]
        counts = np.bincount(center, minlength=n)
        rank = np.arange(len(center)) - (np.cumsum(counts) - counts)[center]
        keep = rank < self.n_neighbors
        out = np.zeros((n, self.n_neighbors))
        out[center[keep], rank[keep]] = value[keep]
        return out

    def featurize(self, batch: StructureBatch, neighbors: NeighborCache | None = None) -> np.ndarray:
        return pool_sites(self.site_features(batch, neighbors), batch, self.stats)

    def __repr__(self) -> str:
        return f"SortedInverseDistance(cutoff={self.cutoff}, n_neighbors={self.n_neighbors})"


def default_radial(cutoff: float) -> tuple[tuple[float, float], ...]:
    """(eta [Å⁻²], r_s [Å]) pairs: 8 centred G2 of decreasing width and 8 narrow ones shifted over 1-rc
    (Behler 2011: widths chosen to resolve the whole cutoff sphere)."""
    centred = [(eta, 0.0) for eta in (0.003, 0.01, 0.02, 0.035, 0.06, 0.1, 0.2, 0.4)]
    width = (cutoff - 1.0) / 8
    shifted = [(round(1.0 / (2.0 * width * width), 6), round(1.0 + k * width, 6)) for k in range(8)]
    return tuple(centred + shifted)


def _cosine_cutoff(r: np.ndarray, cutoff: float) -> np.ndarray:
    return np.where(r < cutoff, 0.5 * (np.cos(np.pi * r / cutoff) + 1.0), 0.0)


def _pairs_within_centres(center: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unordered pairs ``(a, b)``, ``a < b``, of entries with the same (sorted) centre; exactly T entries."""
    if len(center) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, center[1:] != center[:-1]])
    sizes = np.diff(np.r_[starts, len(center)])
    pos = np.arange(len(center)) - np.repeat(starts, sizes)
    reps = np.repeat(sizes, sizes) - pos - 1  # partners after each entry in its group
    first = np.repeat(np.arange(len(center)), reps)
    second = first + 1 + np.arange(len(first)) - np.repeat(np.cumsum(reps) - reps, reps)
    return first, second


class ACSF(StructureFeaturizer):
    """Behler-Parrinello atom-centred symmetry functions (Behler 2011), element-agnostic and element-weighted.

    Per site ``i``, with the cosine cutoff ``fc(r) = 0.5 (cos(pi r / rc) + 1)``:

    * G2 = sum_j w_j exp(-eta (r_ij - r_s)^2) fc(r_ij) for each ``(eta, r_s)`` in ``radial`` (cutoff ``cutoff``);
    * G4 = 2^(1-zeta) sum_{j<k} w_j w_k (1 + lambda cos theta_ijk)^zeta exp(-eta (r_ij^2 + r_ik^2 + r_jk^2))
      fc(r_ij) fc(r_ik) fc(r_jk) over unordered neighbour pairs within ``angular_cutoff`` (half Behler's
      double sum over j != k), for each ``eta`` x ``zeta`` x ``lambda``.

    ``w_j`` is the neighbour's total occupancy (weight ``none``, the element-agnostic ACSF) and, for every
    name in ``weights``, the occupancy-weighted element property standardized over H..Lr (weighted ACSF,
    Gastegger et al. 2018; e.g. ``X`` = Pauling electronegativity, ``Number`` = Z), so one fixed-length
    vector covers ~90 elements. Per structure: occupancy-weighted mean and std over sites.
    Feature order: ``[stat][weight][G2 ..., G4 ...]``.
    """

    name = "acsf"

    def __init__(self, cutoff: float = 6.0, angular_cutoff: float = 4.0,
                 radial: Sequence[tuple[float, float]] | None = None,
                 angular_eta: Sequence[float] = (0.005, 0.06), zeta: Sequence[float] = (1.0, 2.0, 4.0, 16.0),
                 lambdas: Sequence[float] = (1.0, -1.0), weights: Sequence[str] = ("X", "Number"),
                 stats: Sequence[str] = STATS, max_triplets: int = 200_000):
        if not 0 < angular_cutoff <= cutoff:
            raise ValueError("need 0 < angular_cutoff <= cutoff")
        self.cutoff = float(cutoff)
        self.angular_cutoff = float(angular_cutoff)
        self.radial = tuple((float(e), float(r)) for e, r in (radial or default_radial(self.cutoff)))
        self.angular_eta = tuple(float(e) for e in angular_eta)
        self.zeta = tuple(float(z) for z in zeta)
        self.lambdas = tuple(float(v) for v in lambdas)
        self.weights = tuple(weights)
        load_element_table().index(self.weights)  # KeyError names unknown properties
        self.stats = _check_stats(stats)
        self.max_triplets = int(max_triplets)

    def _site_labels(self) -> list[str]:
        g2 = [f"G2 eta={e:g} rs={r:g}" for e, r in self.radial]
        g4 = [f"G4 eta={e:g} zeta={z:g} lambda={v:g}" for e in self.angular_eta for z in self.zeta
              for v in self.lambdas]
        return [f"[{w}] {g}" for w in ("none",) + self.weights for g in g2 + g4]

    def feature_labels(self) -> list[str]:
        return [f"ACSF {s} {label}" for s in self.stats for label in self._site_labels()]

    def citations(self) -> list[str]:
        return [BEHLER_2011, GASTEGGER_2018] if self.weights else [BEHLER_2011]

    def site_features(self, batch: StructureBatch, neighbors: NeighborCache | None = None) -> np.ndarray:
        """(N, n_weights, n_G2 + n_G4) per-site symmetry functions."""
        cache = neighbors or NeighborCache(batch)
        n = len(batch.positions)
        w_site = site_weights(batch, self.weights)  # (N, W)
        n_w = w_site.shape[1]
        e = cache.get(self.cutoff)
        eta, rs = np.array(self.radial).reshape(-1, 2).T
        g2 = np.exp(-eta * (e.distances[:, None] - rs) ** 2) * _cosine_cutoff(e.distances, self.cutoff)[:, None]
        radial = np.empty((n, n_w, len(eta)))
        w_edge = w_site[e.neighbor]
        for k in range(n_w):
            radial[:, k] = sorted_segment_sum(w_edge[:, k:k + 1] * g2, e.center, n)
        angular = self._angular(cache.get(self.angular_cutoff), w_site, n)
        return np.concatenate([radial, angular], axis=2)

    def _angular(self, e: Edges, w_site: np.ndarray, n: int) -> np.ndarray:
        n_w = w_site.shape[1]
        eta, zeta, lam = (np.array(v, float) for v in (self.angular_eta, self.zeta, self.lambdas))
        n_ang = len(eta) * len(zeta) * len(lam)
        out = np.zeros((n, n_w * len(eta), len(zeta) * len(lam)))
        if len(e.center) == 0 or out.size == 0:
            return out.reshape(n, n_w, n_ang)
        unit = e.vectors / e.distances[:, None]
        fc = _cosine_cutoff(e.distances, self.angular_cutoff)
        rad_edge = np.exp(-eta * (e.distances**2)[:, None]) * fc[:, None]  # (E, n_eta)
        w_edge = w_site[e.neighbor]
        norm = 2.0 ** (1.0 - zeta)
        # chunks of whole centres with at most max_triplets triplets each (bounded memory)
        sizes = np.bincount(e.center, minlength=n)
        trip_end = np.cumsum(sizes * (sizes - 1) // 2)
        edge_end = np.cumsum(sizes)
        cuts = np.unique(np.searchsorted(trip_end, np.arange(1, trip_end[-1] // self.max_triplets + 1)
                                         * self.max_triplets, side="right"))
        bounds = np.r_[0, edge_end[np.minimum(cuts, n - 1)], len(e.center)]
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            if hi <= lo:
                continue
            a, b = _pairs_within_centres(e.center[lo:hi])
            a, b = a + lo, b + lo
            d_jk = e.vectors[b] - e.vectors[a]
            r_jk = np.sqrt(np.einsum("ij,ij->i", d_jk, d_jk))
            keep = r_jk >= MIN_DISTANCE  # two alternative positions of one split site are not a pair
            a, b, r_jk = a[keep], b[keep], r_jk[keep]
            if len(a) == 0:
                continue
            cos = np.einsum("ij,ij->i", unit[a], unit[b])
            rad = rad_edge[a] * rad_edge[b] * np.exp(-eta * (r_jk**2)[:, None]) \
                * _cosine_cutoff(r_jk, self.angular_cutoff)[:, None]  # (T, n_eta)
            rad = (w_edge[a] * w_edge[b])[:, :, None] * rad[:, None, :]  # (T, W, n_eta)
            base = np.clip(1.0 + cos[:, None] * lam, 0.0, None)  # (T, n_lambda)
            ang = (norm[:, None] * base[:, None, :] ** zeta[:, None]).reshape(len(a), len(zeta) * len(lam))
            terms = rad.reshape(len(a), n_w * len(eta))[:, :, None] * ang[:, None, :]
            sorted_segment_sum(terms, e.center[a], n, out=out)
        return out.reshape(n, n_w, n_ang)

    def featurize(self, batch: StructureBatch, neighbors: NeighborCache | None = None) -> np.ndarray:
        site = self.site_features(batch, neighbors)
        return pool_sites(site.reshape(len(site), -1), batch, self.stats)

    def __repr__(self) -> str:
        return (f"ACSF(cutoff={self.cutoff}, angular_cutoff={self.angular_cutoff}, n_radial={len(self.radial)}, "
                f"n_angular={len(self.angular_eta) * len(self.zeta) * len(self.lambdas)}, weights={self.weights})")
