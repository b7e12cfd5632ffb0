"""Shared plumbing of the meta-learners: shipped feature preparation, target handling, save/load state.

Feature preparation (:class:`~metamat.models.base.FeaturePrep`, the same one the baselines fit on their
training rows) is fitted once on the meta-train pool and ships with the model: a feature's mean and std are
properties of the feature distribution, not of one task, and a 5-row support cannot estimate them. Features
are clipped to the range they span in the pool so a query is never pushed far outside what the encoder
saw. Targets are handled per task: the transform (``identity``/``log10``), then
standardization with the support's mean and std only; predictions come back in original units.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from scipy.stats import norm
from sklearn.base import BaseEstimator

from metamat.featurize.graphs import HEADER, pad_rows
from metamat.models.base import FeaturePrep, check_X, check_y, clone_keeping_name
from metamat.models.meta.encoders import passthrough_columns, row_tail
from metamat.models.registry import load_model, save_model
from metamat.tasks.splits import sample_episode
from metamat.tasks.task import Episode, TargetStandardizer, TargetTransform
from metamat.train.episodic import EpisodicTrainer, TrainConfig


def pool_features(tasks, max_rows_per_task: int = 5000, seed: int = 0, tail: int | None = None) -> np.ndarray:
    """Rows of the meta-train pool for fitting :class:`FeaturePrep` (large tasks subsampled). With
    ``tail`` (rows = packed graph of per-task width + ``tail`` ordinary columns) only the graph header and
    the tail are kept, so tasks of different widths stack."""
    rng = np.random.default_rng(seed)
    blocks = []
    for t in tasks:
        idx = np.arange(len(t)) if len(t) <= max_rows_per_task else rng.choice(len(t), max_rows_per_task,
                                                                               replace=False)
        X = t.X[idx]
        blocks.append(X if tail is None else np.hstack([X[:, :HEADER], X[:, X.shape[1] - tail:]]))
    return np.vstack(blocks)


def query_targets(ep: Episode, clip: float = 10.0) -> np.ndarray:
    """Query targets in the episode's support-standardized model space (clipped: heavy tails, tiny supports)."""
    if ep.task.kind == "classification":
        return ep.y_query
    return np.clip(ep.scaler.transform(ep.task.y_model[ep.query]), -clip, clip)


