"""A task (one property on one set of materials), its target transform, and support/query episodes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd

from metamat.data.compositions import CompositionArrays, parse_formulas
from metamat.data.formula import ATOMIC_NUMBER
from metamat.errors import InputError, Problem

TaskKind = Literal["regression", "classification"]
_TRANSFORMS = ("identity", "log10")
_LN10 = float(np.log(10.0))


@dataclass(frozen=True)
class TargetTransform:
    """Invertible map from targets in their original units to the space models learn in.

    ``identity`` or ``log10`` (for positive, heavy-tailed quantities such as conductivities). A Gaussian
    prediction ``(mu, s)`` in log10 space is a log-normal in original units: :meth:`inverse` gives its
    median ``10**mu`` and :meth:`inverse_std` a first-order (delta-method) std ``ln(10) 10**mu s``.
    """

    kind: str = "identity"

    def __post_init__(self) -> None:
        if self.kind not in _TRANSFORMS:
            raise ValueError(f"unknown target transform {self.kind!r}; choose from {_TRANSFORMS}")

    def forward(self, y: np.ndarray, *, source: str | None = None) -> np.ndarray:
        """Original units -> model space. log10 raises :class:`InputError` naming every non-positive row."""
        y = np.asarray(y, dtype=float)
        if self.kind == "identity":
            return y
        bad = np.flatnonzero(~(y > 0))
        if len(bad):
            raise InputError(problems=[
                Problem("log10 target transform needs a positive target", source, int(r) + 1, "target",
                        float(y[r])) for r in bad])
        return np.log10(y)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Model space -> original units."""
        z = np.asarray(z, dtype=float)
        return z if self.kind == "identity" else np.power(10.0, z)

    def inverse_std(self, z: np.ndarray, std: np.ndarray) -> np.ndarray:
        """Std in original units of a prediction ``(z, std)`` made in model space (delta method for log10)."""
        std = np.asarray(std, dtype=float)
        return std if self.kind == "identity" else _LN10 * np.power(10.0, np.asarray(z, float)) * std


