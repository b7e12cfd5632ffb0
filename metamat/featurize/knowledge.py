"""Knowledge surrogates: composition in, a predicted DFT property and its uncertainty out.

One small MLP ensemble per large DFT table (OQMD band gap, AFLOW moduli, MP energy above hull, ...) on the
148 ``composition`` features. Each surrogate is a :class:`Surrogate` (numpy inference, no torch at
prediction time) described by a :class:`SurrogateSpec` (table, unit, transform, quantity group). The
shipped weights live in ``metamat/pretrained/knowledge/`` (one safetensors file + one JSON index),
produced by ``scripts/train_knowledge_surrogates.py``; the model card sits beside them.

:class:`KnowledgeFeaturizer` (name ``knowledge``) turns the surrogates' predictions into feature columns,
so every learner can take them. Leakage: a surrogate is never a feature of a task that measures the same
quantity. ``KnowledgeFeaturizer(exclude_quantities=("band gap",))`` drops every surrogate whose quantity
group is "band gap" or is tied to it (:data:`RELATED_GROUPS`: metallicity is the 0/1 form of the gap, a
Poisson ratio is a function of K and G, ...), and ``removed`` says which were dropped and why.

Formation energy (the screen branch's model) is one such surrogate: ``CritExam__Ef`` here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from metamat.data.compositions import CompositionArrays, parse_formulas
from metamat.featurize.composition import CompositionFeaturizer, resolve_featurizers

#: Where the shipped surrogates live (package data; read as files, ``metamat.pretrained`` is not imported).
KNOWLEDGE_DIR = Path(__file__).resolve().parent.parent / "pretrained" / "knowledge"
INPUT_FEATURES = "composition"
CRABNET_2021 = ("A. Y.-T. Wang, R. J. Murdock, S. K. Kauwe, A. O. Oliynyk, A. Gurlo, J. Brgoch, K. A. Persson, "
                "T. D. Sparks, Compositionally restricted attention-based network for materials property "
                "predictions, npj Comput. Mater. 7, 77 (2021) (benchmark tables and splits).")

#: Quantity groups tied to a group so closely that a surrogate of one must not serve a task of the other
#: (symmetric). Derived from the reasons in ``metamat.tasks.catalog.META_SPLIT_REASONS``.
RELATED_GROUPS: dict[str, tuple[str, ...]] = {
    "band gap": ("metallicity",),
    "metallicity": ("band gap",),
    "formation energy": ("total energy", "thermodynamic stability"),
    "total energy": ("formation energy",),
    "thermodynamic stability": ("formation energy",),
    "bulk modulus": ("poisson ratio",),
    "shear modulus": ("poisson ratio",),
    "poisson ratio": ("bulk modulus", "shear modulus"),
    "lattice vibrations": ("lattice thermal transport",),
    "lattice thermal transport": ("lattice vibrations",),
}


@dataclass(frozen=True)
class SurrogateSpec:
    """One DFT property a surrogate learns: the CrabNet benchmark table it comes from and how."""

    name: str
    table: str
    label: str
    unit: str
    group: str
    transform: str = "identity"  # identity | log10 | log10p (log10(1 + max(x, 0)))
    floor: float = 0.0  # log10: values below are raised to it first

    def forward(self, y: np.ndarray) -> np.ndarray:
        """Target in the space the network learns."""
        if self.transform == "log10":
            return np.log10(np.maximum(y, self.floor))
        if self.transform == "log10p":
            return np.log10(1.0 + np.maximum(y, 0.0))
        return np.asarray(y, dtype=float)

    def inverse(self, t: np.ndarray) -> np.ndarray:
        if self.transform == "log10":
            return 10.0 ** t
        if self.transform == "log10p":
            return 10.0 ** t - 1.0
        return t


#: The properties learned from ``crabnet_benchmark`` (units inferred as in shared/data/SOURCES.md).
SURROGATE_SPECS: tuple[SurrogateSpec, ...] = (
    SurrogateSpec("oqmd_band_gap", "OQMD_Bandgap", "OQMD band gap", "eV", "band gap"),
    SurrogateSpec("aflow_band_gap", "aflow__Egap", "AFLOW band gap", "eV", "band gap"),
    SurrogateSpec("oqmd_formation_enthalpy", "OQMD_Formation_Enthalpy", "OQMD formation enthalpy", "eV/atom",
                  "formation energy"),
    SurrogateSpec("critexam_ef", "CritExam__Ef", "MP formation energy (Bartel)", "eV/atom", "formation energy"),
    SurrogateSpec("critexam_ed", "CritExam__Ed", "MP decomposition energy (Bartel)", "eV/atom",
                  "thermodynamic stability"),
    SurrogateSpec("mp_e_hull", "mp_e_hull", "MP energy above hull", "eV/atom", "thermodynamic stability"),
    SurrogateSpec("oqmd_volume_per_atom", "OQMD_Volume_per_atom", "OQMD volume per atom", "A^3/atom",
                  "volume per atom", "log10", 1.0),
    SurrogateSpec("aflow_bulk_modulus", "aflow__ael_bulk_modulus_vrh", "AFLOW bulk modulus (VRH)", "GPa",
                  "bulk modulus", "log10", 0.1),
    SurrogateSpec("aflow_shear_modulus", "aflow__ael_shear_modulus_vrh", "AFLOW shear modulus (VRH)", "GPa",
                  "shear modulus", "log10", 0.1),
    SurrogateSpec("aflow_debye_temperature", "aflow__ael_debye_temperature", "AFLOW Debye temperature", "K",
                  "lattice vibrations", "log10", 1.0),
    SurrogateSpec("aflow_thermal_conductivity", "aflow__agl_thermal_conductivity_300K",
                  "AFLOW lattice thermal conductivity 300 K", "W/m/K", "lattice thermal transport", "log10", 1e-3),
    SurrogateSpec("aflow_thermal_expansion", "aflow__agl_thermal_expansion_300K",
                  "AFLOW thermal expansion 300 K", "1/K", "lattice thermal transport", "log10", 1e-7),
    SurrogateSpec("mp_magnetic_moment", "mp_mu_b", "MP magnetic moment", "mu_B", "magnetic moment"),
    SurrogateSpec("mp_elastic_anisotropy", "mp_elastic_anisotropy", "MP universal elastic anisotropy", "",
                  "elastic anisotropy", "log10p"),
)


def groups_excluded_by(quantities: Iterable[str]) -> set[str]:
    """Quantity groups whose surrogates must not serve tasks of ``quantities`` (themselves + related)."""
    out: set[str] = set()
    for q in quantities:
        if q:
            out.add(q)
            out.update(RELATED_GROUPS.get(q, ()))
    return out


def input_features(comps: CompositionArrays) -> np.ndarray:
    """The surrogates' inputs: the 148 ``composition`` features of each material."""
    feats = resolve_featurizers(INPUT_FEATURES)
    return np.hstack([f.featurize(comps) for f in feats]) if len(comps) else np.empty((0, 148))


