"""Training data with descriptors and their Jacobians computed once per frame.

The energy depends on positions only through the symmetry functions ``G`` and ``G_i`` only through the
edge vectors of atom ``i``. So ``dE/dd_e = sum_f dE/dG_{i(e) f} J_{e f}`` with ``J_{e f} = dG_{i(e) f}/dd_e``,
which the descriptor's analytic vector-Jacobian product gives once per frame (one pass per feature).
Training then needs only the network and a small contraction per step, yet its forces equal autograd
through the descriptors exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms

from metamat.data.frames import frame_energy, frame_forces
from metamat.errors import InputError
from metamat.potentials.network import Potential, TorchGraph


@dataclass
class FrameTensors:
    """Descriptors, Jacobians and references of a list of frames (atoms and edges concatenated)."""

    features: torch.Tensor  # (N, F)
    species: torch.Tensor  # (N,)
    forces: torch.Tensor  # (N, 3) reference
    jacobian: torch.Tensor  # (E, F, 3)
    center: torch.Tensor  # (E,) global atom index
    neighbor: torch.Tensor  # (E,)
    energy: torch.Tensor  # (B,) reference total energy, float64
    n_atoms: torch.Tensor  # (B,)
    counts: np.ndarray  # (B, n_elements) atoms of each element per frame
    atom_start: np.ndarray  # (B + 1,)
    edge_start: np.ndarray  # (B + 1,)

    @property
    def n_frames(self) -> int:
        return len(self.energy)


@dataclass
class Batch:
    """A few frames with local atom indices, ready for :func:`batch_energy_forces`."""

    features: torch.Tensor
    species: torch.Tensor
    atom_frame: torch.Tensor
    forces: torch.Tensor
    jacobian: torch.Tensor
    center: torch.Tensor
    neighbor: torch.Tensor
    energy: torch.Tensor
    n_atoms: torch.Tensor


def frame_jacobian(model: Potential, atoms: Atoms) -> tuple[torch.Tensor, torch.Tensor, TorchGraph]:
    """Features ``(N, F)`` and ``J = dG_{center(e)}/d(edge vector e)`` ``(E, F, 3)`` of one frame."""
    graph = model.graph(atoms)
    g = TorchGraph.from_graph(graph, torch.float64)
    pos = torch.as_tensor(graph.positions, dtype=torch.float64)
    cells = torch.as_tensor(graph.cells, dtype=torch.float64)
    desc = model.descriptor.to(torch.float64)
    vec = model.edge_vectors(pos, cells, g)
    feats, vjp = desc.features_and_vjp(vec, g.center, g.neighbor, g.species)
    # column f of the Jacobian is the descriptor's vector-Jacobian product with feature f of every atom
    onehot = torch.eye(feats.shape[1], dtype=torch.float64)
    jac = torch.stack([vjp(onehot[f].expand_as(feats)) for f in range(feats.shape[1])], 1)
    return feats.detach(), jac, g


def precompute(model: Potential, frames: Sequence[Atoms], dtype: torch.dtype = torch.float32,
               progress=None) -> FrameTensors:
    """Descriptors and Jacobians of every frame; ``progress(k)`` is called after each frame."""
    if not frames:
        raise InputError("no frames to precompute", field="frames")
    feats, species, forces, jacs, centers, neighbors = [], [], [], [], [], []
    energy, n_atoms, counts = [], [], []
    atom_start, edge_start = [0], [0]
    n_el = len(model.elements)
    for k, atoms in enumerate(frames):
        f, j, g = frame_jacobian(model, atoms)
        ref_f = frame_forces(atoms)
        feats.append(f.to(dtype))
        jacs.append(j.to(dtype))
        species.append(g.species)
        forces.append(torch.as_tensor(ref_f, dtype=dtype))
        centers.append(g.center + atom_start[-1])
        neighbors.append(g.neighbor + atom_start[-1])
        energy.append(frame_energy(atoms))
        n_atoms.append(len(atoms))
        counts.append(np.bincount(g.species.numpy(), minlength=n_el))
        atom_start.append(atom_start[-1] + len(atoms))
        edge_start.append(edge_start[-1] + len(g.center))
        if progress is not None:
            progress(k + 1)
    return FrameTensors(
        features=torch.cat(feats), species=torch.cat(species), forces=torch.cat(forces),
        jacobian=torch.cat(jacs), center=torch.cat(centers), neighbor=torch.cat(neighbors),
        energy=torch.tensor(energy, dtype=torch.float64), n_atoms=torch.tensor(n_atoms),
        counts=np.array(counts), atom_start=np.array(atom_start), edge_start=np.array(edge_start),
    )


def make_batch(data: FrameTensors, frame_ids: Sequence[int] | np.ndarray) -> Batch:
    """Gather frames into a batch with atom indices renumbered from 0."""
    ids = np.asarray(frame_ids, dtype=np.int64)
    a0, a1 = data.atom_start[ids], data.atom_start[ids + 1]
    e0, e1 = data.edge_start[ids], data.edge_start[ids + 1]
    na, ne = a1 - a0, e1 - e0
    local_start = np.cumsum(na) - na
    aidx = np.repeat(a0 - local_start, na) + np.arange(na.sum())
    eidx = np.repeat(e0 - np.cumsum(ne) + ne, ne) + np.arange(ne.sum())
    shift = torch.from_numpy(np.repeat(local_start - a0, ne))
    aidx_t, eidx_t = torch.from_numpy(aidx), torch.from_numpy(eidx)
    return Batch(
        features=data.features[aidx_t], species=data.species[aidx_t],
        atom_frame=torch.from_numpy(np.repeat(np.arange(len(ids)), na)), forces=data.forces[aidx_t],
        jacobian=data.jacobian[eidx_t], center=data.center[eidx_t] + shift,
        neighbor=data.neighbor[eidx_t] + shift, energy=data.energy[torch.from_numpy(ids)],
        n_atoms=data.n_atoms[torch.from_numpy(ids)],
    )


def batch_energy_forces(model: Potential, batch: Batch, create_graph: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted frame energies ``(B,)`` and forces ``(N, 3)`` from stored descriptors and Jacobians."""
    with torch.enable_grad():
        feats = batch.features.detach().requires_grad_(True)
        e_atoms = model.atomic_energies(feats, batch.species)
        n_frames = len(batch.energy)
        e_frames = torch.zeros(n_frames, dtype=e_atoms.dtype).index_add(0, batch.atom_frame, e_atoms)
        (de_dg,) = torch.autograd.grad(e_frames.sum(), feats, create_graph=create_graph)
    dvec = torch.bmm(de_dg[batch.center].unsqueeze(1), batch.jacobian).squeeze(1)
    forces = torch.zeros_like(batch.forces).index_add(0, batch.center, dvec).index_add(0, batch.neighbor, -dvec)
    return e_frames, forces


def fit_scaling_from_frames(model: Potential, frames: Sequence[Atoms]) -> Potential:
    """Set the per-element feature scaling of ``model`` from the descriptors of ``frames`` (no references
    needed); useful for untrained models in tests and benchmarks."""
    feats, species = [], []
    with torch.no_grad():
        for atoms in frames:
            graph = model.graph(atoms)
            g = TorchGraph.from_graph(graph, model.dtype)
            vec = model.edge_vectors(torch.as_tensor(graph.positions, dtype=model.dtype),
                                     torch.as_tensor(graph.cells, dtype=model.dtype), g)
            feats.append(model.descriptor(vec, g.center, g.neighbor, g.species))
            species.append(g.species)
    model.fit_scaling(torch.cat(feats), torch.cat(species))
    return model
