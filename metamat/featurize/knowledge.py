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


def same_quantity_specs(quantity: str) -> list[SurrogateSpec]:
    """The surrogates that measure ``quantity`` itself (a DFT, lower-fidelity estimate of it: the OQMD and
    AFLOW band gaps for a measured gap), not the tied groups of :data:`RELATED_GROUPS`."""
    return [s for s in SURROGATE_SPECS if s.group == quantity]


def same_quantity_columns(feature_labels: Sequence[str], quantity: str, transform: str = "identity") -> list[int]:
    """Indices of the ``knowledge`` feature columns (labels as :meth:`KnowledgeFeaturizer.feature_labels`)
    of surrogates of ``quantity`` whose learned space is the target's (``transform``: ``identity`` or
    ``log10``), so that the column is a same-quantity low-fidelity value in the target's model space."""
    kind = {"identity": "identity", "log10": "log10"}.get(transform)
    specs = [s for s in same_quantity_specs(quantity) if s.transform == kind]
    return [i for i, label in enumerate(feature_labels)
            if any(label.startswith(f"knowledge {s.label} (") or label == f"knowledge {s.label}" for s in specs)]


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


class SurrogateStack:
    """Surrogates of one architecture as stacked matrices: the same numbers as :meth:`Surrogate.predict`,
    computed as one matrix product for the first layer of every member of every surrogate and one batched
    product (``torch.baddbmm``) per later layer, in row chunks that stay in cache.

    The input standardization of each surrogate is folded into its first layer: with a common centre ``c``
    and scale ``s``, ``((x - mu) / sd) @ W + b = ((x - c) / s) @ (W * s / sd) + (b + ((c - mu) / sd) @ W)``
    (a feature with ``sd = 0`` contributes nothing, as in :meth:`Surrogate.predict`). Rows with a non-finite
    input go through :meth:`Surrogate.predict` (which sets those inputs to the surrogate's mean).
    """

    def __init__(self, surrogates: Sequence[Surrogate], chunk: int = 256):
        self.surrogates = tuple(surrogates)
        self.chunk = chunk
        self.n_members = [len(s.members) for s in self.surrogates]
        first = self.surrogates[0].members[0]
        self.widths = [W.shape[1] for W, _ in first]
        self.centre = np.mean([s.x_mean for s in self.surrogates], axis=0)
        self.scale = np.mean([s.x_scale for s in self.surrogates], axis=0)
        self.scale = np.where(self.scale > 0, self.scale, 1.0)
        W1, b1 = [], []
        for s in self.surrogates:
            inv = np.where(s.x_scale > 0, 1.0 / np.where(s.x_scale > 0, s.x_scale, 1.0), 0.0)
            for layers in s.members:
                W, b = layers[0]
                W = W.astype(np.float64)
                W1.append(W * (self.scale * inv)[:, None])
                b1.append(b + ((self.centre - s.x_mean) * inv) @ W)
        import torch

        self.W1 = torch.from_numpy(np.concatenate(W1, axis=1).astype(np.float32))
        self.b1 = torch.from_numpy(np.concatenate(b1).astype(np.float32))
        members = [layers for s in self.surrogates for layers in s.members]
        self.rest = [(torch.from_numpy(np.stack([m[i][0] for m in members]).astype(np.float32)),
                      torch.from_numpy(np.stack([m[i][1] for m in members]).astype(np.float32))[:, None, :])
                     for i in range(1, len(self.widths))]

    @staticmethod
    def signature(s: Surrogate) -> tuple:
        """Surrogates with equal signatures can share a stack."""
        return tuple(W.shape for W, _ in s.members[0]) + (len(s.x_mean),)

    def _members(self, X: np.ndarray) -> np.ndarray:
        """(members, n) outputs of every member, in the learned space before the target scale. Each pass
        runs on one intra-op torch thread: on a shared 2-core machine two intra-op threads made it 13x slower
        (2.0 s vs 0.15 s CPU for 10,000 rows), and chunks of 256 rows gain little from a second one. With
        more torch threads allowed (``torch.get_num_threads()``), that many Python threads take every
        other chunk instead (torch releases the GIL); each chunk is computed exactly as on one thread."""
        import torch

        from metamat.threads import torch_threads

        Z = torch.from_numpy(((X - self.centre) / self.scale).astype(np.float32))
        out = torch.empty((sum(self.n_members), len(Z)))
        starts = list(range(0, len(Z), self.chunk))
        jobs = min(torch.get_num_threads(), len(starts))
        with torch_threads(1):
            if jobs <= 1:
                self._chunks(Z, out, starts, torch)
            else:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(jobs) as pool:
                    list(pool.map(lambda i: self._chunks(Z, out, starts[i::jobs], torch), range(jobs)))
        return out.numpy().astype(np.float64)

    def _chunks(self, Z, out, starts: list[int], torch) -> None:
        """Rows ``a:a + chunk`` of ``Z`` for each ``a`` in ``starts``, into the columns of ``out``."""
        n, M = len(Z), out.shape[0]
        chunk = self.chunk
        with torch.inference_mode():
            h1 = torch.empty((chunk, self.W1.shape[1]))
            bufs = [torch.empty((M, chunk, w)) for w in self.widths[1:]]
            for a in starts:
                k = min(chunk, n - a)
                h = torch.addmm(self.b1, Z[a:a + k], self.W1, out=h1[:k])
                h = h.view(k, M, self.widths[0]).transpose(0, 1)
                for (W, b), buf in zip(self.rest, bufs, strict=True):
                    torch.nn.functional.silu(h, inplace=True)
                    h = torch.baddbmm(b, h, W, out=buf[:, :k])
                out[:, a:a + k] = h[..., 0]

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, std)``, each (n, surrogates), in the learned space (see :meth:`Surrogate.predict`)."""
        X = np.asarray(X, dtype=float)
        S = len(self.surrogates)
        mean, std = np.empty((len(X), S)), np.empty((len(X), S))
        bad = ~np.isfinite(X).all(axis=1)
        good = np.flatnonzero(~bad)
        P = self._members(X[good]) if len(good) else np.empty((sum(self.n_members), 0))
        start = 0
        for j, (s, m) in enumerate(zip(self.surrogates, self.n_members, strict=True)):
            Pj = P[start:start + m] * s.y_scale + s.y_mean
            start += m
            mean[good, j] = Pj.mean(axis=0)
            std[good, j] = np.sqrt(Pj.var(axis=0) + s.residual_std**2)
            if bad.any():
                mean[bad, j], std[bad, j] = s.predict(X[bad])
        return mean, std


def surrogate_stacks(surrogates: tuple[Surrogate, ...]) -> list[tuple[list[int], SurrogateStack]]:
    """(column indices, stack) per architecture among ``surrogates`` (built once for the set in use; the
    state is replaced as a whole, so threads never see half of it)."""
    held = _STACKS.get("state")
    if held is None or len(held[0]) != len(surrogates) or any(a is not b for a, b in zip(held[0], surrogates,
                                                                                          strict=True)):
        groups: dict[tuple, list[int]] = {}
        for j, s in enumerate(surrogates):
            groups.setdefault(SurrogateStack.signature(s), []).append(j)
        held = (tuple(surrogates), [(idx, SurrogateStack([surrogates[j] for j in idx])) for idx in groups.values()])
        _STACKS["state"] = held
    return held[1]


_STACKS: dict[str, tuple] = {}

#: Cache of knowledge predictions per composition (all surrogates of a folder): at most this many rows.
CACHE_ROWS = 200_000


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer (uint64, wrapping)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def composition_hashes(comps: CompositionArrays) -> np.ndarray:
    """Two independent 64-bit hashes per material of its exact (element, amount) entries: (n, 2) uint64.
    Equal compositions as written get equal hashes; any difference in an amount's bits changes both."""
    if len(comps) == 0:
        return np.empty((0, 2), np.uint64)
    bits = np.ascontiguousarray(comps.amounts, dtype=np.float64).view(np.uint64)
    z = comps.z.astype(np.uint64)
    with np.errstate(over="ignore"):
        e1 = _mix(bits ^ (z * np.uint64(0x9E3779B97F4A7C15)))
        e2 = _mix(bits + z * np.uint64(0xD1B54A32D192ED03) + np.uint64(0x8CB92BA72F3D8DD7))
        h1 = np.add.reduceat(e1, comps.offsets[:-1])
        h2 = np.add.reduceat(e2, comps.offsets[:-1]) + comps.counts.astype(np.uint64)
    return np.column_stack([h1, h2])


