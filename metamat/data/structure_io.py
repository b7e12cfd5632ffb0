"""Structure parsing for the readers: CIF text (a fast path for simple P1 files), structure files (CIF,
POSCAR/CONTCAR, (ext)xyz), pymatgen dicts, and columns of them with one :class:`Problem` per bad cell.

Objects here are pymatgen ``Structure``/``Molecule``; :mod:`metamat.data.structures` turns them into the
internal :class:`~metamat.data.structures.Crystal` form with physical validation.
"""

from __future__ import annotations

import gzip
import io
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from metamat.data.formula import ATOMIC_NUMBER
from metamat.errors import Problem

# --- structures ---------------------------------------------------------------------------------------
_CELL_KEYS = ("_cell_length_a", "_cell_length_b", "_cell_length_c", "_cell_angle_alpha", "_cell_angle_beta",
              "_cell_angle_gamma")
_IDENTITY_OP = re.compile(r"^'?\s*x\s*,\s*y\s*,\s*z\s*'?$", re.IGNORECASE)
_UNIT_OCCUPANCY = frozenset({"1", "1.0", "1.00", "1.000", "1.0000", "1.00000", "1.000000"})


def _fast_p1_cif(text: str):
    """Parse a simple single-block P1 CIF (as pymatgen writes them) without pymatgen's CifParser.

    Returns None for anything else (symmetry operations, partial occupancy, oxidation states, several
    blocks); the caller then uses pymatgen. Mirrors CifParser: 1/3 and 2/3 snapping (tolerance 1e-4),
    wrapping into [0, 1) and ``get_sorted_structure``. About 9x faster; checked equal to CifParser on the
    shared CIF datasets (tests/data).
    """
    from pymatgen.core import Lattice, Structure

    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if sum(ln.startswith("data_") for ln in lines) != 1:
        return None
    cell: dict[str, str] = {}
    loops: list[tuple[list[str], list[str]]] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if line == "loop_":
            heads: list[str] = []
            i += 1
            while i < n and lines[i].startswith("_"):
                heads.append(lines[i])
                i += 1
            body: list[str] = []
            while i < n and not lines[i].startswith(("_", "loop_", "data_")):
                body.append(lines[i])
                i += 1
            loops.append((heads, body))
            continue
        if line.startswith("_"):
            parts = line.split(None, 1)
            if parts[0] in _CELL_KEYS:
                if len(parts) != 2:
                    return None
                cell[parts[0]] = parts[1]
            elif parts[0] in ("_symmetry_space_group_name_H-M", "_space_group_name_H-M_alt"):
                if len(parts) != 2 or parts[1].strip("'\" ").replace(" ", "") != "P1":
                    return None
        elif not line.startswith("data_"):
            return None  # multi-line values or anything unusual
        i += 1
    if len(cell) != 6:
        return None
    try:
        params = [float(cell[k]) for k in _CELL_KEYS]
    except ValueError:
        return None
    sites = None
    for heads, body in loops:
        if heads[0].startswith(("_symmetry_equiv_pos", "_space_group_symop")):
            ops = [row.split(None, 1)[-1] if len(heads) > 1 else row for row in body]
            if len(ops) != 1 or not _IDENTITY_OP.match(ops[0]):
                return None
        elif heads[0].startswith("_atom_site_") and "_atom_site_fract_x" in heads and sites is None:
            sites = (heads, body)
        else:
            return None
    if sites is None:
        return None
    heads, body = sites
    try:
        ks = heads.index("_atom_site_type_symbol")
        kx, ky, kz = (heads.index(f"_atom_site_fract_{c}") for c in "xyz")
    except ValueError:
        return None
    kl = heads.index("_atom_site_label") if "_atom_site_label" in heads else ks
    ko = heads.index("_atom_site_occupancy") if "_atom_site_occupancy" in heads else None
    species, labels, coords = [], [], []
    for row in body:
        f = row.split()
        if len(f) != len(heads) or f[ks] not in ATOMIC_NUMBER or (ko is not None and f[ko] not in _UNIT_OCCUPANCY):
            return None
        try:
            coords.append((float(f[kx]), float(f[ky]), float(f[kz])))
        except ValueError:
            return None
        species.append(f[ks])
        labels.append(f[kl])
    if not species:
        return None
    c = np.array(coords)
    for v in (1 / 3, 2 / 3):
        c[np.abs(c / v - 1) <= 1e-4] = v
    c = c - np.floor(c)
    return Structure(Lattice.from_parameters(*params), species, c, labels=labels).get_sorted_structure()


