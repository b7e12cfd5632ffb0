"""Crystal graphs as self-describing packed rows: any number of sites, neighbours and species per site.

A graph network must fit the ``Task.X`` matrix interface, so each structure becomes one float row:

``[n_sites, n_pairs, S | site block | pair block | zero padding]``

- ``S`` species slots for this structure (the most species any of its sites has; 1 when ordered);
- site block, ``n_sites * 2S`` columns: per site ``Z_1..Z_S`` (atomic numbers, 0 = empty slot) then
  ``occ_1..occ_S`` (occupancies; a partially occupied site or vacancy has occupancies summing below 1);
- pair block, ``n_pairs * 3`` columns: ``(i, j, distance)`` per undirected neighbour pair within ``cutoff``
  (site indices local to the structure; a site and its own periodic image count once per image pair).
  The encoder uses both directions, so every site gets every neighbour closer than ``cutoff`` (a radius
  graph, never k nearest: a supercell gives each site the environment it had in the primitive cell).

Rows of one call are zero-padded to the widest structure of that call; nothing is sized at training time,
and :func:`pad_rows` widens blocks built separately so that they stack. Memory is linear in sites + pairs
per row. The graph block may be followed by ordinary feature columns (the encoder's ``extra_dim``).

(Until issue 14 the graph was a padded ``(max_sites, max_neighbors)`` layout fixed at training time; the
encoder still loads models trained on it: their weights do not depend on the layout.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_CUTOFF = 5.0
HEADER = 3  # n_sites, n_pairs, species slots
LEGACY_LAYOUT_KEYS = ("max_sites", "max_neighbors", "species_slots")


@dataclass(frozen=True)
class GraphLayout:
    """How crystal graphs are built: the neighbour ``cutoff`` (Å). JSON-able via :meth:`to_dict`."""

    cutoff: float = DEFAULT_CUTOFF

    def __post_init__(self) -> None:
        if not self.cutoff > 0:
            raise ValueError(f"GraphLayout cutoff must be positive, got {self.cutoff}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict; also usable as ``encoder_options`` of a learner with ``encoder="cgcnn"``."""
        return {"cutoff": float(self.cutoff)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GraphLayout:
        """Reads ``cutoff``; the size limits of the old padded layout (``max_sites`` ...) are ignored."""
        return cls(float(d.get("cutoff", DEFAULT_CUTOFF)))


def _as_batch(obj: Any):
    from metamat.data.structures import Crystal, StructureBatch, to_crystal

    if isinstance(obj, StructureBatch):
        return obj
    crystals = [c if isinstance(c, Crystal) else to_crystal(c) for c in obj]
    return StructureBatch.from_crystals(crystals)


def _pairs(batch, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One direction of every neighbour pair (global indices), sorted by (first site, distance, second)."""
    from metamat.data.structures import neighbor_list

    e = neighbor_list(batch, cutoff)
    v = e.vectors
    # (i, j, image) and (j, i, -image) are the same pair: keep i < j, and for a site's own images the one
    # whose vector is lexicographically positive (v and -v are exact negatives of each other)
    positive = (v[:, 0] > 0) | ((v[:, 0] == 0) & ((v[:, 1] > 0) | ((v[:, 1] == 0) & (v[:, 2] > 0))))
    keep = (e.center < e.neighbor) | ((e.center == e.neighbor) & positive)
    c, n, d = e.center[keep], e.neighbor[keep], e.distances[keep]
    order = np.lexsort((n, d, c))
    return c[order], n[order], d[order]


def graph_features(crystals_or_batch: Any, layout: GraphLayout | float | None = None,
                   source: str | None = None) -> np.ndarray:
    """Packed graph rows ``(n, width)`` (float64) of structures (Crystals, anything
    :func:`~metamat.data.structures.to_crystal` reads, or a ``StructureBatch``); one neighbour search for the
    batch, no Python loop per structure. ``layout`` is a :class:`GraphLayout` or a cutoff in Å."""
    del source  # every structure fits: kept for call compatibility
    cutoff = layout.cutoff if isinstance(layout, GraphLayout) else float(layout or DEFAULT_CUTOFF)
    batch = _as_batch(crystals_or_batch)
    B = len(batch)
    struct = batch.site_structure
    n_sites = np.diff(batch.offsets)
    used = (batch.occupancy > 0).sum(1)
    slots = np.ones(B, np.int64)
    np.maximum.at(slots, struct, used)
    i, j, dist = _pairs(batch, cutoff)
    pair_struct = struct[i]
    n_pairs = np.bincount(pair_struct, minlength=B)
    site_cols = n_sites * 2 * slots
    width = HEADER + int((site_cols + 3 * n_pairs).max(initial=0))
    X = np.zeros((B, width))
    X[:, 0], X[:, 1], X[:, 2] = n_sites, n_pairs, slots
    # site block: largest occupancies first, S slots per site
    local = np.arange(len(struct)) - batch.offsets[struct]
    order = np.argsort(-batch.occupancy, axis=1, kind="stable")
    z = np.take_along_axis(batch.species, order, 1)
    occ = np.take_along_axis(batch.occupancy, order, 1)
    S = slots[struct]                                                      # per site
    s_idx = np.arange(z.shape[1])
    site, slot = np.nonzero(s_idx[None, :] < np.minimum(S, z.shape[1])[:, None])
    col = HEADER + local[site] * 2 * S[site] + slot
    X[struct[site], col] = z[site, slot]
    X[struct[site], col + S[site]] = occ[site, slot]
    # pair block
    start = np.cumsum(n_pairs) - n_pairs
    k = np.arange(len(i)) - start[pair_struct]
    col = HEADER + site_cols[pair_struct] + 3 * k
    X[pair_struct, col] = local[i]
    X[pair_struct, col + 1] = local[j]
    X[pair_struct, col + 2] = dist
    return X


def graph_width(X: np.ndarray, extra_dim: int = 0) -> int:
    """Columns of the graph block of ``X`` (all but the trailing ``extra_dim`` ordinary columns)."""
    return int(X.shape[-1]) - int(extra_dim)


def pad_rows(blocks: Sequence[Any], extra_dim: int = 0) -> list[Any]:
    """Widen packed rows (numpy arrays or torch tensors, graph block + ``extra_dim`` trailing columns) built
    in separate calls to one width, by zero columns between the graph block and the trailing columns."""
    widths = [graph_width(b, extra_dim) for b in blocks]
    top = max(widths, default=0)
    out = []
    for b, w in zip(blocks, widths, strict=True):
        if w == top:
            out.append(b)
            continue
        if isinstance(b, np.ndarray):
            z = np.zeros((*b.shape[:-1], top - w), b.dtype)
            out.append(np.concatenate([b[..., :w], z, b[..., w:]], axis=-1))
        else:
            import torch

            z = b.new_zeros((*b.shape[:-1], top - w))
            out.append(torch.cat([b[..., :w], z, b[..., w:]], dim=-1))
    return out


def graph_stats(crystals_or_batch: Any, cutoff: float = DEFAULT_CUTOFF) -> tuple[np.ndarray, np.ndarray]:
    """Per structure: number of sites and largest neighbour count (both directions) within ``cutoff``."""
    batch = _as_batch(crystals_or_batch)
    i, j, _ = _pairs(batch, cutoff)
    deg = np.bincount(i, minlength=len(batch.positions)) + np.bincount(j, minlength=len(batch.positions))
    max_deg = np.zeros(len(batch), np.int64)
    np.maximum.at(max_deg, batch.site_structure, deg)
    return np.diff(batch.offsets), max_deg


def graph_layout_report(crystals: Sequence[Any], cutoff: float = DEFAULT_CUTOFF) -> dict[str, float]:
    """Site and neighbour-count statistics of a set of structures at ``cutoff``."""
    sites, degree = graph_stats(crystals, cutoff)
    return {"structures": int(len(sites)), "cutoff": float(cutoff), "max_sites": int(sites.max()),
            "mean_sites": float(sites.mean()), "max_neighbors": int(degree.max()),
            "mean_max_neighbors": float(degree.mean()), "p95_sites": float(np.percentile(sites, 95)),
            "p95_max_neighbors": float(np.percentile(degree, 95))}
