"""Training the knowledge surrogates (torch), from the CrabNet benchmark tables.

Each table has CrabNet's ``split`` column (train / val / test). A surrogate is trained on (a seeded
subsample of) ``train``, early-stopped and given its residual std on ``val``, and scored on the whole
``test`` split, so the card's test MAE is honest and comparable with the CrabNet paper's benchmark.
Deterministic for a given seed (one torch thread, seeded member by member, global RNG untouched).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from metamat.data.compositions import parse_formulas
from metamat.featurize.knowledge import Surrogate, SurrogateSpec, input_features
from metamat.featurize.low_fidelity import read_formula_table


@dataclass(frozen=True)
class TrainConfig:
    """Options of :func:`train_surrogate` (the shipped values are the defaults)."""

    hidden: tuple[int, ...] = (64, 64)
    n_members: int = 3
    max_train: int = 40000
    max_val: int = 5000
    max_epochs: int = 80
    patience: int = 10
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-5
    seed: int = 0


def read_split_table(data_dir: str | Path, table: str):
    """``crabnet_benchmark/<table>.csv.gz`` as a DataFrame with columns formula, target, split."""
    return read_formula_table(data_dir, f"crabnet_benchmark/{table}")


def features_of(formulas: Sequence[str]) -> np.ndarray:
    """Surrogate inputs for a column of formulas (each unique formula featurized once)."""
    parsed = parse_formulas(list(formulas), errors="raise")
    return input_features(parsed.compositions)[parsed.codes]


def _subsample(n: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= cap else np.sort(rng.choice(n, size=cap, replace=False))


def _train_member(Z, y, Zv, yv, hidden, cfg: TrainConfig, seed: int):
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers: list[torch.nn.Module] = []
        d = Z.shape[1]
        for h in hidden:
            layers += [torch.nn.Linear(d, h), torch.nn.SiLU()]
            d = h
        layers.append(torch.nn.Linear(d, 1))
        net = torch.nn.Sequential(*layers)
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        gen = torch.Generator().manual_seed(seed)
        best, best_state, bad = np.inf, None, 0
        for _ in range(cfg.max_epochs):
            net.train()
            order = torch.randperm(len(Z), generator=gen)
            for start in range(0, len(Z), cfg.batch_size):
                idx = order[start:start + cfg.batch_size]
                loss = torch.nn.functional.l1_loss(net(Z[idx])[:, 0], y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
            net.eval()
            with torch.no_grad():
                val = float(torch.mean(torch.abs(net(Zv)[:, 0] - yv)))
            if val < best - 1e-5:
                best, bad = val, 0
                best_state = {k: v.clone() for k, v in net.state_dict().items()}
            else:
                bad += 1
                if bad >= cfg.patience:
                    break
        net.load_state_dict(best_state)
    linear = [m for m in net if isinstance(m, torch.nn.Linear)]
    return [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in linear]


def train_surrogate(spec: SurrogateSpec, data_dir: str | Path, cfg: TrainConfig = TrainConfig(),
                    exclude_keys: set[str] | None = None) -> Surrogate:
    """Train one surrogate; its ``card`` holds rows used, test MAE (property unit and learned space),
    the train-median baseline's test MAE, 90% coverage on test, and seconds.

    ``exclude_keys``: reduced-composition keys (:meth:`CompositionArrays.reduced_keys`) never used for
    training or validation (they stay in the test split, which only scores).
    """
    import torch

    from metamat.threads import torch_threads

    start = time.perf_counter()
    df = read_split_table(data_dir, spec.table)
    rng = np.random.default_rng(cfg.seed)
    n_excluded = 0
    if exclude_keys:
        parsed = parse_formulas(df["formula"].tolist(), errors="raise")
        keys = parsed.compositions.reduced_keys()[parsed.codes]
        drop = np.isin(keys, list(exclude_keys)) & (df["split"] != "test").to_numpy()
        n_excluded = int(drop.sum())
        df = df[~drop]
    parts = {s: df[df["split"] == s] for s in ("train", "val", "test")}
    tr = parts["train"].iloc[_subsample(len(parts["train"]), cfg.max_train, rng)]
    va = parts["val"].iloc[_subsample(len(parts["val"]), cfg.max_val, rng)]
    te = parts["test"]
    X, Xv, Xt = (features_of(p["formula"].tolist()) for p in (tr, va, te))
    y, yv = spec.forward(tr["target"].to_numpy(float)), spec.forward(va["target"].to_numpy(float))
    x_mean = np.nanmean(X, axis=0)
    x_scale = np.nanstd(X, axis=0)
    x_scale = np.where(x_scale > 1e-12, x_scale, 1.0)
    y_mean, y_scale = float(np.median(y)), float(np.std(y)) or 1.0

    def prep(A):
        Z = (A - x_mean) / x_scale
        return torch.as_tensor(np.where(np.isfinite(Z), Z, 0.0), dtype=torch.float32)

    seeds = np.random.SeedSequence(cfg.seed).generate_state(cfg.n_members)
    with torch_threads(1):
        Z, Zv = prep(X), prep(Xv)
        yt = torch.as_tensor((y - y_mean) / y_scale, dtype=torch.float32)
        yvt = torch.as_tensor((yv - y_mean) / y_scale, dtype=torch.float32)
        members = [_train_member(Z, yt, Zv, yvt, cfg.hidden, cfg, int(s)) for s in seeds]
    sur = Surrogate(spec, x_mean, x_scale, y_mean, y_scale, 0.0, members)
    mv, _ = sur.predict(Xv)
    sur.residual_std = float(np.sqrt(np.mean((mv - yv) ** 2)))
    mt, st = sur.predict(Xt)
    y_test = te["target"].to_numpy(float)
    yt_learned = spec.forward(y_test)
    pred = spec.inverse(mt)
    q = 1.6448536269514722
    sur.card = {
        "table": spec.table, "rows_in_table": int(sum(len(p) for p in parts.values()) + n_excluded),
        "train_rows": len(tr), "val_rows": len(va), "test_rows": len(te), "excluded_rows": n_excluded,
        "test_mae": float(np.mean(np.abs(pred - y_test))),
        "test_mae_learned_space": float(np.mean(np.abs(mt - yt_learned))),
        "train_median_test_mae": float(np.mean(np.abs(np.median(tr["target"].to_numpy(float)) - y_test))),
        "test_coverage_90": float(np.mean(np.abs(mt - yt_learned) <= q * st)),
        "seconds": round(time.perf_counter() - start, 1),
    }
    return sur


def train_all(specs: Sequence[SurrogateSpec], data_dir: str | Path, cfg: TrainConfig = TrainConfig(),
              exclude_keys: dict[str, set[str]] | None = None,
              progress: Callable[[int, int], None] | None = None) -> list[Surrogate]:
    """Train every surrogate in ``specs`` in order (``progress(done, total)`` after each).

    ``exclude_keys``: quantity group -> reduced-composition keys kept out of that group's surrogates.
    """
    out = []
    for i, spec in enumerate(specs):
        out.append(train_surrogate(spec, data_dir, cfg, (exclude_keys or {}).get(spec.group)))
        if progress is not None:
            progress(i + 1, len(specs))
    return out
