"""Periodic neighbour lists and angular triplets as flat index arrays.

A :class:`Graph` holds one frame or a batch of frames concatenated: atoms, directed edges
``center -> neighbor`` with integer cell shifts (so edge vectors stay differentiable with respect to
positions and cell), and pairs of edges sharing a centre (the angular triplets).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms

try:  # matscipy's C neighbour list is ~30x faster than ASE's on small cells
    from matscipy.neighbours import neighbour_list as _matscipy_nl
except ImportError:  # pragma: no cover - optional dependency
    _matscipy_nl = None

# brute force (all pairs x all needed image shifts) is fastest below this many distance evaluations
_BRUTE_FORCE_LIMIT = 30_000


@dataclass
class Graph:
    """Atoms, edges and triplets of one or more frames (numpy arrays; index dtype int64)."""

    positions: np.ndarray  # (N, 3)
    cells: np.ndarray  # (B, 3, 3)
    species: np.ndarray  # (N,) index into the potential's element list
    atom_frame: np.ndarray  # (N,) frame of each atom
    center: np.ndarray  # (E,) sorted
    neighbor: np.ndarray  # (E,)
    shift: np.ndarray  # (E, 3) integer image shifts stored as float
    edge_frame: np.ndarray  # (E,)
    trip_a: np.ndarray  # (T,) first edge of an angular pair (same centre, a < b)
    trip_b: np.ndarray  # (T,) second edge

    @property
    def n_atoms(self) -> int:
        return len(self.species)

    @property
    def n_frames(self) -> int:
        return len(self.cells)


def _brute_force_pairs(positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray, cutoff: float):
    """All pairs within ``cutoff`` by checking every image shift that can reach it."""
    if np.any(pbc):
        inv = np.linalg.inv(cell)
        heights = 1.0 / np.linalg.norm(inv, axis=0)  # distance between opposite faces
        reps = np.where(pbc, np.ceil(cutoff / heights), 0).astype(int)
    else:
        reps = np.zeros(3, dtype=int)
    ranges = [np.arange(-r, r + 1) for r in reps]
    shifts = np.stack(np.meshgrid(*ranges, indexing="ij"), -1).reshape(-1, 3).astype(float)
    disp = positions[None, :, None, :] - positions[:, None, None, :] + (shifts @ cell)[None, None]
    dist2 = np.einsum("ijsk,ijsk->ijs", disp, disp)
    n = len(positions)
    zero = np.all(shifts == 0, axis=1)
    dist2[np.arange(n), np.arange(n), np.flatnonzero(zero)[0]] = np.inf  # no self-interaction
    i, j, s = np.nonzero(dist2 < cutoff * cutoff)
    return i, j, shifts[s]


def _wrap(positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions moved into the cell along periodic directions, and the integer image of each atom."""
    if not np.any(pbc):
        return positions, np.zeros_like(positions)
    frac = np.linalg.solve(cell.T, positions.T).T
    image = np.where(pbc, np.floor(frac), 0.0)
    return positions - image @ cell, image


