"""The episodic meta-trainer shared by every meta-learner.

Each step draws one support size ``k`` (log-uniform in ``[k_min, k_max]``) and ``batch`` episodes from
tasks chosen by :class:`TaskSampler`; the learner's ``episode_loss(episodes)`` is minimized with AdamW.
Every ``eval_every`` steps the learner is scored on a fixed set of meta-validation episodes (its own
``fit``/``predict`` path; ``model.val_score``) and the best parameters are kept; training stops after
``patience`` evaluations without improvement, after ``steps``, or after ``max_minutes``.

Checkpoints (``checkpoint_dir``): ``last.safetensors`` (network, optimizer state, torch RNG) +
``last.json`` (step, numpy RNG state, history, early-stopping state) and ``best.safetensors``, each
written atomically. ``resume=True`` continues from ``last`` so an interrupted run ends exactly where an
uninterrupted one would. ``progress`` is an optional ``callback(step, steps)``; the trainer draws nothing.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file

from metamat.files import write_json, write_safetensors
from metamat.tasks.splits import sample_episode


@dataclass
class TrainConfig:
    steps: int = 2000
    batch: int = 8
    k_min: int = 5
    k_max: int = 50
    n_query: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    grad_clip: float = 5.0
    eval_every: int = 100
    patience: int = 8
    val_ks: tuple[int, ...] = (10,)
    val_episodes: int = 6
    sampling: str = "group_sqrt"
    policy: str = "chemical_system"
    checkpoint_dir: str | None = None
    checkpoint_every: int = 100
    resume: bool = False
    progress: Callable[[int, int], None] | bool | None = None
    max_minutes: float | None = None
    calibrate: bool = True
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class TaskSampler:
    """Draw task indices for episodes.

    ``group_sqrt`` (default): uniform over quantity groups (``task.quantity``), then within a group in
    proportion to sqrt(rows), so a quantity with six datasets of 10k rows does not drown a group with one
    small task, and a 10k-row task is seen more often than a 300-row one but not 30x as often.
    ``sqrt``: proportional to sqrt(rows) over all tasks; ``uniform``: uniform over tasks.
    """

    def __init__(self, tasks, scheme: str = "group_sqrt"):
        n = np.array([len(t) for t in tasks], dtype=float)
        if scheme == "uniform":
            w = np.ones(len(tasks))
        elif scheme == "sqrt":
            w = np.sqrt(n)
        elif scheme == "group_sqrt":
            groups = [t.quantity or t.name for t in tasks]
            w = np.sqrt(n)
            for g in set(groups):
                m = np.array([x == g for x in groups])
                w[m] = w[m] / w[m].sum()
        else:
            raise ValueError(f"unknown sampling scheme {scheme!r}; choose group_sqrt, sqrt or uniform")
        self.p = w / w.sum()

    def __call__(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.choice(len(self.p), size=size, p=self.p)


def _bitgen_state(rng: np.random.Generator) -> dict:
    return rng.bit_generator.state


class EpisodicTrainer:
    def __init__(self, model, tasks, val_tasks, config: TrainConfig):
        self.model, self.tasks, self.val_tasks, self.cfg = model, list(tasks), list(val_tasks or []), config
        self.sampler = TaskSampler(self.tasks, config.sampling)

    # ---------------------------------------------------------------- episodes
    def sample_batch(self, rng: np.random.Generator) -> list:
        cfg = self.cfg
        k = int(np.round(np.exp(rng.uniform(np.log(cfg.k_min), np.log(cfg.k_max)))))
        eps = []
        while len(eps) < cfg.batch:
            for i in self.sampler(rng, cfg.batch - len(eps)):
                t = self.tasks[i]
                if len(t) < k + 5:
                    continue
                try:
                    eps.append(sample_episode(t, k, n_query=cfg.n_query, policy=cfg.policy, rng=rng))
                except ValueError:
                    continue
        return eps

    def val_episodes(self) -> list:
        rng = np.random.default_rng(self.cfg.seed + 1)
        out = []
        for t in self.val_tasks:
            for k in self.cfg.val_ks:
                if len(t) < k + 10:
                    continue
                for _ in range(self.cfg.val_episodes):
                    try:
                        out.append(sample_episode(t, k, n_query=200, policy=self.cfg.policy, rng=rng))
                    except ValueError:
                        pass
        return out

    # ---------------------------------------------------------------- checkpoints
    def _paths(self) -> tuple[Path, Path, Path] | None:
        if not self.cfg.checkpoint_dir:
            return None
        d = Path(self.cfg.checkpoint_dir)
        return d / "last.safetensors", d / "last.json", d / "best.safetensors"

    def _save(self, state: dict, opt: torch.optim.Optimizer, rng: np.random.Generator, best: dict | None) -> None:
        paths = self._paths()
        if paths is None:
            return
        tensors = {f"net.{k}": v for k, v in self.model.net_.state_dict().items()}
        opt_state = opt.state_dict()
        for i, st in opt_state["state"].items():
            for key, val in st.items():
                tensors[f"opt.{i}.{key}"] = val if torch.is_tensor(val) else torch.tensor(val)
        tensors["torch_rng"] = torch.get_rng_state()
        write_safetensors(paths[0], tensors)
        if best is not None:
            write_safetensors(paths[2], best)
        meta = {**state, "rng": _bitgen_state(rng), "config": {**asdict(self.cfg), "progress": None},
                "param_groups": opt_state["param_groups"]}
        write_json(paths[1], meta, sort_keys=True)

    def _load(self, opt: torch.optim.Optimizer, rng: np.random.Generator) -> tuple[dict, dict | None] | None:
        paths = self._paths()
        if paths is None or not paths[1].exists():
            return None
        meta = json.loads(paths[1].read_text())
        t = load_file(str(paths[0]))
        self.model.net_.load_state_dict({k[4:]: v for k, v in t.items() if k.startswith("net.")})
        osd = opt.state_dict()
        state: dict[int, dict] = {}
        for k, v in t.items():
            if k.startswith("opt."):
                _, i, key = k.split(".", 2)
                state.setdefault(int(i), {})[key] = v
        osd["state"] = state
        osd["param_groups"] = meta["param_groups"]
        opt.load_state_dict(osd)
        torch.set_rng_state(t["torch_rng"])
        rng.bit_generator.state = meta["rng"]
        best = load_file(str(paths[2])) if paths[2].exists() else None
        keep = ("step", "best_score", "bad_evals", "history", "best_step", "elapsed")
        return {k: meta[k] for k in keep}, best

    # ---------------------------------------------------------------- loop
    def run(self) -> dict:
        cfg, model = self.cfg, self.model
        net = model.net_
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        rng = np.random.default_rng(cfg.seed)
        state = {"step": 0, "best_score": None, "bad_evals": 0, "history": [], "best_step": 0, "elapsed": 0.0}
        best: dict | None = None
        if cfg.resume:
            loaded = self._load(opt, rng)
            if loaded is not None:
                state, best = loaded
        val = self.val_episodes()
        t0 = time.perf_counter() - state["elapsed"]
        report = cfg.progress if callable(cfg.progress) else None  # the library never draws a bar itself
        stopped = "steps"
        running = None
        done = bool(val) and state["bad_evals"] >= cfg.patience  # resuming a run that already stopped early
        if done:
            stopped = "early stopping"
        while not done and state["step"] < cfg.steps:
            net.train()
            eps = self.sample_batch(rng)
            loss = model.episode_loss(eps)
            opt.zero_grad()
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
            opt.step()
            state["step"] += 1
            lv = float(loss.detach())
            running = lv if running is None else 0.95 * running + 0.05 * lv
            if report is not None:
                report(state["step"], cfg.steps)
            step = state["step"]
            if val and (step % cfg.eval_every == 0 or step == cfg.steps):
                score = model.val_score(val)
                state["history"].append({"step": step, "train_loss": running, "val": score,
                                         "seconds": time.perf_counter() - t0})
                if state["best_score"] is None or score < state["best_score"]:
                    state.update(best_score=score, bad_evals=0, best_step=step)
                    best = {k: v.detach().clone() for k, v in net.state_dict().items()}
                else:
                    state["bad_evals"] += 1
            state["elapsed"] = time.perf_counter() - t0
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                self._save(state, opt, rng, best)
            if val and state["bad_evals"] >= cfg.patience:
                stopped = "early stopping"
                self._save(state, opt, rng, best)
                break
            if cfg.max_minutes is not None and state["elapsed"] > 60 * cfg.max_minutes:
                stopped = "time budget"
                self._save(state, opt, rng, best)
                break
        if best is not None:
            net.load_state_dict(best)
        net.eval()
        return {**copy.deepcopy(state), "stopped": stopped}
