"""The shipped default model gives the same predictions through the new registry as through the code it
replaced.

Reference numbers: produced once with the ORIGINAL code at commit 6832f81 (before the registry, when
loading went through ``metamat.models.io.load_model``), by running in a checkout of that commit::

    from metamat.featurize.pipeline import featurize_formulas
    from metamat.pretrained import load_default
    m = load_default().fit(featurize_formulas(SUPPORT).values, Y)
    mean, std, lower, upper = m.predict_dist(featurize_formulas(QUERY).values, level=0.9)
"""

from __future__ import annotations

import numpy as np
import pytest

from metamat.featurize.pipeline import featurize_formulas
from metamat.models import registry

SUPPORT = ["Fe2O3", "NaCl", "SiO2", "GaAs", "TiO2", "ZnO", "MgO", "CuO", "Al2O3", "LiF"]
Y = np.array([2.2, 8.5, 9.0, 1.4, 3.2, 3.3, 7.8, 1.2, 8.8, 13.6])
QUERY = ["CdS", "ZnS", "BN", "Cu2O", "SnO2"]
REF_MEAN = [4.765167808103188, 4.6837506798141355, 7.579941343186514, 2.0383142790883038, 6.1552084782421606]
REF_STD = [3.0844868583069722, 3.1332233964093303, 7.928688552337914, 2.7911010356174044, 4.214865632947582]
REF_LOWER = [-0.3083615880671875, -0.46994318781896194, -5.461590779095122, -2.5526383825349943,
             -0.7776285452247818]
REF_UPPER = [9.838697204273563, 9.837444547447234, 20.62147346546815, 6.629266940711602, 13.088045501709104]


@pytest.mark.parametrize("spec", ["default", "pretrained"])
def test_shipped_default_predicts_as_before(spec):
    m = registry.load(spec).fit(featurize_formulas(SUPPORT).values, Y)
    mean, std, lower, upper = m.predict_dist(featurize_formulas(QUERY).values, level=0.9)
    for got, ref in ((mean, REF_MEAN), (std, REF_STD), (lower, REF_LOWER), (upper, REF_UPPER)):
        # float32 network: the torch thread count changes summation order (measured: 4e-7 relative)
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-9)
