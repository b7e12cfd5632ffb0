"""One internal form for structures: :class:`Crystal` (positions, cell, pbc, species with occupancies).

Everything structural in metamat (descriptors, crystal graphs) starts from a :class:`Crystal` or a
:class:`StructureBatch` of them. Inputs accepted by :func:`to_crystal`: pymatgen ``Structure`` /
``IStructure`` / ``Molecule`` (disordered sites kept), ASE ``Atoms``, a pymatgen structure dict, CIF text,
or a path to a CIF / POSCAR / (ext)xyz file. Each site holds up to ``S`` species with occupancies
(``species`` is padded with 0, ``occupancy`` with 0.0): an ordered structure has one species per site with
occupancy 1, a disordered one keeps every species of a site, so descriptors can weight by occupancy instead
of rejecting the 80% of experimental CIFs (solid electrolytes, alloys) that carry partial occupancies.

:func:`validate_crystal` rejects what no model should see: empty structures, degenerate cells, overlapping
atoms (closer than ``min_distance`` unless they are alternative positions of one split site, i.e. their
occupancies add up to at most 1), absurd densities and unknown species (dummy species, Z > 103).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from metamat.data.formula import ELEMENTS
from metamat.errors import InputError, Problem

MAX_Z = len(ELEMENTS)  # 103
MIN_DISTANCE = 0.5  # Å; the shortest real bond (H2) is 0.74 Å
DENSITY_RANGE = (0.01, 30.0)  # g/cm^3; osmium is 22.6, a 2D slab with 30 Å of vacuum is ~0.3
_AMU_PER_A3_TO_G_PER_CM3 = 1.66053906660


@dataclass(frozen=True, eq=False)  # arrays: compare with np.array_equal, not ==
class Crystal:
    """A periodic or finite structure; ``cell`` rows are lattice vectors (Å), ``positions`` Cartesian (Å)."""

    positions: np.ndarray  # (n, 3) float64
    cell: np.ndarray  # (3, 3) float64 (zeros for a molecule)
    pbc: np.ndarray  # (3,) bool
    species: np.ndarray  # (n, S) int64 atomic numbers, 0 = empty slot
    occupancy: np.ndarray  # (n, S) float64, 0 for empty slots

    @property
    def n_sites(self) -> int:
        return len(self.positions)

    @property
    def is_ordered(self) -> bool:
        return self.species.shape[1] == 1 and bool(np.all(self.occupancy == 1.0))

    @property
    def numbers(self) -> np.ndarray:
        """Majority species of each site (for neighbour searches and plots)."""
        return self.species[np.arange(self.n_sites), np.argmax(self.occupancy, axis=1)]

    @property
    def site_occupancy(self) -> np.ndarray:
        """Total occupancy of each site (1 for ordered sites, < 1 for vacancies)."""
        return self.occupancy.sum(axis=1)

    @property
    def volume(self) -> float:
        return float(abs(np.linalg.det(self.cell))) if np.all(self.pbc) else float("nan")

    def to_ase(self):
        """ASE ``Atoms`` with the majority species of each site."""
        from ase import Atoms

        return Atoms(numbers=self.numbers, positions=self.positions, cell=self.cell, pbc=self.pbc)

    def supercell(self, reps: Sequence[int]) -> Crystal:
        """The ``reps[0] x reps[1] x reps[2]`` supercell (periodic directions only)."""
        reps = [int(r) for r in reps]
        if len(reps) != 3 or min(reps) < 1 or any(r > 1 and not p for r, p in zip(reps, self.pbc, strict=True)):
            raise ValueError(f"supercell needs 3 repetitions >= 1, and 1 along non-periodic directions: {reps}")
        grid = np.stack(np.meshgrid(*[np.arange(r) for r in reps], indexing="ij"), -1).reshape(-1, 3)
        shifts = grid @ self.cell
        pos = (self.positions[None] + shifts[:, None]).reshape(-1, 3)
        tile = len(grid)
        return Crystal(pos, self.cell * np.asarray(reps, float)[:, None], self.pbc.copy(),
                       np.tile(self.species, (tile, 1)), np.tile(self.occupancy, (tile, 1)))


def _crystal(positions, cell, pbc, species_rows: list[list[tuple[int, float]]]) -> Crystal:
    n = len(species_rows)
    width = max((len(r) for r in species_rows), default=1)
    z = np.zeros((n, width), np.int64)
    occ = np.zeros((n, width), float)
    for i, row in enumerate(species_rows):
        row = sorted(row, key=lambda t: (-t[1], t[0]))  # by occupancy, ties by Z (same for every reader)
        z[i, :len(row)] = [t[0] for t in row]
        occ[i, :len(row)] = [t[1] for t in row]
    return Crystal(np.asarray(positions, float).reshape(n, 3), np.asarray(cell, float).reshape(3, 3),
                   np.asarray(pbc, bool).reshape(3), z, occ)


def _from_pymatgen(obj) -> Crystal:
    rows = []
    for site in obj.sites:
        row = []
        for sp, amt in site.species.items():
            z = getattr(getattr(sp, "element", sp), "Z", None)
            if z is None or not hasattr(sp, "symbol") or getattr(sp, "symbol", "") not in ELEMENTS[:MAX_Z]:
                # DummySpecies ("X", "Xx") have no element; report them by symbol
                raise ValueError(f"unknown species {getattr(sp, 'symbol', sp)!s}: a dummy species or not an element "
                                 f"with Z <= {MAX_Z}")
            row.append((int(z), float(amt)))
        rows.append(row)
    if hasattr(obj, "lattice"):
        return _crystal(obj.cart_coords, obj.lattice.matrix, [True] * 3, rows)
    return _crystal(obj.cart_coords, np.zeros((3, 3)), [False] * 3, rows)


def _from_ase(atoms) -> Crystal:
    z = np.asarray(atoms.numbers, np.int64)
    if len(z) and (z.min() < 1 or z.max() > MAX_Z):
        bad = int(z[(z < 1) | (z > MAX_Z)][0])
        raise ValueError(f"unknown species with atomic number {bad}: a dummy species or beyond 1..{MAX_Z}")
    occ = np.ones((len(z), 1))
    positions = np.asarray(atoms.positions, float)
    cell, pbc = np.array(atoms.cell.array, float), np.asarray(atoms.pbc, bool)
    empty = ~pbc & (np.linalg.norm(cell, axis=1) < 1e-8)
    if pbc.any() and empty.any():  # e.g. ase.build.graphene(vacuum=None): give the open directions a length
        cell = _fill_open_directions(cell, empty, positions)
    return Crystal(positions, cell, pbc, z[:, None], occ)


def _fill_open_directions(cell: np.ndarray, empty: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Replace zero cell vectors of non-periodic directions by orthogonal ones spanning the atoms + 10 Å."""
    cell = cell.copy()
    for k in np.flatnonzero(empty):
        others = cell[[i for i in range(3) if i != k]]
        normal = np.cross(others[0], others[1])
        if np.linalg.norm(normal) < 1e-8:  # a single periodic direction (a wire): any orthogonal vector
            ref = others[np.argmax(np.linalg.norm(others, axis=1))]
            normal = np.cross(ref, np.eye(3)[np.argmin(np.abs(ref))])
        normal /= np.linalg.norm(normal)
        extent = np.ptp(positions @ normal) if len(positions) else 0.0
        cell[k] = normal * (extent + 10.0)
    return cell


