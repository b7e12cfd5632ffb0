"""Published matbench v0.1 leaderboard values (mean and std of the MAE over the 5 official folds).

Every number below was copied from the per-task leaderboard pages of the matbench repository
(github.com/materialsproject/matbench, ``docs_src/Leaderboards Per-Task/matbench_v0.1_matbench_<task>.md``)
at the commit given in :data:`SOURCES`; the per-task table there lists ``mean mae`` and ``std mae`` over the
official folds. Only regression tasks whose page was read are included; algorithms marked ``structure``
used crystal structures, which the composition-only runner does not (their numbers are context, not a
target). The RF-SCM/Magpie baseline (Dunn et al., npj Comput. Mater. 6, 138 (2020)) is a 500-tree random
forest on Magpie features for composition tasks (plus Sine Coulomb matrix features for structure tasks),
per ``benchmarks/matbench_v0.1_rf/info.json`` in the same repository.
"""

from __future__ import annotations

from dataclasses import dataclass

_PAGE = "materialsproject/matbench: docs_src/Leaderboards Per-Task/matbench_v0.1_matbench_{task}.md @ {commit}"
SOURCES: dict[str, str] = {
    "matbench_steels": _PAGE.format(task="steels", commit="200ebec0a63d430f0bb635a0b39eb2b4dfce25e7"),
    "matbench_expt_gap": _PAGE.format(task="expt_gap", commit="1664746420217bf0cec829c1645452b8f9bc3f68"),
    "matbench_jdft2d": _PAGE.format(task="jdft2d", commit="2370a43fef5939581d1862d28b224358d754a04d"),
    "matbench_dielectric": _PAGE.format(task="dielectric", commit="2d6afb28c9b880ba11320875f26c37b49add9cc0"),
    "matbench_phonons": _PAGE.format(task="phonons", commit="0292b12d7e8e49253c996a458ff72e32dd8f35e4"),
    "matbench_perovskites": _PAGE.format(task="perovskites", commit="2370a43fef5939581d1862d28b224358d754a04d"),
}
RF_REFERENCE = "RF-SCM/Magpie"


@dataclass(frozen=True)
class LeaderboardEntry:
    """One algorithm's published result on one task: mean and std of the per-fold MAE (task units)."""

    algorithm: str
    mean_mae: float
    std_mae: float
    uses_structure: bool = False


def _e(algorithm: str, mean: float, std: float, structure: bool = False) -> LeaderboardEntry:
    return LeaderboardEntry(algorithm, mean, std, structure)