class TargetStandardizer:
    """Zero mean, unit std for targets, fitted on the support set of one episode only."""

    def fit(self, y: np.ndarray) -> TargetStandardizer:
        y = np.asarray(y, dtype=float)
        if y.ndim != 1 or len(y) == 0:
            raise ValueError(f"expected a non-empty 1-D array, got shape {y.shape}")
        self.mean_ = float(y.mean())
        std = float(y.std())
        self.scale_ = std if std > 1e-12 * max(1.0, abs(self.mean_)) else 1.0
        return self

    def transform(self, y: np.ndarray) -> np.ndarray:
        return (np.asarray(y, dtype=float) - self.mean_) / self.scale_

    def inverse(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(z, dtype=float) * self.scale_ + self.mean_

    def inverse_std(self, std: np.ndarray) -> np.ndarray:
        return np.asarray(std, dtype=float) * self.scale_


def _as_transform(t: TargetTransform | str) -> TargetTransform:
    return t if isinstance(t, TargetTransform) else TargetTransform(str(t))


@dataclass(frozen=True, eq=False)
class Task:
    """One property measured on one set of materials.

    ``y`` is kept in original units; ``y_model`` is ``transform.forward(y)`` (``transform`` may be given
    as ``'identity'`` or ``'log10'``). ``quantity`` names the physical quantity (tasks sharing it are one
    leakage group across tasks); ``groups`` are optional user labels for splitting. Chemistry-derived
    arrays (chemical systems, element membership) are computed once, on first use, from ``formulas``.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    formulas: np.ndarray
    kind: TaskKind = "regression"
    units: str = ""
    quantity: str = ""
    transform: TargetTransform = field(default_factory=TargetTransform)
    groups: np.ndarray | None = None
    feature_labels: tuple[str, ...] = ()
    removed_features: tuple[str, ...] = ()  # features left out for leakage (same-quantity surrogates), why

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        X = np.asarray(self.X, dtype=float)
        y = np.asarray(self.y, dtype=float)
        formulas = np.asarray(self.formulas, dtype=object)
        set_(self, "transform", _as_transform(self.transform))
        set_(self, "feature_labels", tuple(self.feature_labels))
        set_(self, "removed_features", tuple(self.removed_features))
        if X.ndim != 2:
            raise ValueError(f"task {self.name!r}: X must be 2-D, got shape {X.shape}")
        n = len(X)
        if y.shape != (n,) or formulas.shape != (n,):
            raise ValueError(f"task {self.name!r}: X has {n} rows but y has shape {y.shape} and formulas "
                             f"{formulas.shape}")
        if self.kind not in ("regression", "classification"):
            raise ValueError(f"task {self.name!r}: kind must be 'regression' or 'classification'")
        bad = np.flatnonzero(~np.isfinite(y))
        if len(bad):
            raise InputError(problems=[Problem("target is missing or not finite", self.name, int(r) + 1,
                                               "target", float(y[r])) for r in bad])
        if self.kind == "classification":
            bad = np.flatnonzero((y != 0) & (y != 1))
            if len(bad):
                raise InputError(problems=[Problem("classification target must be 0 or 1", self.name,
                                                   int(r) + 1, "target", float(y[r])) for r in bad])
            if self.transform.kind != "identity":
                raise ValueError(f"task {self.name!r}: classification tasks take no target transform")
        if self.groups is not None:
            groups = np.asarray(self.groups)
            if groups.shape != (n,):
                raise ValueError(f"task {self.name!r}: groups has shape {groups.shape}, expected ({n},)")
            set_(self, "groups", groups)
        set_(self, "X", X)
        set_(self, "y", y)
        set_(self, "formulas", formulas)
        self.y_model  # noqa: B018 - validate the transform (log10 needs positive targets) up front

    @classmethod
    def from_formulas(cls, name: str, formulas: Sequence[str], y: Sequence[float], *,
                      featurizers: str = "composition", **kwargs: object) -> Task:
        """Build a task by featurizing ``formulas`` (every formula must parse; errors name the rows)."""
        from metamat.featurize.pipeline import featurize_formulas

        fm = featurize_formulas(list(formulas), featurizers, source=name, field="formula")
        return cls(name=name, X=fm.values, y=np.asarray(y, dtype=float),
                   formulas=np.asarray(formulas, dtype=object), feature_labels=tuple(fm.labels),
                   **kwargs)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return (f"Task({self.name!r}, n={len(self)}, d={self.X.shape[1]}, kind={self.kind!r}, "
                f"units={self.units!r}, transform={self.transform.kind!r})")

    @cached_property
    def y_model(self) -> np.ndarray:
        """Targets in model space (``transform.forward(y)``)."""
        return self.transform.forward(self.y, source=self.name)

    @cached_property
    def mad(self) -> float:
        """Mean absolute deviation of the targets, mean |y - mean(y)|, in original units."""
        return float(np.mean(np.abs(self.y - self.y.mean())))

    @cached_property
    def _parsed(self) -> tuple[CompositionArrays, np.ndarray]:
        parsed = parse_formulas(self.formulas, source=self.name, field="formula")
        return parsed.compositions, parsed.codes

    @property
    def compositions(self) -> CompositionArrays:
        """Unique parsed compositions; ``composition_codes`` maps rows onto them."""
        return self._parsed[0]

    @property
    def composition_codes(self) -> np.ndarray:
        return self._parsed[1]

    @cached_property
    def chemical_systems(self) -> np.ndarray:
        """Chemical system of each row, e.g. ``'Co-Li-O'``."""
        return self.compositions.chemical_systems()[self.composition_codes]

    @cached_property
    def system_codes(self) -> np.ndarray:
        """Chemical system of each row as an int code (rows with the same element set share a code)."""
        return pd.factorize(pd.Series(self.chemical_systems, dtype=object))[0].astype(np.int64)

    @cached_property
    def group_codes(self) -> np.ndarray:
        """User group labels as int codes (raises if the task has no groups)."""
        if self.groups is None:
            raise ValueError(f"task {self.name!r} has no group labels")
        codes = pd.factorize(pd.Series(self.groups, dtype=object))[0].astype(np.int64)
        if (codes < 0).any():
            raise ValueError(f"task {self.name!r}: {int((codes < 0).sum())} group labels are missing")
        return codes

    @cached_property
    def element_counts(self) -> np.ndarray:
        """``element_counts[z]``: number of rows containing element ``z`` (length 104)."""
        comps, codes = self._parsed
        per_unique = np.bincount(codes, minlength=len(comps))
        return np.bincount(comps.z, weights=per_unique[comps.owner], minlength=104).astype(np.int64)

    def contains_element(self, element: str | int) -> np.ndarray:
        """Boolean mask of rows whose composition contains ``element`` (symbol or atomic number)."""
        comps, codes = self._parsed
        return _element_mask(comps, codes, element)

    def subset(self, idx: np.ndarray, name: str | None = None) -> Task:
        """A new task restricted to rows ``idx``."""
        idx = np.asarray(idx)
        return Task(name=name or self.name, X=self.X[idx], y=self.y[idx], formulas=self.formulas[idx],
                    kind=self.kind, units=self.units, quantity=self.quantity, transform=self.transform,
                    groups=None if self.groups is None else self.groups[idx],
                    feature_labels=self.feature_labels, removed_features=self.removed_features)


def _element_mask(comps: CompositionArrays, codes: np.ndarray, element: str | int) -> np.ndarray:
    z = ATOMIC_NUMBER[element] if isinstance(element, str) else int(element)
    has = np.zeros(len(comps), dtype=bool)
    has[comps.owner[comps.z == z]] = True
    return has[codes]


@dataclass(frozen=True, eq=False)
class Episode:
    """A support set and a query set drawn from one task (sorted row indices into ``task``).

    Models are fitted on ``y_support_fit`` (model-space targets standardized with support statistics) and
    their predictions mapped back with :meth:`to_original`; metrics use ``y_query`` in original units.
    """

    task: Task
    support: np.ndarray
    query: np.ndarray

    @property
    def X_support(self) -> np.ndarray:
        return self.task.X[self.support]

    @property
    def X_query(self) -> np.ndarray:
        return self.task.X[self.query]

    @property
    def y_support(self) -> np.ndarray:
        """Support targets in original units."""
        return self.task.y[self.support]

    @property
    def y_query(self) -> np.ndarray:
        """Query targets in original units."""
        return self.task.y[self.query]

    @cached_property
    def scaler(self) -> TargetStandardizer:
        """Standardizer of model-space targets, fitted on the support set only."""
        return TargetStandardizer().fit(self.task.y_model[self.support])

    @property
    def y_support_fit(self) -> np.ndarray:
        """Targets to fit on: transformed and support-standardized (0/1 for classification)."""
        if self.task.kind == "classification":
            return self.y_support
        return self.scaler.transform(self.task.y_model[self.support])

    def to_original(self, mean: np.ndarray, std: np.ndarray | None = None
                    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Undo standardization and the target transform; returns mean or ``(mean, std)``."""
        if self.task.kind == "classification":
            mean = np.asarray(mean, dtype=float)
            return mean if std is None else (mean, np.asarray(std, dtype=float))
        z = self.scaler.inverse(mean)
        out = self.task.transform.inverse(z)
        if std is None:
            return out
        return out, self.task.transform.inverse_std(z, self.scaler.inverse_std(std))
