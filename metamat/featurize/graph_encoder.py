"""Crystal-graph encoders (CGCNN- and SchNet-style, plain torch) over packed graph rows of any size.

Input rows are packed by :func:`metamat.featurize.graphs.graph_features` (a self-describing row per
structure: site count, pair count, species slots, the sites' species and occupancies, the neighbour pairs),
optionally followed by ``extra_dim`` ordinary feature columns (e.g. composition features), so the encoder
drops into every meta-learner as a feature extractor of a 2-D matrix. Rows are unpacked into one flat
graph for the whole batch (sites of all structures, directed edges from the stored pairs) and convolved
with ``index_add`` segment sums: cost linear in sites + edges, no site or neighbour limit.

- Node input: occupancy-weighted sum over a site's species of (learned embedding of Z, zero at
  initialization + linear map of standardized element properties), so elements absent from meta-training
  still get a property-based embedding, and a mixed or partially occupied site is the occupancy-weighted mix.
- Edges: Gaussian-expanded distances times a cosine cutoff envelope; messages are multiplied by the
  envelope too, so the embedding is continuous when an atom crosses the cutoff.
- ``n_conv`` convolutions. ``cgcnn``: message sigmoid(W_f z) * softplus(W_s z) of z = [v_i, v_j, e_ij];
  ``schnet``: continuous filter W(e_ij) * (W v_j). Messages are summed over neighbours (divided by a
  constant ``neighbor_norm``), then a residual linear update.
- Readout: occupancy-weighted mean over sites -> SiLU, concatenated with a small MLP of the extra
  columns -> Linear -> ``out_dim``. Mean pooling makes the output identical for a cell and its supercells.

Models trained on the earlier padded layout (options ``max_sites``/``max_neighbors``/``species_slots``)
load unchanged: those options are accepted and ignored (the weights never depended on them).
The unpacking has data-dependent shapes, so ``prefers_task_loop`` tells MAML to loop over tasks
instead of ``vmap``.

The module sits in ``featurize`` (it depends only on the element table and the packed rows) so that the frozen
pretrained encoder can be a structure featurizer (:mod:`metamat.featurize.graph_embedding`); the
meta-learners reach it through :mod:`metamat.models.meta.encoders`. (It was ``metamat.models.meta.graph_encoder``
until the pretraining of issue 14.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from metamat.featurize.elements import load_element_table
from metamat.featurize.graphs import DEFAULT_CUTOFF, HEADER, LEGACY_LAYOUT_KEYS, GraphLayout

ELEMENT_PROPERTIES = ("MendeleevNumber", "AtomicWeight", "MeltingT", "Column", "Row", "CovalentRadius",
                      "Electronegativity", "NsValence", "NpValence", "NdValence", "NfValence", "NValence",
                      "NUnfilled", "GSvolume_pa", "GSbandgap", "GSmagmom")


def element_property_matrix(names: Sequence[str] = ELEMENT_PROPERTIES) -> np.ndarray:
    """(104, len(names)) element properties standardized over Z = 1..103 (row 0, padding, is zero)."""
    m = load_element_table().matrix(list(names))
    body = m[1:]
    out = np.zeros_like(m)
    out[1:] = (body - body.mean(0)) / np.where(body.std(0) > 0, body.std(0), 1.0)
    return out


def unpack_rows(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Flat graph of a batch of packed graph rows (the graph block only): per site ``row`` (structure index),
    ``species`` and ``occupancy`` (n_sites_total, S_max); per directed edge ``center``, ``neighbor`` (global
    site indices) and ``distance``. Only index arithmetic: cost linear in the sites and pairs of the batch."""
    n = x.shape[0]
    hdr = x[:, :HEADER].round().long()
    ns, npair, slots = hdr[:, 0], hdr[:, 1], hdr[:, 2].clamp_min(1)
    rows = torch.arange(n, device=x.device)
    site_row = torch.repeat_interleave(rows, ns)
    site_off = torch.cumsum(ns, 0) - ns
    local = torch.arange(len(site_row), device=x.device) - site_off[site_row]
    S = slots[site_row][:, None]                                                   # (N, 1)
    slot = torch.arange(int(slots.max()) if n else 1, device=x.device)[None, :]
    valid = slot < S
    zcol = torch.where(valid, HEADER + local[:, None] * 2 * S + slot, 0)
    species = torch.where(valid, x[site_row[:, None], zcol].round().long(), 0)
    occupancy = torch.where(valid, x[site_row[:, None], torch.where(valid, zcol + S, 0)], 0.0)
    pair_row = torch.repeat_interleave(rows, npair)
    k = torch.arange(len(pair_row), device=x.device) - (torch.cumsum(npair, 0) - npair)[pair_row]
    pcol = HEADER + ns[pair_row] * 2 * slots[pair_row] + 3 * k
    off = site_off[pair_row]
    i = x[pair_row, pcol].round().long() + off
    j = x[pair_row, pcol + 1].round().long() + off
    d = x[pair_row, pcol + 2]
    return {"row": site_row, "species": species, "occupancy": occupancy, "center": torch.cat([i, j]),
            "neighbor": torch.cat([j, i]), "distance": torch.cat([d, d])}


