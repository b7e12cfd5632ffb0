"""A pretrained crystal-graph encoder as a frozen structure featurizer (``graph_pretrained``, 64 features).

``scripts/pretrain_graph_encoder.py`` trains the CGCNN-style encoder of
:mod:`metamat.featurize.graph_encoder` with supervised multi-task heads on large structure sets (quantities
the 2D few-shot benchmark does not test; the JSON's ``training`` block lists tasks and quantity groups in the
format of :mod:`metamat.models.leakage`). The weights ship as ``metamat/pretrained/graph_encoder.safetensors``
+ ``.json``; the JSON records the SHA-256 of the tensor file, and loading refuses a missing, damaged or
modified file pair with :class:`EncoderFileError` (an :class:`~metamat.errors.InputError`).

:class:`GraphEmbedding` turns structures into the encoder's pooled output (occupancy-weighted mean over sites
after the convolutions, then the output layer), in float64, with no gradient. Mean pooling over a radius
graph makes it invariant to translation, rotation, site order and supercells. Structures are grouped by size
before the packed rows are built, so one large cell does not widen the rows of many small ones.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from metamat.data.structures import StructureBatch
from metamat.errors import InputError, Problem
from metamat.featurize.structure_descriptors import NeighborCache, StructureFeaturizer

#: Base path of the shipped encoder (``.safetensors`` + ``.json``).
PRETRAINED_ENCODER = Path(__file__).resolve().parent.parent / "pretrained" / "graph_encoder"
FORMAT = "metamat-graph-encoder-1"
#: Padded site slots per packed-row chunk (rows x largest cell of the chunk).
CHUNK_SITES = 4096


class EncoderFileError(InputError):
    """A pretrained-encoder file pair that cannot be used: ``cannot read graph encoder PATH: reason``."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(problems=[Problem(f"cannot read graph encoder {path}: {reason}")])
        self.source, self.reason = str(path), reason


def _base(path: str | Path | None) -> Path:
    from metamat.files import pair_base

    return pair_base(path if path is not None else PRETRAINED_ENCODER)


