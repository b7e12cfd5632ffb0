"""Leakage guard for saved (meta-trained) models: what a model saw, and whether it overlaps a task.

Every saved model records in its JSON a ``training`` block (``scripts/train_default_model.py``): the
meta-train and meta-val tasks with their quantity groups and row counts, and the held-out groups.
:func:`seen_quantities` lists the quantity groups it saw (meta-train and meta-val: both shaped the
weights), :func:`overlap` intersects them with the quantities of the task under test, and
:func:`check_leakage` raises :class:`LeakageError` unless the caller passes an explicit override; the
returned record goes into every results.json.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from metamat.errors import InputError


class LeakageError(InputError):
    """A pretrained model saw the quantity of the task it is being tested on."""


def seen_tasks(info: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Meta-train and meta-val task records (name, quantity, rows) of a model's ``training`` block. Older
    records (the shipped structure model) list task names only (``train_tasks``, ``val_tasks``): their
    quantity groups come from the task catalogues."""
    info = info or {}
    named = [{"name": n, "quantity": _catalog_groups().get(n)}
             for n in (*info.get("train_tasks", []), *info.get("val_tasks", []))]
    return [*info.get("meta_train_tasks", []), *info.get("meta_val_tasks", []), *named]


def _catalog_groups() -> dict[str, str]:
    """Quantity group of every catalogued composition and structure task, by name."""
    from metamat.tasks.catalog import TASKS
    from metamat.tasks.structure_tasks import STRUCTURE_TASKS

    return {t.name: t.group for t in (*TASKS, *STRUCTURE_TASKS)}


def seen_quantities(info: Mapping[str, Any] | None) -> list[str]:
    """Sorted quantity groups a model saw during meta-training or model selection."""
    return sorted({t["quantity"] for t in seen_tasks(info) if t.get("quantity")})


def overlap(info: Mapping[str, Any] | None, quantities: Iterable[str]) -> list[str]:
    """Quantity groups in both the model's training record and ``quantities``."""
    return sorted(set(seen_quantities(info)) & {q for q in quantities if q})


def check_leakage(info: Mapping[str, Any] | None, task: str, quantities: Iterable[str], *, model: str,
                  allow: bool = False) -> dict[str, Any]:
    """Record of the leakage check of ``model`` on ``task``; raises :class:`LeakageError` on overlap unless
    ``allow`` (then the record says the override was used). A model without a training record is refused
    too (unknown is not clean) unless ``allow``."""
    quantities = sorted({q for q in quantities if q})
    rec: dict[str, Any] = {"model": model, "task": task, "task_quantities": quantities,
                           "model_has_training_record": bool(info), "overlap": [], "override": bool(allow)}
    same_task = [t for t in seen_tasks(info) if t.get("name") == task]
    if not info:
        rec["status"] = "unknown (no training record)"
        reason = f"model {model!r} records no training data, so its overlap with {task} cannot be checked"
    else:
        rec["overlap"] = overlap(info, quantities)
        rec["same_task_rows"] = int(sum(t.get("rows", 0) for t in same_task))
        rec["status"] = "overlap" if rec["overlap"] else "clean"
        reason = (f"model {model!r} was meta-trained on quantity group(s) {rec['overlap']} of task {task}"
                  + (f" (including {rec['same_task_rows']} rows of {task} itself)" if same_task else "")
                  + ": its score would be optimistic")
    if rec["status"] != "clean" and not allow:
        raise LeakageError(f"{reason}; pass --allow-leakage to run anyway (recorded in results.json)",
                           field="--model", value=model)
    return rec