class MetaLearner(BaseEstimator):
    """Base class: subclasses build ``net_`` (an ``nn.Module`` holding every meta-parameter) and implement

    - ``_build(in_dim)``: create ``self.net_``;
    - ``episode_loss(episodes) -> torch scalar`` (meta-training objective on a batch of episodes);
    - ``_adapt(Z, y)`` and ``_predict(Z) -> (mean, std)`` in prepared-feature / standardized-target space.

    ``target_transform`` ('identity' or 'log10') is applied to ``y`` in :meth:`fit` and undone in
    :meth:`predict`; ``std`` comes back in original units (delta method for log10). ``calibration_``
    (per support size, fitted on meta-val episodes) rescales the predicted std.
    """

    kind: ClassVar[str] = "regression"
    task_kinds: ClassVar[tuple[str, ...]] = ("regression",)

    # ------------------------------------------------------------------ meta-training
    def meta_fit(self, tasks, val_tasks=None, **train_kw: Any) -> MetaLearner:
        """Meta-train on ``tasks`` (list of :class:`Task`); early stopping on ``val_tasks`` if given.

        Keyword arguments go to :class:`metamat.train.episodic.TrainConfig` (steps, batch, k range,
        checkpoint_dir, resume, progress, max_minutes, ...)."""
        tasks = [t for t in tasks if t.kind in self.task_kinds]
        if not tasks:
            raise ValueError(f"{type(self).__name__}: no meta-training task of kind {self.task_kinds}")
        val_tasks = [t for t in (val_tasks or []) if t.kind in self.task_kinds]
        # what the model saw, for the leakage guard (saved as the ``training`` block; models/leakage.py)
        self.training_record_ = {
            "meta_train_tasks": [{"name": t.name, "quantity": t.quantity, "rows": len(t)} for t in tasks],
            "meta_val_tasks": [{"name": t.name, "quantity": t.quantity, "rows": len(t)} for t in val_tasks]}
        torch.manual_seed(self.seed)
        passthrough = passthrough_columns(getattr(self, "encoder", "mlp"), getattr(self, "encoder_options", None))
        pool = pool_features(tasks, seed=self.seed, tail=self._row_tail())
        self.prep_ = FeaturePrep(passthrough=passthrough).fit(pool)
        self._build(self.prep_.n_features_in_)
        self._meta_setup(tasks)
        cfg = TrainConfig(**{"seed": self.seed, **train_kw})
        self.history_ = EpisodicTrainer(self, tasks, val_tasks, cfg).run()
        if val_tasks and self.kind == "regression" and cfg.calibrate:
            self.calibrate(val_tasks, seed=self.seed)
        return self

    def val_score(self, episodes) -> float:
        """Meta-validation score (lower is better): mean over tasks of the mean over episodes of
        log(query MAE / MAE of predicting the support mean). Scale-free and robust to heavy-tailed tasks
        (elastic anisotropy), which otherwise dominate a plain scale-free MAE and make early stopping noisy."""
        per_task: dict[str, list[float]] = {}
        for ep in episodes:
            self.fit(ep.X_support, ep.y_support_fit)
            mu = ep.to_original(self.predict(ep.X_query))
            base = np.mean(np.abs(ep.y_support.mean() - ep.y_query))
            per_task.setdefault(ep.task.name, []).append(
                float(np.log(max(np.mean(np.abs(mu - ep.y_query)), 1e-12) / max(base, 1e-12))))
        return float(np.mean([np.mean(v) for v in per_task.values()]))

    def _meta_setup(self, tasks) -> None:
        """Hook run after ``_build`` and before training (e.g. multi-task heads)."""

    def _row_tail(self) -> int | None:
        """Trailing ordinary columns when the encoder reads variable-width packed graph rows, else ``None``."""
        return row_tail(getattr(self, "encoder", "mlp"), getattr(self, "encoder_options", None))

    def _check_X(self, X: np.ndarray) -> np.ndarray:
        tail = self._row_tail()
        if tail is None:
            return check_X(X, self.prep_.n_features_in_)
        X = check_X(X)
        if X.shape[1] < HEADER + tail:
            raise ValueError(f"X has {X.shape[1]} columns; packed graph rows + {tail} feature columns need at "
                             f"least {HEADER + tail}")
        return X

    def prepare(self, X: np.ndarray) -> torch.Tensor:
        tail = self._row_tail()
        return self.prep_.transform_tensor(X, start=None if tail is None else np.shape(X)[1] - tail)

    def stack_prepared(self, blocks: list[torch.Tensor]) -> torch.Tensor:
        """``torch.stack`` of prepared blocks; packed graph rows are first widened to a common width."""
        tail = self._row_tail()
        return torch.stack(blocks if tail is None else pad_rows(blocks, tail))

    def calibrate(self, tasks, ks=(5, 10, 20, 50), n_episodes: int = 12, level: float = 0.9,
                  seed: int = 0) -> None:
        """Per-k std scale so that the central ``level`` interval covers ``level`` of meta-val queries."""
        rng = np.random.default_rng(seed + 7)
        zq = norm.ppf(0.5 + level / 2)
        scales = []
        self.calibration_ = None
        for k in ks:
            zs = []
            for t in tasks:
                if len(t) < k + 10:
                    continue
                for _ in range(n_episodes):
                    try:
                        ep = sample_episode(t, k, n_query=200, rng=rng)
                    except ValueError:
                        continue
                    self.fit(ep.X_support, ep.y_support_fit)
                    mu, sd = self.predict(ep.X_query, return_std=True)
                    zs.append(np.abs(query_targets(ep) - mu) / sd)
            scales.append(float(np.quantile(np.concatenate(zs), level) / zq) if zs else 1.0)
        self.calibration_ = (list(map(float, ks)), scales)

    def _std_scale(self, k: int) -> float:
        cal = getattr(self, "calibration_", None)
        if not cal:
            return 1.0
        ks, scales = cal
        return float(np.interp(np.log(k), np.log(ks), scales))

    # ------------------------------------------------------------------ one task
    def _check_meta_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise RuntimeError(f"{type(self).__name__} is not meta-trained: call meta_fit(tasks) or load a "
                               "saved model (metamat.models.registry.load_model)")

    def fit(self, X: np.ndarray, y: np.ndarray) -> MetaLearner:
        """Adapt to one task from its support set (``y`` in original units)."""
        self._check_meta_fitted()
        X = self._check_X(X)
        y = check_y(y, len(X))
        self.transform_ = TargetTransform(getattr(self, "target_transform", "identity"))
        z = self.transform_.forward(y, source="support")
        self.target_scaler_ = TargetStandardizer().fit(z)
        self.k_ = len(y)
        self.net_.eval()
        with torch.no_grad():
            self._adapt(self.prepare(X), torch.as_tensor(self.target_scaler_.transform(z), dtype=torch.float64))
        return self

    def predict(self, X: np.ndarray, return_std: bool = False):
        """Mean (and std) in original units."""
        if not hasattr(self, "target_scaler_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(X_support, y_support) first")
        X = self._check_X(X)
        with torch.no_grad():
            mu, sd = self._predict(self.prepare(X))
        mu = np.asarray(mu, dtype=float)
        z = self.target_scaler_.inverse(mu)
        mean = self.transform_.inverse(z)
        if not return_std:
            return mean
        sd = np.asarray(sd, dtype=float) * self._std_scale(self.k_)
        return mean, self.transform_.inverse_std(z, self.target_scaler_.inverse_std(sd))

    def predict_interval(self, X: np.ndarray, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """``(lower, upper)``: central ``level`` predictive interval per row, in original units."""
        return self.predict_dist(X, level)[2:]

    def predict_dist(self, X: np.ndarray, level: float = 0.9) -> tuple[np.ndarray, ...]:
        """``(mean, std, lower, upper)`` in original units; the central ``level`` interval is computed in
        model space and mapped back (for log10 targets: a log-normal interval around the median)."""
        if not hasattr(self, "target_scaler_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(X_support, y_support) first")
        X = self._check_X(X)
        with torch.no_grad():
            mu, sd = self._predict(self.prepare(X))
        z = self.target_scaler_.inverse(np.asarray(mu, float))
        sz = self.target_scaler_.inverse_std(np.asarray(sd, float) * self._std_scale(self.k_))
        q = float(norm.ppf(0.5 + level / 2))
        inv = self.transform_.inverse
        return inv(z), self.transform_.inverse_std(z, sz), inv(z - q * sz), inv(z + q * sz)

    # ------------------------------------------------------------------ save / load
    def extra_config(self) -> dict[str, Any]:
        """JSON-able fitted state besides tensors (subclasses extend)."""
        return {"calibration": getattr(self, "calibration_", None)}

    def load_extra_config(self, cfg: dict[str, Any]) -> None:
        cal = cfg.get("calibration")
        if cal is not None and not (isinstance(cal, (list, tuple)) and len(cal) == 2
                                    and all(isinstance(c, list) and len(c) == len(cal[0]) for c in cal)):
            raise ValueError(f"calibration must be two lists of equal length ([ks], [scales]), not {cal!r}")
        self.calibration_ = tuple(cal) if cal else None

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Every meta-parameter as named tensors (``net.*`` and ``prep.*``), as saved in a model file."""
        self._check_meta_fitted()
        out = {f"net.{k}": v for k, v in self.net_.state_dict().items()}
        out.update({f"prep.{k}": v for k, v in self.prep_.tensors().items()})
        return out

    def load_state_tensors(self, tensors: Mapping[str, Any], fitted: dict[str, Any]) -> MetaLearner:
        """Restore the meta-trained state from :meth:`state_tensors` (tensors or numpy arrays) and
        :meth:`extra_config`; the model is then ready for ``fit(X_support, y_support)``."""
        t = {k: v.detach().clone() if torch.is_tensor(v) else torch.from_numpy(np.array(v))
             for k, v in tensors.items()}
        self.prep_ = FeaturePrep.from_tensors({k[5:]: v for k, v in t.items() if k.startswith("prep.")})
        self.load_extra_config(fitted)
        self._build(self.prep_.n_features_in_)
        self.net_.load_state_dict({k[4:]: v for k, v in t.items() if k.startswith("net.")})
        self.net_.eval()
        return self

    def save(self, path: str | os.PathLike, extra: dict[str, Any] | None = None) -> Path:
        """Write ``path.safetensors`` + ``path.json`` (see :func:`metamat.models.registry.save_model`)."""
        return save_model(self, path, extra=extra)

    @classmethod
    def load(cls, path: str | os.PathLike, **overrides: Any) -> MetaLearner:
        """A saved model of this class (see :func:`metamat.models.registry.load_model`)."""
        model = load_model(path, **overrides)
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model

    def __sklearn_clone__(self) -> MetaLearner:
        """``sklearn.base.clone``: same parameters and registry name, and -- once meta-trained -- the same
        meta-parameters (network, feature preparation, calibration); no per-task (``fit``) state. So an
        evaluator can clone a meta-trained model per episode."""
        new = clone_keeping_name(self)
        if hasattr(self, "net_"):
            new.load_state_tensors(self.state_tensors(), self.extra_config())
        return new

    def _build(self, in_dim: int) -> None:
        raise NotImplementedError

    def _encoder_config(self, in_dim: int) -> dict[str, Any]:
        """``build_encoder`` config: type, sizes, and ``encoder_options`` (e.g. a graph layout) merged in."""
        options = dict(getattr(self, "encoder_options", None) or {})
        clash = sorted({"type", "in_dim", "out_dim"} & set(options))
        if clash:
            raise ValueError(f"encoder_options cannot set {clash}: use encoder= and embed_dim=")
        return {"type": self.encoder, "in_dim": in_dim, "hidden": list(self.hidden), "out_dim": self.embed_dim,
                **options}

    @property
    def n_passthrough_(self) -> int:
        """Leading raw (unstandardized) feature columns, e.g. a packed crystal graph."""
        return int(getattr(self.prep_, "passthrough_", 0))

    def episode_loss(self, episodes) -> torch.Tensor:
        raise NotImplementedError

    def _adapt(self, Z: torch.Tensor, y: torch.Tensor) -> None:
        raise NotImplementedError

    def _predict(self, Z: torch.Tensor):
        raise NotImplementedError
