"""Test a potential on reference frames: error metrics and parity plots."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from metamat.data.frames import frame_energy, frame_forces
from metamat.errors import InputError
from metamat.evaluate.plots import save_figure
from metamat.files import write_json
from metamat.potentials.network import Potential


@dataclass
class Predictions:
    """Reference and predicted per-atom energies (eV/atom, one per frame) and force components (eV/Å)."""

    energy_ref: np.ndarray
    energy_pred: np.ndarray
    n_atoms: np.ndarray
    forces_ref: np.ndarray  # (sum N, 3)
    forces_pred: np.ndarray


def predict_frames(model: Potential, frames: Sequence[Atoms], max_atoms: int = 4000) -> Predictions:
    """Energies and forces of many frames, batched into graphs of about ``max_atoms`` atoms."""
    if not frames:
        raise InputError("no frames to test", field="frames")
    from metamat.data.frames import check_frames

    check_frames(frames, elements=list(model.elements), what="test frames")
    e_pred, f_pred = [], []
    start = 0
    while start < len(frames):
        stop, n = start, 0
        while stop < len(frames) and (n == 0 or n + len(frames[stop]) <= max_atoms):
            n += len(frames[stop])
            stop += 1
        out = model.compute(model.graphs(frames[start:stop]), forces=True)
        e_pred.append(out["energy"].detach().numpy())
        f_pred.append(out["forces"].detach().numpy())
        start = stop
    n_atoms = np.array([len(a) for a in frames])
    return Predictions(
        energy_ref=np.array([frame_energy(a) for a in frames]) / n_atoms,
        energy_pred=np.concatenate(e_pred) / n_atoms, n_atoms=n_atoms,
        forces_ref=np.concatenate([frame_forces(a) for a in frames]), forces_pred=np.concatenate(f_pred),
    )


def metrics_of(pred: Predictions) -> dict[str, float]:
    """MAE/RMSE of per-atom energies (meV/atom) and of force components (eV/Å)."""
    de = pred.energy_pred - pred.energy_ref
    df = (pred.forces_pred - pred.forces_ref).ravel()
    return {
        "energy_mae_mev_per_atom": float(1e3 * np.mean(np.abs(de))),
        "energy_rmse_mev_per_atom": float(1e3 * np.sqrt(np.mean(de * de))),
        "force_mae_ev_per_angstrom": float(np.mean(np.abs(df))),
        "force_rmse_ev_per_angstrom": float(np.sqrt(np.mean(df * df))),
        "n_frames": int(len(de)),
        "n_atoms": int(pred.n_atoms.sum()),
    }


def test_potential(model: Potential, frames: Sequence[Atoms], return_predictions: bool = False):
    """Error metrics on ``frames`` (keys ``energy_mae_mev_per_atom``, ``energy_rmse_mev_per_atom``,
    ``force_mae_ev_per_angstrom``, ``force_rmse_ev_per_angstrom``, ``n_frames``, ``n_atoms``).

    With ``return_predictions`` returns ``(metrics, Predictions)`` for :func:`write_test_report`.
    """
    pred = predict_frames(model, frames)
    metrics = metrics_of(pred)
    report = getattr(frames, "report", None)
    if report is not None:  # frames the reader rejected (e.g. NaN forces) are named, not silently dropped
        metrics["n_frames_read"] = report.read
        metrics["rejected_frames"] = [{"frame": n, "reason": why} for n, why in report.rejected]
    return (metrics, pred) if return_predictions else metrics


test_potential.__test__ = False  # not a pytest test despite the name


def write_test_report(metrics: dict, preds: Predictions, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``metrics.json`` and ``parity.png`` (energy per atom and force components) to ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "metrics.json", metrics)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    panels = [
        (axes[0], preds.energy_ref, preds.energy_pred, "energy (eV/atom)",
         f"MAE {metrics['energy_mae_mev_per_atom']:.2f} meV/atom"),
        (axes[1], preds.forces_ref.ravel(), preds.forces_pred.ravel(), "force component (eV/Å)",
         f"MAE {metrics['force_mae_ev_per_angstrom']:.3f} eV/Å"),
    ]
    for ax, ref, pred, label, title in panels:
        lo, hi = float(min(ref.min(), pred.min())), float(max(ref.max(), pred.max()))
        ax.plot([lo, hi], [lo, hi], color="0.6", lw=1)
        ax.scatter(ref, pred, s=4, alpha=0.5)
        ax.set_xlabel(f"reference {label}")
        ax.set_ylabel(f"predicted {label}")
        ax.set_title(title)
    fig.tight_layout()
    save_figure(fig, out / "parity.png")
    plt.close(fig)
    return {"metrics": out / "metrics.json", "parity": out / "parity.png"}