class _Cache:
    """Knowledge predictions per composition hash. ``state`` = (keys (rows, 2) uint64 sorted by column 0,
    mean, std) is replaced as a whole, so a reader always sees one consistent snapshot."""

    def __init__(self, owner: tuple, n_columns: int):
        self.owner = owner  # the surrogates the values came from (a reloaded folder starts a new cache)
        self.state = (np.empty((0, 2), np.uint64), np.empty((0, n_columns)), np.empty((0, n_columns)))

    @staticmethod
    def lookup(state: tuple, h: np.ndarray) -> np.ndarray:
        """Row of each hash in the snapshot ``state``, -1 where absent."""
        keys = state[0]
        if len(keys) == 0:
            return np.full(len(h), -1)
        pos = np.minimum(np.searchsorted(keys[:, 0], h[:, 0]), len(keys) - 1)
        hit = (keys[pos, 0] == h[:, 0]) & (keys[pos, 1] == h[:, 1])
        return np.where(hit, pos, -1)

    def add(self, h: np.ndarray, mean: np.ndarray, std: np.ndarray) -> None:
        keys, old_mean, old_std = self.state
        h, first = np.unique(h, axis=0, return_index=True)
        mean, std = mean[first], std[first]
        if len(keys) + len(h) > CACHE_ROWS:  # full: start again with the newest
            keys, old_mean, old_std = keys[:0], old_mean[:0], old_std[:0]
        keys = np.vstack([keys, h])
        order = np.argsort(keys[:, 0], kind="stable")
        self.state = (keys[order], np.vstack([old_mean, mean])[order], np.vstack([old_std, std])[order])


