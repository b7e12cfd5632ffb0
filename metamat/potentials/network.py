"""The potential: symmetry functions -> per-element feed-forward networks -> sum of atomic energies.

``E = sum_i (e0[Z_i] + scale * NN_{Z_i}((G_i - mu[Z_i]) / sigma[Z_i]))``; forces and stress come from the
gradient with respect to the edge vectors (``F = -dE/dr``, ``sigma = (1/V) dE/d(strain)``, the virial),
by hand through the networks and the descriptor (autograd throughout when ``create_graph`` is asked for).
Edge vectors, forces, stress and the energy sum are float64 whatever the model's dtype (float32 is faster).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms
from ase.data import atomic_numbers, chemical_symbols

from metamat.errors import InputError
from metamat.geometry.neighbors import Graph, build_graph, collate
from metamat.potentials.symmetry_functions import DescriptorSettings, SymmetryFunctions

ACTIVATIONS: dict[str, type[torch.nn.Module]] = {"tanh": torch.nn.Tanh, "silu": torch.nn.SiLU,
                                                "softplus": torch.nn.Softplus}


# derivative of each activation from its input ``a`` and output ``y`` (as torch's own backward computes it)
SLOPES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "tanh": lambda a, y: 1.0 - y * y,
    "silu": lambda a, y: torch.sigmoid(a) * (1.0 + a * (1.0 - torch.sigmoid(a))),
    "softplus": lambda a, y: torch.where(a > 20.0, 1.0, torch.sigmoid(a)),  # Softplus(threshold=20)
}


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


def mlp_value_and_grad(net: torch.nn.Sequential, x: torch.Tensor, activation: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Output ``(N,)`` of an :func:`mlp` and its gradient ``(N, n_in)`` with respect to ``x``, by hand."""
    linears = list(net)[::2]
    inputs, outputs = [], []
    h = x
    for lin, act in zip(linears[:-1], list(net)[1::2], strict=True):
        inputs.append(torch.nn.functional.linear(h, lin.weight, lin.bias))
        h = act(inputs[-1])
        outputs.append(h)
    y = torch.nn.functional.linear(h, linears[-1].weight, linears[-1].bias).squeeze(1)
    grad = linears[-1].weight.expand(len(x), -1)
    for lin, a, h in zip(linears[-2::-1], inputs[::-1], outputs[::-1], strict=True):
        grad = (grad * SLOPES[activation](a, h)) @ lin.weight
    return y, grad


@dataclass
class TorchGraph:
    """Index tensors of a :class:`Graph` (positions and cells are passed separately)."""

    species: torch.Tensor
    atom_frame: torch.Tensor
    center: torch.Tensor
    neighbor: torch.Tensor
    shift: torch.Tensor
    edge_frame: torch.Tensor
    n_frames: int

    @classmethod
    def from_graph(cls, g: Graph, dtype: torch.dtype = torch.float64) -> TorchGraph:
        def t(x: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(x))

        return cls(t(g.species), t(g.atom_frame), t(g.center), t(g.neighbor), t(g.shift).to(dtype),
                   t(g.edge_frame), g.n_frames)


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
        return build_graph(atoms, self.settings.cutoff, self.species_of(atoms))

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
        if len(self.nets) == 1:
            return self.energy_offset[species] + self.energy_scale * self.nets[0](x).squeeze(1)
        out = torch.zeros(len(species), dtype=x.dtype, device=x.device)
        for k, net in enumerate(self.nets):
            idx = torch.nonzero(species == k).squeeze(1)
            if idx.numel():
                out = out.index_copy(0, idx, net(x[idx]).squeeze(1))
        return self.energy_offset[species] + self.energy_scale * out

    def atomic_energies_and_grad(self, features: torch.Tensor, species: torch.Tensor
                                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`atomic_energies` and their gradient ``(N, F)`` with respect to the features, without autograd."""
        with torch.no_grad():
            x = (features - self.feature_mean[species]) / self.feature_std[species]
            if len(self.nets) == 1:
                out, grad = mlp_value_and_grad(self.nets[0], x, self.activation)
            else:
                out, grad = torch.zeros(len(species), dtype=x.dtype, device=x.device), torch.zeros_like(x)
                for k, net in enumerate(self.nets):
                    idx = torch.nonzero(species == k).squeeze(1)
                    if idx.numel():
                        out[idx], grad[idx] = mlp_value_and_grad(net, x[idx], self.activation)
            energies = self.energy_offset[species] + self.energy_scale * out
            return energies, grad * (self.energy_scale / self.feature_std[species])

    def edge_vectors(self, positions: torch.Tensor, cells: torch.Tensor, g: TorchGraph) -> torch.Tensor:
        if g.n_frames == 1:
            offsets = g.shift @ cells[0]
        else:
            offsets = torch.einsum("ek,ekl->el", g.shift, cells[g.edge_frame])
        return positions[g.neighbor] - positions[g.center] + offsets

    def frame_energies(self, features: torch.Tensor, g: TorchGraph) -> torch.Tensor:
        """Total energy of every frame ``(B,)``, summed in float64."""
        e_atoms = self.atomic_energies(features, g.species).to(torch.float64)
        return torch.zeros(g.n_frames, dtype=torch.float64).index_add(0, g.atom_frame, e_atoms)

    def energy_from_vectors(self, vectors: torch.Tensor, g: TorchGraph) -> torch.Tensor:
        """Total energy of every frame ``(B,)`` as a differentiable function of the edge vectors."""
        return self.frame_energies(self.descriptor(vectors, g.center, g.neighbor, g.species), g)

    def compute(self, graph: Graph, forces: bool = True, stress: bool = False,
                create_graph: bool = False) -> dict[str, torch.Tensor]:
        """Energy ``(B,)``, forces ``(N, 3)`` (eV/Å) and stress ``(B, 3, 3)`` (eV/Å³) of a graph batch.

        ``create_graph`` keeps the result differentiable (full autograd, slower); otherwise the outputs
        are detached float64 tensors.
        """
        g = TorchGraph.from_graph(graph)
        pos = torch.as_tensor(graph.positions, dtype=torch.float64)
        cells = torch.as_tensor(graph.cells, dtype=torch.float64)
        vec = self.edge_vectors(pos, cells, g)
        if create_graph:
            vec = vec.to(self.dtype).requires_grad_(True)
            with torch.enable_grad():
                energy = self.energy_from_vectors(vec, g)
                (dvec,) = torch.autograd.grad(energy.sum(), vec, create_graph=True)
        elif not (forces or stress):
            with torch.no_grad():
                return {"energy": self.energy_from_vectors(vec.to(self.dtype), g)}
        else:
            feats, vjp = self.descriptor.features_and_vjp(vec.to(self.dtype), g.center, g.neighbor, g.species)
            e_atoms, de_dg = self.atomic_energies_and_grad(feats, g.species)
            energy = torch.zeros(g.n_frames, dtype=torch.float64).index_add(0, g.atom_frame, e_atoms.double())
            dvec = vjp(de_dg)
        dvec = dvec.to(torch.float64)
        out = {"energy": energy}
        if forces:
            out["forces"] = torch.zeros_like(pos).index_add(0, g.center, dvec).index_add(0, g.neighbor, -dvec)
        if stress:
            if g.n_frames == 1:
                virial = (vec.T @ dvec)[None]
            else:
                virial = torch.zeros(g.n_frames, 3, 3, dtype=torch.float64)
                virial = virial.index_add(0, g.edge_frame, vec[:, :, None] * dvec[:, None, :])
            volume = torch.as_tensor(np.abs(np.linalg.det(graph.cells)))
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
