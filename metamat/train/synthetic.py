"""Small synthetic task families for tests and smoke runs (no data directory needed).

Tasks share structure the way real property tasks do: every target is a different random combination of
the same few nonlinear functions of composition features, plus noise, so meta-learning has something to
transfer. Formulas are random binaries/ternaries over 24 elements, so chemical-system splits work.
"""

from __future__ import annotations

import numpy as np

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
    from metamat.featurize.pipeline import featurize_formulas

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
