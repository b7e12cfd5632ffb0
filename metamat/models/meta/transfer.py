"""Transfer learning: multi-task pretraining on the meta-train tasks, then freeze and fine-tune per task.

Pretraining: a shared encoder with one linear head per meta-train task, trained on all rows of sampled
episodes (squared error on each task's globally standardized targets) by the same episodic trainer (so
task sampling, meta-validation, checkpoints and resume are shared). The per-task heads are thrown away.

Fine-tuning on a support set (``fit``):

- ``finetune="head"``: the encoder is frozen; a Bayesian linear head (evidence-maximizing
  ``BayesianRidge``) on the embedding gives the mean and std.
- ``finetune="last"``: the last encoder layer and a fresh linear head are fine-tuned with Adam on the
  support's squared error (L2 pull toward the pretrained weights), then a Bayesian linear head on the
  fine-tuned embedding gives the mean; the std is the larger of its std and the frozen head's std.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from metamat.models.meta.base import MetaLearner
from metamat.models.meta.encoders import build_encoder


class _TransferNet(nn.Module):
    def __init__(self, encoder: nn.Module, n_heads: int):
        super().__init__()
        self.encoder = encoder
        self.heads = nn.Linear(encoder.out_dim, max(n_heads, 1))  # column t = head of task t


def _last_layer_input(enc: nn.Module, last: nn.Linear, Z: torch.Tensor) -> torch.Tensor | None:
    """Input of ``last`` when the encoder's output is ``last(input)`` (then fine-tuning steps skip the frozen
    layers, which matters for a graph encoder), else None."""
    seen: list[torch.Tensor] = []
    handle = last.register_forward_hook(lambda mod, args, out: seen.append(args[0].detach()))
    try:
        with torch.no_grad():
            out = enc(Z)
    finally:
        handle.remove()
    if len(seen) != 1:
        return None
    with torch.no_grad():
        same = seen[0].shape[:-1] == out.shape[:-1] and torch.equal(last(seen[0]), out)
    return seen[0] if same else None


class TransferRegressor(MetaLearner):
    """Multi-task pretrained encoder, fine-tuned per task (head only, or last layer + head)."""

    def __init__(self, hidden: Sequence[int] = (128,), embed_dim: int = 64, encoder: str = "mlp",
                 finetune: str = "head", finetune_steps: int = 50, finetune_lr: float = 1e-2,
                 finetune_l2: float = 1e-2, target_transform: str = "identity", seed: int = 0,
                 encoder_options: dict[str, Any] | None = None):
        self.hidden = hidden
        self.embed_dim = embed_dim
        self.encoder = encoder
        self.encoder_options = encoder_options
        self.finetune = finetune
        self.finetune_steps = finetune_steps
        self.finetune_lr = finetune_lr
        self.finetune_l2 = finetune_l2
        self.target_transform = target_transform
        self.seed = seed

    def _build(self, in_dim: int) -> None:
        if self.finetune not in ("head", "last"):
            raise ValueError(f"finetune must be 'head' or 'last', not {self.finetune!r}")
        enc = build_encoder(self._encoder_config(in_dim))
        self.net_ = _TransferNet(enc, getattr(self, "n_heads_", 1))

    def _meta_setup(self, tasks) -> None:
        self.task_index_ = {t.name: i for i, t in enumerate(tasks)}
        self.task_stats_ = {t.name: (float(t.y_model.mean()), float(t.y_model.std() or 1.0)) for t in tasks}
        self.n_heads_ = len(tasks)
        self.net_.heads = nn.Linear(self.embed_dim, len(tasks))

    def episode_loss(self, episodes) -> torch.Tensor:
        losses = []
        for ep in episodes:
            rows = np.r_[ep.support, ep.query]
            mu, sd = self.task_stats_[ep.task.name]
            y = torch.as_tensor(np.clip((ep.task.y_model[rows] - mu) / sd, -10, 10), dtype=torch.float32)
            E = torch.nn.functional.silu(self.net_.encoder(self.prepare(ep.task.X[rows])))
            pred = E @ self.net_.heads.weight[self.task_index_[ep.task.name]] + \
                self.net_.heads.bias[self.task_index_[ep.task.name]]
            losses.append(((pred - y) ** 2).mean())
        return torch.stack(losses).mean()

    # ------------------------------------------------------------------ one task
    def _embed(self, enc: nn.Module, Z: torch.Tensor) -> np.ndarray:
        return torch.nn.functional.silu(enc(Z)).double().numpy()

    def _adapt(self, Z: torch.Tensor, y: torch.Tensor) -> None:
        from sklearn.linear_model import BayesianRidge

        enc = self.net_.encoder
        if self.finetune == "last":
            enc = copy.deepcopy(enc)
            last = [m for m in enc.modules() if isinstance(m, nn.Linear)][-1]
            ref = [p.detach().clone() for p in last.parameters()]
            for p in enc.parameters():
                p.requires_grad_(False)
            for p in last.parameters():
                p.requires_grad_(True)
            head = nn.Linear(self.embed_dim, 1)
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
            opt = torch.optim.Adam([*last.parameters(), *head.parameters()], lr=self.finetune_lr)
            yt = y.float()
            h_in = _last_layer_input(enc, last, Z)
            with torch.enable_grad():
                for _ in range(self.finetune_steps):
                    emb = enc(Z) if h_in is None else last(h_in)
                    pred = head(torch.nn.functional.silu(emb))[:, 0]
                    reg = sum(((p - r) ** 2).sum() for p, r in zip(last.parameters(), ref, strict=True))
                    loss = ((pred - yt) ** 2).mean() + self.finetune_l2 * reg
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
            enc.eval()
        self.enc_ = enc
        self.head_ = BayesianRidge().fit(self._embed(enc, Z), y.numpy())
        # after fine-tuning on the support, the Bayesian head sees its own training data twice and its std
        # collapses (90% coverage 0.43 at k=50); the frozen-embedding head's std is kept as a floor
        self.frozen_head_ = (BayesianRidge().fit(self._embed(self.net_.encoder, Z), y.numpy())
                             if self.finetune == "last" else None)

    def _predict(self, Z: torch.Tensor):
        mean, std = self.head_.predict(self._embed(self.enc_, Z), return_std=True)
        if self.frozen_head_ is not None:
            std = np.maximum(std, self.frozen_head_.predict(self._embed(self.net_.encoder, Z), return_std=True)[1])
        return mean, np.maximum(std, 1e-3)

    def extra_config(self):
        return {**super().extra_config(), "n_heads": int(getattr(self, "n_heads_", 1))}

    def load_extra_config(self, cfg) -> None:
        super().load_extra_config(cfg)
        self.n_heads_ = int(cfg.get("n_heads", 1))