def to_crystal(obj: object, base_dir: str | Path | None = None) -> Crystal:
    """Convert a pymatgen / ASE object, a pymatgen dict, CIF text or a structure file path to a Crystal.

    Raises ``ValueError`` with the reason on anything it cannot read (callers add file, row and field)."""
    if isinstance(obj, Crystal):
        return obj
    if hasattr(obj, "sites") and hasattr(obj, "cart_coords"):
        return _from_pymatgen(obj)
    if hasattr(obj, "positions") and hasattr(obj, "numbers") and hasattr(obj, "pbc"):
        return _from_ase(obj)
    if isinstance(obj, dict):
        from metamat.data.structure_io import _pymatgen_from_dict

        return _from_pymatgen(_pymatgen_from_dict(obj))
    if isinstance(obj, str) and obj.strip():
        from metamat.data.structure_io import structure_from_cif_text, structure_from_file

        text = obj.strip()
        try:
            if "\n" in text or text.lower().startswith(("data_", "loop_", "_cell")):
                return _from_pymatgen(structure_from_cif_text(obj))
            path = Path(text)
            if not path.is_absolute() and base_dir is not None:
                path = Path(base_dir) / path
            return _from_pymatgen(structure_from_file(path))
        except ValueError:
            raise
        except Exception as exc:  # noqa: BLE001 - readers raise many types (OSError, KeyError, ...)
            raise ValueError(f"cannot read structure: {type(exc).__name__}: {exc}") from exc
    raise ValueError(f"not a structure: {type(obj).__name__}")


