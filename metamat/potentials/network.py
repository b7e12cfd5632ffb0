"""The potential: symmetry functions -> per-element feed-forward networks -> sum of atomic energies.

``E = sum_i (e0[Z_i] + scale * NN_{Z_i}((G_i - mu[Z_i]) / sigma[Z_i]))``; forces and stress come from
autograd with respect to the edge vectors (``F = -dE/dr``, ``sigma = (1/V) dE/d(strain)``, the virial).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms
from ase.data import atomic_numbers, chemical_symbols

from metamat.errors import InputError
from metamat.potentials.neighbors import Graph, build_graph, collate
from metamat.potentials.symmetry_functions import DescriptorSettings, SymmetryFunctions

ACTIVATIONS: dict[str, type[torch.nn.Module]] = {"tanh": torch.nn.Tanh, "silu": torch.nn.SiLU,
                                                "softplus": torch.nn.Softplus}


def mlp(n_in: int, hidden: Sequence[int], activation: str) -> torch.nn.Sequential:
    """Feed-forward network ``n_in -> hidden... -> 1`` with a smooth activation."""
    if activation not in ACTIVATIONS:
        raise InputError(f"unknown activation '{activation}' (choose from {sorted(ACTIVATIONS)})",
                         field="activation")
    layers: list[torch.nn.Module] = []
    width = n_in
    for h in hidden:
        layers += [torch.nn.Linear(width, h), ACTIVATIONS[activation]()]
        width = h
    layers.append(torch.nn.Linear(width, 1))
    return torch.nn.Sequential(*layers)


@dataclass
class TorchGraph:
    """Index tensors of a :class:`Graph` (positions and cells are passed separately)."""

    species: torch.Tensor
    atom_frame: torch.Tensor
    center: torch.Tensor
    neighbor: torch.Tensor
    shift: torch.Tensor
    edge_frame: torch.Tensor
    trip_a: torch.Tensor
    trip_b: torch.Tensor
    n_frames: int

    @classmethod
    def from_graph(cls, g: Graph, dtype: torch.dtype) -> TorchGraph:
        def t(x: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(x))

        return cls(t(g.species), t(g.atom_frame), t(g.center), t(g.neighbor), t(g.shift).to(dtype),
                   t(g.edge_frame), t(g.trip_a), t(g.trip_b), g.n_frames)


class Potential(torch.nn.Module):
    """Behler-Parrinello neural-network potential for a fixed list of elements."""

    def __init__(self, elements: Sequence[str], descriptor: DescriptorSettings | None = None,
                 hidden: Sequence[int] = (48, 48), activation: str = "tanh"):
        super().__init__()
        unknown = [e for e in elements if e not in atomic_numbers]
        if unknown or not elements:
            raise InputError(f"unknown or missing elements: {unknown or 'none given'}", field="elements")
        self.elements = list(elements)
        self.hidden = [int(h) for h in hidden]
        self.activation = activation
        self.descriptor = SymmetryFunctions(descriptor or DescriptorSettings(), len(self.elements))
        n_feat = self.descriptor.n_features
        self.nets = torch.nn.ModuleList([mlp(n_feat, self.hidden, activation) for _ in self.elements])
        n_el = len(self.elements)
        self.register_buffer("feature_mean", torch.zeros(n_el, n_feat, dtype=torch.float64))
        self.register_buffer("feature_std", torch.ones(n_el, n_feat, dtype=torch.float64))
        self.register_buffer("energy_offset", torch.zeros(n_el, dtype=torch.float64))
        self.register_buffer("energy_scale", torch.ones((), dtype=torch.float64))
        self._z_to_species = np.full(len(chemical_symbols), -1, dtype=np.int64)
        for k, e in enumerate(self.elements):
            self._z_to_species[atomic_numbers[e]] = k
        self.double()

    # -- configuration -------------------------------------------------------------------------
    @property
    def settings(self) -> DescriptorSettings:
        return self.descriptor.settings

    @property
    def dtype(self) -> torch.dtype:
        return self.energy_offset.dtype

    def config(self) -> dict:
        """JSON-serialisable description from which :meth:`from_config` rebuilds the architecture."""
        return {"elements": self.elements, "descriptor": self.settings.to_dict(), "hidden": self.hidden,
                "activation": self.activation}

    @classmethod
    def from_config(cls, cfg: dict) -> Potential:
        return cls(cfg["elements"], DescriptorSettings.from_dict(cfg["descriptor"]), cfg["hidden"],
                   cfg["activation"])

    # -- graphs ----------------------------------------------------------------------------------
    def species_of(self, atoms: Atoms, source: str | None = None) -> np.ndarray:
        """Element index of every atom; InputError naming the foreign elements otherwise."""
        species = self._z_to_species[atoms.numbers]
        if np.any(species < 0):
            bad = sorted({chemical_symbols[z] for z in atoms.numbers[species < 0]})
            raise InputError(f"elements {bad} are not in this potential ({self.elements})", source=source,
                             field="numbers")
        return species

    def graph(self, atoms: Atoms) -> Graph:
        s = self.settings
        return build_graph(atoms, s.cutoff, s.angular_cutoff, self.species_of(atoms))

    def graphs(self, frames: Sequence[Atoms]) -> Graph:
        return collate([self.graph(a) for a in frames])

    # -- energies --------------------------------------------------------------------------------
    def fit_scaling(self, features: torch.Tensor, species: torch.Tensor) -> None:
        """Per-element feature mean and standard deviation (std of constant features set to 1)."""
        for k in range(len(self.elements)):
            f = features[species == k].to(self.dtype)
            if len(f) == 0:
                continue
            std = f.std(0, unbiased=False) if len(f) > 1 else torch.ones_like(f[0])
            self.feature_mean[k] = f.mean(0)
            self.feature_std[k] = torch.where(std > 1e-8, std, torch.ones_like(std))

    def atomic_energies(self, features: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        """Energy of each atom ``(N,)`` from its features ``(N, F)``."""
        x = (features - self.feature_mean[species]) / self.feature_std[species]
        out = torch.zeros(len(species), dtype=x.dtype, device=x.device)
        for k, net in enumerate(self.nets):
            idx = torch.nonzero(species == k).squeeze(1)
            if idx.numel():
                out = out.index_copy(0, idx, net(x[idx]).squeeze(1))
        return self.energy_offset[species] + self.energy_scale * out

    def edge_vectors(self, positions: torch.Tensor, cells: torch.Tensor, g: TorchGraph) -> torch.Tensor:
        offsets = torch.einsum("ek,ekl->el", g.shift, cells[g.edge_frame])
        return positions[g.neighbor] - positions[g.center] + offsets

    def energy_from_vectors(self, vectors: torch.Tensor, g: TorchGraph) -> torch.Tensor:
        """Total energy of every frame ``(B,)`` as a differentiable function of the edge vectors."""
        feats = self.descriptor(vectors, g.center, g.neighbor, g.species, g.trip_a, g.trip_b)
        e_atoms = self.atomic_energies(feats, g.species)
        return torch.zeros(g.n_frames, dtype=e_atoms.dtype).index_add(0, g.atom_frame, e_atoms)

    def compute(self, graph: Graph, forces: bool = True, stress: bool = False,
                create_graph: bool = False) -> dict[str, torch.Tensor]:
        """Energy ``(B,)``, forces ``(N, 3)`` (eV/Å) and stress ``(B, 3, 3)`` (eV/Å³) of a graph batch."""
        g = TorchGraph.from_graph(graph, self.dtype)
        pos = torch.as_tensor(graph.positions, dtype=self.dtype)
        cells = torch.as_tensor(graph.cells, dtype=self.dtype)
        vec = self.edge_vectors(pos, cells, g)
        need_grad = forces or stress
        with torch.enable_grad():
            if need_grad:
                vec.requires_grad_(True)
            energy = self.energy_from_vectors(vec, g)
            out = {"energy": energy}
            if not need_grad:
                return out
            (dvec,) = torch.autograd.grad(energy.sum(), vec, create_graph=create_graph)
        if forces:
            f = torch.zeros_like(pos).index_add(0, g.center, dvec).index_add(0, g.neighbor, -dvec)
            out["forces"] = f
        if stress:
            virial = torch.zeros(g.n_frames, 3, 3, dtype=self.dtype)
            virial = virial.index_add(0, g.edge_frame, vec[:, :, None] * dvec[:, None, :])
            volume = torch.abs(torch.linalg.det(cells))
            s = virial / volume[:, None, None]
            out["stress"] = 0.5 * (s + s.transpose(1, 2))
        return out

    def predict(self, atoms: Atoms, stress: bool = False) -> dict[str, np.ndarray | float]:
        """Energy (eV), forces (eV/Å) and optionally stress (3x3, eV/Å³) of one structure."""
        out = {k: v.detach() for k, v in self.compute(self.graph(atoms), forces=True, stress=stress).items()}
        res: dict[str, np.ndarray | float] = {"energy": float(out["energy"][0]),
                                              "forces": out["forces"].detach().numpy().copy()}
        if stress:
            res["stress"] = out["stress"][0].detach().numpy().copy()
        return res
