"""Prototypical networks: classification (metal/insulator, glass formation) and a regression variant.

- :class:`ProtoNetClassifier`: class prototypes are mean embeddings of the support's members;
  P(class 1) = softmax over negative squared distances (learned temperature). One-class supports give the
  smoothed class rate, like the baseline classifiers. Meta-trained by query cross-entropy.
- :class:`ProtoNetRegressor`: every support point is a prototype; the prediction is the softmax
  (distance-)weighted mean of the support targets in the learned embedding, the std the weighted spread
  plus a learned noise floor. Meta-trained by query Gaussian negative log-likelihood.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from metamat.models.base import check_X, check_y
from metamat.models.meta.base import MetaLearner, query_targets
from metamat.models.meta.encoders import build_encoder
from metamat.models.probability import log_loss, smoothed_rate


class _ProtoNet(nn.Module):
    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.log_temp = nn.Parameter(torch.tensor(0.0))
        self.log_noise = nn.Parameter(torch.tensor(-1.0))


def _sqdist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((a * a).sum(-1)[:, None] + (b * b).sum(-1)[None, :] - 2 * a @ b.T).clamp_min(0)


class _ProtoBase(MetaLearner):
    def __init__(self, hidden: Sequence[int] = (128,), embed_dim: int = 64, encoder: str = "mlp",
                 target_transform: str = "identity", seed: int = 0, encoder_options: dict[str, Any] | None = None):
        self.hidden = hidden
        self.embed_dim = embed_dim
        self.encoder = encoder
        self.encoder_options = encoder_options
        self.target_transform = target_transform
        self.seed = seed

    def _build(self, in_dim: int) -> None:
        self.net_ = _ProtoNet(build_encoder(self._encoder_config(in_dim)))

    def _embed(self, Z: torch.Tensor) -> torch.Tensor:
        return self.net_.encoder(Z) / np.sqrt(self.embed_dim)

    def _logits(self, Es, Eq):
        return -_sqdist(Eq, Es) / torch.exp(self.net_.log_temp)


class ProtoNetRegressor(_ProtoBase):
    """Distance-weighted prototypes in the learned embedding: weighted mean and spread of support targets."""

    def _weighted(self, Es, ys, Eq):
        w = torch.softmax(self._logits(Es, Eq), dim=1)                      # (m, k)
        mean = w @ ys
        var = w @ ys ** 2 - mean ** 2
        return mean, var.clamp_min(0) + torch.exp(2 * self.net_.log_noise)

    def episode_loss(self, episodes) -> torch.Tensor:
        out = []
        for ep in episodes:
            Es, Eq = self._embed(self.prepare(ep.X_support)), self._embed(self.prepare(ep.X_query))
            ys = torch.as_tensor(ep.y_support_fit, dtype=torch.float32)
            yq = torch.as_tensor(query_targets(ep), dtype=torch.float32)
            mean, var = self._weighted(Es, ys, Eq)
            out.append((0.5 * torch.log(var) + 0.5 * (yq - mean) ** 2 / var).mean())
        return torch.stack(out).mean()

    def _adapt(self, Z, y) -> None:
        self.Es_, self.ys_ = self._embed(Z), y.float()

    def _predict(self, Z):
        mean, var = self._weighted(self.Es_, self.ys_, self._embed(Z))
        return mean.double().numpy(), torch.sqrt(var).double().numpy()


class ProtoNetClassifier(_ProtoBase):
    """Prototypical network for 0/1 tasks: ``fit``, ``predict_proba`` (P(class 1)), ``predict`` (labels)."""

    kind: ClassVar[str] = "classification"
    task_kinds: ClassVar[tuple[str, ...]] = ("classification",)

    def _proto_logit(self, Es, ys, Eq) -> torch.Tensor:
        protos = torch.stack([Es[ys == c].mean(0) for c in (0, 1)])          # (2, d)
        logits = self._logits(protos, Eq)                                     # (m, 2)
        return logits[:, 1] - logits[:, 0]

    def episode_loss(self, episodes) -> torch.Tensor:
        out = []
        for ep in episodes:
            ys = torch.as_tensor(ep.y_support, dtype=torch.float32)
            if len(torch.unique(ys)) < 2:
                continue
            Es, Eq = self._embed(self.prepare(ep.X_support)), self._embed(self.prepare(ep.X_query))
            yq = torch.as_tensor(ep.y_query, dtype=torch.float32)
            out.append(nn.functional.binary_cross_entropy_with_logits(self._proto_logit(Es, ys, Eq), yq))
        if not out:
            return (self.net_.log_temp * 0.0).sum()
        return torch.stack(out).mean()

    def fit(self, X, y):
        self._check_meta_fitted()
        X = check_X(X, self.prep_.n_features_in_)
        y = check_y(y, len(X))
        if not np.all((y == 0) | (y == 1)):
            raise ValueError("classification targets must be 0 or 1")
        self.constant_ = None if len(np.unique(y)) == 2 else smoothed_rate(y)
        with torch.no_grad():
            self.Es_ = self._embed(self.prepare(X))
        self.ys_ = torch.as_tensor(y, dtype=torch.float32)
        return self

    def predict_proba(self, X) -> np.ndarray:
        if not hasattr(self, "ys_"):
            raise RuntimeError("ProtoNetClassifier is not fitted: call fit(X_support, y_support) first")
        X = check_X(X, self.prep_.n_features_in_)
        if self.constant_ is not None:
            return np.full(len(X), float(self.constant_))
        with torch.no_grad():
            return torch.sigmoid(self._proto_logit(self.Es_, self.ys_, self._embed(self.prepare(X)))).double().numpy()

    def predict(self, X, return_std: bool = False):
        """Labels 0/1; with ``return_std`` also the Bernoulli std sqrt(p (1 - p))."""
        p = self.predict_proba(X)
        labels = (p >= 0.5).astype(np.int64)
        return (labels, np.sqrt(p * (1 - p))) if return_std else labels

    def val_score(self, episodes) -> float:
        """Mean query log loss."""
        return float(np.mean([log_loss(ep.y_query, self.fit(ep.X_support, ep.y_support).predict_proba(ep.X_query))
                              for ep in episodes]))