def _min_distance_violation(c: Crystal, min_distance: float) -> tuple[int, int, float] | None:
    """First pair of sites closer than ``min_distance`` whose occupancies sum to more than 1."""
    from metamat.geometry.neighbors import pair_list

    i, j, shift = pair_list(c.to_ase(), min_distance)
    if len(i) == 0:
        return None
    occ = c.site_occupancy
    bad = np.flatnonzero((i < j) & (occ[i] + occ[j] > 1.0 + 1e-6))
    if len(bad) == 0:
        return None
    k = bad[0]
    d = np.linalg.norm(c.positions[j[k]] - c.positions[i[k]] + shift[k] @ c.cell)
    return int(i[k]), int(j[k]), float(d)


def validate_crystal(c: Crystal, min_distance: float = MIN_DISTANCE,
                     density_range: tuple[float, float] = DENSITY_RANGE) -> Crystal:
    """Return ``c`` or raise ``ValueError`` naming what is physically wrong with it."""
    from ase.data import atomic_masses  # standard atomic weights (within 0.1% of the Magpie table's)

    if c.n_sites == 0:
        raise ValueError("empty structure (no sites)")
    if not np.all(np.isfinite(c.positions)) or not np.all(np.isfinite(c.cell)):
        raise ValueError("non-finite positions or cell")
    z = c.species[c.species > 0]
    if z.size == 0 or z.max() > MAX_Z:
        raise ValueError(f"unknown species (atomic numbers must be 1..{MAX_Z})")
    bad_occ = np.flatnonzero(np.any(c.occupancy < 0, axis=1) | (c.site_occupancy > 1.0 + 1e-3)
                             | (c.site_occupancy <= 0))
    if len(bad_occ):
        k = int(bad_occ[0])
        raise ValueError(f"site {k + 1}: occupancies {c.occupancy[k][c.species[k] > 0].tolist()} (sum "
                         f"{c.site_occupancy[k]:g}) must each be > 0 and sum to at most 1"
                         + (f"; {len(bad_occ) - 1} more such sites" if len(bad_occ) > 1 else ""))
    if np.any(c.pbc):
        vol = abs(np.linalg.det(c.cell))
        if vol < 1e-6:
            raise ValueError("periodic structure with an empty (zero-volume) cell")
        lengths = np.linalg.norm(c.cell, axis=1)
        if np.any(lengths[c.pbc] < 1e-3):
            raise ValueError(f"periodic direction with a zero-length cell vector: lengths {lengths.round(4).tolist()}")
        if np.all(c.pbc):
            mass = float((np.where(c.species > 0, atomic_masses[c.species], 0.0) * c.occupancy).sum())
            density = mass / vol * _AMU_PER_A3_TO_G_PER_CM3
            lo, hi = density_range
            if not lo <= density <= hi:
                raise ValueError(f"absurd density {density:.3g} g/cm^3 (allowed {lo}-{hi}); wrong cell or units?")
    hit = _min_distance_violation(c, min_distance)
    if hit is not None:
        i, j, d = hit
        raise ValueError(f"overlapping atoms: sites {i + 1} and {j + 1} are {d:.3f} Å apart "
                         f"(minimum {min_distance} Å)")
    return c