LEADERBOARD: dict[str, tuple[LeaderboardEntry, ...]] = {
    "matbench_steels": (  # MPa
        _e("MODNet (v0.1.12)", 87.7627, 12.2188),
        _e("Random Forest (RFLR)", 90.5896, 6.7138),
        _e("MODNet (v0.1.10)", 96.2139, 9.8352),
        _e("AMMExpress v2020", 97.4929, 13.7919),
        _e("RF-SCM/Magpie", 103.5125, 11.0368),
        _e("CrabNet", 107.3160, 18.9057),
        _e("Dummy", 229.7445, 9.6958),
    ),
    "matbench_expt_gap": (  # eV
        _e("Ax/SAASBO CrabNet v1.2.7", 0.3310, 0.0071),
        _e("CrabNet", 0.3463, 0.0088),
        _e("MODNet (v0.1.10)", 0.3470, 0.0222),
        _e("Ax+CrabNet v1.2.1", 0.3566, 0.0248),
        _e("CrabNet v1.2.1", 0.3757, 0.0207),
        _e("AMMExpress v2020", 0.4161, 0.0194),
        _e("RF-SCM/Magpie", 0.4461, 0.0177),
        _e("Dummy", 1.1435, 0.0310),
    ),
    "matbench_jdft2d": (  # meV/atom
        _e("MODNet (v0.1.12)", 33.1918, 7.3428, True),
        _e("MODNet (v0.1.10)", 34.5368, 9.4959, True),
        _e("coNGN", 36.1698, 11.5972, True),
        _e("coGN", 37.1652, 13.6825, True),
        _e("AMMExpress v2020", 39.8497, 9.8835, True),
        _e("SchNet (kgcnn v2.1.0)", 42.6637, 13.7201, True),
        _e("ALIGNN", 43.4244, 8.9491, True),
        _e("CrabNet", 45.6104, 12.2491),
        _e("Finder_v1.2 structure-based version", 46.1339, 11.4644, True),
        _e("Finder_v1.2 composition-only version", 47.9614, 11.6680),
        _e("DimeNet++ (kgcnn v2.1.0)", 49.0243, 11.9027, True),
        _e("CGCNN v2019", 49.2440, 11.5865, True),
        _e("RF-SCM/Magpie", 50.0440, 8.6271, True),
        _e("MegNet (kgcnn v2.1.0)", 54.1719, 11.4299, True),
        _e("Dummy", 67.2851, 10.1832),
    ),
    "matbench_dielectric": (  # refractive index (unitless)
        _e("MODNet (v0.1.12)", 0.2711, 0.0714, True),
        _e("MODNet (v0.1.10)", 0.2970, 0.0720, True),
        _e("coGN", 0.3088, 0.0859, True),
        _e("coNGN", 0.3142, 0.0740, True),
        _e("AMMExpress v2020", 0.3150, 0.0672, True),
        _e("Finder_v1.2 structure-based version", 0.3197, 0.0717, True),
        _e("Finder_v1.2 composition-only version", 0.3204, 0.0811),
        _e("CrabNet", 0.3234, 0.0714),
        _e("SchNet (kgcnn v2.1.0)", 0.3277, 0.0829, True),
        _e("MegNet (kgcnn v2.1.0)", 0.3391, 0.0745, True),
        _e("DimeNet++ (kgcnn v2.1.0)", 0.3400, 0.0570, True),
        _e("ALIGNN", 0.3449, 0.0871, True),
        _e("RF-SCM/Magpie", 0.4196, 0.0750, True),
        _e("CGCNN v2019", 0.5988, 0.0833, True),
        _e("Dummy", 0.8088, 0.0718),
    ),
    "matbench_phonons": (  # cm^-1
        _e("ALIGNN", 29.5385, 2.1148, True),
        _e("MODNet (v0.1.12)", 34.2751, 2.0781, True),
        _e("MODNet (v0.1.10)", 38.7524, 1.7732, True),
        _e("Finder_v1.2 composition-only version", 46.5751, 3.7415),
        _e("Finder_v1.2 structure-based version", 50.7406, 5.4036, True),
        _e("CrabNet", 55.1114, 5.7317),
        _e("AMMExpress v2020", 56.1706, 6.7981, True),
        _e("CGCNN v2019", 57.7635, 12.3109, True),
        _e("RF-SCM/Magpie", 67.6126, 8.9900, True),
        _e("Dummy", 323.9822, 17.7269),
    ),
    "matbench_perovskites": (  # eV per 5-atom cell
        _e("coGN", 0.0269, 0.0008, True),
        _e("ALIGNN", 0.0288, 0.0009, True),
        _e("coNGN", 0.0290, 0.0011, True),
        _e("Finder_v1.2 structure-based version", 0.0320, 0.0012, True),
        _e("SchNet (kgcnn v2.1.0)", 0.0342, 0.0005, True),
        _e("MegNet (kgcnn v2.1.0)", 0.0352, 0.0016, True),
        _e("DimeNet++ (kgcnn v2.1.0)", 0.0376, 0.0011, True),
        _e("CGCNN v2019", 0.0452, 0.0007, True),
        _e("MODNet (v0.1.12)", 0.0908, 0.0028, True),
        _e("MODNet (v0.1.10)", 0.0908, 0.0028, True),
        _e("AMMExpress v2020", 0.2005, 0.0085, True),
        _e("RF-SCM/Magpie", 0.2355, 0.0034, True),
        _e("CrabNet", 0.4065, 0.0069),
        _e("Dummy", 0.5660, 0.0048),
        _e("Finder_v1.2 composition-only version", 0.6450, 0.0167),
    ),
}


def leaderboard(task: str) -> tuple[LeaderboardEntry, ...]:
    """Published entries for ``task`` (``matbench_steels`` or ``steels``); empty if none were sourced."""
    name = task if task.startswith("matbench_") else f"matbench_{task}"
    return LEADERBOARD.get(name, ())


def reference(task: str, algorithm: str = RF_REFERENCE) -> LeaderboardEntry | None:
    """The entry of ``algorithm`` (default RF-SCM/Magpie) for ``task``, or None."""
    return next((e for e in leaderboard(task) if e.algorithm == algorithm), None)


def source(task: str) -> str | None:
    name = task if task.startswith("matbench_") else f"matbench_{task}"
    return SOURCES.get(name)
