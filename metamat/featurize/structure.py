"""Symmetry-invariant structure descriptors: a registry, SOAP (dscribe), and composition + structure features.

``featurize_structures(crystals, names)`` returns one fixed-length vector per structure, invariant to
translation, rotation, reflection, site order and the choice of (super)cell:

* ``sorted_inverse_distance`` (:class:`SortedInverseDistance`, 32 features by default),
* ``acsf`` (:class:`ACSF`, element-agnostic + electronegativity- and Z-weighted, 192 features by default),
* ``physics`` (:class:`~metamat.featurize.physics_descriptors.PhysicsDescriptors`, 27 features: density,
  packing, coordination, bond lengths, local order, symmetry, mobile-ion network, free volume),
* ``ionic`` (:class:`~metamat.featurize.ionic_descriptors.IonicDescriptors`, 15 features: Ewald site energies
  of guessed formal charges, anion framework type),
* ``graph_pretrained`` (:class:`~metamat.featurize.graph_embedding.GraphEmbedding`, 64 features: the pooled
  embedding of the crystal-graph encoder pretrained by ``scripts/pretrain_graph_encoder.py``, frozen),
* ``soap`` (:class:`SOAP`, dscribe's species-agnostic ``mu2`` power spectrum, 105 features by default;
  needs ``pip install metamat[structure]``).

Structures are featurized in chunks of whole structures (bounded memory, one neighbour search per chunk
shared by the descriptors). :func:`featurize_composition_structure` puts the composition features of the
same crystals (occupancy-weighted species counts, no formula strings needed) in front of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from metamat.data.compositions import CompositionArrays, _assemble
from metamat.data.formula import ELEMENTS, format_formula
from metamat.data.structures import Crystal, StructureBatch, crystals_or_raise
from metamat.errors import InputError
from metamat.featurize.elements import load_element_table
from metamat.featurize.graph_embedding import GraphEmbedding
from metamat.featurize.ionic_descriptors import IonicDescriptors
from metamat.featurize.physics_descriptors import PhysicsDescriptors
from metamat.featurize.structure_descriptors import (
    ACSF,
    BEHLER_2011,
    GASTEGGER_2018,
    NeighborCache,
    SortedInverseDistance,
    StructureFeaturizer,
)

__all__ = ["ACSF", "BEHLER_2011", "GASTEGGER_2018", "SOAP", "GraphEmbedding", "IonicDescriptors", "PhysicsDescriptors",
           "STRUCTURE_FEATURIZERS", "SortedInverseDistance", "StructureFeaturizer", "batch_compositions",
           "crystal_formula", "featurize_composition_structure", "featurize_structures",
           "resolve_structure_featurizers"]

DE_2016 = "S. De, A. P. Bartók, G. Csányi, M. Ceriotti, Comparing molecules and solids across structural and " \
          "alchemical space, Phys. Chem. Chem. Phys. 18, 13754 (2016)."
DARBY_2022 = "J. P. Darby, J. R. Kermode, G. Csányi, Compressing local atomic neighbourhood descriptors, " \
             "npj Comput. Mater. 8, 166 (2022)."
DSCRIBE_2023 = "J. Laakso et al., Updates to the DScribe library: new descriptors and derivatives, " \
               "J. Chem. Phys. 158, 234802 (2023)."


def _dscribe_soap():
    try:
        from dscribe.descriptors import SOAP as DscribeSOAP
    except ImportError as exc:
        raise ImportError("the SOAP descriptor needs dscribe: pip install metamat[structure]") from exc
    return DscribeSOAP


class SOAP(StructureFeaturizer):
    """Structure-averaged SOAP power spectrum (dscribe, ``average="inner"``, GTO radial basis).

    Species-agnostic: dscribe's ``mu2`` compression sums the neighbour densities of all species before the
    power spectrum (Darby et al. 2022), so the length, ``n_max (n_max + 1) / 2 * (l_max + 1)``, does not
    grow with the ~90 elements of a dataset. Each structure is periodic along its own ``pbc``.
    Disordered sites: every distinct total site occupancy becomes a pseudo-species whose density is weighted
    by that occupancy (dscribe's ``species_weighting``), so a half-occupied neighbour counts half; the inner
    average over centres is unweighted (dscribe has no centre weights).
    """

    name = "soap"

    def __init__(self, r_cut: float = 5.0, n_max: int = 6, l_max: int = 4, sigma: float = 0.5):
        self.r_cut, self.n_max, self.l_max, self.sigma = float(r_cut), int(n_max), int(l_max), float(sigma)

    @property
    def n_features(self) -> int:
        return self.n_max * (self.n_max + 1) // 2 * (self.l_max + 1)

    def feature_labels(self) -> list[str]:
        return [f"SOAP mu2 {k}" for k in range(self.n_features)]

    def citations(self) -> list[str]:
        return [DE_2016, DARBY_2022, DSCRIBE_2023]

    def featurize(self, batch: StructureBatch, neighbors: NeighborCache | None = None) -> np.ndarray:
        from ase import Atoms

        dscribe_soap = _dscribe_soap()
        occ = np.round(batch.site_occupancy, 6)
        levels, pseudo = np.unique(occ, return_inverse=True)
        species = list(range(1, len(levels) + 1))
        weighting = {"mode": "mu2", "species_weighting": dict(zip(species, levels.tolist(), strict=True))}
        pseudo = pseudo.reshape(-1) + 1
        systems = [Atoms(numbers=pseudo[a:b], positions=batch.positions[a:b], cell=batch.cells[k],
                         pbc=batch.pbc[k]) for k, (a, b) in enumerate(zip(batch.offsets[:-1], batch.offsets[1:],
                                                                            strict=True))]
        out = np.empty((len(systems), self.n_features))
        periodic = batch.pbc.any(axis=1)
        for flag in (True, False):  # dscribe refuses periodic=True for a molecule without a cell
            idx = np.flatnonzero(periodic == flag)
            if len(idx):
                soap = dscribe_soap(r_cut=self.r_cut, n_max=self.n_max, l_max=self.l_max, sigma=self.sigma,
                                    species=species, periodic=flag, average="inner", sparse=False,
                                    compression=weighting)
                out[idx] = np.asarray(soap.create([systems[k] for k in idx], n_jobs=1), float).reshape(len(idx), -1)
        return out

    def __repr__(self) -> str:
        return f"SOAP(r_cut={self.r_cut}, n_max={self.n_max}, l_max={self.l_max}, sigma={self.sigma})"


STRUCTURE_FEATURIZERS: dict[str, type[StructureFeaturizer]] = {
    cls.name: cls for cls in (SortedInverseDistance, ACSF, SOAP, PhysicsDescriptors, IonicDescriptors, GraphEmbedding)
}


def resolve_structure_featurizers(names: str | Sequence[str | StructureFeaturizer]) -> list[StructureFeaturizer]:
    """Featurizer objects from ``'acsf,soap'`` or a list of names / featurizers (InputError on unknown names)."""
    items = [p.strip() for p in names.split(",") if p.strip()] if isinstance(names, str) else list(names)
    out: list[StructureFeaturizer] = []
    for item in items:
        if isinstance(item, StructureFeaturizer):
            out.append(item)
        elif item in STRUCTURE_FEATURIZERS:
            out.append(STRUCTURE_FEATURIZERS[item]())
        else:
            raise InputError(f"unknown structure descriptor {item!r}; choose from {sorted(STRUCTURE_FEATURIZERS)}",
                             field="names", value=item)
    if not out:
        raise InputError("no structure descriptor given", field="names")
    return out


def as_crystals(structures: StructureBatch | Sequence[object], source: str = "structures") -> list[Crystal]:
    """Crystals as given; anything else is converted and validated (one InputError lists every bad entry)."""
    if isinstance(structures, StructureBatch):
        return structures.crystals
    items = list(structures)
    todo = [k for k, s in enumerate(items) if not isinstance(s, Crystal)]
    if todo:
        converted = crystals_or_raise([items[k] for k in todo], source, rows=[k + 1 for k in todo])
        for k, c in zip(todo, converted, strict=True):
            items[k] = c
    return items


def _chunks(crystals: list[Crystal], max_sites: int) -> list[tuple[int, int]]:
    """Consecutive ranges of whole structures with about ``max_sites`` sites each."""
    ends = np.cumsum([c.n_sites for c in crystals])
    cuts = np.searchsorted(ends, np.arange(max_sites, ends[-1], max_sites), side="left") + 1 if len(ends) else []
    bounds = np.unique(np.r_[0, cuts, len(crystals)]).astype(int)
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))


def featurize_structures(crystals_or_batch: StructureBatch | Sequence[object],
                         names: str | Sequence[str | StructureFeaturizer] = ("sorted_inverse_distance", "acsf"),
                         progress: Callable[[int, int], None] | None = None, max_sites_per_chunk: int = 4096
                         ) -> tuple[np.ndarray, list[str]]:
    """Feature matrix (n_structures, n_features) and labels of the named structure descriptors.

    ``progress(done, total)`` is called after each chunk of structures (counted in structures)."""
    feats = resolve_structure_featurizers(names)
    crystals = as_crystals(crystals_or_batch)
    if not crystals:
        raise InputError("no structures to featurize", field="structures")
    labels = [label for f in feats for label in f.feature_labels()]
    edges = np.cumsum([0] + [len(f.feature_labels()) for f in feats])
    out = np.empty((len(crystals), len(labels)))
    ranges = _chunks(crystals, max_sites_per_chunk)
    largest = max(f.cutoff for f in feats)
    for lo, hi in ranges:
        batch = StructureBatch.from_crystals(crystals[lo:hi])
        cache = NeighborCache(batch)
        if largest > 0:
            cache.get(largest)  # one search; smaller cutoffs filter it
        for f, a, b in zip(feats, edges[:-1], edges[1:], strict=True):
            out[lo:hi, a:b] = f.featurize(batch, cache)
        if callable(progress):
            progress(hi, len(crystals))
    return out, labels


def batch_compositions(crystals: Sequence[Crystal]) -> CompositionArrays:
    """Compositions of crystals as :class:`CompositionArrays`: occupancy-weighted species counts per cell."""
    batch = StructureBatch.from_crystals(crystals)
    real = batch.species > 0
    material = np.broadcast_to(batch.site_structure[:, None], batch.species.shape)[real]
    formulas = np.array([crystal_formula(c) for c in batch.crystals], dtype=object)
    return _assemble(formulas, material, batch.species[real], batch.occupancy[real])


def crystal_formula(crystal: Crystal, digits: int = 6) -> str:
    """Formula of the cell from occupancy-weighted species counts, elements by Pauling electronegativity
    (as pymatgen orders them): ``Na0.5Li0.5Cl`` for a half-Na, half-Li site next to a Cl site."""
    real = crystal.species > 0
    amounts = np.bincount(crystal.species[real], weights=crystal.occupancy[real], minlength=len(ELEMENTS) + 1)
    z = np.flatnonzero(amounts > 0)
    chi = load_element_table().column("X")[z]
    z = z[np.lexsort((z, chi))]
    return format_formula([(ELEMENTS[k - 1], round(float(amounts[k]), digits)) for k in z])


def featurize_composition_structure(crystals_or_batch: StructureBatch | Sequence[object],
                                    composition: str = "composition",
                                    names: str | Sequence[str | StructureFeaturizer] = ("sorted_inverse_distance",
                                                                                         "acsf"),
                                    progress: Callable[[int, int], None] | None = None
                                    ) -> tuple[np.ndarray, list[str]]:
    """Composition features (metamat.featurize.pipeline presets) then structure descriptors, for the
    "composition+structure" random-forest baseline."""
    from metamat.featurize.pipeline import featurize_compositions

    crystals = as_crystals(crystals_or_batch)
    comp, comp_labels = featurize_compositions(batch_compositions(crystals), composition)
    struct, struct_labels = featurize_structures(crystals, names, progress=progress)
    return np.hstack([comp, struct]), comp_labels + struct_labels