@dataclass(eq=False)
class StructureBatch:
    """Many crystals concatenated: sites of structure ``b`` are rows ``offsets[b]:offsets[b + 1]``."""

    positions: np.ndarray  # (N, 3)
    species: np.ndarray  # (N, S)
    occupancy: np.ndarray  # (N, S)
    cells: np.ndarray  # (B, 3, 3)
    pbc: np.ndarray  # (B, 3)
    offsets: np.ndarray  # (B + 1,)
    crystals: list[Crystal]

    @classmethod
    def from_crystals(cls, crystals: Sequence[Crystal]) -> StructureBatch:
        crystals = list(crystals)
        if not crystals:
            raise ValueError("no structures")
        width = max(c.species.shape[1] for c in crystals)

        def pad(a: np.ndarray) -> np.ndarray:
            return np.pad(a, ((0, 0), (0, width - a.shape[1])))

        counts = np.array([c.n_sites for c in crystals])
        return cls(np.concatenate([c.positions for c in crystals]),
                   np.concatenate([pad(c.species) for c in crystals]),
                   np.concatenate([pad(c.occupancy) for c in crystals]),
                   np.stack([c.cell for c in crystals]), np.stack([c.pbc for c in crystals]),
                   np.concatenate([[0], np.cumsum(counts)]), crystals)

    def __len__(self) -> int:
        return len(self.cells)

    @property
    def site_structure(self) -> np.ndarray:
        """Structure index of every site, (N,)."""
        return np.repeat(np.arange(len(self)), np.diff(self.offsets))

    @property
    def site_occupancy(self) -> np.ndarray:
        return self.occupancy.sum(axis=1)


@dataclass
class Edges:
    """Directed neighbour pairs of a batch within a cutoff (global site indices, sorted by centre)."""

    center: np.ndarray  # (E,)
    neighbor: np.ndarray  # (E,)
    vectors: np.ndarray  # (E, 3) r_neighbor - r_center (with the periodic image)
    distances: np.ndarray  # (E,)


def neighbor_list(batch: StructureBatch, cutoff: float) -> Edges:
    """Every directed pair closer than ``cutoff`` (Å) in every structure (matscipy's C list per structure)."""
    from metamat.geometry.neighbors import pair_list

    parts_i, parts_j, parts_v = [], [], []
    for b, c in enumerate(batch.crystals):
        i, j, shift = pair_list(c.to_ase(), cutoff)
        parts_i.append(i + batch.offsets[b])
        parts_j.append(j + batch.offsets[b])
        parts_v.append(c.positions[j] - c.positions[i] + shift @ c.cell)
    vec = np.concatenate(parts_v) if parts_v else np.zeros((0, 3))
    return Edges(np.concatenate(parts_i), np.concatenate(parts_j), vec, np.linalg.norm(vec, axis=1))


def crystals_from_objects(values: Sequence[object], source: str, field: str | None = None,
                          rows: Sequence[int] | None = None, base_dir: str | Path | None = None,
                          validate: bool = True) -> tuple[list[Crystal | None], list[Problem]]:
    """Convert and validate many structures; one :class:`Problem` (source, 1-based row, field, reason) per bad
    entry, ``None`` in its place."""
    rows = list(rows) if rows is not None else list(range(1, len(values) + 1))
    out: list[Crystal | None] = []
    problems: list[Problem] = []
    for value, row in zip(values, rows, strict=True):
        try:
            if value is None or (isinstance(value, float) and np.isnan(value)):
                raise ValueError("missing structure")
            c = to_crystal(value, base_dir=base_dir)
            out.append(validate_crystal(c) if validate else c)
        except Exception as exc:  # noqa: BLE001 - any reader failure becomes a reported problem
            shown = value if isinstance(value, str) and len(value) < 60 else None
            text = str(exc)
            path = value.strip() if isinstance(value, str) and "\n" not in value.strip() else None
            if path and path not in text:  # name the structure file
                text = f"{path}: {text}"
            problems.append(Problem(f"bad structure: {text}", source, int(row), field, shown))
            out.append(None)
    return out, problems


def crystals_or_raise(values: Sequence[object], source: str, field: str | None = None,
                      rows: Sequence[int] | None = None, base_dir: str | Path | None = None,
                      earlier: Sequence[Problem] = ()) -> list[Crystal]:
    """Like :func:`crystals_from_objects` but raise one :class:`InputError` listing every bad entry.

    ``earlier`` are structure problems a reader already found in the same table (rows it rejected, e.g.
    :attr:`RowReport.rejected` with this field): they are listed in the same error, so no bad row is
    dropped silently and none is used."""
    out, problems = crystals_from_objects(values, source, field, rows, base_dir)
    problems = sorted([*earlier, *problems], key=lambda p: p.row or 0)
    if problems:
        n = len(values) + len(earlier)
        raise InputError(f"{len(problems)} of {n} structures cannot be used", source=source,
                         field=field, problems=problems)
    return out  # type: ignore[return-value]
