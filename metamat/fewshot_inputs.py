"""What ``metamat fewshot`` feeds its model besides element fractions, and how the model is assembled.

- ``features``: ``composition`` (default), ``knowledge`` (predicted DFT properties) or both; what ``auto``
  and every candidate see (the meta-learner reads its own ``composition`` block, else it is left out).
- ``basis``: what one value of the target refers to (:func:`metamat.featurize.physics.guess_basis`). A
  per-formula-unit or per-mass target is learned *per atom*: divided by the atoms per formula unit ``n``
  (per formula unit) or by ``n / M`` (per mass, ``M`` the molar mass), and predictions and interval ends
  are multiplied back (a positive factor per row keeps interval coverage). The physics inputs (atoms per
  formula unit, molar mass, mean atomic mass; :class:`~metamat.featurize.physics.PhysicsFeaturizer`) are
  added to the features for those bases.
- ``baseline_column``: a per-row physical or DFT estimate in the target's unit;
  :class:`~metamat.models.physics.ResidualRegressor` learns the difference.
- ``bounds``: :class:`~metamat.models.physics.BoundedRegressor` keeps predictions and intervals inside
  them (``lo,hi``, either side may be empty; ``none`` turns off the automatic lower bound 0 that is applied,
  by clipping, when every support value is >= 0).
- ``low_fidelity``: a same-quantity, lower-fidelity estimate per row (``auto`` only: its ``lowfi``,
  ``delta`` and ``delta_slope`` candidates, :mod:`metamat.models.auto`): ``auto`` matches the target's
  quantity from its column name and unit to the knowledge surrogates of that quantity
  (:func:`match_quantity`; no match, nothing is added), a surrogate name takes that surrogate, a column
  name takes the user's per-row values (e.g. a DFT gap), ``none`` turns it off.
- ``structure_features`` (structure runs, ``--structure-column``, with the structure ``auto``): ``physics``
  (default) or ``physics+embedding`` (:data:`STRUCTURE_FEATURE_CHOICES`, :func:`check_structure_features`).

``metamat suggest`` and ``metamat design`` take the same four inputs through :func:`surrogate_inputs` and
:meth:`SurrogateInputs.wrap` (there the per-atom basis is the wrapper :class:`PerAtomRegressor`: the ranking
refits the model on fantasized values in the target's own unit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from metamat.errors import InputError
from metamat.models.base import Regressor, check_X, check_y

FEATURE_CHOICES = ("composition", "knowledge", "composition+knowledge")
#: ``--structure-features``: the inputs of the structure ``auto``'s structure candidates (with --structure-column).
#: ``physics``: composition + physics + ionic descriptors (and the shipped graph model); ``physics+embedding``
#: adds the same learners on composition + the frozen pretrained graph-encoder embedding (opt-in: it did not
#: help on the 2D benchmark, README "Pretrained graph encoder").
STRUCTURE_FEATURE_CHOICES = ("physics", "physics+embedding")
BASIS_CHOICES = ("auto", "per-atom", "per-formula-unit", "per-mass", "intensive")
#: Bases learned per atom (target divided by a per-row factor) and given the physics inputs.
SCALED_BASES = ("per_formula_unit", "per_mass")
_UNIT_IN_NAME = re.compile(r"[(\[]([^()\[\]]*)[)\]]")
LOW_FIDELITY_DEFAULT = "auto"

#: Target quantities recognised from a column name: (what, tokens that must all be in the name (any one
#: alternative set), surrogates of that quantity, the unit they predict in). Tokens are the lower-case words
#: of the name split at anything that is not a letter or digit ("band_gap_eV" -> band, gap, ev).
QUANTITY_RULES: tuple[tuple[str, tuple[frozenset[str], ...], tuple[str, ...], str], ...] = (
    ("band gap", (frozenset({"gap"}), frozenset({"bandgap"}), frozenset({"eg"}), frozenset({"egap"})),
     ("oqmd_band_gap", "aflow_band_gap"), "eV"),
    ("bulk modulus", (frozenset({"bulk", "modulus"}), frozenset({"kvrh"}), frozenset({"k", "vrh"})),
     ("aflow_bulk_modulus",), "GPa"),
    ("shear modulus", (frozenset({"shear", "modulus"}), frozenset({"gvrh"}), frozenset({"g", "vrh"})),
     ("aflow_shear_modulus",), "GPa"),
    ("formation energy", (frozenset({"formation"}), frozenset({"eform"}), frozenset({"e", "form"})),
     ("oqmd_formation_enthalpy", "critexam_ef"), "eV/atom"),
    ("energy above hull", (frozenset({"hull"}),), ("mp_e_hull",), "eV/atom"),
    ("Debye temperature", (frozenset({"debye"}),), ("aflow_debye_temperature",), "K"),
    ("lattice thermal conductivity", (frozenset({"lattice", "thermal", "conductivity"}),
                                      frozenset({"kappa", "lattice"})), ("aflow_thermal_conductivity",), "W/m/K"),
    ("thermal expansion", (frozenset({"thermal", "expansion"}),), ("aflow_thermal_expansion",), "1/K"),
    ("magnetic moment", (frozenset({"magnetic", "moment"}), frozenset({"magnetization"})),
     ("mp_magnetic_moment",), "mu_B"),
)
_TOKENS = re.compile(r"[a-z0-9]+")
_UNIT_NORMAL = {"ev": "eV", "gpa": "GPa", "ev/atom": "eV/atom", "k": "K", "w/m/k": "W/m/K", "w/(m k)": "W/m/K",
                "w/mk": "W/m/K", "w m-1 k-1": "W/m/K", "1/k": "1/K", "k-1": "1/K", "mu_b": "mu_B", "mub": "mu_B",
                "ev/at": "eV/atom", "ev per atom": "eV/atom"}


def check_features(features: str) -> str:
    if features not in FEATURE_CHOICES:
        raise InputError(f"choose one of {', '.join(FEATURE_CHOICES)}", field="--features", value=features)
    return features


def check_structure_features(structure_features: str, structure: bool, model: Any) -> str:
    """``--structure-features`` is one of :data:`STRUCTURE_FEATURE_CHOICES`; anything but the default needs a
    structure run (``--structure-column``) with the structure ``auto`` (``--model auto``, the default)."""
    if structure_features not in STRUCTURE_FEATURE_CHOICES:
        raise InputError(f"choose one of {', '.join(STRUCTURE_FEATURE_CHOICES)}", field="--structure-features",
                         value=structure_features)
    if structure_features != STRUCTURE_FEATURE_CHOICES[0]:
        if not structure:
            raise InputError(f"{structure_features} chooses the inputs of the structure auto; it needs "
                             "--structure-column (a column of structures in both tables)",
                             field="--structure-features", value=structure_features)
        if str(model) != "auto":
            raise InputError(f"--structure-features {structure_features} adds candidates of the structure auto; it "
                             f"is not available with --model {model}", field="--structure-features",
                             value=structure_features)
    return structure_features


def target_basis(column: str, basis: str | None = "auto", unit: str = ""):
    """The :class:`~metamat.featurize.physics.Basis` of target ``column``: given (``per-atom``, ...), or
    guessed (``auto``/``None``) from the name and its unit (``unit``, else the text in brackets in the name,
    else the name itself: ``"Cp (J/mol/K)"`` -> per formula unit, ``"c_p J/g/K"`` -> per mass)."""
    from metamat.featurize.physics import resolve_basis

    if basis not in (None, "auto") and basis not in BASIS_CHOICES:
        raise InputError(f"choose one of {', '.join(BASIS_CHOICES)}", field="--basis", value=basis)
    if not unit:
        found = _UNIT_IN_NAME.findall(column)
        unit = found[-1] if found else column
    return resolve_basis(column, unit, None if basis in (None, "auto") else basis.replace("-", "_"))


@dataclass(frozen=True)
class LowFidelitySource:
    """Where ``auto``'s low-fidelity input comes from: ``surrogates`` (knowledge surrogate names) or a user
    ``column``; ``reason`` says how it was chosen (printed)."""

    surrogates: tuple[str, ...] = ()
    column: str | None = None
    reason: str = ""

    def describe(self) -> str:
        if self.column is not None:
            return f"low fidelity: column {self.column!r} ({self.reason})"
        from metamat.featurize.knowledge import SURROGATE_SPECS

        labels = {s.name: s.label for s in SURROGATE_SPECS}
        names = " and ".join(f"{labels[n]} surrogate" for n in self.surrogates)
        return (f"low fidelity: {names} ({self.reason}); auto adds the candidates lowfi, delta, delta_slope "
                "(pass --low-fidelity none to turn this off)")


def match_quantity(column: str, unit: str = "") -> tuple[str, tuple[str, ...], str] | tuple[None, tuple, str]:
    """``(quantity, surrogate names, why)`` of target ``column`` from its name and unit (the text in brackets
    of the name when ``unit`` is not given), or ``(None, (), why not)``. A unit that differs from the
    surrogates' unit is no match (a gap in meV is not compared with eV values); no unit: the surrogates'
    unit is assumed, and said so."""
    if not unit:
        found = _UNIT_IN_NAME.findall(column)
        unit = found[-1] if found else ""
    name = _UNIT_IN_NAME.sub(" ", column)
    tokens = set(_TOKENS.findall(name.lower()))
    for what, alternatives, surrogates, sunit in QUANTITY_RULES:
        hit = next((alt for alt in alternatives if alt <= tokens), None)
        if hit is not None:
            given = _UNIT_NORMAL.get(unit.strip().lower().replace(" ", ""), unit.strip()) if unit.strip() else ""
            if not given:
                tail = sorted(t for t in tokens - hit if _UNIT_NORMAL.get(t))  # "band_gap_eV": unit as a word
                given = _UNIT_NORMAL[tail[0]] if tail else ""
            if given and given != sunit:
                return None, (), (f"column {column!r} looks like a {what}, but its unit {unit or given!r} is not "
                                  f"the surrogates' {sunit!r}")
            how = f"unit {sunit}" if given else f"no unit given, {sunit} assumed"
            return what, surrogates, f"{what}, matched from column name {column!r}; {how}"
    return None, (), f"no known quantity in column name {column!r}"


def resolve_low_fidelity(value: str | None, target: str, columns: list[str] | tuple[str, ...] = (),
                         unit: str = "") -> tuple[LowFidelitySource | None, str]:
    """``(source or None, note)`` for ``--low-fidelity``: ``auto`` (match the target's quantity), ``none``,
    a surrogate name or a column of the support table; anything else raises :class:`InputError`."""
    from metamat.featurize.knowledge import SURROGATE_SPECS

    names = [s.name for s in SURROGATE_SPECS]
    if value is None or value.strip().lower() == "none":
        return None, "low fidelity: none (--low-fidelity none)" if value is not None else ""
    if value == "auto":
        what, surrogates, why = match_quantity(target, unit)
        if what is None:
            return None, f"low fidelity: none ({why}; pass --low-fidelity SURROGATE or COLUMN)"
        return LowFidelitySource(surrogates=surrogates, reason=why), ""
    if value in names:
        return LowFidelitySource(surrogates=(value,), reason="given with --low-fidelity"), ""
    if value in columns:
        if value == target:
            raise InputError("the low-fidelity column cannot be the target", field="--low-fidelity", value=value)
        return LowFidelitySource(column=value, reason="per-row values given with --low-fidelity"), ""
    raise InputError(f"{value!r} is not 'auto', 'none', a knowledge surrogate ({', '.join(names)}) or a column of the "
                     f"support table ({', '.join(map(repr, columns))})", field="--low-fidelity", value=value)


def feature_spec(features: str, basis: str) -> str:
    """Featurizer spec for ``pipeline.featurize_formulas``: the features, plus ``physics`` for scaled bases
    (its three columns come last)."""
    return f"{features}+physics" if basis in SCALED_BASES else features


def basis_factor(X: np.ndarray, basis: str) -> np.ndarray:
    """Per-row factor target = factor * per-atom value, from the physics columns at the end of ``X`` (atoms
    per formula unit, molar mass, mean atomic mass); 1 for other bases."""
    if basis == "per_formula_unit":
        return X[:, -3].copy()
    if basis == "per_mass":
        return X[:, -3] / X[:, -2]
    return np.ones(len(X))


def parse_bounds(text: str | tuple | None) -> tuple[float | None, float | None] | None:
    """``"lo,hi"`` (either side may be empty or ``inf``) or a ``(lo, hi)`` tuple -> ``(lo, hi)``; ``"none"`` ->
    ``None`` (no bounds, not even the automatic lower bound); ``None`` (not given) -> ``(None, None)``."""
    if text is None:
        return (None, None)
    if isinstance(text, tuple):
        lo, hi = text
    else:
        if text.strip().lower() == "none":
            return None
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 2:
            raise InputError("expected 'lo,hi' (either may be empty, e.g. '0,' for positive values) or 'none'",
                             field="--bounds", value=text)
        try:
            lo, hi = (None if p in ("", "-inf", "inf") else float(p) for p in parts)
        except ValueError:
            raise InputError("bounds must be numbers, e.g. '0,1'", field="--bounds", value=text) from None
    if lo is not None and hi is not None and not lo < hi:
        raise InputError(f"lower bound {lo:g} is not below upper bound {hi:g}", field="--bounds", value=str(text))
    return (lo, hi)


@dataclass
class Bounds:
    """Bounds in the target's unit and whether they were given or inferred (every support value >= 0)."""

    low: float | None
    high: float | None
    given: bool

    def describe(self) -> str:
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        if self.given:
            return f"predictions and intervals kept inside the bounds [{lo}, {hi}] (--bounds)"
        return (f"every support value is >= 0: predictions and interval ends are clipped at {lo} (pass "
                "--bounds none to turn this off)")


def resolve_bounds(bounds: str | tuple | None, y: np.ndarray, *, log_target: bool, scaled: bool, source: str
                   ) -> Bounds | None:
    """The bounds to enforce (``None``: none). Given bounds must hold the support values; with a per-atom
    scaled basis only a bound at 0 is scale-free; ``--log-target`` already keeps values positive."""
    parsed = parse_bounds(bounds)
    if parsed is None:
        return None
    lo, hi = parsed
    if bounds is None:  # automatic positivity
        if log_target or not bool(np.all(y >= 0)):
            return None
        return Bounds(0.0, None, given=False)
    if lo is None and hi is None:
        return None
    if log_target:
        raise InputError("--log-target already keeps predictions positive; drop --bounds or --log-target",
                         field="--bounds", value=str(bounds))
    if scaled and any(b not in (None, 0.0) for b in (lo, hi)):
        raise InputError("with a per-formula-unit or per-mass basis only a bound at 0 can be enforced (the "
                         "model learns per atom); pass --basis per-atom or a bound of 0", field="--bounds",
                         value=str(bounds))
    outside = (lo is not None and np.any(y < lo)) or (hi is not None and np.any(y > hi))
    if outside:
        raise InputError(f"support values lie outside the bounds [{lo}, {hi}] (min {np.min(y):g}, max "
                         f"{np.max(y):g})", source=source, field="--bounds", value=str(bounds))
    return Bounds(lo, hi, given=True)


def wrap_model(core: Any, *, baseline: bool, bounds: Bounds | None, drop_baseline: bool = False,
               seed: int = 0, per_atom: str | None = None, drop_physics: bool = False,
               clip: bool = False) -> Any:
    """``core`` inside :class:`ResidualRegressor` (baseline in the last input column) and
    :class:`BoundedRegressor` as needed. Bounds given by the user are learned in a log/logit space where
    the targets allow it (without a baseline); inferred positivity and baselines use clipping.
    ``drop_baseline``: the core model does not see the baseline column (a meta-learner reads its own
    features only). ``clip``: always clip (the core model reads low-fidelity columns in the target's unit).
    ``per_atom`` (a scaled basis): outermost a :class:`PerAtomRegressor`, which hides the physics columns from
    the models inside with ``drop_physics``."""
    from metamat.models.physics import BoundedRegressor, ResidualRegressor

    m = core
    if baseline:
        m = ResidualRegressor(base=m, baseline_column=-1, scale=1.0, drop_baseline=drop_baseline,
                              seed=seed)
    if bounds is not None:
        transform = "auto" if bounds.given and not baseline and not clip else "clip"
        m = BoundedRegressor(base=m, low=bounds.low, high=bounds.high, transform=transform, seed=seed)
    if per_atom in SCALED_BASES:
        m = PerAtomRegressor(base=m, basis=per_atom, baseline=baseline, drop_physics=drop_physics, seed=seed)
    return m


class PerAtomRegressor(Regressor):
    """The model inside learns target / factor per row (:func:`basis_factor` of the three physics columns,
    which sit last in X, or just before the baseline column with ``baseline``; the baseline is divided by the
    same factor); the mean, std and interval ends are multiplied back (a positive factor per row keeps the
    coverage). ``drop_physics``: the model inside does not see the physics columns."""

    def __init__(self, base: Any = "rf", basis: str = "per_formula_unit", baseline: bool = False,
                 drop_physics: bool = False, seed: int = 0):
        self.base = base
        self.basis = basis
        self.baseline = baseline
        self.drop_physics = drop_physics
        self.seed = seed

    def _split(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = np.asarray(X, dtype=float)
        end = X.shape[1] - (1 if self.baseline else 0)
        f = basis_factor(X[:, end - 3:end], self.basis)
        if self.baseline:
            X = X.copy()
            X[:, -1] = X[:, -1] / f
        if self.drop_physics:
            X = np.delete(X, np.arange(end - 3, end), axis=1)
        return X, f

    def fit(self, X: np.ndarray, y: np.ndarray) -> PerAtomRegressor:
        from metamat.models.physics import _make

        X = check_X(X)
        y = check_y(y, len(X))
        self.n_features_in_ = X.shape[1]
        Z, f = self._split(X)
        self.model_ = _make(self.base, self.seed).fit(Z, y / f)
        return self

    def predict_dist(self, X: np.ndarray, level: float = 0.9) -> tuple[np.ndarray, ...]:
        if not hasattr(self, "model_"):
            raise RuntimeError("PerAtomRegressor is not fitted: call fit(X, y) first")
        Z, f = self._split(X)
        return tuple(np.asarray(a, dtype=float) * f for a in self.model_.predict_dist(Z, level=level))

    def predict(self, X: np.ndarray, return_std: bool = False):
        mean, std, _, _ = self.predict_dist(X)
        return (mean, std) if return_std else mean


@dataclass
class SurrogateInputs:
    """What a ranking surrogate reads (:func:`surrogate_inputs`): featurizer ``spec``, the resolved ``basis``,
    ``bounds``, whether a baseline column is appended, and notes for the user."""

    spec: str
    basis: str
    bounds: Bounds | None
    baseline: bool
    notes: list[str]

    def with_baseline(self, X: np.ndarray, values: np.ndarray | None) -> np.ndarray:
        """``X`` with the baseline ``values`` (one per row) appended as the last column, if there is a baseline."""
        return np.column_stack([X, values]) if self.baseline else X

    def wrap(self, core: Any, *, reads_any_features: bool, seed: int = 0) -> Any:
        """``core`` inside the wrappers: residual on the baseline, bounds, per-atom basis. A model that reads only
        its own (composition) features (``reads_any_features=False``) sees neither physics nor baseline."""
        return wrap_model(core, baseline=self.baseline, bounds=self.bounds, drop_baseline=not reads_any_features,
                          seed=seed, per_atom=self.basis if self.basis in SCALED_BASES else None,
                          drop_physics=not reads_any_features)


def surrogate_inputs(target: str, y: np.ndarray, *, features: str = "composition", basis: str | None = "auto",
                     bounds: str | tuple | None = None, baseline: bool = False, reads_any_features: bool = True,
                     source: str = "measured") -> SurrogateInputs:
    """The ``fewshot`` input flags for a surrogate fitted on measured values ``y`` of ``target`` (see module
    docstring): checked (``InputError`` naming the flag), resolved, described."""
    check_features(features)
    if not reads_any_features and features != "composition":
        raise InputError(f"the model reads the composition features only; --features {features} needs --model "
                         "auto or a model from the registry (rf, gp, ...)", field="--features", value=features)
    b = target_basis(target, basis)
    scaled = b.basis in SCALED_BASES
    notes = [f"input features: {features}"]
    if scaled:
        by = "atoms per formula unit" if b.basis == "per_formula_unit" else "atoms per formula unit / molar mass"
        notes.append(f"target basis {b.basis.replace('_', ' ')} ({b.reason}; override with --basis): learned per "
                     f"atom (divided by {by}, predictions multiplied back)")
    else:
        notes.append(f"target basis {b.basis.replace('_', ' ')} ({b.reason}); override with --basis")
    bnds = resolve_bounds(bounds, y, log_target=False, scaled=scaled, source=source)
    if bnds is not None:
        notes.append(bnds.describe())
    if baseline:
        notes.append("baseline column: the model learns the target minus the baseline")
    spec = feature_spec(features, b.basis)
    return SurrogateInputs(spec, b.basis, bnds, baseline, notes)


def layers(model: Any) -> list[Any]:
    """``model`` and every model inside its wrappers (residual, bounded, per-atom), outermost first (fitted:
    ``model_``; else ``base``)."""
    from metamat.models.physics import BoundedRegressor, ResidualRegressor

    out = [model]
    while isinstance(out[-1], (BoundedRegressor, ResidualRegressor, PerAtomRegressor)):
        out.append(getattr(out[-1], "model_", out[-1].base))
    return out


def innermost(model: Any) -> Any:
    """The model inside the wrappers."""
    return layers(model)[-1]
