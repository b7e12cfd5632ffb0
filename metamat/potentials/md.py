"""Molecular dynamics with a :class:`Potential`: NVE (velocity Verlet) or NVT (Langevin)."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import ExitStack

import numpy as np
from ase import Atoms, units
from ase.constraints import FixCom
from ase.io import Trajectory
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, force_temperature
from ase.md.verlet import VelocityVerlet

from metamat.errors import InputError
from metamat.files import atomic_path
from metamat.potentials.calculator import PotentialCalculator
from metamat.potentials.network import Potential

MAX_TEMPERATURE_K = 1e5


def energy_drift(times_ps: np.ndarray, total_energy: np.ndarray, n_atoms: int) -> dict[str, float]:
    """Linear drift (eV/atom/ps, least-squares slope) and max |E(t) - E(0)| per atom (eV/atom)."""
    e = np.asarray(total_energy, dtype=float) / n_atoms
    slope = float(np.polyfit(times_ps, e, 1)[0]) if len(e) > 1 else 0.0
    return {"drift_ev_per_atom_per_ps": slope, "max_abs_delta_e_ev_per_atom": float(np.max(np.abs(e - e[0])))}


def run_md(model: Potential, atoms: Atoms, ensemble: str = "nve", temperature: float = 300.0,
           steps: int = 1000, timestep_fs: float = 1.0, trajectory: str | os.PathLike | None = None,
           seed: int = 0, friction_per_fs: float = 0.01, interval: int = 10,
           progress: Callable[[int, int], None] | None = None, source: str | None = None,
           equilibrate_steps: int = 0) -> dict:
    """Run MD from ``atoms`` (a copy is used); velocities drawn with ``seed``.

    NVE from a structure at rest would settle at about half the drawn temperature: in a (nearly harmonic)
    solid the energy is shared equally between kinetic and potential energy (equipartition). So NVE starts
    from velocities drawn at ``2 * temperature`` and scaled to exactly that kinetic temperature (a random
    draw of N atoms scatters by about sqrt(2/3N), e.g. +-10% for 64 atoms, and NVE would keep that error);
    or, with ``equilibrate_steps`` > 0, from velocities at ``temperature`` followed by that many Langevin
    (NVT) steps before the NVE run. The report says which (``start``). NVT draws at ``temperature``.

    Returns a report: ensemble, steps, timestep, final temperature, mean temperature and, for NVE, the
    energy drift (see :func:`energy_drift`); the total energy is sampled every ``interval`` steps, which is
    also the trajectory stride. The trajectory is written to a temporary file and renamed at the end.
    ``source`` (the structure file) names the input in errors: elements outside the potential, overlapping
    atoms, a temperature that is negative or not a number.
    """
    ensemble = ensemble.lower()
    if ensemble not in ("nve", "nvt"):
        raise InputError(f"unknown ensemble '{ensemble}' (use 'nve' or 'nvt')", field="ensemble")
    if steps < 1 or not timestep_fs > 0 or not np.isfinite(timestep_fs) or interval < 1:
        raise InputError("steps and interval must be >= 1 and timestep_fs a finite number > 0", field="steps")
    if not (np.isfinite(temperature) and 0.0 <= temperature <= MAX_TEMPERATURE_K):
        raise InputError(f"temperature must be a number of kelvin in 0-{MAX_TEMPERATURE_K:g}, got {temperature}",
                         field="temperature")
    if equilibrate_steps < 0:
        raise InputError(f"equilibrate steps must be >= 0, got {equilibrate_steps}", field="equilibrate_steps")
    if not (np.isfinite(friction_per_fs) and friction_per_fs >= 0):
        raise InputError(f"friction must be a finite number >= 0, got {friction_per_fs}", field="friction")
    from metamat.data.frames import check_frames

    check_frames([atoms], elements=list(model.elements), what="structures", source=source)
    atoms = atoms.copy()
    atoms.calc = PotentialCalculator(model)
    rng = np.random.default_rng(seed)
    equilibrate = ensemble == "nve" and equilibrate_steps > 0
    drawn = 2.0 * temperature if ensemble == "nve" and not equilibrate else temperature
    _thermalize(atoms, drawn, rng)
    Stationary(atoms)
    if ensemble == "nve" and not equilibrate and atoms.get_kinetic_energy() > 0:
        force_temperature(atoms, drawn)  # the NVE energy is fixed by this draw: no +-sqrt(2/3N) scatter
    dt = timestep_fs * units.fs
    if equilibrate:  # NVT first, then NVE from the equilibrated state
        langevin = Langevin(atoms, timestep=dt, temperature_K=temperature, friction=friction_per_fs / units.fs,
                            fixcm=False, rng=rng)
        langevin.run(equilibrate_steps)
        Stationary(atoms)  # the random forces move the centre of mass a little: remove it for NVE
        start = (f"velocities drawn at {temperature:g} K, then {equilibrate_steps} Langevin (NVT) steps at "
                 f"{temperature:g} K before NVE")
    elif ensemble == "nve":
        start = (f"velocities drawn and scaled to 2 x {temperature:g} K = {drawn:g} K: from a structure at rest, "
                 "half the kinetic energy goes into potential energy (equipartition), so NVE settles near "
                 f"{temperature:g} K; --equilibrate-steps N runs NVT first instead")
    else:
        start = f"velocities drawn at {temperature:g} K, Langevin thermostat"
    if ensemble == "nve":
        dyn = VelocityVerlet(atoms, timestep=dt)
    else:
        atoms.set_constraint(FixCom())  # what ASE recommends instead of the deprecated fixcm=True
        dyn = Langevin(atoms, timestep=dt, temperature_K=temperature, friction=friction_per_fs / units.fs,
                       fixcm=False, rng=rng)
    times, energies, temps = [], [], []

    def sample() -> None:
        times.append(dyn.nsteps * timestep_fs / 1000.0)
        energies.append(atoms.get_potential_energy() + atoms.get_kinetic_energy())
        temps.append(atoms.get_temperature())

    dyn.attach(sample, interval=interval)
    with ExitStack() as stack:
        if trajectory is not None:  # a temporary name, renamed on success and removed on any failure
            tmp = stack.enter_context(atomic_path(trajectory))
            traj = stack.enter_context(Trajectory(str(tmp), "w", atoms))
            dyn.attach(traj.write, interval=interval)
        _run(dyn, steps, progress)
        if not np.all(np.isfinite(energies)) or not np.all(np.isfinite(atoms.positions)):
            step = next((k for k, e in enumerate(energies) if not np.isfinite(e)), len(energies)) * interval
            raise InputError(f"the dynamics became non-finite (NaN/inf energy or positions) by step {step}; "
                             "try a smaller --timestep-fs or check the structure", field="timestep_fs")
    report = {"ensemble": ensemble, "steps": steps, "timestep_fs": timestep_fs, "n_atoms": len(atoms),
              "temperature_target_k": temperature, "start": start, "temperature_mean_k": float(np.mean(temps)),
              "temperature_final_k": float(atoms.get_temperature()),
              "trajectory": None if trajectory is None else str(trajectory)}
    if ensemble == "nve":
        report.update(energy_drift(np.array(times), np.array(energies), len(atoms)))
    return report


def _thermalize(atoms: Atoms, temperature: float, rng: np.random.Generator) -> None:
    """Maxwell-Boltzmann momenta (``thermalize_momenta`` since ASE 3.29, the older name before)."""
    try:
        from ase.md.velocitydistribution import thermalize_momenta
    except ImportError:  # ASE < 3.29
        from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

        MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=rng)
        return
    thermalize_momenta(atoms, temperature, rng=rng)


def _run(dyn, steps: int, progress: Callable[[int, int], None] | None) -> None:
    """Run ``steps`` steps; with ``progress`` in about 100 chunks, calling ``progress(done, steps)`` after each."""
    if not callable(progress):
        dyn.run(steps)
        return
    chunk = max(1, steps // 100)
    done = 0
    progress(0, steps)
    while done < steps:
        n = min(chunk, steps - done)
        dyn.run(n)
        done += n
        progress(done, steps)
