"""Small synthetic task families for tests and smoke runs (no data directory needed).

Tasks share structure the way real property tasks do: every target is a different random combination of
the same few nonlinear functions of composition features, plus noise, so meta-learning has something to
transfer. Formulas are random binaries/ternaries over 24 elements, so chemical-system splits work.
"""

from __future__ import annotations

import numpy as np

from metamat.data.structures import Crystal
from metamat.featurize.pipeline import featurize_formulas
from metamat.tasks.task import Task

_ELEMENTS = ("Li", "Na", "K", "Mg", "Ca", "Sr", "Ba", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn",
             "Al", "Ga", "Si", "Ge", "Sn", "O", "S", "Se")


def random_formulas(n: int, rng: np.random.Generator) -> list[str]:
    out = []
    for _ in range(n):
        k = int(rng.integers(2, 4))
        els = rng.choice(len(_ELEMENTS), size=k, replace=False)
        out.append("".join(f"{_ELEMENTS[e]}{int(rng.integers(1, 5))}" for e in els))
    return out


def synthetic_tasks(n_tasks: int = 6, n_rows: int = 150, seed: int = 0, n_latent: int = 4,
                    noise: float = 0.1, classification: int = 0, log_tasks: int = 0) -> list[Task]:
    """``n_tasks`` regression tasks (+ ``classification`` 0/1 tasks); ``log_tasks`` of the regression tasks
    have positive targets spanning orders of magnitude and a log10 transform."""
    rng = np.random.default_rng(seed)
    formulas = random_formulas(n_rows * (n_tasks + classification), rng)
    fm = featurize_formulas(formulas, "composition")
    X = fm.values
    Z = np.nan_to_num((X - np.nanmean(X, 0)) / (np.nanstd(X, 0) + 1e-9))
    proj = rng.normal(size=(X.shape[1], n_latent)) / np.sqrt(X.shape[1])
    H = np.tanh(2.0 * Z @ proj)
    tasks = []
    for t in range(n_tasks + classification):
        rows = slice(t * n_rows, (t + 1) * n_rows)
        w = rng.normal(size=n_latent)
        f = H[rows] @ w
        f = (f - f.mean()) / (f.std() + 1e-9)
        scale, offset = 10.0 ** rng.uniform(-1, 2), rng.normal() * 5
        kw: dict = {"quantity": f"synthetic-{t % 3}", "feature_labels": fm.labels}
        if t >= n_tasks:
            y = (f + noise * rng.normal(size=len(f)) > 0).astype(float)
            kw["kind"] = "classification"
        elif t < log_tasks:
            y = 10.0 ** (1.5 * f + noise * rng.normal(size=len(f)) + 3)
            kw["transform"] = "log10"
        else:
            y = offset + scale * (f + noise * rng.normal(size=len(f)))
        tasks.append(Task(name=f"synthetic_{t}", X=X[rows], y=y, formulas=np.array(formulas[rows], dtype=object),
                          **kw))
    return tasks


_Z = {"Li": 3, "Na": 11, "K": 19, "Mg": 12, "Ca": 20, "Al": 13, "Cu": 29, "Ni": 28, "Fe": 26, "Ag": 47,
      "O": 8, "S": 16, "Cl": 17, "Br": 35}
_METALS = ("Li", "Na", "K", "Mg", "Ca", "Al", "Cu", "Ni", "Fe", "Ag")
_ANIONS = ("O", "S", "Cl", "Br")
_FCC = np.array([[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0]])


def random_crystal(rng: np.random.Generator):
    """A rattled fcc or bcc metal or rocksalt cell (strained by ~2%) and its formula, for structure tests."""
    kind = rng.integers(3)
    metal = str(rng.choice(_METALS))
    if kind == 0:
        frac, a, names = _FCC, rng.uniform(3.5, 4.1), [metal] * 4
    elif kind == 1:
        frac, a, names = np.array([[0, 0, 0], [.5, .5, .5]]), rng.uniform(2.8, 3.3), [metal] * 2
    else:
        anion = str(rng.choice(_ANIONS))
        frac, a, names = np.r_[_FCC, (_FCC + [.5, 0, 0]) % 1], rng.uniform(4.8, 5.6), [metal] * 4 + [anion] * 4
    cell = a * (np.eye(3) + rng.normal(0, 0.02, size=(3, 3)))
    pos = frac @ cell + rng.normal(0, 0.05, size=(len(frac), 3))
    z = np.array([[_Z[n]] for n in names])
    formula = "".join(f"{n}{names.count(n)}" for n in sorted(set(names)))
    return Crystal(pos, cell, np.ones(3, bool), z, np.ones((len(names), 1))), formula