class CrystalGraphEncoder(nn.Module):
    """Graph network on packed crystal-graph rows (+ optional trailing ordinary features).

    ``hidden[0]`` is the node width; ``cutoff`` must be the one the rows were built with (it sets the
    envelope); ``extra_dim`` trailing ordinary columns (0: pure graph) go through ``Linear -> SiLU`` and join
    the pooled graph embedding before the output layer. ``in_dim`` is the width the model's feature
    preparation was fitted on (any width >= ``extra_dim``; rows of a call may be wider or narrower).
    """

    conv_type = "cgcnn"
    ragged_rows = True  # rows have a per-call width: feature preparation standardizes only the tail
    # learners that batch tasks with vmap (MAML) should loop instead: unpacking has data-dependent shapes
    prefers_task_loop = True

    def __init__(self, in_dim: int, hidden: Sequence[int] = (64,), out_dim: int = 64, *,
                 cutoff: float = DEFAULT_CUTOFF, extra_dim: int = 0, n_conv: int = 3, n_gaussians: int = 32,
                 neighbor_norm: float = 12.0, **legacy: Any):
        super().__init__()
        unknown = sorted(set(legacy) - set(LEGACY_LAYOUT_KEYS))
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown options {unknown}")
        self.layout = GraphLayout(float(cutoff))
        self.in_dim, self.out_dim = int(in_dim), int(out_dim)
        self.hidden = tuple(int(h) for h in hidden)
        if len(self.hidden) != 1:
            raise ValueError(f"{type(self).__name__}: hidden={list(self.hidden)}; give one node width, e.g. (64,) "
                             "(depth is n_conv)")
        if extra_dim < 0 or self.in_dim < extra_dim:
            raise ValueError(f"{type(self).__name__}: in_dim={self.in_dim} is smaller than extra_dim={extra_dim}")
        self.extra_dim, self.n_conv, self.n_gaussians = int(extra_dim), int(n_conv), int(n_gaussians)
        self.neighbor_norm = float(neighbor_norm)
        h = self.hidden[0]
        props = torch.as_tensor(element_property_matrix(), dtype=torch.float32)
        self.register_buffer("element_props", props)
        self.register_buffer("centers", torch.linspace(0.0, self.layout.cutoff, self.n_gaussians))
        self.gauss_width = self.layout.cutoff / max(self.n_gaussians - 1, 1)
        self.embed = nn.Embedding(props.shape[0], h)
        nn.init.zeros_(self.embed.weight)  # unseen elements: property map only
        self.props = nn.Linear(props.shape[1], h)
        self.convs = nn.ModuleList([self._make_conv(h) for _ in range(self.n_conv)])
        self.extra = nn.Linear(self.extra_dim, h) if self.extra_dim else None
        self.out = nn.Linear(h * (2 if self.extra_dim else 1), self.out_dim)  # registered last ("last" layer)

    # ------------------------------------------------------------------ pieces
    def _make_conv(self, h: int) -> nn.ModuleDict:
        return nn.ModuleDict({"center": nn.Linear(h, 2 * h), "neighbor": nn.Linear(h, 2 * h, bias=False),
                              "edge": nn.Linear(self.n_gaussians, 2 * h), "mix": nn.Linear(h, h)})

    def _node_terms(self, conv: nn.ModuleDict, v: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Per-node parts of the message: (centre term or None, neighbour term), computed before gathering."""
        return conv["center"](v), conv["neighbor"](v)

    def _message(self, conv: nn.ModuleDict, ci: torch.Tensor | None, cj: torch.Tensor, e: torch.Tensor
                 ) -> torch.Tensor:
        """Per-edge message from the centre term ``ci``, the gathered neighbour term ``cj`` and edge features."""
        gate, core = (ci + cj + conv["edge"](e)).chunk(2, dim=-1)
        return torch.sigmoid(gate) * nn.functional.softplus(core)

    @staticmethod
    def trailing_columns(options: dict[str, Any]) -> int:
        """Ordinary (standardized) columns after the packed graph block."""
        return int(options.get("extra_dim", 0))

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        x = x.reshape(-1, x.shape[-1])
        n = x.shape[0]
        g = unpack_rows(x[:, :x.shape[1] - self.extra_dim])
        table = self.embed.weight + self.props(self.element_props.to(x.dtype))      # (104, h)
        occ = g["occupancy"]
        v = (table[g["species"]] * occ[..., None]).sum(1)                             # (N, h)
        v = self._convolve(v, g["center"], g["neighbor"], g["distance"])
        site_w = occ.sum(1)
        total = x.new_zeros(n).index_add(0, g["row"], site_w).clamp_min(1e-12)
        pooled = x.new_zeros(n, v.shape[1]).index_add(0, g["row"], v * site_w[:, None]) / total[:, None]
        h = nn.functional.silu(pooled)
        if self.extra is not None:
            h = torch.cat([h, nn.functional.silu(self.extra(x[:, x.shape[1] - self.extra_dim:]))], dim=-1)
        return self.out(h).reshape(*lead, self.out_dim)

    def _edge_features(self, d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Gaussian-expanded distances times the cosine envelope, and the envelope / ``neighbor_norm``."""
        cut = self.layout.cutoff
        env = 0.5 * (torch.cos(d * (math.pi / cut)) + 1.0) * (d < cut).to(d.dtype)
        e = torch.exp(-(((d[..., None] - self.centers.to(d.dtype)) / self.gauss_width) ** 2)) * env[..., None]
        return e, env[..., None] / self.neighbor_norm

    def _convolve(self, v: torch.Tensor, center: torch.Tensor, neighbor: torch.Tensor, d: torch.Tensor
                  ) -> torch.Tensor:
        """``n_conv`` message-passing steps over a flat directed edge list (segment sums by ``index_add``)."""
        e, w_edge = self._edge_features(d)
        for conv in self.convs:
            ci, cj = self._node_terms(conv, v)
            msg = self._message(conv, None if ci is None else ci[center], cj[neighbor], e) * w_edge
            v = v + conv["mix"](msg.new_zeros(v.shape[0], msg.shape[-1]).index_add(0, center, msg))
        return v

    def config(self) -> dict[str, Any]:
        return {"type": self.conv_type, "in_dim": self.in_dim, "hidden": list(self.hidden), "out_dim": self.out_dim,
                **self.layout.to_dict(), "extra_dim": self.extra_dim, "n_conv": self.n_conv,
                "n_gaussians": self.n_gaussians, "neighbor_norm": self.neighbor_norm}


class SchNetEncoder(CrystalGraphEncoder):
    """SchNet-style variant: continuous-filter convolution, message = W(e_ij) * (W v_j)."""

    conv_type = "schnet"

    def _make_conv(self, h: int) -> nn.ModuleDict:
        return nn.ModuleDict({"filter1": nn.Linear(self.n_gaussians, h), "filter2": nn.Linear(h, h),
                              "neighbor": nn.Linear(h, h), "mix": nn.Linear(h, h)})

    def _node_terms(self, conv: nn.ModuleDict, v: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        return None, nn.functional.silu(conv["neighbor"](v))

    def _message(self, conv: nn.ModuleDict, ci: torch.Tensor | None, cj: torch.Tensor, e: torch.Tensor
                 ) -> torch.Tensor:
        return conv["filter2"](nn.functional.softplus(conv["filter1"](e))) * cj


__all__ = ["CrystalGraphEncoder", "SchNetEncoder", "element_property_matrix", "unpack_rows"]
