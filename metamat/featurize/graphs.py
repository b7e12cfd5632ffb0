"""Crystal graphs as fixed-width float rows, so a graph network fits the ``Task.X`` matrix interface.

A :class:`GraphLayout` fixes ``max_sites`` (M), ``max_neighbors`` (K), the radius ``cutoff`` (Å) and the
number of species slots per site (S). :func:`graph_features` packs each structure into one row of width
``M * (2S + 1) + M * K * 3``:

- site block, ``(M, 2S + 1)`` per row: ``Z_1..Z_S`` (atomic numbers, 0 = empty slot), ``occ_1..occ_S``
  (occupancies) and a site mask (1 for a real site, 0 for padding);
- neighbour block, ``(M, K, 3)`` per row: for each site and neighbour slot the neighbour's site index
  (a small integer stored as float, exact), the distance (Å) and a mask.

The graph is a radius graph: every neighbour closer than ``cutoff`` is kept (sorted by distance), never
the k nearest, so a supercell gives every site exactly the environment it had in the primitive cell. A
structure that does not fit the layout raises :class:`~metamat.errors.InputError`; use
:meth:`GraphLayout.fit` to pick limits from data. :func:`unpack_graph` inverts the packing (numpy or torch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from metamat.errors import InputError, Problem

DEFAULT_CUTOFF = 5.0
DEFAULT_SPECIES_SLOTS = 3


@dataclass(frozen=True)
class GraphLayout:
    """Shape of the padded crystal graph stored in one feature row (JSON-able via :meth:`to_dict`)."""

    max_sites: int
    max_neighbors: int
    cutoff: float = DEFAULT_CUTOFF
    species_slots: int = DEFAULT_SPECIES_SLOTS

    def __post_init__(self) -> None:
        if self.max_sites < 1 or self.max_neighbors < 1 or self.species_slots < 1:
            raise ValueError(f"GraphLayout needs max_sites, max_neighbors, species_slots >= 1, got {self}")
        if not self.cutoff > 0:
            raise ValueError(f"GraphLayout cutoff must be positive, got {self.cutoff}")

    @property
    def site_width(self) -> int:
        """Columns per site: S atomic numbers, S occupancies, 1 mask."""
        return 2 * self.species_slots + 1

    @property
    def site_columns(self) -> int:
        return self.max_sites * self.site_width

    @property
    def width(self) -> int:
        """Columns of one packed structure."""
        return self.site_columns + self.max_sites * self.max_neighbors * 3

    def to_dict(self) -> dict[str, Any]:
        """Plain dict; also usable as ``encoder_options`` of a learner with ``encoder="cgcnn"``."""
        return {k: (float(v) if k == "cutoff" else int(v)) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GraphLayout:
        return cls(int(d["max_sites"]), int(d["max_neighbors"]), float(d.get("cutoff", DEFAULT_CUTOFF)),
                   int(d.get("species_slots", DEFAULT_SPECIES_SLOTS)))

    @classmethod
    def fit(cls, crystals_or_batch: Any, cutoff: float = DEFAULT_CUTOFF,
            species_slots: int = DEFAULT_SPECIES_SLOTS, headroom: float = 1.25) -> GraphLayout:
        """Limits from data: the largest site and neighbour counts times ``headroom`` (rounded up);
        ``species_slots`` is raised to the widest disordered site if needed."""
        batch = _as_batch(crystals_or_batch)
        sites, degree = graph_stats(batch, cutoff)
        return cls(int(np.ceil(sites.max() * headroom)), max(int(np.ceil(degree.max() * headroom)), 1),
                   float(cutoff), max(int(species_slots), int(batch.species.shape[1])))


def _as_batch(obj: Any):
    from metamat.data.structures import Crystal, StructureBatch, to_crystal

    if isinstance(obj, StructureBatch):
        return obj
    crystals = [c if isinstance(c, Crystal) else to_crystal(c) for c in obj]
    return StructureBatch.from_crystals(crystals)


def _edges(batch, cutoff: float):
    """Neighbour list of ``batch`` sorted by (centre, distance, neighbour)."""
    from metamat.data.structures import neighbor_list

    e = neighbor_list(batch, cutoff)
    order = np.lexsort((e.neighbor, e.distances, e.center))
    return e.center[order], e.neighbor[order], e.distances[order]


def graph_stats(crystals_or_batch: Any, cutoff: float = DEFAULT_CUTOFF) -> tuple[np.ndarray, np.ndarray]:
    """Per structure: number of sites and largest neighbour count within ``cutoff``."""
    batch = _as_batch(crystals_or_batch)
    center, _, _ = _edges(batch, cutoff)
    return _stats(batch, center)


def _stats(batch, center: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n_sites = np.diff(batch.offsets)
    deg = np.bincount(center, minlength=len(batch.positions))
    max_deg = np.zeros(len(batch), np.int64)
    np.maximum.at(max_deg, batch.site_structure, deg)
    return n_sites, max_deg


def _misfits(batch, layout: GraphLayout, n_sites: np.ndarray, max_deg: np.ndarray) -> dict[int, tuple[str, str]]:
    """Structure index -> (layout field, why) for structures that do not fit ``layout``."""
    M, K, S = layout.max_sites, layout.max_neighbors, layout.species_slots
    out: dict[int, tuple[str, str]] = {}
    for b in np.flatnonzero(n_sites > M):
        out[int(b)] = ("max_sites", f"has {n_sites[b]} sites; the layout allows max_sites={M}")
    for b in np.flatnonzero(max_deg > K):
        out.setdefault(int(b), ("max_neighbors", f"has a site with {max_deg[b]} neighbours within {layout.cutoff} Å; "
                                                 f"the layout allows max_neighbors={K}"))
    if batch.species.shape[1] > S:
        used = (batch.occupancy > 0).sum(1)
        for b in np.unique(batch.site_structure[used > S]):
            out.setdefault(int(b), ("species_slots", f"has a site with {int(used[batch.site_structure == b].max())} "
                                                     f"species; the layout allows species_slots={S}"))
    return out


def layout_misfits(crystals_or_batch: Any, layout: GraphLayout) -> dict[int, tuple[str, str]]:
    """Which structures (by index) cannot be packed into ``layout``: index -> (layout field, why)."""
    batch = _as_batch(crystals_or_batch)
    center, _, _ = _edges(batch, layout.cutoff)
    return _misfits(batch, layout, *_stats(batch, center))


def graph_features(crystals_or_batch: Any, layout: GraphLayout, source: str | None = None) -> np.ndarray:
    """Pack structures (Crystals, anything :func:`~metamat.data.structures.to_crystal` reads, or a
    ``StructureBatch``) into ``(n, layout.width)`` float64 rows; one neighbour search for the batch."""
    batch = _as_batch(crystals_or_batch)
    M, K, S = layout.max_sites, layout.max_neighbors, layout.species_slots
    center, neighbor, dist = _edges(batch, layout.cutoff)
    n_sites, max_deg = _stats(batch, center)
    width = batch.species.shape[1]
    bad = _misfits(batch, layout, n_sites, max_deg)
    if bad:
        problems = [Problem(f"structure index {b} {why}", source, None, field) for b, (field, why) in bad.items()]
        raise InputError(f"{len(problems)} structures do not fit the graph layout", problems=problems)
    B = len(batch)
    struct = batch.site_structure
    local = np.arange(len(struct)) - batch.offsets[struct]
    sites = np.zeros((B, M, layout.site_width))
    # keep the S largest occupancies of each site (slots beyond them are empty, checked above)
    order = np.argsort(-batch.occupancy, axis=1, kind="stable")[:, :S]
    z = np.take_along_axis(batch.species, order, 1)
    occ = np.take_along_axis(batch.occupancy, order, 1)
    w = min(width, S)
    sites[struct, local, :w] = z[:, :w]
    sites[struct, local, S:S + w] = occ[:, :w]
    sites[struct, local, 2 * S] = 1.0
    nbrs = np.zeros((B, M, K, 3))
    deg = np.bincount(center, minlength=len(struct))
    start = np.cumsum(deg) - deg
    slot = np.arange(len(center)) - start[center]
    nbrs[struct[center], local[center], slot] = np.stack([local[neighbor], dist, np.ones_like(dist)], 1)
    return np.concatenate([sites.reshape(B, -1), nbrs.reshape(B, -1)], axis=1)


def unpack_graph(X: Any, layout: GraphLayout) -> dict[str, Any]:
    """Views of packed rows (numpy array or torch tensor, any leading dims): ``species`` (..., M, S),
    ``occupancy`` (..., M, S), ``site_mask`` (..., M), ``neighbor`` (..., M, K) as float, ``distance`` and
    ``edge_mask`` (..., M, K), and ``extra`` (the columns after the graph block)."""
    M, K, S = layout.max_sites, layout.max_neighbors, layout.species_slots
    lead = tuple(X.shape[:-1])
    sites = X[..., :layout.site_columns].reshape(*lead, M, layout.site_width)
    nbrs = X[..., layout.site_columns:layout.width].reshape(*lead, M, K, 3)
    return {"species": sites[..., :S], "occupancy": sites[..., S:2 * S], "site_mask": sites[..., 2 * S],
            "neighbor": nbrs[..., 0], "distance": nbrs[..., 1], "edge_mask": nbrs[..., 2],
            "extra": X[..., layout.width:]}


def graph_layout_report(crystals: Sequence[Any], cutoff: float = DEFAULT_CUTOFF) -> dict[str, float]:
    """Site and neighbour-count statistics of a set of structures at ``cutoff`` (for choosing a layout)."""
    sites, degree = graph_stats(crystals, cutoff)
    return {"structures": int(len(sites)), "cutoff": float(cutoff), "max_sites": int(sites.max()),
            "mean_sites": float(sites.mean()), "max_neighbors": int(degree.max()),
            "mean_max_neighbors": float(degree.mean()), "p95_sites": float(np.percentile(sites, 95)),
            "p95_max_neighbors": float(np.percentile(degree, 95))}
