"""Read structures with reference energies and forces (extxyz and anything ASE reads).

Files name the same quantities differently (info ``energy``/``Energy``/``free_energy``/``REF_energy``,
arrays ``forces``/``force``/``REF_forces``; ASE may also have moved them into a calculator). Every frame
returned carries them in one place: ``atoms.info["energy"]`` (total, eV) and ``atoms.arrays["forces"]``
(eV/Å). The returned list has a ``report`` (frames read / used / rejected and why).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

from metamat.errors import InputError

ENERGY_KEYS = ("energy", "Energy", "free_energy", "total_energy", "dft_energy", "DFT_energy", "REF_energy",
               "energy_dft", "E")
FORCES_KEYS = ("forces", "force", "Forces", "dft_forces", "DFT_force", "DFT_forces", "REF_forces",
               "forces_dft", "F")


@dataclass
class FrameReport:
    """What happened to each frame of a file (frames numbered from 1)."""

    source: str
    read: int = 0
    used: int = 0
    energy_key: str | None = None
    forces_key: str | None = None
    rejected: list[tuple[int, str]] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)  # file frame number (1-based) of each used frame

    def summary(self) -> str:
        text = (f"{self.source}: read {self.read} frames, used {self.used}, rejected {len(self.rejected)}"
                f" (energy key '{self.energy_key}', forces key '{self.forces_key}')")
        for frame, why in self.rejected[:10]:
            text += f"\n  frame {frame}: {why}"
        return text


class FrameList(list):
    """A plain ``list[Atoms]`` that also carries the :class:`FrameReport` of the file it came from."""

    report: FrameReport


def _calc_results(atoms: Atoms) -> dict:
    calc = atoms.calc
    return dict(getattr(calc, "results", {}) or {}) if calc is not None else {}


def _lookup(atoms: Atoms, key: str, per_atom: bool):
    """Value stored under ``key`` in arrays/info or the calculator results, else None."""
    store = atoms.arrays if per_atom else atoms.info
    if key in store:
        return store[key]
    res = _calc_results(atoms)
    return res.get(key)


def _available(atoms: Atoms) -> list[str]:
    keys = set(atoms.info) | (set(atoms.arrays) - {"numbers", "positions"}) | set(_calc_results(atoms))
    return sorted(keys)


def _pick_key(frames: list[Atoms], candidates: tuple[str, ...], per_atom: bool) -> str | None:
    for key in candidates:
        if any(_lookup(a, key, per_atom) is not None for a in frames):
            return key
    lower = {c.lower() for c in candidates}
    for key in _available(frames[0]):
        if key.lower() in lower and any(_lookup(a, key, per_atom) is not None for a in frames):
            return key
    return None


def read_frames(path: str | os.PathLike, energy_key: str | None = None, forces_key: str | None = None,
                index: str | int | slice = ":", require_forces: bool = True) -> FrameList:
    """Read frames with total energies (eV) and forces (eV/Å) attached uniformly.

    ``energy_key``/``forces_key`` name the info/array keys; by default the first of :data:`ENERGY_KEYS`
    and :data:`FORCES_KEYS` present in the file is used. Frames whose value is missing, has the wrong
    shape or is not finite are rejected (listed in ``.report``); an InputError names the file if no frame
    has an energy (or forces, when ``require_forces``) or no frame is usable.
    """
    import ase.io

    source = os.fspath(path)
    if not os.path.exists(source):
        raise InputError("file not found", source=source)
    try:
        raw = ase.io.read(source, index=index)
    except Exception as exc:  # ASE raises many kinds of errors on malformed files
        raise InputError(f"cannot read structures: {exc}", source=source) from exc
    frames = list(raw) if isinstance(raw, list) else [raw]
    if not frames:
        raise InputError("file holds no structures", source=source)
    e_key = energy_key or _pick_key(frames, ENERGY_KEYS, per_atom=False)
    f_key = forces_key or _pick_key(frames, FORCES_KEYS, per_atom=True)
    if e_key is None or all(_lookup(a, e_key, False) is None for a in frames):
        raise InputError(f"no energy found (looked for {list((energy_key,) if energy_key else ENERGY_KEYS)});"
                         f" keys present: {_available(frames[0])}", source=source, field=energy_key)
    if require_forces and (f_key is None or all(_lookup(a, f_key, True) is None for a in frames)):
        raise InputError(f"no forces found (looked for {list((forces_key,) if forces_key else FORCES_KEYS)});"
                         f" keys present: {_available(frames[0])}", source=source, field=forces_key)
    report = FrameReport(source=source, read=len(frames), energy_key=e_key, forces_key=f_key)
    out = FrameList()
    for n, atoms in enumerate(frames, start=1):
        why = _attach(atoms, e_key, f_key, require_forces)
        if why:
            report.rejected.append((n, why))
        else:
            out.append(atoms)
            report.frames.append(n)
    report.used = len(out)
    out.report = report
    if not out:
        first = report.rejected[0]
        raise InputError(f"no usable frame (frame {first[0]}: {first[1]})", source=source, row=first[0])
    return out


def _attach(atoms: Atoms, e_key: str, f_key: str | None, require_forces: bool) -> str | None:
    """Move energy/forces to ``info['energy']``/``arrays['forces']``; return a rejection reason or None."""
    energy = _lookup(atoms, e_key, per_atom=False)
    if energy is None:
        return f"no '{e_key}'"
    try:
        energy = float(np.asarray(energy).reshape(()))
    except (TypeError, ValueError):
        return f"'{e_key}' is not a number"
    if not np.isfinite(energy):
        return f"'{e_key}' is not finite"
    forces = _lookup(atoms, f_key, per_atom=True) if f_key else None
    if forces is None and require_forces:
        return f"no '{f_key}'"
    if forces is not None:
        forces = np.asarray(forces, dtype=float)
        if forces.shape != (len(atoms), 3):
            return f"'{f_key}' has shape {forces.shape}, expected ({len(atoms)}, 3)"
        if not np.all(np.isfinite(forces)):
            return f"'{f_key}' is not finite"
    atoms.calc = None
    atoms.info["energy"] = energy
    if f_key and f_key != "forces" and f_key in atoms.arrays:
        del atoms.arrays[f_key]
    if forces is not None:
        atoms.arrays["forces"] = forces.copy()
    return None


def frame_energy(atoms: Atoms) -> float:
    """Reference total energy (eV): ``info['energy']`` as set by :func:`read_frames`, else the calculator's."""
    if "energy" in atoms.info:
        return float(atoms.info["energy"])
    res = _calc_results(atoms)
    for key in ("energy", "free_energy"):
        if key in res:
            return float(res[key])
    raise InputError("frame has no reference energy (read it with metamat.data.frames.read_frames)",
                     field="energy")


