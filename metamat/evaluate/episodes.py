"""Drawing few-shot episodes reproducibly: episode ``i`` of a task at ``k`` shots is a pure function of
(seed, task name, k, i, policy), so every model sees the same support and query whatever else runs."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from metamat.errors import InputError
from metamat.tasks.splits import sample_episode
from metamat.tasks.task import Episode, Task

DEFAULT_MAX_QUERY = 1000
DEFAULT_MIN_SYSTEMS = 30


def task_key(task: Task) -> int:
    """Stable integer for a task's episodes: crc32 of its name."""
    return zlib.crc32(task.name.encode("utf-8"))


def effective_policy(task: Task, policy: str, min_systems: int = DEFAULT_MIN_SYSTEMS) -> str:
    """``policy``, or ``random`` when ``chemical_system`` is degenerate (< ``min_systems`` systems)."""
    if policy == "chemical_system" and len(np.unique(task.system_codes)) < min_systems:
        return "random"
    return policy


def make_episode(task: Task, k: int, i: int, *, seed: int = 0, policy: str = "chemical_system",
                 max_query: int | None = DEFAULT_MAX_QUERY) -> Episode:
    """Episode ``i`` of ``task`` at ``k`` shots: a pure function of (seed, task name, k, i, policy)."""
    rng = np.random.default_rng([int(seed), task_key(task), int(k), int(i)])
    return sample_episode(task, int(k), n_query=max_query, policy=policy, rng=rng)


def model_seed(seed: int, key: int, k: int, i: int) -> int:
    return int(np.random.SeedSequence([int(seed), key, int(k), int(i), 1]).generate_state(1)[0] % (2**31 - 1))


def check_shots(shots: Sequence[int]) -> list[int]:
    out = []
    for k in shots:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InputError(f"shots must be positive integers, got {k!r}", field="--shots", value=k)
        out.append(int(k))
    if not out or len(set(out)) != len(out):
        raise InputError(f"shots must be distinct and non-empty, got {list(shots)}", field="--shots")
    return sorted(out)
