"""`metamat potential ...`: train, test and run molecular dynamics with Behler-Parrinello potentials."""

from __future__ import annotations

import json
from pathlib import Path

import typer

potential_app = typer.Typer(no_args_is_help=True,
                            help="Machine-learned interatomic potentials: train, test, molecular dynamics.")


def _show(result: dict) -> None:
    typer.echo(json.dumps(result, indent=2, default=str))


@potential_app.command("train")
def potential_train(
    train: Path = typer.Option(..., "--train", help="Training frames (extxyz with energies and forces)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: model.safetensors + config.json."),
    valid: Path | None = typer.Option(None, "--valid", help="Validation frames (default: 10% of --train)."),
    test: Path | None = typer.Option(None, "--test", help="Test frames, evaluated after training."),
    elements: str | None = typer.Option(None, "--elements", help="Comma-separated elements (default: all in "
                                                                 "the training frames)."),
    energy_key: str | None = typer.Option(None, "--energy-key", help="info key of the energy (guessed)."),
    forces_key: str | None = typer.Option(None, "--forces-key", help="arrays key of the forces (guessed)."),
    settings: str | None = typer.Option(None, "--settings", help="JSON file or string overriding TrainSettings."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed."),
    max_epochs: int | None = typer.Option(None, "--max-epochs", help="Epoch limit."),
    force_weight: float | None = typer.Option(None, "--force-weight", help="Weight of the force loss."),
) -> None:
    """Fit per-element energy offsets, then train the atomic networks on energies and forces."""
    from metamat.potentials.commands import train_command

    wanted = [e.strip() for e in elements.split(",") if e.strip()] if elements else None
    _show(train_command(str(train), str(out), valid and str(valid), energy_key, forces_key, settings, seed,
                        max_epochs, force_weight, test and str(test), elements=wanted))


@potential_app.command("test")
def potential_test(
    model: Path = typer.Option(..., "--model", help="Folder of a saved potential."),
    data: Path = typer.Option(..., "--data", help="Test frames (extxyz)."),
    out: Path = typer.Option(Path("potential_test"), "--out", "-o", help="Folder for metrics.json and parity plots."),
    energy_key: str | None = typer.Option(None, "--energy-key"),
    forces_key: str | None = typer.Option(None, "--forces-key"),
) -> None:
    """Energy MAE/RMSE (meV/atom) and force MAE/RMSE (eV/Å) on test frames, with parity plots."""
    from metamat.potentials.commands import test_command

    _show(test_command(str(model), str(data), str(out), energy_key, forces_key))


@potential_app.command("md")
def potential_md(
    model: Path = typer.Option(..., "--model", help="Folder of a saved potential."),
    structure: Path = typer.Option(..., "--structure", help="POSCAR, CIF or extxyz file."),
    trajectory: Path = typer.Option(Path("md.traj"), "--trajectory", "-t", help="ASE trajectory to write."),
    ensemble: str = typer.Option("nve", "--ensemble", help="nve (velocity Verlet) or nvt (Langevin)."),
    temperature: float = typer.Option(300.0, "--temperature", help="Temperature in K."),
    steps: int = typer.Option(1000, "--steps", help="Number of MD steps."),
    timestep_fs: float = typer.Option(1.0, "--timestep-fs", help="Time step in fs."),
    seed: int = typer.Option(0, "--seed", help="Seed of the initial velocities and the thermostat."),
    repeat: str = typer.Option("1,1,1", "--repeat", help="Supercell repetitions, e.g. 2,2,2."),
    interval: int = typer.Option(10, "--interval", help="Write every n-th step."),
) -> None:
    """Molecular dynamics through ASE; reports the energy drift for NVE."""
    from metamat.errors import InputError
    from metamat.potentials.commands import md_command

    try:
        reps = tuple(int(r) for r in repeat.split(","))
        if len(reps) != 3 or min(reps) < 1:
            raise ValueError
    except ValueError as exc:
        raise InputError("--repeat takes three positive integers, e.g. 2,2,2", field="--repeat") from exc
    _show(md_command(str(model), str(structure), str(trajectory), ensemble, temperature, steps, timestep_fs, seed,
                     reps, interval))
