"""Fit a :class:`Potential` to reference energies and forces.

Per-element energy offsets are fitted first (least squares of total energies on element counts), then the
networks with Adam on ``energy_weight * MSE(E/atom) + force_weight * MSE(F)``, the LR decayed exponentially
from ``lr`` to ``min_lr`` over the epochs (or halved on validation plateaus) and the weights of the best
validation score (the loss with MAEs in place of RMSEs) kept (early stopping after ``patience`` epochs without
improvement).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from ase import Atoms

from metamat.errors import InputError
from metamat.potentials.dataset import Batch, FrameTensors, batch_energy_forces, make_batch, precompute
from metamat.potentials.network import Potential
from metamat.potentials.symmetry_functions import DescriptorSettings


@dataclass
class TrainSettings:
    """Architecture and optimisation settings; the defaults fit one mlearn element in minutes."""

    descriptor: DescriptorSettings = field(default_factory=DescriptorSettings)
    hidden: tuple[int, ...] = (48, 48)
    activation: str = "tanh"
    max_epochs: int | None = None  # None: from the data size, see auto_epochs()
    batch_size: int = 4  # frames per step
    lr: float = 3e-3
    min_lr: float = 2e-5
    schedule: str = "exponential"  # lr -> min_lr over max_epochs, or "plateau": cut by lr_factor on plateaus
    lr_factor: float = 0.5  # plateau schedule only
    lr_patience: int = 15  # plateau schedule only: epochs without improvement before the LR is cut
    patience: int = 1000  # epochs without validation improvement before stopping (noisy validation loss at
    # high LR: a short patience stops the exponential schedule long before the LR is small, e.g. mlearn Si)
    energy_weight: float = 1.0  # on MSE of energy per atom (eV/atom)^2
    force_weight: float = 0.05  # on MSE of force components (eV/Å)^2
    valid_fraction: float = 0.1
    seed: int = 0
    max_time_s: float | None = 780.0  # whole call incl. descriptors; a safety net that, when hit, makes the
    # result depend on machine speed (stop_reason "max_time")
    dtype: str = "float32"  # training precision; the returned model computes in float64

    def to_dict(self) -> dict:
        d = asdict(self)
        d["descriptor"] = self.descriptor.to_dict()
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainSettings:
        d = dict(d)
        if "descriptor" in d and isinstance(d["descriptor"], dict):
            d["descriptor"] = DescriptorSettings.from_dict(d["descriptor"])
        if "hidden" in d:
            d["hidden"] = tuple(d["hidden"])
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise InputError(f"unknown training settings {sorted(unknown)}", field="settings")
        return cls(**d)


EDGE_EPOCH_BUDGET = 1.446e9  # edges x epochs of a default training (mlearn Cu/Ni: 1048/975 epochs, ~10 min on
# 2 threads including ~2 min of descriptor Jacobians)
MAX_AUTO_EPOCHS = 2000


def auto_epochs(n_edges: int) -> int:
    """Default number of epochs: fewer for bigger data, so default training time stays bounded."""
    return int(min(MAX_AUTO_EPOCHS, max(150, EDGE_EPOCH_BUDGET // max(n_edges, 1))))


def elements_of(frames: Sequence[Atoms]) -> list[str]:
    """Sorted element symbols present in the frames."""
    return sorted({s for a in frames for s in a.get_chemical_symbols()})


def fit_energy_offsets(counts: np.ndarray, energies: np.ndarray) -> np.ndarray:
    """Per-element energies ``e0`` minimising ``|counts @ e0 - E|^2`` (minimum-norm if underdetermined)."""
    sol, *_ = np.linalg.lstsq(np.asarray(counts, dtype=float), np.asarray(energies, dtype=float), rcond=None)
    return sol


def split_frames(frames: Sequence[Atoms], fraction: float, seed: int) -> tuple[list[Atoms], list[Atoms]]:
    """Random train/validation split (at least one frame on each side when there are two or more)."""
    n = len(frames)
    if n < 2:
        raise InputError("need at least 2 training frames to split off a validation set", field="frames")
    n_val = min(max(1, int(round(fraction * n))), n - 1)
    perm = np.random.default_rng(seed).permutation(n)
    return [frames[i] for i in perm[n_val:]], [frames[i] for i in perm[:n_val]]


def _loss(model: Potential, batch: Batch, s: TrainSettings, create_graph: bool) -> tuple[torch.Tensor, dict]:
    energy, forces = batch_energy_forces(model, batch, create_graph=create_graph)
    n_atoms = batch.n_atoms.to(energy.dtype)
    de = (energy - batch.energy.to(energy.dtype)) / n_atoms
    df = forces - batch.forces
    e_mse, f_mse = (de * de).mean(), (df * df).mean()
    loss = s.energy_weight * e_mse + s.force_weight * f_mse
    metrics = {"energy_rmse": float(e_mse.detach()) ** 0.5, "force_rmse": float(f_mse.detach()) ** 0.5}
    if not create_graph:  # validation: model selection uses the loss with MAEs in place of RMSEs, so that one
        # frame far from the rest (mlearn Si) cannot pick the weights of an early epoch
        e_mae, f_mae = float(de.detach().abs().mean()), float(df.detach().abs().mean())
        metrics["score"] = s.energy_weight * e_mae**2 + s.force_weight * f_mae**2
    return loss, metrics


#: ``progress(stage, done, total, info)``: how training reports where it is (stages "descriptors", "training").
StageProgress = Callable[[str, int, int, str], None]


def _no_progress(stage: str, done: int, total: int, info: str = "") -> None:
    return None


def train_potential(train_frames: Sequence[Atoms], valid_frames: Sequence[Atoms] | None = None,
                    elements: Sequence[str] | None = None, settings: TrainSettings | None = None,
                    progress: StageProgress | None = None, init_from: Potential | None = None,
                    element_map: dict[str, str] | None = None) -> Potential:
    """Train a potential on frames carrying reference energies and forces (see ``read_frames``).

    Without ``valid_frames`` a fraction ``settings.valid_fraction`` of the training frames is split off
    (seeded). Same data, settings and seed give the same weights. The returned model (float64, eval mode)
    has ``history`` (per-epoch metrics) and ``train_info`` (timings, stopping reason) attributes.

    Fine-tuning: with ``init_from`` the architecture (descriptor, layers) is taken from that potential and
    each element's network starts from the network of ``element_map.get(element, element)`` in it (e.g.
    ``{"Ni": "Cu"}``); feature scaling and energy offsets are refitted on the new frames.

    ``progress(stage, done, total, info)`` is called as descriptors are computed and after every epoch
    (the command line shows it as a bar; the library prints nothing).
    """
    from metamat.data.frames import check_frames, frame_numbers, frame_source

    s = settings or TrainSettings()
    if not len(train_frames):
        raise InputError("no training frames", field="frames")
    # every frame is checked before any work (and before anything is written by the caller)
    check_frames(train_frames, elements=list(elements) if elements else None, what="training frames")
    if valid_frames is not None:
        check_frames(valid_frames, elements=list(elements) if elements else None, what="validation frames")
    source, numbers = frame_source(train_frames), frame_numbers(train_frames)
    train_frames = list(train_frames)
    if valid_frames is None:
        keep, held = split_frames(list(range(len(train_frames))), s.valid_fraction, s.seed)
        train_frames, valid_frames = [train_frames[k] for k in keep], [train_frames[k] for k in held]
        numbers = [numbers[k] for k in keep]
    valid_frames = list(valid_frames)
    elements = list(elements) if elements else elements_of(train_frames + valid_frames)
    dtype = {"float32": torch.float32, "float64": torch.float64}[s.dtype]
    t_start = time.perf_counter()
    if init_from is not None:
        s = TrainSettings.from_dict({**s.to_dict(), "descriptor": init_from.settings.to_dict(),
                                     "hidden": init_from.hidden, "activation": init_from.activation})
    with torch.random.fork_rng():
        torch.manual_seed(s.seed)
        model = Potential(elements, s.descriptor, s.hidden, s.activation)

    bar = progress if callable(progress) else _no_progress  # False/None: silent
    n_pre = len(train_frames) + len(valid_frames)
    bar("descriptors", 0, n_pre, "")
    train = precompute(model, train_frames, dtype, progress=lambda k: bar("descriptors", k, n_pre, ""))
    valid = precompute(model, valid_frames, dtype,
                       progress=lambda k: bar("descriptors", len(train_frames) + k, n_pre, ""))
    t_pre = time.perf_counter() - t_start
    _initialise(model, train)
    if init_from is not None:
        _copy_networks(model, init_from, element_map or {})
    model.to(dtype)
    model.train()
    deadline = None if s.max_time_s is None else t_start + s.max_time_s
    history, info = _fit(model, train, valid, s, bar, deadline, frames=(source, numbers))
    model.double().eval()
    check_finite(model)
    info.update(precompute_s=t_pre, total_s=time.perf_counter() - t_start, n_train=len(train_frames),
                n_valid=len(valid_frames), settings=s.to_dict())
    model.history = history
    model.train_info = info
    return model


def _initialise(model: Potential, data: FrameTensors) -> None:
    """Feature scaling, energy offsets and output scale from the training data."""
    model.fit_scaling(data.features, data.species)
    e = data.energy.numpy()
    offsets = fit_energy_offsets(data.counts, e)
    model.energy_offset.copy_(torch.as_tensor(offsets))
    resid = (e - data.counts @ offsets) / data.n_atoms.numpy()
    scale = float(np.clip(np.std(resid), 0.02, 1.0)) if len(resid) > 1 else 0.1
    model.energy_scale.fill_(scale)


def _copy_networks(model: Potential, source: Potential, element_map: dict[str, str]) -> None:
    """Start each element's network (and output scale) from the mapped element of ``source``."""
    missing = [e for e in model.elements if element_map.get(e, e) not in source.elements]
    if missing:
        raise InputError(f"no source network for {missing}: pass element_map, e.g. {{'{missing[0]}': "
                         f"'{source.elements[0]}'}} (source elements {source.elements})", field="element_map")
    for k, e in enumerate(model.elements):
        src = source.nets[source.elements.index(element_map.get(e, e))]
        model.nets[k].load_state_dict({n: t.to(model.dtype) for n, t in src.state_dict().items()})
    model.energy_scale.copy_(source.energy_scale.to(model.dtype))


