"""Vectorized composition featurizers.

Each featurizer maps :class:`~metamat.data.compositions.CompositionArrays` (all materials of a batch in
compressed-row form) to a feature matrix with array operations only: element-table gathers and
``ufunc.reduceat`` over each material's entries. No Python loop runs per material.

Feature labels follow matminer's so that results can be compared column by column.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from metamat.data.compositions import CompositionArrays
from metamat.data.formula import ELEMENTS
from metamat.errors import InputError
from metamat.featurize.elements import load_element_table

WARD_2016 = (
    "L. Ward, A. Agrawal, A. Choudhary, C. Wolverton, A general-purpose machine learning framework for "
    "predicting properties of inorganic materials, npj Comput. Mater. 2, 16028 (2016)."
)
DEML_2016 = (
    "A. M. Deml, R. O'Hayre, C. Wolverton, V. Stevanovic, Predicting density functional theory total "
    "energies and enthalpies of formation of metal-nonmetal compounds by linear regression, "
    "Phys. Rev. B 93, 085142 (2016)."
)
PAULING_1960 = "L. Pauling, The Nature of the Chemical Bond, 3rd ed., Cornell University Press (1960)."

MAGPIE_PROPERTIES: tuple[str, ...] = (
    "Number", "MendeleevNumber", "AtomicWeight", "MeltingT", "Column", "Row", "CovalentRadius",
    "Electronegativity", "NsValence", "NpValence", "NdValence", "NfValence", "NValence", "NsUnfilled",
    "NpUnfilled", "NdUnfilled", "NfUnfilled", "NUnfilled", "GSvolume_pa", "GSbandgap", "GSmagmom",
    "SpaceGroupNumber",
)
MAGPIE_STATS: tuple[str, ...] = ("minimum", "maximum", "range", "mean", "avg_dev", "mode")


class CompositionFeaturizer(ABC):
    """A featurizer of compositions: ``featurize(comps)`` returns an (n_materials, n_features) array."""

    name: str = ""

    @abstractmethod
    def feature_labels(self) -> list[str]: ...

    @abstractmethod
    def citations(self) -> list[str]: ...

    @abstractmethod
    def featurize(self, comps: CompositionArrays) -> np.ndarray: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ElementFraction(CompositionFeaturizer):
    """Atomic fraction of each element H..Lr (103 columns)."""

    name = "fractions"

    def feature_labels(self) -> list[str]:
        return list(ELEMENTS)

    def citations(self) -> list[str]:
        return [WARD_2016]

    def featurize(self, comps: CompositionArrays) -> np.ndarray:
        return comps.dense_fractions(len(ELEMENTS))


class ElementPropertyStats(CompositionFeaturizer):
    """Fraction-weighted statistics of element properties (Magpie, Ward et al. 2016).

    Statistics: ``minimum``, ``maximum``, ``range``, ``mean`` (fraction-weighted), ``avg_dev`` (weighted
    mean absolute deviation from the mean) and ``mode`` (property of the most abundant element; ties go to
    the smallest value, with matminer's ``np.isclose`` tie rule on the amounts as written).
    ``impute_nan=True`` replaces missing element data by the table's mean, as matminer does by default.
    """

    name = "magpie"

    def __init__(self, properties: Sequence[str] = MAGPIE_PROPERTIES, stats: Sequence[str] = MAGPIE_STATS,
                 impute_nan: bool = True):
        self.properties = tuple(properties)
        self.stats = tuple(stats)
        self.impute_nan = impute_nan
        unknown = set(self.stats) - set(MAGPIE_STATS)
        if unknown:
            raise ValueError(f"unknown statistics {sorted(unknown)}; choose from {MAGPIE_STATS}")

    def feature_labels(self) -> list[str]:
        return [f"MagpieData {s} {p}" for p in self.properties for s in self.stats]

    def citations(self) -> list[str]:
        return [WARD_2016]

    def featurize(self, comps: CompositionArrays) -> np.ndarray:
        table = np.ascontiguousarray(load_element_table().matrix(self.properties, self.impute_nan).T)
        n, stats = len(comps), self.stats
        result = np.empty((len(self.properties), len(stats), n))  # filled in place, one slice per stat
        out = {s: result[:, k, :] for k, s in enumerate(stats)}
        scratch = {s: np.empty((len(self.properties), n)) for s in MAGPIE_STATS if s not in out}
        out.update(scratch)
        # Loop over element slots (at most the largest number of elements in one material), never over
        # materials: slot j holds each material's j-th element, or repeats its first one when it has
        # fewer. Repeats change no minimum or maximum; for sums they carry weight 0.
        slots = comps.padded_index()
        z_slot = comps.z[slots]
        real = np.arange(len(slots))[:, None] < comps.counts[None, :]
        amount_slot = np.where(real, comps.amounts[slots], 0.0)
        total = amount_slot.sum(axis=0)
        top = amount_slot.max(axis=0)
        is_top = real & (np.abs(amount_slot - top) <= 1e-8 + 1e-5 * np.abs(top))  # matminer's np.isclose
        lo, hi, mean, dev, mode = (out[s] for s in ("minimum", "maximum", "mean", "avg_dev", "mode"))
        lo[:] = table[:, z_slot[0]]
        hi[:] = lo
        mode.fill(np.inf)
        mean.fill(0.0)
        # Slot j only matters for materials with more than j elements (slot 0 repeats fill the rest), so
        # later slots touch only those columns: most batches have 2-4 elements per material.
        active = [slice(None) if j < comps.counts.min(initial=1) else np.flatnonzero(comps.counts > j)
                  for j in range(len(slots))]
        for j, cols in enumerate(active):
            v = table[:, z_slot[j, cols]]
            lo[:, cols] = np.minimum(lo[:, cols], v)
            hi[:, cols] = np.maximum(hi[:, cols], v)
            mode[:, cols] = np.where(is_top[j, cols], np.minimum(mode[:, cols], v), mode[:, cols])
            mean[:, cols] += amount_slot[j, cols] * v  # weighted sum over the amounts as written ...
        mean /= total  # ... divided by their total, as np.average does
        if "avg_dev" in stats:
            dev.fill(0.0)
            for j, cols in enumerate(active):
                dev[:, cols] += amount_slot[j, cols] * np.abs(table[:, z_slot[j, cols]] - mean[:, cols])
            dev /= total
        np.subtract(hi, lo, out=out["range"])
        return result.reshape(-1, n).T  # (materials, properties x stats), property-major labels


class Stoichiometry(CompositionFeaturizer):
    """Lp norms of the element fractions; p = 0 counts the elements (Ward et al. 2016)."""

    name = "stoichiometry"

    def __init__(self, p_list: Sequence[int] = (0, 2, 3, 5, 7, 10)):
        if any(p < 0 for p in p_list):
            raise ValueError("p-norms need p >= 0")
        self.p_list = tuple(p_list)

    def feature_labels(self) -> list[str]:
        return [f"{p}-norm" for p in self.p_list]

    def citations(self) -> list[str]:
        return [WARD_2016]

    def featurize(self, comps: CompositionArrays) -> np.ndarray:
        cols = []
        for p in self.p_list:
            if p == 0:
                cols.append(comps.counts.astype(float))
            else:
                cols.append(comps.segment_sum((comps.fractions**p)[None, :])[:, 0] ** (1.0 / p))
        return np.column_stack(cols) if cols else np.empty((len(comps), 0))


class ValenceOrbital(CompositionFeaturizer):
    """Mean number of s, p, d, f valence electrons and their share of all valence electrons (Deml 2016)."""

    name = "valence"
    orbitals = ("s", "p", "d", "f")

    def __init__(self, props: Sequence[str] = ("avg", "frac")):
        self.props = tuple(props)

    def feature_labels(self) -> list[str]:
        return [f"{prop} {orb} valence electrons" for prop in self.props for orb in self.orbitals]

    def citations(self) -> list[str]:
        return [WARD_2016, DEML_2016]

    def featurize(self, comps: CompositionArrays) -> np.ndarray:
        names = [f"N{o}Valence" for o in self.orbitals] + ["NValence"]
        table_t = np.ascontiguousarray(load_element_table().matrix(names).T)
        means = comps.segment_sum(table_t[:, comps.z], comps.fractions)
        parts = {"avg": means[:, :4], "frac": means[:, :4] / means[:, 4:5]}
        return np.hstack([parts[p] for p in self.props])


class IonicCharacter(CompositionFeaturizer):
    """Ionic character from Pauling electronegativities, I(a, b) = 1 - exp(-(chi_a - chi_b)^2 / 4).

    ``max ionic char`` is I between the most and least electronegative element; ``avg ionic char`` is
    sum_{i<j} x_i x_j I(i, j) over element pairs, as matminer's ``IonProperty`` computes it (Ward et al.
    2016). Electronegativities are pymatgen's Pauling values; missing ones (He, Ne, Ar) are imputed.
    """

    name = "ionic"

    def feature_labels(self) -> list[str]:
        return ["max ionic char", "avg ionic char"]

    def citations(self) -> list[str]:
        return [WARD_2016, PAULING_1960]

    def featurize(self, comps: CompositionArrays) -> np.ndarray:
        chi = load_element_table().column("X")[comps.z]
        starts = comps.offsets[:-1]
        spread = np.maximum.reduceat(chi, starts) - np.minimum.reduceat(chi, starts)
        max_ionic = 1.0 - np.exp(-0.25 * spread**2)
        # all ordered pairs (i, j) inside each material
        counts = comps.counts
        owner = comps.owner
        left = np.repeat(np.arange(len(chi)), counts[owner])
        block_start = np.repeat(np.cumsum(counts[owner]) - counts[owner], counts[owner])
        right = comps.offsets[owner[left]] + (np.arange(len(left)) - block_start)
        pair = comps.fractions[left] * comps.fractions[right] * (1.0 - np.exp(-0.25 * (chi[left] - chi[right]) ** 2))
        pair_counts = counts**2
        pair_offsets = np.concatenate([[0], np.cumsum(pair_counts)[:-1]])
        avg_ionic = 0.5 * np.add.reduceat(pair, pair_offsets)  # ordered pairs count each i<j twice
        return np.column_stack([max_ionic, avg_ionic])


FEATURIZERS: dict[str, type[CompositionFeaturizer]] = {
    cls.name: cls for cls in (ElementFraction, ElementPropertyStats, Stoichiometry, ValenceOrbital, IonicCharacter)
}
#: Named featurizer sets. ``composition`` is Magpie statistics + stoichiometry + valence + ionic character.
PRESETS: dict[str, tuple[str, ...]] = {
    "magpie": ("magpie",),
    "composition": ("stoichiometry", "magpie", "valence", "ionic"),
    "fractions": ("fractions",),
    "all": ("fractions", "stoichiometry", "magpie", "valence", "ionic"),
}


def resolve_featurizers(spec: str | Sequence[str | CompositionFeaturizer]) -> list[CompositionFeaturizer]:
    """Turn ``'composition'``, ``'magpie,ionic'`` or a list of names/featurizers into featurizer objects."""
    if isinstance(spec, str):
        names: list[str | CompositionFeaturizer] = []
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            names.extend(PRESETS.get(part, (part,)))
    else:
        names = list(spec)
    out = []
    for item in names:
        if isinstance(item, CompositionFeaturizer):
            out.append(item)
        elif item in FEATURIZERS:
            out.append(FEATURIZERS[item]())
        else:
            raise InputError(f"unknown featurizer {item!r}; choose from {sorted(FEATURIZERS)} or presets "
                             f"{sorted(PRESETS)}", field="--features", value=item)
    if not out:
        raise InputError("no featurizer given", field="--features")
    return out
