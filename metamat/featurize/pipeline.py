"""Strings in, feature matrix out: parse each unique formula once, featurize the uniques, expand to rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from metamat.data.compositions import CompositionArrays, parse_formulas
from metamat.errors import InputError, Problem
from metamat.featurize.composition import FEATURIZERS, PRESETS, CompositionFeaturizer, resolve_featurizers
from metamat.featurize.inputs import formula_inputs
from metamat.featurize.knowledge import KnowledgeFeaturizer
from metamat.featurize.physics import PhysicsFeaturizer

#: Featurizers beyond the element-table ones: predicted DFT properties and physics inputs.
EXTRA_FEATURIZERS = ("knowledge", "physics")
#: Presets that combine them with ``composition`` ("+" joins parts; any "a+b" of known names also works).
EXTRA_PRESETS: dict[str, tuple[str, ...]] = {
    "composition+knowledge": ("composition", "knowledge"),
    "composition+physics": ("composition", "physics"),
    "composition+knowledge+physics": ("composition", "knowledge", "physics"),
}
FeaturizerSpec = str | Sequence[str | CompositionFeaturizer]


def feature_names() -> list[str]:
    """Every featurizer and preset name ``--features`` accepts."""
    return sorted({*FEATURIZERS, *PRESETS, *EXTRA_FEATURIZERS, *EXTRA_PRESETS})


def resolve(spec: FeaturizerSpec, exclude_quantities: Sequence[str] = ()) -> list[CompositionFeaturizer]:
    """Featurizer objects for ``'composition'``, ``'composition+knowledge'``, ``'magpie,physics'``, ... .

    ``exclude_quantities`` (the quantity groups of the task served) go to the ``knowledge`` featurizer,
    which leaves out surrogates of the same quantity.
    """
    items: list[str | CompositionFeaturizer] = []
    if isinstance(spec, str):
        for part in (p.strip() for p in spec.replace("+", ",").split(",") if p.strip()):
            items.extend(EXTRA_PRESETS.get(part, (part,)))
    else:
        items = list(spec)
    out: list[CompositionFeaturizer] = []
    for item in items:
        if item == "knowledge":
            out.append(KnowledgeFeaturizer(exclude_quantities=exclude_quantities))
        elif item == "physics":
            out.append(PhysicsFeaturizer())
        elif isinstance(item, KnowledgeFeaturizer) and exclude_quantities:
            out.append(KnowledgeFeaturizer(tuple(item.exclude_quantities) + tuple(exclude_quantities), item.only,
                                           item.with_std, item.folder))
        elif isinstance(item, CompositionFeaturizer):
            out.append(item)
        else:
            try:
                out.extend(resolve_featurizers(item))
            except InputError:
                raise InputError(f"unknown featurizer {item!r}; choose from {', '.join(feature_names())}",
                                 field="--features", value=item) from None
    if not out:
        raise InputError("no featurizer given", field="--features")
    return out


def removed_features(feats: Sequence[CompositionFeaturizer]) -> list[str]:
    """What the featurizers left out for leakage (knowledge surrogates of the task's quantity), with why."""
    return [r for f in feats if isinstance(f, KnowledgeFeaturizer) for r in f.removed]


@dataclass(frozen=True)
class FeatureMatrix:
    """Features of a column of formulas. Rows that could not be parsed are NaN and listed in ``problems``."""

    values: np.ndarray
    labels: list[str]
    valid: np.ndarray
    problems: list[Problem]
    citations: list[str]
    removed: list[str] = field(default_factory=list)  # features left out for leakage, with the reason

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """The feature values: a FeatureMatrix works wherever an array is expected (``model.fit(fm, y)``)."""
        return self.values if dtype is None else self.values.astype(dtype, copy=False)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.values.shape

    def to_frame(self) -> Any:
        """The features as a pandas DataFrame (columns = labels)."""
        import pandas as pd

        return pd.DataFrame(self.values, columns=self.labels)


def featurize_compositions(comps: CompositionArrays, featurizers: FeaturizerSpec = "composition",
                           chunk: int = 16384, exclude_quantities: Sequence[str] = ()
                           ) -> tuple[np.ndarray, list[str]]:
    """Feature matrix (n_materials, n_features) and labels for already parsed compositions.

    Materials are featurized in chunks of ``chunk`` so that temporaries stay small and are reused (fresh
    memory is slow to touch), straight into one preallocated output.
    """
    feats = resolve(featurizers, exclude_quantities)
    labels = [label for f in feats for label in f.feature_labels()]
    widths = [len(f.feature_labels()) for f in feats]
    edges = np.concatenate([[0], np.cumsum(widths)])
    out = np.empty((len(comps), len(labels)))
    inputs = _knowledge_input_columns(feats, edges)
    for start in range(0, len(comps), chunk):
        part = comps.slice(start, min(start + chunk, len(comps)))
        rows = slice(start, start + len(part))
        for f, a, b in zip(feats, edges[:-1], edges[1:], strict=True):
            if isinstance(f, KnowledgeFeaturizer) and inputs is not None:
                out[rows, a:b] = f.featurize(part, inputs=out[rows, inputs[0]:inputs[1]])
            else:
                out[rows, a:b] = f.featurize(part)
    return out, labels


def _knowledge_input_columns(feats: Sequence[CompositionFeaturizer], edges: np.ndarray) -> tuple[int, int] | None:
    """Columns (start, stop) of the ``composition`` block the knowledge surrogates read, when those
    featurizers come before the knowledge featurizer in ``feats`` (so its inputs are not computed twice)."""
    from metamat.featurize.knowledge import INPUT_FEATURES

    want = [repr(f) for f in resolve_featurizers(INPUT_FEATURES)]
    have = [repr(f) for f in feats]
    k = next((i for i, f in enumerate(feats) if isinstance(f, KnowledgeFeaturizer)), None)
    for i in range(0, (k or 0) - len(want) + 1):
        if have[i:i + len(want)] == want:
            return int(edges[i]), int(edges[i + len(want)])
    return None


def featurize_formulas(formulas: Any, featurizers: FeaturizerSpec = "composition", *, errors: str = "raise",
                       source: str | None = None, field: str | None = None, formula_column: str | None = None,
                       exclude_quantities: Sequence[str] = ()) -> FeatureMatrix:
    """Featurize a column of formula strings (duplicates are parsed and featurized once).

    ``formulas`` may also be a DataFrame (its ``formula_column``, guessed if not given), a pandas Series, one
    formula, or pymatgen ``Composition``/``Structure`` objects (:mod:`metamat.featurize.inputs`).
    ``exclude_quantities``: quantity groups of the task the features serve; knowledge surrogates of those
    quantities are left out and listed in ``FeatureMatrix.removed``.
    """
    if not isinstance(formulas, (list, tuple)) or any(not isinstance(f, str) for f in formulas[:1]):
        formulas, column = formula_inputs(formulas, formula_column)
        field = field or column
    parsed = parse_formulas(formulas, errors=errors, source=source, field=field)
    feats = resolve(featurizers, exclude_quantities)
    unique_x, labels = featurize_compositions(parsed.compositions, feats)
    valid = parsed.valid
    if valid.all():
        out = unique_x if len(unique_x) == len(valid) and (parsed.codes == np.arange(len(valid))).all() \
            else unique_x[parsed.codes]
    else:
        out = np.full((len(parsed.codes), unique_x.shape[1]), np.nan)
        out[valid] = unique_x[parsed.codes[valid]]
    citations = sorted({c for f in feats for c in f.citations()})
    return FeatureMatrix(out, labels, valid, parsed.problems, citations, removed_features(feats))


def featurize_table(table: Any, featurizers: FeaturizerSpec = "composition") -> FeatureMatrix:
    """Composition features of every row of a :class:`~metamat.data.table.MaterialTable` (rows whose formula
    cannot be parsed are NaN and listed in ``problems``)."""
    return featurize_formulas(table.formulas, featurizers, errors="mask", source=table.name, field="formula")
