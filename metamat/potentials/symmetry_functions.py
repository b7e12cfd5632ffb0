"""Behler-Parrinello atom-centred symmetry functions (G2 radial, G5 angular), vectorized in torch.

Everything is a function of the edge vectors ``d_e = r_j - r_i + S @ cell``, so autograd through
:class:`SymmetryFunctions` gives exact forces and virials. For several elements the radial functions are
resolved by neighbour element and the angular ones by the unordered element pair of the two neighbours.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch


def default_radial(cutoff: float) -> list[tuple[float, float]]:
    """8 centred G2 (r_s = 0, widths spread up to the cutoff) + 8 shifted narrow G2 between 1.5 Å and rc."""
    centred = [(float(e), 0.0) for e in (0.003, 0.01, 0.02, 0.035, 0.06, 0.1, 0.2, 0.4)]
    n_shift = 8
    centres = [1.5 + k * (cutoff - 1.5) / n_shift for k in range(n_shift)]
    width = (cutoff - 1.5) / n_shift
    eta = 1.0 / (2.0 * width * width)
    return centred + [(eta, round(c, 4)) for c in centres]


@dataclass
class DescriptorSettings:
    """Symmetry-function set. Lengths in Å, ``eta`` in Å⁻².

    G2: ``exp(-eta (r - r_s)^2) fc(r)`` for every ``(eta, r_s)`` pair in ``radial``.
    G5: ``2^(1-zeta) (1 + lambda cos θ)^zeta exp(-eta (r_ij^2 + r_ik^2)) fc(r_ij) fc(r_ik)``, summed over
    unordered neighbour pairs within ``angular_cutoff``, for every ``eta`` x ``zeta`` x ``lambda``
    (``zeta`` powers of two).
    """

    cutoff: float = 5.5
    angular_cutoff: float = 4.5
    radial: list[tuple[float, float]] = field(default_factory=lambda: default_radial(5.5))
    angular_eta: list[float] = field(default_factory=lambda: [0.005, 0.06])
    zeta: list[float] = field(default_factory=lambda: [1.0, 2.0, 4.0, 16.0])
    lambdas: list[float] = field(default_factory=lambda: [1.0, -1.0])

    def __post_init__(self) -> None:
        self.radial = [(float(e), float(r)) for e, r in self.radial]
        if not 0 < self.angular_cutoff <= self.cutoff:
            raise ValueError("need 0 < angular_cutoff <= cutoff")

    def n_radial(self) -> int:
        return len(self.radial)

    def n_angular(self) -> int:
        return len(self.angular_eta) * len(self.zeta) * len(self.lambdas)

    def n_features(self, n_elements: int) -> int:
        """Feature length per atom for a potential with ``n_elements`` elements."""
        n_pairs = n_elements * (n_elements + 1) // 2
        return n_elements * self.n_radial() + n_pairs * self.n_angular()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DescriptorSettings:
        d = dict(d)
        if "radial" in d:
            d["radial"] = [tuple(x) for x in d["radial"]]
        return cls(**d)


def cosine_cutoff(r: torch.Tensor, cutoff: float) -> torch.Tensor:
    """``0.5 (cos(pi r / rc) + 1)`` inside the cutoff, 0 outside (continuous value and slope)."""
    return torch.where(r < cutoff, 0.5 * (torch.cos(r * (math.pi / cutoff)) + 1.0), torch.zeros_like(r))


class SymmetryFunctions(torch.nn.Module):
    """Map edge vectors of a graph to per-atom features ``(N, n_features)``.

    Feature order: radial ``[neighbour element][G2]``, then angular ``[element pair][eta][zeta][lambda]``.
    """

    def __init__(self, settings: DescriptorSettings, n_elements: int):
        super().__init__()
        self.settings = settings
        self.n_elements = n_elements
        rad = torch.tensor(settings.radial, dtype=torch.float64).reshape(-1, 2)
        self.register_buffer("rad_eta", rad[:, 0].clone())
        self.register_buffer("rad_rs", rad[:, 1].clone())
        zetas = [int(z) for z in settings.zeta]
        powers_of_two = all(z >= 1 and z & (z - 1) == 0 and z == zz for z, zz in zip(zetas, settings.zeta,
                                                                                        strict=True))
        if not powers_of_two or zetas != sorted(set(zetas)):
            raise ValueError("zeta values must be increasing powers of two (1, 2, 4, 8, 16, ...)")
        self.zeta_ints = zetas
        self.register_buffer("ang_eta", torch.tensor(settings.angular_eta, dtype=torch.float64))
        self.register_buffer("lambdas", torch.tensor(settings.lambdas, dtype=torch.float64))
        self.register_buffer("zeta_norm", torch.tensor([2.0 ** (1 - z) for z in zetas], dtype=torch.float64))
        pair = torch.zeros(n_elements, n_elements, dtype=torch.long)  # unordered element pair -> channel
        k = 0
        for a in range(n_elements):
            for b in range(a, n_elements):
                pair[a, b] = pair[b, a] = k
                k += 1
        self.register_buffer("pair_index", pair)
        self.n_pairs = k

    @property
    def n_features(self) -> int:
        return self.settings.n_features(self.n_elements)

    def forward(self, vectors: torch.Tensor, center: torch.Tensor, neighbor: torch.Tensor,
                species: torch.Tensor, trip_a: torch.Tensor, trip_b: torch.Tensor) -> torch.Tensor:
        n_atoms = species.shape[0]
        s = self.settings
        r = torch.linalg.vector_norm(vectors, dim=1)
        nb_species = species[neighbor]

        g2 = torch.exp(-self.rad_eta * (r[:, None] - self.rad_rs) ** 2) * cosine_cutoff(r, s.cutoff)[:, None]
        radial = torch.zeros(n_atoms * self.n_elements, g2.shape[1], dtype=g2.dtype, device=g2.device)
        radial = radial.index_add(0, center * self.n_elements + nb_species, g2).reshape(n_atoms, -1)
        if trip_a.numel() == 0:
            angular = torch.zeros(n_atoms, self.n_pairs * s.n_angular(), dtype=r.dtype, device=r.device)
        else:
            angular = self._angular(vectors, r, center, nb_species, trip_a, trip_b, n_atoms)
        return torch.cat([radial, angular], dim=1)

    def _angular(self, vectors, r, center, nb_species, trip_a, trip_b, n_atoms) -> torch.Tensor:
        # per-edge factors first, then one gather per triplet and integer powers by repeated squaring
        unit = vectors / r[:, None]
        fc = cosine_cutoff(r, self.settings.angular_cutoff)
        rad_edge = torch.exp(-self.ang_eta * (r * r)[:, None]) * fc[:, None]
        cos = (unit[trip_a] * unit[trip_b]).sum(1)
        n_trip = len(cos)
        rad_pair = rad_edge[trip_a] * rad_edge[trip_b]  # (T, n_eta)
        base = torch.clamp(1.0 + cos[:, None] * self.lambdas, min=0.0)  # (T, n_lambda)
        powers = []
        p, k = base, 1
        for z in self.zeta_ints:
            while k < z:
                p, k = p * p, 2 * k
            powers.append(p)
        ang = (torch.stack(powers, 1) * self.zeta_norm[:, None]).reshape(n_trip, -1)  # (T, n_zeta*n_lambda)
        if self.n_pairs > 1:  # put each triplet's radial factors in the block of its element pair
            pair = self.pair_index[nb_species[trip_a], nb_species[trip_b]]
            onehot = torch.nn.functional.one_hot(pair, self.n_pairs).to(rad_pair.dtype)
            rad_pair = (onehot[:, :, None] * rad_pair[:, None, :]).reshape(n_trip, -1)
        # sum over each centre's triplets as one batched matmul over a padded (atom, slot) layout, so the
        # (T, n_features) outer product is never materialised (triplets are sorted by centre)
        tc = center[trip_a]
        counts = torch.bincount(tc, minlength=n_atoms)
        width = int(counts.max())
        slot = torch.arange(n_trip, device=tc.device) - (torch.cumsum(counts, 0) - counts)[tc]
        flat = tc * width + slot
        rad_pad = torch.zeros(n_atoms * width, rad_pair.shape[1], dtype=r.dtype, device=r.device)
        ang_pad = torch.zeros(n_atoms * width, ang.shape[1], dtype=r.dtype, device=r.device)
        rad_pad = rad_pad.index_put((flat,), rad_pair).reshape(n_atoms, width, -1)
        ang_pad = ang_pad.index_put((flat,), ang).reshape(n_atoms, width, -1)
        return torch.bmm(rad_pad.transpose(1, 2), ang_pad).reshape(n_atoms, -1)