def sha256_of(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_encoder(path: str | Path, tensors: dict[str, Any], config: dict[str, Any]) -> Path:
    """Write ``path.safetensors`` (``encoder.*`` and any ``head.*`` tensors) and ``path.json`` (``config`` plus
    the format tag and the tensor file's SHA-256), both atomically; returns the base path."""
    from metamat.files import write_json, write_safetensors

    base = _base(path)
    base.parent.mkdir(parents=True, exist_ok=True)
    tensor_file = write_safetensors(base.with_suffix(".safetensors"), tensors, metadata={"format": FORMAT})
    write_json(base.with_suffix(".json"), {**config, "format": FORMAT, "sha256": sha256_of(tensor_file)},
               sort_keys=True)
    return base


def read_encoder_config(path: str | Path | None = None) -> dict[str, Any]:
    """The JSON of a saved encoder (validated: format, ``encoder`` options, ``sha256``)."""
    base = _base(path)
    file = base.with_suffix(".json")
    if not file.is_file():
        raise EncoderFileError(base, f"{file.name} not found (train it with scripts/pretrain_graph_encoder.py)")
    try:
        cfg = json.loads(file.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise EncoderFileError(base, f"{file.name} is not valid JSON ({exc})") from None
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise EncoderFileError(base, f"{file.name} is not a graph-encoder file (format {FORMAT!r} expected)")
    if not isinstance(cfg.get("encoder"), dict) or not isinstance(cfg.get("sha256"), str):
        raise EncoderFileError(base, f"{file.name} lacks 'encoder' options or the 'sha256' of the tensors")
    enc = cfg["encoder"]
    if not (isinstance(enc.get("out_dim"), int) and 0 < enc["out_dim"] <= 4096
            and isinstance(enc.get("cutoff"), (int, float)) and 0 < enc["cutoff"] <= 20):
        raise EncoderFileError(base, f"{file.name}: encoder 'out_dim' (1-4096) or 'cutoff' (0-20 Å) missing or "
                                     "out of range")
    return cfg


@lru_cache(maxsize=4)
def _load(base: Path, mtime: float) -> tuple[Any, dict[str, Any]]:
    del mtime  # cache key only: a rewritten file is read again
    import torch
    from safetensors.torch import load as load_bytes

    from metamat.featurize.graph_encoder import CrystalGraphEncoder

    cfg = read_encoder_config(base)
    file = base.with_suffix(".safetensors")
    if not file.is_file():
        raise EncoderFileError(base, f"{file.name} not found")
    data = file.read_bytes()
    if hashlib.sha256(data).hexdigest() != cfg["sha256"]:
        raise EncoderFileError(base, f"{file.name} does not match the SHA-256 recorded in {base.name}.json "
                                     "(modified or damaged)")
    try:
        tensors = load_bytes(data)
        opts = {k: v for k, v in cfg["encoder"].items() if k != "type"}
        encoder = CrystalGraphEncoder(**opts)
        state = {k[len("encoder."):]: v for k, v in tensors.items() if k.startswith("encoder.")}
        encoder.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise EncoderFileError(base, f"tensors do not fit the recorded encoder ({exc})") from None
    if not all(torch.isfinite(p).all() for p in encoder.state_dict().values()):
        raise EncoderFileError(base, "tensors contain NaN or infinite values")
    return encoder.double().eval(), cfg


def load_encoder(path: str | Path | None = None) -> tuple[Any, dict[str, Any]]:
    """``(encoder, config)`` of a saved encoder (default: the shipped one), float64, in eval mode; the same
    object for repeated calls while the file is unchanged (do not train it)."""
    base = _base(path)
    file = base.with_suffix(".safetensors")
    return _load(base, file.stat().st_mtime_ns if file.exists() else -1.0)


def encode_rows(encoder: Any, X: np.ndarray) -> np.ndarray:
    """Encoder output (n, out_dim) of packed graph rows ``X`` (float64, no gradient, one torch thread)."""
    import torch

    from metamat.threads import torch_threads

    with torch_threads(1), torch.inference_mode():
        return encoder(torch.as_tensor(X, dtype=torch.float64)).numpy().copy()


def size_chunks(n_sites: np.ndarray, max_padded: int = CHUNK_SITES) -> list[np.ndarray]:
    """Indices of structures in chunks of similar size (sorted by site count), each with
    ``rows x largest cell <= max_padded`` (at least one structure per chunk)."""
    order = np.argsort(n_sites, kind="stable")
    chunks, start = [], 0
    while start < len(order):
        stop = start + 1
        while stop < len(order) and (stop - start + 1) * n_sites[order[stop]] <= max_padded:
            stop += 1
        chunks.append(order[start:stop])
        start = stop
    return chunks


class GraphEmbedding(StructureFeaturizer):
    """Pooled embedding of the pretrained crystal-graph encoder (module docstring); ``path``: a saved encoder
    (default: the shipped one)."""

    name = "graph_pretrained"

    def __init__(self, path: str | Path | None = None):
        self.path = path

    @property
    def config(self) -> dict[str, Any]:
        return read_encoder_config(self.path)

    @property
    def training(self) -> dict[str, Any]:
        """The leakage record (``meta_train_tasks`` with quantity groups) of the encoder's pretraining."""
        return dict(self.config.get("training", {}))

    def feature_labels(self) -> list[str]:
        return [f"graph embedding {k}" for k in range(int(self.config["encoder"]["out_dim"]))]

    def citations(self) -> list[str]:
        return ["T. Xie, J. C. Grossman, Crystal graph convolutional neural networks for an accurate and "
                "interpretable prediction of material properties, Phys. Rev. Lett. 120, 145301 (2018)."]

    def featurize(self, batch: StructureBatch, neighbors: NeighborCache | None = None) -> np.ndarray:
        from metamat.featurize.graphs import graph_features

        del neighbors  # the packed rows run their own (pair) search at the encoder's cutoff
        encoder, cfg = load_encoder(self.path)
        cutoff = float(cfg["encoder"]["cutoff"])
        out = np.empty((len(batch), int(cfg["encoder"]["out_dim"])))
        for idx in size_chunks(np.diff(batch.offsets)):
            rows = graph_features([batch.crystals[i] for i in idx], cutoff)
            out[idx] = encode_rows(encoder, rows)
        return out

    def __repr__(self) -> str:
        return f"GraphEmbedding(path={self.path!r})"


__all__ = ["CHUNK_SITES", "EncoderFileError", "GraphEmbedding", "PRETRAINED_ENCODER", "encode_rows",
           "load_encoder", "read_encoder_config", "save_encoder", "size_chunks"]
