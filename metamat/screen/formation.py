"""A formation-energy model for screening: composition in, mean and std (eV/atom) out.

An ensemble of small MLPs on the ``composition`` features (Magpie statistics, stoichiometry, valence, ionic
character; 148 columns) plus one ``source`` column (0 = Materials Project / CritExam frame, 1 = OQMD), so
that the two DFT tables can be learned together and predictions are made in the Materials Project frame
of the known phases the hull is built from. The std is the ensemble spread combined with the residual
scatter measured on held-out rows: ``std = sqrt(spread^2 + residual^2)``.
Saved as safetensors + JSON (never pickle); the shipped one is ``metamat/pretrained/formation_energy.*``,
produced by ``scripts/train_formation_model.py``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from metamat.data.compositions import CompositionArrays
from metamat.errors import DataSourceError
from metamat.featurize.pipeline import featurize_compositions
from metamat.files import atomic_path, write_json

FEATURES = "composition"


def _mlp(n_in: int, hidden: Sequence[int]) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    for h in hidden:
        layers += [torch.nn.Linear(n_in, h), torch.nn.SiLU()]
        n_in = h
    layers.append(torch.nn.Linear(n_in, 1))
    return torch.nn.Sequential(*layers)


@dataclass
class FormationEnergyModel:
    """Ensemble of MLPs; ``fit(X, y, source)`` then ``predict(X) -> (mean, std)`` in eV/atom."""

    hidden: tuple[int, ...] = (256, 128, 64)
    n_members: int = 3
    epochs: int = 25
    batch_size: int = 512
    lr: float = 2e-3
    seed: int = 0
    residual_std_: float = 0.0
    mean_: np.ndarray | None = None
    scale_: np.ndarray | None = None
    members_: list[torch.nn.Sequential] = field(default_factory=list)

    # ---------------------------------------------------------------------------------------- training
    def fit(self, X: np.ndarray, y: np.ndarray, source: np.ndarray | None = None,
            X_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
            source_val: np.ndarray | None = None, progress=None) -> FormationEnergyModel:
        """Train every member on all rows (different seeds and batch orders); residual std from the
        validation rows if given (else from the training rows)."""
        Z = self._inputs(X, source, fit=True)
        yt = torch.as_tensor(np.asarray(y, dtype=np.float32))
        rng = np.random.default_rng(self.seed)
        self.members_ = []
        for m in range(self.n_members):
            torch.manual_seed(int(rng.integers(2**31)))
            net = _mlp(Z.shape[1], self.hidden)
            opt = torch.optim.Adam(net.parameters(), lr=self.lr)
            steps = self.epochs * int(np.ceil(len(Z) / self.batch_size))
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.lr, total_steps=steps)
            for _ in range(self.epochs):
                order = torch.as_tensor(rng.permutation(len(Z)))
                for start in range(0, len(Z), self.batch_size):
                    idx = order[start:start + self.batch_size]
                    loss = torch.nn.functional.smooth_l1_loss(net(Z[idx])[:, 0], yt[idx], beta=0.1)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    sched.step()
            net.eval()
            self.members_.append(net)
            if progress is not None:
                progress(m + 1, self.n_members)
        Xr, yr, sr = (X, y, source) if X_val is None else (X_val, y_val, source_val)
        mean, spread = self._ensemble(self._inputs(Xr, sr))
        resid = np.asarray(yr) - mean
        self.residual_std_ = float(np.sqrt(max(np.mean(resid**2) - np.mean(spread**2), 0.0)))
        return self

    def _inputs(self, X: np.ndarray, source: np.ndarray | None = None, fit: bool = False) -> torch.Tensor:
        X = np.asarray(X, dtype=np.float32)
        s = np.zeros((len(X), 1), np.float32) if source is None else np.asarray(source, np.float32)[:, None]
        X = np.hstack([X, s])
        if fit:
            self.mean_ = X.mean(axis=0)
            self.scale_ = np.where(X.std(axis=0) > 1e-8, X.std(axis=0), 1.0).astype(np.float32)
        Z = (X - self.mean_) / self.scale_
        return torch.as_tensor(np.nan_to_num(Z, nan=0.0))

    @torch.no_grad()
    def _ensemble(self, Z: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        preds = np.stack([net(Z)[:, 0].numpy() for net in self.members_]).astype(np.float64)
        return preds.mean(axis=0), preds.std(axis=0)

    # --------------------------------------------------------------------------------------- prediction
    def predict(self, X: np.ndarray, return_std: bool = False):
        """Formation energy (eV/atom) in the Materials Project frame; with ``return_std`` also its std."""
        mean, spread = self._ensemble(self._inputs(X))
        return (mean, np.sqrt(spread**2 + self.residual_std_**2)) if return_std else mean

    def predict_compositions(self, comps: CompositionArrays) -> tuple[np.ndarray, np.ndarray]:
        X, _ = featurize_compositions(comps, FEATURES)
        return self.predict(X, return_std=True)

    # --------------------------------------------------------------------------------------- save / load
    def save(self, base: str | os.PathLike, extra: dict | None = None) -> Path:
        base = Path(base)
        tensors = {f"member{m}.{k}": v.contiguous() for m, net in enumerate(self.members_)
                   for k, v in net.state_dict().items()}
        tensors["mean"] = torch.as_tensor(self.mean_)
        tensors["scale"] = torch.as_tensor(self.scale_)
        with atomic_path(base.with_suffix(".safetensors")) as tmp:
            save_file(tensors, str(tmp))
        config = {"format_version": 1, "model": "formation_energy_ensemble", "features": FEATURES,
                  "hidden": list(self.hidden), "n_members": self.n_members, "epochs": self.epochs,
                  "batch_size": self.batch_size, "lr": self.lr, "seed": self.seed,
                  "residual_std": self.residual_std_, "n_inputs": int(len(self.mean_)), **(extra or {})}
        write_json(base.with_suffix(".json"), config, sort_keys=True)
        return base

    @classmethod
    def load(cls, base: str | os.PathLike) -> FormationEnergyModel:
        import json

        base = Path(base)
        if not base.with_suffix(".safetensors").exists():
            raise DataSourceError(f"formation-energy model {base}.safetensors not found; train it with "
                                  "scripts/train_formation_model.py")
        config = json.loads(base.with_suffix(".json").read_text())
        tensors = load_file(str(base.with_suffix(".safetensors")))
        model = cls(hidden=tuple(config["hidden"]), n_members=config["n_members"], epochs=config["epochs"],
                    batch_size=config["batch_size"], lr=config["lr"], seed=config["seed"],
                    residual_std_=config["residual_std"])
        model.mean_, model.scale_ = tensors["mean"].numpy(), tensors["scale"].numpy()
        for m in range(model.n_members):
            net = _mlp(config["n_inputs"], model.hidden)
            net.load_state_dict({k.split(".", 1)[1]: v for k, v in tensors.items() if k.startswith(f"member{m}.")})
            net.eval()
            model.members_.append(net)
        return model


def shipped_formation_model_path() -> Path:
    """Base path of the shipped formation-energy model (``metamat/pretrained/formation_energy``)."""
    from importlib import resources

    return Path(str(resources.files("metamat.pretrained"))) / "formation_energy"


_LOADED: dict[str, FormationEnergyModel] = {}


def load_formation_model(base: str | os.PathLike | None = None) -> FormationEnergyModel:
    """Load (once per process) the shipped model or the one at ``base``."""
    key = str(base or shipped_formation_model_path())
    if key not in _LOADED:
        _LOADED[key] = FormationEnergyModel.load(key)
    return _LOADED[key]