_CIF_TOKEN = re.compile(r"'[^']*'|\"[^\"]*\"|\S+")
_ESU = re.compile(r"\(\d+\)$")  # a standard uncertainty: 5.431(2)


def _cif_number(token: str) -> float | None:
    try:
        return float(_ESU.sub("", token))
    except ValueError:
        return None  # "?" or "." (unknown): pymatgen decides


def check_cif_text(text: str) -> None:
    """Raise ValueError for what pymatgen would silently repair or drop: cell lengths <= 0, angles outside
    (0, 180) or a cell without volume, and site occupancies outside (0, 1] (naming the site)."""
    lines = [ln.strip() for ln in text.splitlines()]
    cell: dict[str, float] = {}
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if line.startswith(_CELL_KEYS):
            parts = line.split()
            value = _cif_number(parts[1]) if len(parts) > 1 else None
            if parts[0] in _CELL_KEYS and value is not None:
                cell[parts[0]] = value
        elif line == "loop_" or line.startswith("loop_ "):
            heads: list[str] = []
            i += 1
            while i < n and lines[i].startswith("_"):
                heads.append(lines[i].split()[0])
                i += 1
            tokens: list[str] = []
            while i < n and not lines[i].startswith(("_", "loop_", "data_", ";")):
                if not lines[i].startswith("#"):
                    tokens += _CIF_TOKEN.findall(lines[i])
                i += 1
            if "_atom_site_occupancy" in heads and len(tokens) % len(heads) == 0:
                ko = heads.index("_atom_site_occupancy")
                kl = heads.index("_atom_site_label") if "_atom_site_label" in heads else None
                kxyz = [heads.index(f"_atom_site_fract_{c}") for c in "xyz" if f"_atom_site_fract_{c}" in heads]
                at_position: dict[tuple, list[tuple[str, float]]] = {}
                for r in range(len(tokens) // len(heads)):
                    row = tokens[r * len(heads):(r + 1) * len(heads)]
                    occ = _cif_number(row[ko])
                    label = row[kl] if kl is not None else f"#{r + 1}"
                    if occ is not None and not 0.0 < occ <= 1.0 + 1e-3:
                        raise ValueError(f"site {label}: occupancy {row[ko]} is not in (0, 1]")
                    if occ is not None and len(kxyz) == 3:
                        at_position.setdefault(tuple(row[k] for k in kxyz), []).append((label, occ))
                for position, group in at_position.items():
                    total = sum(o for _, o in group)
                    if total > 1.0 + 1e-3:
                        raise ValueError(f"sites {', '.join(lb for lb, _ in group)} at {' '.join(position)}: "
                                         f"occupancies sum to {total:g}, more than 1")
            continue
        i += 1
    lengths = [cell[k] for k in _CELL_KEYS[:3] if k in cell]
    if any(not v > 0 for v in lengths):
        raise ValueError(f"cell lengths must be positive, got {lengths}")
    angles = [cell[k] for k in _CELL_KEYS[3:] if k in cell]
    if any(not 0 < v < 180 for v in angles):
        raise ValueError(f"cell angles must be between 0 and 180 degrees, got {angles}")
    if len(angles) == 3:
        ca, cb, cg = np.cos(np.radians(angles))
        if 1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg <= 1e-10:
            raise ValueError(f"cell angles {angles} give no volume")


def structure_from_cif_text(text: str):
    """A pymatgen Structure from CIF text (first block); disordered sites are kept. Raises on bad input
    (see :func:`check_cif_text` for what is checked before pymatgen reads it)."""
    check_cif_text(text)
    fast = _fast_p1_cif(text)
    if fast is not None:
        return fast
    from pymatgen.io.cif import CifParser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        structures = CifParser.from_str(text).parse_structures(primitive=False, on_error="raise")
    if not structures:
        raise ValueError("no structure in the CIF text")
    return structures[0]


def _atoms_to_pymatgen(atoms):
    from pymatgen.io.ase import AseAtomsAdaptor

    if atoms.pbc.any() and atoms.cell.volume > 1e-8:
        return AseAtomsAdaptor.get_structure(atoms)
    return AseAtomsAdaptor.get_molecule(atoms)


def structure_from_file(path: str | Path):
    """A Structure (or Molecule) from a CIF, POSCAR/CONTCAR/.vasp, (ext)xyz or pymatgen-readable file.

    POSCAR and CIF text is checked first (:func:`check_poscar_text`, :func:`check_cif_text`); a ValueError
    names the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"structure file not found: {path}")
    try:
        return _structure_from_file(path)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _structure_from_file(path: Path):
    name = path.name.lower()
    if name.endswith((".cif", ".cif.gz")):
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            return structure_from_cif_text(fh.read())
    if name.endswith((".xyz", ".extxyz", ".xyz.gz", ".extxyz.gz")):
        import ase.io

        return _atoms_to_pymatgen(ase.io.read(_text_stream(path), index=0, format="extxyz"))
    from pymatgen.core import Structure

    if _is_poscar_name(name):
        text = path.read_text(encoding="utf-8", errors="replace")
        check_poscar_text(text)
        from pymatgen.io.vasp import Poscar

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Poscar.from_str(text).structure
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Structure.from_file(path)


def _is_poscar_name(name: str) -> bool:
    return name.endswith((".vasp", ".poscar")) or "poscar" in name or "contcar" in name


def _floats(line: str, count: int) -> list[float] | None:
    parts = line.split()
    if len(parts) < count:
        return None
    try:
        return [float(p) for p in parts[:count]]
    except ValueError:
        return None


def check_poscar_text(text: str) -> None:
    """Raise ValueError for a POSCAR that pymatgen would read wrongly: no species line (VASP 4), species and
    counts of different lengths, counts that do not match the coordinate lines, a zero scale, a cell
    without volume or a left-handed cell (negative volume)."""
    lines = text.splitlines()
    if len(lines) < 8:
        raise ValueError(f"POSCAR too short ({len(lines)} lines)")
    scale = _floats(lines[1], 1)
    if scale is None or scale[0] == 0 or not np.isfinite(scale[0]):
        raise ValueError(f"line 2: scale factor {lines[1].strip()!r} is not a non-zero number")
    vectors = [_floats(lines[k], 3) for k in (2, 3, 4)]
    if any(v is None for v in vectors):
        raise ValueError("lines 3-5 must hold the three lattice vectors")
    det = float(np.linalg.det(np.array(vectors)))
    if not abs(det) > 1e-6:
        raise ValueError("the lattice vectors span no volume")
    if det < 0:  # VASP refuses this too ("the triple product of the basis vectors is negative")
        raise ValueError("the lattice vectors are left-handed (negative cell volume); swap two of them")
    species = lines[5].split()
    if all(p.lstrip("+-").isdigit() for p in species):
        raise ValueError("no species line (VASP 4 format): add a line with the element symbols above the counts")
    unknown = [p for p in species if p.split("/")[0].split("_")[0] not in ATOMIC_NUMBER]
    if unknown:
        raise ValueError(f"line 6: unknown species {unknown}")
    try:
        counts = [int(p) for p in lines[6].split()]
    except ValueError:
        raise ValueError(f"line 7: counts {lines[6].strip()!r} are not whole numbers") from None
    if len(counts) != len(species) or min(counts, default=0) < 1:
        raise ValueError(f"{len(species)} species {species} but counts {counts}: one positive count per species")
    k = 7
    if lines[k].strip()[:1].lower() == "s":  # Selective dynamics
        k += 1
    if k >= len(lines) or lines[k].strip()[:1].lower() not in ("d", "c", "k"):
        raise ValueError(f"line {k + 1}: expected 'Direct' or 'Cartesian'")
    n = sum(counts)
    coords = lines[k + 1:k + 1 + n]
    if len(coords) < n or any(_floats(c, 3) is None for c in coords):
        good = sum(1 for c in coords if _floats(c, 3) is not None)
        raise ValueError(f"counts sum to {n} atoms but only {good} coordinate lines follow")
    extra = lines[k + 1 + n] if len(lines) > k + 1 + n else ""
    if extra.strip() and _floats(extra, 3) is not None:
        more = sum(1 for c in lines[k + 1 + n:] if c.strip() and _floats(c, 3) is not None)
        raise ValueError(f"counts sum to {n} atoms but {n + more} coordinate lines follow")
    if not np.all(np.isfinite([_floats(c, 3) for c in coords])):
        raise ValueError("non-finite coordinates")


def _is_structure(value: object) -> bool:
    return hasattr(value, "composition") and hasattr(value, "sites")


def _row_numbers(df: pd.DataFrame) -> np.ndarray:
    return (df["source_row"].to_numpy(dtype=np.int64) if "source_row" in df.columns
            else np.arange(1, len(df) + 1, dtype=np.int64))


def parse_cif_column(df: pd.DataFrame, column: str, source: str, *, base_dir: str | Path | None = None
                     ) -> tuple[np.ndarray, list[Problem]]:
    """Structures from a column of CIF text (or paths to structure files relative to ``base_dir``).

    Cells may also hold pymatgen objects (passed through) or their dicts (``Structure.as_dict()``). Returns
    an object array aligned with the rows (None where a cell could not be read) and one :class:`Problem` per
    bad cell (1-based data row, from ``df['source_row']`` when present).
    """
    rows = _row_numbers(df)
    out = np.full(len(df), None, dtype=object)
    problems: list[Problem] = []
    base = Path(base_dir) if base_dir is not None else None
    for k, value in enumerate(df[column].to_numpy(dtype=object)):
        try:
            if _is_structure(value):
                out[k] = value
            elif isinstance(value, dict):
                out[k] = _pymatgen_from_dict(value)
            elif isinstance(value, Exception):  # a reader's earlier failure, reported here with its row
                raise value
            elif not isinstance(value, str) or not value.strip():
                problems.append(Problem("bad structure: missing structure", source, int(rows[k]), column, None))
            elif "\n" in value or value.lstrip().lower().startswith(("data_", "loop_", "_cell")):
                out[k] = structure_from_cif_text(value)
            else:
                p = Path(value.strip())
                out[k] = structure_from_file(p if p.is_absolute() or base is None else base / p)
        except Exception as exc:  # noqa: BLE001 - any parser failure becomes a reported problem
            shown = value if not isinstance(value, str) or len(value) < 60 else value[:57] + "..."
            problems.append(Problem(f"bad structure: {type(exc).__name__}: {exc}".strip(), source, int(rows[k]),
                                    column, shown))
    return out, problems


def _text_stream(path: Path) -> io.StringIO:
    """The whole (possibly compressed) text file in memory: ase reads a StringIO far faster than a .gz path."""
    import bz2
    import lzma

    openers = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
    opener = openers.get(path.suffix.lower(), open)
    with opener(path, "rt", encoding="utf-8") as fh:
        return io.StringIO(fh.read())


def _pymatgen_from_dict(d: dict):
    from pymatgen.core import Molecule, Structure

    return Molecule.from_dict(d) if d.get("@class") == "Molecule" else Structure.from_dict(d)