def frame_forces(atoms: Atoms) -> np.ndarray:
    """Reference forces (eV/Å): ``arrays['forces']`` as set by :func:`read_frames`, else the calculator's."""
    if "forces" in atoms.arrays:
        return np.asarray(atoms.arrays["forces"], dtype=float)
    res = _calc_results(atoms)
    if "forces" in res:
        return np.asarray(res["forces"], dtype=float)
    raise InputError("frame has no reference forces (read it with metamat.data.frames.read_frames)",
                     field="forces")


def frame_numbers(frames) -> list[int]:
    """File frame numbers (1-based) of ``frames``: from its report when it came from :func:`read_frames`."""
    report = getattr(frames, "report", None)
    numbers = list(getattr(report, "frames", []) or [])
    return numbers if len(numbers) == len(frames) else list(range(1, len(frames) + 1))


def frame_source(frames) -> str | None:
    """The file ``frames`` were read from, if known."""
    return getattr(getattr(frames, "report", None), "source", None)


def check_frames(frames, elements: list[str] | None = None, min_distance: float | None = None,
                 what: str = "frames", source: str | None = None) -> None:
    """Raise one InputError listing every frame (file and frame number) with atoms closer than
    ``min_distance`` Å (default: :data:`metamat.data.structures.MIN_DISTANCE`), with non-finite positions
    or cell, or with elements outside ``elements``."""
    from ase.data import chemical_symbols

    from metamat.data.structures import MIN_DISTANCE
    from metamat.errors import Problem
    from metamat.geometry.neighbors import pair_list

    cutoff = MIN_DISTANCE if min_distance is None else min_distance
    source, numbers = source or frame_source(frames), frame_numbers(frames)
    allowed = None if elements is None else set(elements)
    problems = []
    for atoms, n in zip(frames, numbers, strict=True):
        if not (np.all(np.isfinite(atoms.positions)) and np.all(np.isfinite(atoms.cell.array))):
            problems.append(Problem("non-finite positions or cell", source, n, "positions"))
            continue
        if allowed is not None:
            foreign = sorted({chemical_symbols[z] for z in atoms.numbers} - allowed)
            if foreign:
                problems.append(Problem(f"elements {foreign} are not in the potential ({sorted(allowed)})",
                                        source, n, "numbers"))
                continue
        try:
            i, j, shift = pair_list(atoms, cutoff)
        except ValueError as exc:  # e.g. a periodic frame with a zero-volume cell
            problems.append(Problem(str(exc), source, n, "cell"))
            continue
        if len(i):
            k = int(np.argmin(np.linalg.norm(atoms.positions[j] - atoms.positions[i] + shift @ atoms.cell.array,
                                             axis=1)))
            d = float(np.linalg.norm(atoms.positions[j[k]] - atoms.positions[i[k]] + shift[k] @ atoms.cell.array))
            problems.append(Problem(f"atoms {int(i[k]) + 1} and {int(j[k]) + 1} are {d:.3f} Å apart (minimum "
                                    f"{cutoff} Å): overlapping atoms", source, n, "positions"))
    if problems:
        raise InputError(f"{len(problems)} of {len(frames)} {what} cannot be used", source=source,
                         problems=problems)
