"""Library side of ``metamat potential train|test|md``: one call per subcommand, paths in, files out.

The CLI only parses options and prints the returned dict; every failure on bad input is an InputError.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from metamat.errors import InputError


def _settings(settings_json: str | None, **overrides):
    from metamat.potentials.training import TrainSettings

    base = TrainSettings().to_dict()
    if settings_json:
        text = Path(settings_json).read_text() if os.path.isfile(settings_json) else settings_json
        try:
            base.update(json.loads(text))
        except json.JSONDecodeError as exc:
            raise InputError(f"settings are not valid JSON: {exc}", source=settings_json,
                             field="settings") from exc
    base.update({k: v for k, v in overrides.items() if v is not None})
    return TrainSettings.from_dict(base)


def train_command(train_path: str, out_dir: str, valid_path: str | None = None,
                  energy_key: str | None = None, forces_key: str | None = None,
                  settings_json: str | None = None, seed: int | None = None, max_epochs: int | None = None,
                  force_weight: float | None = None, test_path: str | None = None,
                  progress: bool = True, elements: list[str] | None = None) -> dict:
    """Read frames, train, save the potential to ``out_dir`` (and test it if ``test_path`` is given)."""
    from metamat.data.frames import read_frames
    from metamat.potentials.evaluation import test_potential, write_test_report
    from metamat.potentials.io import save_potential
    from metamat.potentials.training import train_potential

    train = read_frames(train_path, energy_key, forces_key)
    valid = read_frames(valid_path, energy_key, forces_key) if valid_path else None
    settings = _settings(settings_json, seed=seed, max_epochs=max_epochs, force_weight=force_weight)
    model = train_potential(train, valid, elements=elements, settings=settings, progress=progress)
    save_potential(model, out_dir)
    result = {"model_dir": str(out_dir), "frames": train.report.summary(),
              "epochs": model.train_info["epochs"], "stop_reason": model.train_info["stop_reason"],
              "training_time_s": round(model.train_info["total_s"], 1)}
    if test_path:
        frames = read_frames(test_path, energy_key, forces_key)
        metrics, preds = test_potential(model, frames, return_predictions=True)
        write_test_report(metrics, preds, Path(out_dir) / "test")
        result["test"] = metrics
    return result


def test_command(model_dir: str, frames_path: str, out_dir: str, energy_key: str | None = None,
                 forces_key: str | None = None) -> dict:
    """Metrics of a saved potential on a frames file; writes ``metrics.json`` and ``parity.png``."""
    from metamat.data.frames import read_frames
    from metamat.potentials.evaluation import test_potential, write_test_report
    from metamat.potentials.io import load_potential

    model = load_potential(model_dir)
    frames = read_frames(frames_path, energy_key, forces_key)
    metrics, preds = test_potential(model, frames, return_predictions=True)
    write_test_report(metrics, preds, out_dir)
    return metrics


test_command.__test__ = False  # not a pytest test despite the name


def md_command(model_dir: str, structure_path: str, trajectory: str, ensemble: str = "nve",
               temperature: float = 300.0, steps: int = 1000, timestep_fs: float = 1.0, seed: int = 0,
               repeat: tuple[int, int, int] = (1, 1, 1), interval: int = 10, progress: bool = True) -> dict:
    """Run MD from the first structure of ``structure_path`` (any ASE format) and write a trajectory."""
    import ase.io

    from metamat.potentials.io import load_potential
    from metamat.potentials.md import run_md

    model = load_potential(model_dir)
    if not os.path.isfile(structure_path):
        raise InputError("file not found", source=structure_path)
    try:
        atoms = ase.io.read(structure_path, index=0)
    except Exception as exc:  # ASE raises many kinds of errors on malformed files
        raise InputError(f"cannot read a structure: {exc}", source=structure_path) from exc
    atoms = atoms.repeat(tuple(repeat))
    return run_md(model, atoms, ensemble=ensemble, temperature=temperature, steps=steps,
                  timestep_fs=timestep_fs, trajectory=trajectory, seed=seed, interval=interval,
                  progress=progress, source=structure_path)
