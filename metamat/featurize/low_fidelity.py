"""Low-fidelity values per composition: a DFT table lookup where the composition is there, a knowledge
surrogate's prediction elsewhere (the input of delta learning and co-kriging, see models/multifidelity.py).

The lookup matches reduced compositions exactly (Fe2O3 = FeO1.5; :meth:`CompositionArrays.reduced_keys`)
and takes the median over every entry of that composition in the given tables (polymorphs, and OQMD and
AFLOW together). Values are computed (DFT), never experimental.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from metamat.data.compositions import parse_formulas
from metamat.featurize.knowledge import input_features, load_surrogates


@dataclass(frozen=True)
class LowFidelity:
    """Per-row low-fidelity value, its std (0 for table values) and where it came from."""

    value: np.ndarray
    std: np.ndarray
    from_table: np.ndarray  # bool per row
    source: str


def table_medians(tables: Sequence[str], data_dir: str | os.PathLike) -> dict[str, float]:
    """Reduced-composition key -> median target over every row of the CrabNet ``tables`` (all splits)."""
    import pandas as pd

    from metamat.featurize.knowledge_training import read_split_table

    frames = [read_split_table(data_dir, t)[["formula", "target"]] for t in tables]
    df = pd.concat(frames, ignore_index=True)
    parsed = parse_formulas(df["formula"].tolist(), errors="mask")
    ok = parsed.valid
    keys = parsed.compositions.reduced_keys()[parsed.codes[ok]]
    return pd.Series(df["target"].to_numpy(float)[ok]).groupby(keys).median().to_dict()


def low_fidelity(formulas: Sequence[str], tables: Sequence[str] = ("OQMD_Bandgap", "aflow__Egap"),
                 surrogate: str | None = "oqmd_band_gap", data_dir: str | os.PathLike | None = None,
                 lookup: dict[str, float] | None = None) -> LowFidelity:
    """Low-fidelity value of each formula: the median of ``tables`` for that reduced composition (needs
    ``data_dir`` or a precomputed ``lookup``), else the ``surrogate``'s prediction (mapped to the unit)."""
    parsed = parse_formulas(list(formulas), errors="raise")
    comps = parsed.compositions
    value = np.full(len(comps), np.nan)
    if lookup is None and data_dir is not None and tables:
        lookup = table_medians(tables, data_dir)
    if lookup:
        keys = comps.reduced_keys()
        value = np.array([lookup.get(k, np.nan) for k in keys], dtype=float)
    found = np.isfinite(value)
    std = np.zeros(len(comps))
    if surrogate is not None and (~found).any():
        sur = next(s for s in load_surrogates() if s.spec.name == surrogate)
        miss = np.flatnonzero(~found)
        mean, s = sur.predict(input_features(comps.slice(0, len(comps)))[miss])
        value[miss] = sur.spec.inverse(mean)
        std[miss] = s
    src = f"median of {', '.join(tables)} by reduced composition" + (f"; else surrogate {surrogate}" if surrogate else "")
    return LowFidelity(value[parsed.codes], std[parsed.codes], found[parsed.codes], src)
