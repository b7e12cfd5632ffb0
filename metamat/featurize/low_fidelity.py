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
from pathlib import Path

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
    per_table: dict[str, np.ndarray]  # each table's median per row (NaN where absent)
    surrogate: np.ndarray | None = None  # the surrogate's prediction for every row (unit of the property)


#: DFT band-gap tables (relative to the data folder; all computed, none experimental).
GAP_TABLES = ("crabnet_benchmark/OQMD_Bandgap", "crabnet_benchmark/aflow__Egap",
              "crabnet_matbench_composition/matbench_mp_gap")


def read_formula_table(data_dir: str | os.PathLike, table: str):
    """``<data_dir>/<table>.csv.gz`` with columns formula and target (a "NaN" formula is Na-N, not missing)."""
    import pandas as pd

    from metamat.errors import DataSourceError

    path = Path(data_dir) / f"{table}.csv.gz"
    if not path.exists():
        raise DataSourceError(f"{path} not found (set METAMAT_DATA_DIR to the shared data folder)")
    df = pd.read_csv(path, dtype={"formula": str}, keep_default_na=False)
    df["target"] = pd.to_numeric(df["target"], errors="coerce")
    return df[np.isfinite(df["target"].to_numpy(float)) & (df["formula"] != "")]


def table_medians(tables: Sequence[str], data_dir: str | os.PathLike) -> dict[str, float]:
    """Reduced-composition key -> median target over every row of ``tables`` (paths relative to the data
    folder without ``.csv.gz``; all rows, whatever their split)."""
    import pandas as pd

    frames = [read_formula_table(data_dir, t)[["formula", "target"]] for t in tables]
    df = pd.concat(frames, ignore_index=True)
    parsed = parse_formulas(df["formula"].tolist(), errors="mask")
    ok = parsed.valid
    keys = parsed.compositions.reduced_keys()[parsed.codes[ok]]
    return pd.Series(df["target"].to_numpy(float)[ok]).groupby(keys).median().to_dict()


def low_fidelity(formulas: Sequence[str], tables: Sequence[str] = GAP_TABLES,
                 surrogate: str | None = "oqmd_band_gap", data_dir: str | os.PathLike | None = None
                 ) -> LowFidelity:
    """Low-fidelity value of each formula: the median over ``tables`` (together) for that reduced
    composition, else the ``surrogate``'s prediction (mapped to the unit). ``per_table`` keeps each table's
    own median; ``surrogate`` the surrogate's prediction on every row."""
    parsed = parse_formulas(list(formulas), errors="raise")
    comps = parsed.compositions
    keys = comps.reduced_keys()

    def lookup(d: dict[str, float]) -> np.ndarray:
        return np.array([d.get(k, np.nan) for k in keys], dtype=float)

    value = np.full(len(comps), np.nan)
    per_table: dict[str, np.ndarray] = {}
    if data_dir is not None and tables:
        value = lookup(table_medians(tables, data_dir))
        per_table = {t.rsplit("/", 1)[-1]: lookup(table_medians([t], data_dir))[parsed.codes] for t in tables}
    found = np.isfinite(value)
    std = np.zeros(len(comps))
    sur_all = None
    if surrogate is not None:
        sur = next(s for s in load_surrogates() if s.spec.name == surrogate)
        mean, s = sur.predict(input_features(comps))
        sur_all = sur.spec.inverse(mean)
        value[~found], std[~found] = sur_all[~found], s[~found]
    src = f"median of {', '.join(tables)} by reduced composition"
    if surrogate:
        src += f"; else surrogate {surrogate}"
    return LowFidelity(value[parsed.codes], std[parsed.codes], found[parsed.codes], src, per_table,
                       None if sur_all is None else sur_all[parsed.codes])
