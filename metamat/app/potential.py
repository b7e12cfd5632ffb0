"""``metamat potential train|test|md``: train, test and run molecular dynamics with Behler-Parrinello potentials.

One flow per subcommand (paths in, files out, a JSON-able report back: ``train_command``, ``test_command``,
``md_command``) and the typer commands that parse options, show progress and print the report. Every
failure on bad input is an InputError.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from metamat.errors import InputError

potential_app = typer.Typer(no_args_is_help=True,
                            help="Machine-learned interatomic potentials: train, test, molecular dynamics.")


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


class _TrainingBar:
    """Rich bars (stderr) for :func:`~metamat.potentials.training.train_potential`'s ``progress(stage, done,
    total, info)``: one bar per stage, with the latest validation numbers beside the training bar."""

    def __init__(self, enabled: bool):
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from metamat.app.console import err_console

        self.enabled = enabled
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                                 TextColumn("{task.fields[info]}"), console=err_console, disable=not enabled,
                                 transient=False)
        self.tasks: dict[str, int] = {}

    def __enter__(self):
        self.progress.__enter__()

        def update(stage: str, done: int, total: int, info: str = "") -> None:
            if stage not in self.tasks:
                self.tasks[stage] = self.progress.add_task(stage, total=total, info=info)
            self.progress.update(self.tasks[stage], completed=done, total=total, info=info)

        return update if self.enabled else None

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)


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
    with _TrainingBar(progress) as bar:
        model = train_potential(train, valid, elements=elements, settings=settings, progress=bar)
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
               repeat: tuple[int, int, int] = (1, 1, 1), interval: int = 10, progress: bool = True,
               equilibrate_steps: int = 0) -> dict:
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
    from metamat.app.console import ProgressBar

    with ProgressBar("MD", enabled=progress) as bar:
        return run_md(model, atoms, ensemble=ensemble, temperature=temperature, steps=steps,
                      timestep_fs=timestep_fs, trajectory=trajectory, seed=seed, interval=interval,
                      progress=bar if progress else None, source=structure_path,
                      equilibrate_steps=equilibrate_steps)


# ------------------------------------------------------------------------------------------ commands
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
    wanted = [e.strip() for e in elements.split(",") if e.strip()] if elements else None
    _show(train_command(str(train), str(out), valid and str(valid), energy_key, forces_key, settings, seed,
                        max_epochs, force_weight, test and str(test), elements=wanted))


@potential_app.command("test")
def potential_test(
    model: Path = typer.Option(..., "--model", help="Folder of a saved potential."),
    data: Path = typer.Option(..., "--data", help="Test frames (extxyz)."),
    out: Path = typer.Option(Path("potential_test"), "--out", "-o", help="Folder for metrics.json and parity plots."),
    energy_key: str | None = typer.Option(None, "--energy-key", help="info key of the energy (guessed)."),
    forces_key: str | None = typer.Option(None, "--forces-key", help="arrays key of the forces (guessed)."),
) -> None:
    """Energy MAE/RMSE (meV/atom) and force MAE/RMSE (eV/Å) on test frames, with parity plots."""
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
    equilibrate_steps: int = typer.Option(0, "--equilibrate-steps", min=0,
                                          help="NVE only: run this many Langevin (NVT) steps at --temperature "
                                               "first (default 0: velocities drawn and scaled to exactly 2 x "
                                               "--temperature, which a solid at rest shares equally with "
                                               "potential energy)."),
) -> None:
    """Molecular dynamics through ASE; reports the energy drift for NVE and how the run was started."""
    try:
        reps = tuple(int(r) for r in repeat.split(","))
        if len(reps) != 3 or min(reps) < 1:
            raise ValueError
    except ValueError as exc:
        raise InputError("--repeat takes three positive integers, e.g. 2,2,2", field="--repeat") from exc
    _show(md_command(str(model), str(structure), str(trajectory), ensemble, temperature, steps, timestep_fs, seed,
                     reps, interval, equilibrate_steps=equilibrate_steps))
