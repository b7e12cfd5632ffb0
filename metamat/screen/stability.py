"""Thermodynamic stability of candidates: predicted formation energy against the convex hull of known phases.

For each chemical system a pymatgen ``PhaseDiagram`` of the known phases (formation energies per atom, e.g.
the CritExam / Materials Project table, plus every element at 0) is built once and cached. Its lower-hull
facets are turned into affine functions of the composition; the hull is convex, so the hull energy at any
composition of the system (sub-systems included) is the largest of them: ``E_hull(x) = max_f (a_f . x)``,
one matrix product for a whole batch. Then ``e_hull = E_f(pred) - E_hull(x)`` (negative: predicted below
the known hull), its std is that of the predicted formation energy (the DFT hull is taken as exact), and
``P(e_hull < threshold) = Phi((threshold - e_hull) / std)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd
from scipy.special import ndtr

from metamat.data.compositions import CompositionArrays, parse_formulas
from metamat.data.formula import ELEMENTS
from metamat.screen.filters import FilterReport


@dataclass
class KnownPhases:
    """Known phases: composition fractions and formation energy per atom, indexed by chemical system."""

    comps: CompositionArrays
    energy: np.ndarray
    by_system: dict[frozenset, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_frame(cls, df: pd.DataFrame, formula: str = "formula", energy: str = "target",
                   source: str | None = None) -> KnownPhases:
        parsed = parse_formulas(df[formula].tolist(), source=source, field=formula)
        # parse_formulas collapses duplicate formulas: keep the lowest energy of each composition
        e = pd.Series(df[energy].to_numpy(float)).groupby(parsed.codes).min()
        comps = parsed.compositions
        systems = [frozenset(comps.z[a:b].tolist()) for a, b in zip(comps.offsets[:-1], comps.offsets[1:],
                                                                    strict=True)]
        index = pd.Series(np.arange(len(comps))).groupby(pd.Series(systems, dtype=object)).agg(list)
        return cls(comps, e.reindex(np.arange(len(comps))).to_numpy(), {k: np.asarray(v) for k, v in index.items()})

    def within(self, z: Sequence[int]) -> np.ndarray:
        """Indices of the known phases whose elements all lie in ``z``."""
        z = sorted(z)
        parts = [self.by_system.get(frozenset(s)) for k in range(1, len(z) + 1) for s in combinations(z, k)]
        parts = [p for p in parts if p is not None]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def build_phase_diagram(z: Sequence[int], fractions: np.ndarray, energies: np.ndarray):
    """pymatgen PhaseDiagram of phases (fractions over ``z``, formation energy per atom) + elements at 0."""
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
    from pymatgen.core import Composition

    symbols = [ELEMENTS[i - 1] for i in z]
    entries = [PDEntry(Composition({s: 1}), 0.0) for s in symbols]
    for frac, e in zip(fractions, energies, strict=True):
        entries.append(PDEntry(Composition(dict(zip(symbols, frac, strict=True))), float(e)))
    return PhaseDiagram(entries, elements=[Composition(s).elements[0] for s in symbols])


def hull_planes(pd_) -> np.ndarray:
    """Affine functions of the lower-hull facets: array (facets, k) with ``E_hull(x) = max(planes @ x)``
    for fractions ``x`` over the diagram's elements (in ``pd_.elements`` order)."""
    k = len(pd_.elements)
    if k == 1:
        return np.zeros((1, 1))
    data = np.asarray(pd_.qhull_data)  # columns: fractions of elements[1:], energy per atom
    planes = []
    for facet in pd_.facets:
        pts = data[facet]
        frac = np.hstack([1.0 - pts[:, :-1].sum(axis=1, keepdims=True), pts[:, :-1]])  # full fractions
        try:
            w = np.linalg.solve(frac, pts[:, -1])
        except np.linalg.LinAlgError:
            continue
        if np.all(np.isfinite(w)):
            planes.append(w)
    return np.array(planes)


