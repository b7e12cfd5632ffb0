"""ASE calculator around a :class:`Potential` (energy, forces, stress for periodic cells)."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes

from metamat.potentials.network import Potential


class PotentialCalculator(Calculator):
    """``atoms.calc = PotentialCalculator(model)``; stress (eV/Å³, Voigt order) needs a 3-D periodic cell."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, model: Potential, **kwargs):
        super().__init__(**kwargs)
        self.model = model.eval()

    def calculate(self, atoms: Atoms | None = None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        want_stress = "stress" in properties
        periodic = bool(np.all(self.atoms.pbc))
        if want_stress and not periodic:
            raise PropertyNotImplementedError("stress needs a structure periodic in all three directions")
        res = self.model.predict(self.atoms, stress=want_stress)
        self.results["energy"] = self.results["free_energy"] = res["energy"]
        self.results["forces"] = res["forces"]
        if want_stress:
            s = res["stress"]
            self.results["stress"] = np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])