def _silu(x: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return x * expit(x)


@dataclass
class Surrogate:
    """A trained surrogate: input standardization, an MLP ensemble (SiLU) and the target scale.

    ``predict(X)`` takes the 148 ``composition`` features and returns ``(mean, std)`` in the *learned*
    space (log10 for log-transformed properties), where the ensemble is Gaussian-ish; ``spec.inverse``
    maps a mean back to the property's unit. ``std = sqrt(member spread^2 + held-out residual^2)``.
    """

    spec: SurrogateSpec
    x_mean: np.ndarray
    x_scale: np.ndarray
    y_mean: float
    y_scale: float
    residual_std: float
    members: list[list[tuple[np.ndarray, np.ndarray]]]  # member -> layers -> (W (in, out), b)
    card: dict = field(default_factory=dict)

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Z = (np.asarray(X, dtype=float) - self.x_mean) / self.x_scale
        Z = np.where(np.isfinite(Z), Z, 0.0).astype(np.float32)
        preds = []
        for layers in self.members:
            h = Z
            for i, (W, b) in enumerate(layers):
                h = h @ W + b
                if i < len(layers) - 1:
                    h = _silu(h)
            preds.append(h[:, 0])
        P = np.stack(preds).astype(np.float64) * self.y_scale + self.y_mean
        return P.mean(axis=0), np.sqrt(P.var(axis=0) + self.residual_std**2)

    # ------------------------------------------------------------------ safetensors + JSON
    def tensors(self) -> dict[str, np.ndarray]:
        out = {f"{self.spec.name}.x_mean": self.x_mean.astype(np.float32),
               f"{self.spec.name}.x_scale": self.x_scale.astype(np.float32)}
        for m, layers in enumerate(self.members):
            for i, (W, b) in enumerate(layers):
                out[f"{self.spec.name}.m{m}.l{i}.W"] = np.ascontiguousarray(W, dtype=np.float32)
                out[f"{self.spec.name}.m{m}.l{i}.b"] = np.ascontiguousarray(b, dtype=np.float32)
        return out

    def config(self) -> dict:
        return {"spec": asdict(self.spec), "y_mean": self.y_mean, "y_scale": self.y_scale,
                "residual_std": self.residual_std, "n_members": len(self.members),
                "n_layers": len(self.members[0]) if self.members else 0, "card": self.card}

    @classmethod
    def from_parts(cls, config: dict, tensors: dict[str, np.ndarray]) -> Surrogate:
        spec = SurrogateSpec(**config["spec"])
        n = spec.name
        members = [[(tensors[f"{n}.m{m}.l{i}.W"], tensors[f"{n}.m{m}.l{i}.b"])
                    for i in range(config["n_layers"])] for m in range(config["n_members"])]
        return cls(spec, tensors[f"{n}.x_mean"].astype(np.float64), tensors[f"{n}.x_scale"].astype(np.float64),
                   float(config["y_mean"]), float(config["y_scale"]), float(config["residual_std"]), members,
                   dict(config.get("card", {})))


def save_surrogates(surrogates: Sequence[Surrogate], folder: str | Path, meta: dict | None = None) -> Path:
    """Write ``surrogates.safetensors`` + ``surrogates.json`` into ``folder`` (atomic writes)."""
    from safetensors.numpy import save_file

    from metamat.files import atomic_path, write_json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, np.ndarray] = {}
    for s in surrogates:
        tensors.update(s.tensors())
    with atomic_path(folder / "surrogates.safetensors") as tmp:
        save_file(tensors, str(tmp))
    write_json(folder / "surrogates.json", {"input_features": INPUT_FEATURES, **(meta or {}),
                                            "surrogates": [s.config() for s in surrogates]})
    return folder


