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


def structure_from_cif_text(text: str):
    """A pymatgen Structure from CIF text (first block); disordered sites are kept. Raises on bad input."""
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
    """A Structure (or Molecule) from a CIF, POSCAR/CONTCAR/.vasp, (ext)xyz or pymatgen-readable file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"structure file not found: {path}")
    name = path.name.lower()
    if name.endswith((".cif", ".cif.gz")):
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            return structure_from_cif_text(fh.read())
    if name.endswith((".xyz", ".extxyz", ".xyz.gz", ".extxyz.gz")):
        import ase.io

        return _atoms_to_pymatgen(ase.io.read(_text_stream(path), index=0, format="extxyz"))
    from pymatgen.core import Structure

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Structure.from_file(path)


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