_CACHES: dict[str | None, _Cache] = {}


def clear_knowledge_cache() -> None:
    """Forget every cached knowledge prediction (and the stacked weights)."""
    _CACHES.clear()
    _STACKS.clear()


def predict_surrogates(comps: CompositionArrays, surrogates: Sequence[Surrogate] | None = None, *,
                       inputs: np.ndarray | None = None, folder: str | None = None, cache: bool = True
                       ) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, std)`` of each surrogate (columns, learned space) for each composition (rows).

    Every surrogate of ``folder`` is evaluated at once (:class:`SurrogateStack`) and, with ``cache``, kept
    per composition (exact element amounts, :func:`composition_hashes`) for the rest of the process, so a
    composition is never evaluated twice; ``surrogates`` (default: all of the folder) picks the columns.
    ``inputs``: the compositions' 148 ``composition`` features if already computed.
    """
    every = load_surrogates(folder)
    chosen = every if surrogates is None else tuple(surrogates)
    cols = [next(j for j, s in enumerate(every) if s is t) if any(s is t for s in every) else -1 for t in chosen]
    if min(cols, default=0) < 0:  # surrogates not from the folder: evaluate them directly
        X = input_features(comps) if inputs is None else inputs
        mean, std = np.empty((len(comps), len(chosen))), np.empty((len(comps), len(chosen)))
        for idx, stack in surrogate_stacks(tuple(chosen)):
            mean[:, idx], std[:, idx] = stack.predict(X)
        return mean, std
    h = composition_hashes(comps)
    store = _CACHES.get(folder)
    if store is None or store.owner is not every:
        store = _CACHES[folder] = _Cache(every, len(every))
    state = store.state
    row = store.lookup(state, h) if cache else np.full(len(comps), -1)
    miss = np.flatnonzero(row < 0)
    mean, std = np.empty((len(comps), len(every))), np.empty((len(comps), len(every)))
    if len(row) - len(miss):
        hit = row >= 0
        mean[hit], std[hit] = state[1][row[hit]], state[2][row[hit]]
    if len(miss):
        uniq, first, back = np.unique(h[miss], axis=0, return_index=True, return_inverse=True)
        sel = miss[first]
        X = input_features(comps.take(sel)) if inputs is None else inputs[sel]
        m, s = np.empty((len(sel), len(every))), np.empty((len(sel), len(every)))
        for idx, stack in surrogate_stacks(every):
            m[:, idx], s[:, idx] = stack.predict(X)
        mean[miss], std[miss] = m[back.ravel()], s[back.ravel()]
        if cache:
            store.add(uniq, m, s)
    return mean[:, cols], std[:, cols]


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

    def featurize(self, comps: CompositionArrays, inputs: np.ndarray | None = None) -> np.ndarray:
        """Knowledge columns of ``comps``; ``inputs`` (optional) are their 148 ``composition`` features when the
        caller has them already. Compositions seen before in this process come from the cache
        (:func:`predict_surrogates`)."""
        surrogates = self.surrogates
        if not surrogates:
            return np.empty((len(comps), 0))
        mean, std = predict_surrogates(comps, surrogates, inputs=inputs, folder=self.folder)
        if not self.with_std:
            return mean
        return np.stack([mean, std], axis=2).reshape(len(comps), -1)

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
