"""Pluggable encoders: features -> embedding. An MLP on composition features, or a crystal-graph network
(``cgcnn``/``schnet``, :mod:`metamat.featurize.graph_encoder`) on packed graph rows.

An encoder is a ``torch.nn.Module`` with ``in_dim``/``out_dim`` attributes, built from a JSON-able config
by :func:`build_encoder`; register new kinds in :data:`ENCODERS`. An encoder class may define a static
``passthrough_columns(options) -> int``: the number of leading raw columns (e.g. a packed graph) that the
learners' feature preparation must pass through unstandardized. An encoder with ``ragged_rows = True`` (the
graph encoders) reads rows whose width changes from call to call (a packed graph of any size); its static
``trailing_columns(options)`` gives the ordinary columns after the graph block (see :func:`row_tail`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from metamat.featurize.graph_encoder import CrystalGraphEncoder, SchNetEncoder
from metamat.featurize.graphs import HEADER


class MLPEncoder(nn.Module):
    """Composition-feature MLP: Linear -> SiLU -> ... -> Linear (no activation on the embedding)."""

    def __init__(self, in_dim: int, hidden: Sequence[int] = (128,), out_dim: int = 64, dropout: float = 0.0):
        super().__init__()
        self.in_dim, self.out_dim, self.hidden = int(in_dim), int(out_dim), tuple(int(h) for h in hidden)
        layers: list[nn.Module] = []
        d = self.in_dim
        for h in self.hidden:
            layers += [nn.Linear(d, h), nn.SiLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            d = h
        layers.append(nn.Linear(d, self.out_dim))
        self.net = nn.Sequential(*layers)
        self.dropout = float(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def config(self) -> dict[str, Any]:
        return {"type": "mlp", "in_dim": self.in_dim, "hidden": list(self.hidden), "out_dim": self.out_dim,
                "dropout": self.dropout}


ENCODERS: dict[str, Callable[..., nn.Module]] = {"mlp": MLPEncoder, "cgcnn": CrystalGraphEncoder,
                                                 "schnet": SchNetEncoder}


def build_encoder(config: dict[str, Any]) -> nn.Module:
    """Encoder from its config (``{"type": "mlp", "in_dim": 148, ...}``)."""
    config = dict(config)
    kind = config.pop("type", "mlp")
    if kind not in ENCODERS:
        raise ValueError(f"unknown encoder type {kind!r}; known: {sorted(ENCODERS)}")
    return ENCODERS[kind](**config)


def passthrough_columns(kind: str, options: dict[str, Any] | None = None) -> int:
    """Leading raw columns an encoder of type ``kind`` with ``options`` reads unstandardized (0 for the MLP)."""
    if kind not in ENCODERS:
        raise ValueError(f"unknown encoder type {kind!r}; known: {sorted(ENCODERS)}")
    if row_tail(kind, options) is not None:
        return HEADER  # the prep of a ragged-row encoder is fitted on [graph header, trailing columns]
    fn = getattr(ENCODERS[kind], "passthrough_columns", None)
    return int(fn(dict(options or {}))) if fn is not None else 0


def row_tail(kind: str, options: dict[str, Any] | None = None) -> int | None:
    """Trailing ordinary columns of the variable-width rows an encoder of type ``kind`` reads, or ``None`` for
    an encoder with fixed-width rows (the MLP)."""
    if kind not in ENCODERS:
        raise ValueError(f"unknown encoder type {kind!r}; known: {sorted(ENCODERS)}")
    cls = ENCODERS[kind]
    if not getattr(cls, "ragged_rows", False):
        return None
    return int(cls.trailing_columns(dict(options or {})))


def encoder_config(encoder: nn.Module) -> dict[str, Any]:
    return encoder.config()  # type: ignore[operator]