@dataclass
class HullCache:
    """One phase diagram per chemical system (built on first use), as facet planes."""

    phases: KnownPhases | None = None
    planes: dict[tuple[int, ...], np.ndarray] = field(default_factory=dict)

    def system_planes(self, z: tuple[int, ...]) -> np.ndarray:
        if z not in self.planes:
            if self.phases is None or len(z) == 1:
                self.planes[z] = np.zeros((1, len(z)))  # only the elements, at 0
            else:
                idx = self.phases.within(z)
                frac = _dense(self.phases.comps, idx, z)
                self.planes[z] = hull_planes(build_phase_diagram(z, frac, self.phases.energy[idx]))
        return self.planes[z]

    def hull_energy(self, z_columns: Sequence[int], fractions: np.ndarray) -> np.ndarray:
        """Hull energy per atom at each row of ``fractions`` (n, len(z_columns)); rows grouped by system."""
        fractions = np.asarray(fractions, float)
        out = np.zeros(len(fractions))
        present = fractions > 0
        keys, inverse = np.unique(present, axis=0, return_inverse=True)
        z_columns = np.asarray(z_columns)
        for p, pattern in enumerate(keys):
            rows = np.flatnonzero(inverse.ravel() == p)
            cols = np.flatnonzero(pattern)
            order = np.argsort(z_columns[cols])
            cols = cols[order]
            planes = self.system_planes(tuple(int(v) for v in z_columns[cols]))
            out[rows] = (fractions[np.ix_(rows, cols)] @ planes.T).max(axis=1)
        return out


def _dense(comps: CompositionArrays, idx: np.ndarray, z: Sequence[int]) -> np.ndarray:
    """Fractions of materials ``idx`` over the columns ``z`` (all their elements lie in z)."""
    col = {v: j for j, v in enumerate(z)}
    out = np.zeros((len(idx), len(z)))
    for r, i in enumerate(idx):
        a, b = comps.offsets[i], comps.offsets[i + 1]
        out[r, [col[v] for v in comps.z[a:b].tolist()]] = comps.fractions[a:b]
    return out


@dataclass
class StabilityResult:
    formation_energy: np.ndarray
    formation_std: np.ndarray
    hull_energy: np.ndarray
    e_hull: np.ndarray
    p_stable: np.ndarray


def predict_stability(fractions: np.ndarray, z_columns: Sequence[int], formation: np.ndarray,
                      formation_std: np.ndarray, hulls: HullCache, threshold: float = 0.1) -> StabilityResult:
    """e_hull with std and P(e_hull < threshold) from predicted formation energies (eV/atom)."""
    hull = hulls.hull_energy(z_columns, fractions)
    e_hull = formation - hull
    std = np.maximum(formation_std, 1e-9)
    return StabilityResult(formation, formation_std, hull, e_hull, ndtr((threshold - e_hull) / std))


@dataclass
class StabilityFilter:
    """Keep candidates with P(e_hull < threshold) >= min_probability."""

    threshold: float = 0.1
    min_probability: float = 0.5
    name: str = "stability"

    def apply(self, result: StabilityResult) -> tuple[np.ndarray, FilterReport]:
        ok = result.p_stable >= self.min_probability
        report = FilterReport(self.name, len(ok), int(ok.sum()))
        if (~ok).any():
            report.removed[f"P(e_hull < {self.threshold:g} eV/atom) < {self.min_probability:g}"] = int((~ok).sum())
        return ok, report


def load_known_phases(data_dir=None) -> KnownPhases | None:
    """The CritExam (Materials Project) formation energies from the shared data folder, or None if absent."""
    from metamat.data.registry import dataset_path

    path = dataset_path("CritExam__Ef", data_dir)
    if path is None or not path.exists():
        return None
    return KnownPhases.from_frame(pd.read_csv(path), source=str(path))