def pair_list(atoms: Atoms, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directed pairs ``(i, j, S)`` with ``|r_j - r_i + S @ cell| < cutoff``, sorted by ``i``.

    Works for positions outside the cell: they are wrapped for the search and ``S`` refers to the
    positions as given.
    """
    cell = np.asarray(atoms.cell.array, dtype=float)
    pbc = np.asarray(atoms.pbc, dtype=bool)
    n = len(atoms)
    if np.any(pbc) and abs(np.linalg.det(cell)) < 1e-9:
        raise ValueError("periodic structure with a degenerate cell")
    positions, image = _wrap(np.asarray(atoms.positions, dtype=float), cell, pbc)
    nshift = 1
    if np.any(pbc):
        heights = 1.0 / np.linalg.norm(np.linalg.inv(cell), axis=0)
        nshift = int(np.prod(np.where(pbc, 2 * np.ceil(cutoff / heights) + 1, 1)))
    if n * n * nshift <= _BRUTE_FORCE_LIMIT:
        i, j, shift = _brute_force_pairs(positions, cell, pbc, cutoff)
    else:
        work = Atoms(numbers=atoms.numbers, positions=positions, cell=cell, pbc=pbc)
        if _matscipy_nl is not None and (np.all(pbc) or not np.any(pbc)):
            if not np.any(pbc):  # matscipy needs a cell that encloses the cluster
                span = positions.max(0) - positions.min(0) + 2 * cutoff + 1.0
                work.set_cell(np.diag(span))
                work.positions = positions - positions.min(0) + cutoff + 0.5
            i, j, shift = _matscipy_nl("ijS", work, cutoff)
        else:
            from ase.neighborlist import neighbor_list

            i, j, shift = neighbor_list("ijS", work, cutoff)
    order = np.argsort(i, kind="stable")
    i, j = i[order].astype(np.int64), j[order].astype(np.int64)
    shift = shift[order].astype(float) + image[i] - image[j]
    return i, j, shift


def edge_pairs(center: np.ndarray, n_atoms: int) -> tuple[np.ndarray, np.ndarray]:
    """Unordered pairs ``(a, b)``, ``a < b``, of edges that share a centre (edges sorted by centre)."""
    counts = np.bincount(center, minlength=n_atoms)
    starts = np.cumsum(counts) - counts
    reps = counts[center]
    first = np.repeat(np.arange(len(center)), reps)
    block = np.repeat(starts[center], reps)
    local = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
    second = block + local
    keep = first < second
    return first[keep], second[keep]


def build_graph(atoms: Atoms, cutoff: float, angular_cutoff: float, species: np.ndarray) -> Graph:
    """Graph of one frame: edges within ``cutoff``, triplets from edges within ``angular_cutoff``."""
    if angular_cutoff > cutoff:
        raise ValueError("angular_cutoff must not exceed cutoff")
    i, j, shift = pair_list(atoms, cutoff)
    pos = np.asarray(atoms.positions, dtype=float)
    cell = np.asarray(atoms.cell.array, dtype=float)
    vec = pos[j] - pos[i] + shift @ cell
    ang = np.flatnonzero(np.einsum("ij,ij->i", vec, vec) < angular_cutoff**2)
    a, b = edge_pairs(i[ang], len(atoms))
    n_edges = len(i)
    return Graph(
        positions=pos, cells=cell[None].copy(), species=np.asarray(species, dtype=np.int64),
        atom_frame=np.zeros(len(atoms), dtype=np.int64), center=i, neighbor=j, shift=shift,
        edge_frame=np.zeros(n_edges, dtype=np.int64), trip_a=ang[a], trip_b=ang[b],
    )


def collate(graphs: Sequence[Graph]) -> Graph:
    """Concatenate graphs into one batch, offsetting atom, edge and frame indices."""
    if len(graphs) == 1:
        return graphs[0]
    n_atoms = np.cumsum([0] + [g.n_atoms for g in graphs])
    n_edges = np.cumsum([0] + [len(g.center) for g in graphs])
    n_frames = np.cumsum([0] + [g.n_frames for g in graphs])

    def cat(name: str, offsets: np.ndarray | None = None) -> np.ndarray:
        parts = [getattr(g, name) for g in graphs]
        if offsets is not None:
            parts = [p + o for p, o in zip(parts, offsets[:-1], strict=True)]
        return np.concatenate(parts)

    return Graph(
        positions=cat("positions"), cells=cat("cells"), species=cat("species"),
        atom_frame=cat("atom_frame", n_frames), center=cat("center", n_atoms),
        neighbor=cat("neighbor", n_atoms), shift=cat("shift"), edge_frame=cat("edge_frame", n_frames),
        trip_a=cat("trip_a", n_edges), trip_b=cat("trip_b", n_edges),
    )
