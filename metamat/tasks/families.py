"""Chemical family of a composition, by one explicit rule, vectorized over :class:`CompositionArrays`.

Rule:

1. Non-metals are H, B, C, N, O, F, Si, P, S, Cl, As, Se, Br, Te, I, At and the noble gases. Every other
   element (including Ge, Sb and Po) counts as a metal.
2. A composition with no non-metal is ``intermetallic`` (this includes elemental metals).
3. A single non-metal element on its own (C, Si, O2, ...) is ``other``.
4. Otherwise the anion is the most electronegative non-metal present, in the fixed Pauling order
   F > O > Cl > N > Br > I > S > Se > C > H > P > As > Te > B > Si > At > noble gases
   (Se and C tie at 2.55; Se is put first). The anion names the family: O oxide, S sulfide, Se selenide,
   Te telluride, N nitride, C carbide, F/Cl/Br/I halide, H hydride; any other anion (B, Si, P, As, ...)
   gives ``other``.

So oxyfluorides are halides, hydroxides and carbonates are oxides, LiBH4 is a hydride, Fe3P is other.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from metamat.data.compositions import CompositionArrays, parse_formulas
from metamat.data.formula import ATOMIC_NUMBER, ELEMENTS

FAMILIES: tuple[str, ...] = ("oxide", "sulfide", "selenide", "telluride", "nitride", "carbide", "halide",
                             "hydride", "intermetallic", "other")

#: Non-metals from most to least electronegative (rule 4); the noble gases share the last place.
ANION_ORDER: tuple[str, ...] = ("F", "O", "Cl", "N", "Br", "I", "S", "Se", "C", "H", "P", "As", "Te", "B",
                                "Si", "At")
NOBLE_GASES: tuple[str, ...] = ("He", "Ne", "Ar", "Kr", "Xe", "Rn")
_FAMILY_OF_ANION = {"O": "oxide", "S": "sulfide", "Se": "selenide", "Te": "telluride", "N": "nitride",
                    "C": "carbide", "F": "halide", "Cl": "halide", "Br": "halide", "I": "halide",
                    "H": "hydride"}

# rank[z]: 0 for metals, larger = more electronegative non-metal (noble gases 1)
_RANK = np.zeros(len(ELEMENTS) + 1, dtype=np.int64)
for _g in NOBLE_GASES:
    _RANK[ATOMIC_NUMBER[_g]] = 1
for _i, _s in enumerate(reversed(ANION_ORDER)):
    _RANK[ATOMIC_NUMBER[_s]] = _i + 2
# family index per rank: rank 0 -> intermetallic, ranks of O, S, ... -> their family, the rest -> other
_FAMILY_OF_RANK = np.full(_RANK.max() + 1, FAMILIES.index("other"), dtype=np.int64)
_FAMILY_OF_RANK[0] = FAMILIES.index("intermetallic")
for _s, _f in _FAMILY_OF_ANION.items():
    _FAMILY_OF_RANK[_RANK[ATOMIC_NUMBER[_s]]] = FAMILIES.index(_f)
_Z_OF_RANK = np.zeros(_RANK.max() + 1, dtype=np.int64)
_Z_OF_RANK[_RANK[_RANK > 1]] = np.flatnonzero(_RANK > 1)


def _max_rank(comps: CompositionArrays) -> np.ndarray:
    if len(comps) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.maximum.reduceat(_RANK[comps.z], comps.offsets[:-1])


def anions(comps: CompositionArrays) -> np.ndarray:
    """Atomic number of each composition's anion (rule 4); 0 if there is none or only a noble gas."""
    return _Z_OF_RANK[_max_rank(comps)]


def family_codes(comps: CompositionArrays) -> np.ndarray:
    """Index into :data:`FAMILIES` for each composition."""
    rank = _max_rank(comps)
    codes = _FAMILY_OF_RANK[rank]
    codes[(comps.counts == 1) & (rank > 0)] = FAMILIES.index("other")
    return codes


def chemical_families(comps: CompositionArrays) -> np.ndarray:
    """Family name (one of :data:`FAMILIES`) for each composition, as an object array."""
    return np.asarray(FAMILIES, dtype=object)[family_codes(comps)]


def families_of(formulas: Sequence[str]) -> np.ndarray:
    """Family name per formula (each distinct formula parsed once; bad formulas raise InputError)."""
    parsed = parse_formulas(formulas)
    return chemical_families(parsed.compositions)[parsed.codes]