def check_finite(model: torch.nn.Module, what: str = "trained potential") -> None:
    """Raise InputError naming every tensor of ``model`` holding NaN or inf (such a model is never saved)."""
    bad = [name for name, t in model.state_dict().items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise InputError(f"the {what} has non-finite values in {len(bad)} tensors ({', '.join(bad[:5])}); "
                         "nothing was saved", field="weights")


def _fit(model: Potential, train: FrameTensors, valid: FrameTensors, s: TrainSettings, bar: StageProgress,
         deadline: float | None = None, frames: tuple[str | None, list[int]] | None = None) -> tuple[list, dict]:
    rng = np.random.default_rng(s.seed)
    max_epochs = s.max_epochs or auto_epochs(train.n_edges)
    opt = torch.optim.Adam(model.parameters(), lr=s.lr)
    if s.schedule == "plateau":
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=s.lr_factor, patience=s.lr_patience)
    elif s.schedule == "exponential":
        gamma = (s.min_lr / s.lr) ** (1.0 / max(max_epochs - 1, 1))
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=gamma)
    else:
        raise InputError(f"unknown schedule '{s.schedule}' (use 'exponential' or 'plateau')", field="schedule")
    valid_batch = make_batch(valid, np.arange(valid.n_frames))
    best, best_state, since_best, history = float("inf"), None, 0, []
    stop = "max_epochs"
    t0 = time.perf_counter()
    bar("training", 0, max_epochs, "")
    for epoch in range(1, max_epochs + 1):
        perm = rng.permutation(train.n_frames)
        tr_loss = 0.0
        for start in range(0, len(perm), s.batch_size):
            ids = np.sort(perm[start:start + s.batch_size])
            batch = make_batch(train, ids)
            loss, _ = _loss(model, batch, s, create_graph=True)
            if not torch.isfinite(loss):
                source, numbers = frames or (None, list(range(1, train.n_frames + 1)))
                raise InputError(f"training loss became non-finite in epoch {epoch} on frames "
                                 f"{[numbers[k] for k in ids]}; nothing was saved", source=source,
                                 row=numbers[int(ids[0])], field="frames")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tr_loss += float(loss.detach()) * len(batch.energy)
        v_loss, v_metrics = _loss(model, valid_batch, s, create_graph=False)
        v_loss, v_score = float(v_loss.detach()), v_metrics["score"]
        if not np.isfinite(v_loss):
            raise InputError(f"validation loss became non-finite in epoch {epoch}; nothing was saved",
                             field="frames")
        lr = opt.param_groups[0]["lr"]
        if s.schedule == "plateau":
            sched.step(v_score)
        else:
            sched.step()
        history.append({"epoch": epoch, "train_loss": tr_loss / train.n_frames, "valid_loss": v_loss,
                        "valid_score": v_score,
                        "valid_energy_rmse_mev_per_atom": 1e3 * v_metrics["energy_rmse"],
                        "valid_force_rmse": v_metrics["force_rmse"], "lr": lr,
                        "time_s": time.perf_counter() - t0})
        if v_score < best:
            best, since_best = v_score, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            since_best += 1
        bar("training", epoch, max_epochs, f"val E {1e3 * v_metrics['energy_rmse']:.2f} meV/at "
                                            f"F {v_metrics['force_rmse']:.3f} eV/Å lr {lr:.1e}")
        if since_best >= s.patience:
            stop = "early_stopping"
        elif s.schedule == "plateau" and lr < s.min_lr:
            stop = "min_lr"
        elif deadline is not None and time.perf_counter() > deadline:
            stop = "max_time"
        else:
            continue
        break
    if best_state is not None:
        model.load_state_dict(best_state)
    return history, {"epochs": len(history), "max_epochs": max_epochs, "stop_reason": stop, "best_valid_score": best,
                     "fit_s": time.perf_counter() - t0}