@lru_cache(maxsize=4)
def load_surrogates(folder: str | None = None) -> tuple[Surrogate, ...]:
    """The surrogates saved in ``folder`` (default: the shipped ones), in file order."""
    from safetensors.numpy import load_file

    from metamat.errors import DataSourceError

    path = Path(folder) if folder else KNOWLEDGE_DIR
    index = path / "surrogates.json"
    if not index.exists():
        raise DataSourceError(f"no knowledge surrogates in {path}; train them with "
                              "scripts/train_knowledge_surrogates.py")
    config = json.loads(index.read_text())
    tensors = load_file(str(path / "surrogates.safetensors"))
    return tuple(Surrogate.from_parts(c, tensors) for c in config["surrogates"])


class KnowledgeFeaturizer(CompositionFeaturizer):
    """Predicted DFT properties as features (one column per surrogate, in the surrogate's learned space:
    log10 for moduli, Debye temperature, thermal conductivity/expansion, volume; ``with_std`` adds the
    predicted std of each).

    ``exclude_quantities``: quantity groups of the task being served; surrogates of those groups and of
    tied groups (:data:`RELATED_GROUPS`) are left out, and listed in :attr:`removed`. ``only`` keeps just
    the named surrogates (for ablations).
    """

    name = "knowledge"

    def __init__(self, exclude_quantities: Sequence[str] = (), only: Sequence[str] | None = None,
                 with_std: bool = False, folder: str | None = None):
        self.exclude_quantities = tuple(exclude_quantities)
        self.only = None if only is None else tuple(only)
        self.with_std = with_std
        self.folder = folder

    def _split(self) -> tuple[list[Surrogate], list[str]]:
        banned = groups_excluded_by(self.exclude_quantities)
        kept, removed = [], []
        for s in load_surrogates(self.folder):
            if self.only is not None and s.spec.name not in self.only:
                continue
            if s.spec.group in banned:
                removed.append(f"{s.spec.name} (quantity {s.spec.group!r}; task quantity "
                               f"{', '.join(self.exclude_quantities)})")
            else:
                kept.append(s)
        return kept, removed

    @property
    def surrogates(self) -> list[Surrogate]:
        return self._split()[0]

    @property
    def removed(self) -> list[str]:
        """Surrogates left out for leakage, each with the reason."""
        return self._split()[1]

    def feature_labels(self) -> list[str]:
        labels = []
        for s in self.surrogates:
            unit = f"log10 {s.spec.unit}" if s.spec.transform == "log10" else (
                "log10(1+x)" if s.spec.transform == "log10p" else s.spec.unit)
            labels.append(f"knowledge {s.spec.label} ({unit})".replace(" ()", ""))
            if self.with_std:
                labels.append(f"knowledge {s.spec.label} std")
        return labels

    def citations(self) -> list[str]:
        return [CRABNET_2021]

    def featurize(self, comps: CompositionArrays) -> np.ndarray:
        surrogates = self.surrogates
        X = input_features(comps)
        cols = []
        for s in surrogates:
            mean, std = s.predict(X)
            cols.append(mean)
            if self.with_std:
                cols.append(std)
        return np.column_stack(cols) if cols else np.empty((len(comps), 0))

    def __repr__(self) -> str:
        return f"KnowledgeFeaturizer(exclude_quantities={self.exclude_quantities!r})"


def predict_property(formulas: Sequence[str], name: str, folder: str | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(value, lower, upper)`` of surrogate ``name`` per formula, in the property's unit (the 90% band
    is mapped back from the learned space, so log-learned properties stay positive)."""
    surrogate = next((s for s in load_surrogates(folder) if s.spec.name == name), None)
    if surrogate is None:
        raise KeyError(f"unknown surrogate {name!r}; known: {[s.spec.name for s in load_surrogates(folder)]}")
    parsed = parse_formulas(formulas, errors="raise")
    mean, std = surrogate.predict(input_features(parsed.compositions)[parsed.codes])
    q = 1.6448536269514722
    inv = surrogate.spec.inverse
    return inv(mean), inv(mean - q * std), inv(mean + q * std)
