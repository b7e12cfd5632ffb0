"""``auto`` for structure runs: composition-only unless structure inputs win in cross-validation on the support.

Adding a structure to a 10-row support can hurt as easily as help. :class:`StructureAutoRegressor` makes
the structure-aware path no worse than composition-only, by the same yardstick ``auto`` uses:

1. the composition-only ``auto`` (:class:`~metamat.models.auto.AutoRegressor`, exactly what a run without
   structures would do) on the composition block: its chosen model's per-row CV errors are the *fallback*;
2. each structure candidate on the same folds: ``gp``/``rf``/``ridge``/``knn`` on composition + structure
   descriptors (default: :mod:`~metamat.featurize.physics_descriptors` and
   :mod:`~metamat.featurize.ionic_descriptors`), and the
   shipped crystal-graph meta-model on its graph inputs; opt-in (``embedding_candidates``, e.g. ``("rf", "knn")``):
   the same models on composition + the frozen pretrained graph-encoder embedding
   (:mod:`~metamat.featurize.graph_embedding`, block ``embedding``), dropped when the encoder's pretraining
   quantities overlap ``exclude_quantities``. Off by default: on the 2D benchmark it did not beat the
   composition-only choice (NOTES / README "Pretrained graph encoder");
3. the margin rule of :func:`~metamat.models.auto.margin_choice`: a structure candidate replaces the
   composition model only if its CV MAE is lower by more than ``margin`` standard errors of the paired
   per-row differences. The winner is refitted on the whole support and keeps its CV+ intervals.

The composition model's CV errors are the minimum over its own candidates (optimistic), so the rule leans
towards composition: structure is used when it clearly carries signal the composition lacks.
``choice_`` has the format of ``AutoRegressor.choice_`` (CV MAE per candidate, difference to the fallback,
its standard error, what was dropped and why) plus ``composition_choice``, the composition run's own table.

Input matrix (:meth:`StructureAutoRegressor.structure_inputs` builds it from crystals): the column blocks
``composition``, ``structure`` (descriptors), ``embedding`` (when asked for) and ``graph`` (graph block +
composition, as the graph model reads it), side by side; ``blocks`` maps each name to its ``(start, stop)`` columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from metamat.models.auto import DEFAULT_CANDIDATES, AutoRegressor, explain_choice, margin_choice
from metamat.models.base import check_X, check_y

COMPOSITION = "composition"
STRUCTURE_CANDIDATES: tuple[str, ...] = ("gp", "rf", "ridge", "knn")
GRAPH = "graph"
EMBEDDING = "embedding"
#: the opt-in embedding candidates (``fewshot --structure-features physics+embedding``), as benchmarked
EMBEDDING_CANDIDATES: tuple[str, ...] = ("rf", "knn")


class StructureAutoRegressor(AutoRegressor):
    """Composition-only ``auto`` vs composition + structure inputs vs the graph model, chosen by CV (module
    docstring). ``graph_model``: saved-model spec of the crystal-graph candidate (``default`` = the shipped
    one; ``None`` leaves it out)."""

    def __init__(self, blocks: Mapping[str, tuple[int, int]] | None = None,
                 candidates: Sequence[str] = DEFAULT_CANDIDATES,
                 structure_candidates: Sequence[str] = STRUCTURE_CANDIDATES,
                 descriptors: Sequence[str] = ("physics", "ionic"), graph_model: str | None = "default",
                 embedding_candidates: Sequence[str] = (), embedding_encoder: str | None = None,
                 fallback: Sequence[str] = ("rf_median",), margin: float = 1.0, loo_max: int = 20, n_folds: int = 5,
                 rf_trees: int = 100, meta_model: str = "default", exclude_quantities: Sequence[str] = (),
                 max_gp_rows: int = 1000, target_transform: str = "identity", n_jobs: int | None = 1,
                 seed: int = 0):
        super().__init__(candidates=candidates, fallback=fallback, margin=margin, loo_max=loo_max,
                         n_folds=n_folds, rf_trees=rf_trees, meta_model=meta_model,
                         exclude_quantities=exclude_quantities, max_gp_rows=max_gp_rows,
                         target_transform=target_transform, n_jobs=n_jobs, seed=seed)
        self.blocks = blocks
        self.structure_candidates = structure_candidates
        self.descriptors = descriptors
        self.graph_model = graph_model
        self.embedding_candidates = embedding_candidates
        self.embedding_encoder = embedding_encoder

    # -------------------------------------------------------------------------------- inputs
    def _graph_path(self) -> str:
        from metamat.models.registry import saved_path

        return str(saved_path(self.graph_model, structure=True))

    def structure_inputs(self, crystals: Sequence, formulas: Sequence[str], source: str = "structures"
                         ) -> np.ndarray:
        """``[composition | descriptors | graph block + composition]`` for these crystals; sets ``blocks_``."""
        from metamat.featurize.structure import featurize_structures
        from metamat.tasks.structure_tasks import model_inputs, structure_inputs

        comp = structure_inputs(crystals, formulas, COMPOSITION, source=source)
        desc, _ = featurize_structures(crystals, names=tuple(self.descriptors))
        parts = {COMPOSITION: comp, "structure": desc}
        if self.embedding_candidates:
            from metamat.featurize.graph_embedding import GraphEmbedding

            parts[EMBEDDING], _ = featurize_structures(crystals, names=[GraphEmbedding(self.embedding_encoder)])
        if self.graph_model is not None:
            from metamat.models.registry import load

            parts[GRAPH] = model_inputs(load(self._graph_path()), crystals, formulas, source=source)
        ends = np.cumsum([0] + [p.shape[1] for p in parts.values()])
        self.blocks_ = {name: (int(a), int(b)) for name, a, b in zip(parts, ends[:-1], ends[1:], strict=True)}
        if GRAPH in self.blocks_:  # last and open-ended: its width depends on the largest structure of a call
            self.blocks_[GRAPH] = (self.blocks_[GRAPH][0], None)
        return np.hstack(list(parts.values()))

    def _block(self, X: np.ndarray, *names: str) -> np.ndarray:
        blocks = self.blocks if self.blocks is not None else getattr(self, "blocks_", None)
        if blocks is None:
            raise ValueError("StructureAutoRegressor needs column blocks: pass blocks= or build the inputs "
                             "with structure_inputs()")
        return np.hstack([X[:, blocks[n][0]:blocks[n][1]] for n in names])

    def _has_block(self, name: str) -> bool:
        blocks = self.blocks if self.blocks is not None else getattr(self, "blocks_", {})
        return name in blocks

    def _inner(self, **kw: Any) -> AutoRegressor:
        opts = {k: getattr(self, k) for k in ("margin", "loo_max", "n_folds", "rf_trees", "exclude_quantities",
                                              "max_gp_rows", "target_transform", "n_jobs", "seed")}
        return AutoRegressor(**{**opts, **kw})

    # -------------------------------------------------------------------------------- fit
    def fit(self, X: np.ndarray, y: np.ndarray) -> StructureAutoRegressor:
        X = check_X(X)
        y = check_y(y, len(X))
        self.n_features_in_ = X.shape[1]
        base = self._inner(candidates=self.candidates, fallback=self.fallback, meta_model=self.meta_model)
        base.fit(self._block(X, COMPOSITION), y)
        runs: dict[str, tuple[AutoRegressor, tuple[str, ...]]] = {COMPOSITION: (base, (COMPOSITION,))}
        dropped = {f"{COMPOSITION}:{k}": v for k, v in base.choice_["dropped"].items()}
        plan = [(f"{c}+structure", (COMPOSITION, "structure"),
                 {"candidates": (c,), "fallback": (c,), "zero_inflation": None})  # exactly candidate c
                for c in self.structure_candidates if self._has_block("structure")]
        if self.embedding_candidates and self._has_block(EMBEDDING):
            clash = self._embedding_leakage()
            for c in self.embedding_candidates:
                if clash:
                    dropped[f"{c}+embedding"] = (f"leakage guard: the graph encoder was pretrained on "
                                                 f"{', '.join(clash)}, the quantity of this task")
                else:
                    plan.append((f"{c}+embedding", (COMPOSITION, EMBEDDING), {"candidates": (c,), "fallback": (c,)}))
        if self.graph_model is not None and self._has_block(GRAPH):
            plan.append((GRAPH, (GRAPH,), {}))
        for label, names, kw in plan:
            run = self._inner(**kw) if kw else GraphCandidate(self._graph_path(), self)
            try:
                run.fit(self._block(X, *names), y)
            except (ValueError, RuntimeError, np.linalg.LinAlgError) as exc:  # leakage guard, failed fits
                dropped[label] = f"{type(exc).__name__}: {exc}"
                continue
            if not np.all(np.isfinite(run.residuals_)):
                dropped[label] = "non-finite cross-validation predictions"
                continue
            if run.choice_["dropped"]:
                dropped[label] = "; ".join(run.choice_["dropped"].values())
                continue
            runs[label] = (run, names)
        errors = {label: run.residuals_ for label, (run, _) in runs.items()}
        winner, table = margin_choice(errors, COMPOSITION, self.margin)
        why = explain_choice(winner, COMPOSITION, table, self.margin,
                             f"the composition-only auto ({base.chosen_})", "structure inputs not used")
        self.runs_ = runs
        self.chosen_ = winner
        self.transform_ = base.transform_
        self.residuals_ = errors[winner]
        self.cv_errors_ = errors
        self.cv_predictions_ = {label: run.cv_predictions_[run.chosen_] for label, (run, _) in runs.items()}
        self.choice_ = {"chosen": winner, "why": why, "fallback": COMPOSITION, "margin": self.margin,
                        "scheme": base.choice_["scheme"], "n": len(y), "table": table, "dropped": dropped,
                        "cv_mae_space": base.choice_["cv_mae_space"], "composition_choice": base.choice_}
        return self

    def _embedding_leakage(self) -> list[str]:
        from metamat.featurize.graph_embedding import GraphEmbedding
        from metamat.models.leakage import overlap

        return overlap(GraphEmbedding(self.embedding_encoder).training, self.exclude_quantities)

    # -------------------------------------------------------------------------------- predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "runs_"):
            raise RuntimeError("StructureAutoRegressor is not fitted: call fit(X, y) first")

    def predict_dist(self, X: np.ndarray, level: float = 0.9) -> tuple[np.ndarray, ...]:
        """``(mean, std, lower, upper)`` of the chosen input set's model (CV+ intervals)."""
        self._check_fitted()
        X = check_X(X)  # the open-ended graph block may be wider or narrower than the support's
        run, names = self.runs_[self.chosen_]
        return run.predict_dist(self._block(X, *names), level)

    def domain(self, X: np.ndarray) -> dict[str, np.ndarray]:
        self._check_fitted()
        run, names = self.runs_[self.chosen_]
        return run.domain(self._block(check_X(X), *names))


class GraphCandidate:
    """The crystal-graph meta-model as a candidate: CV on the same folds as ``auto``, CV errors in the
    transformed target space, predictions (and its own intervals) from the model refitted on the support."""

    def __init__(self, path: str, owner: StructureAutoRegressor):
        self.path, self.owner = path, owner

    def fit(self, X: np.ndarray, y: np.ndarray) -> GraphCandidate:
        import copy

        from metamat.models.auto import cv_folds
        from metamat.models.leakage import overlap
        from metamat.models.registry import load, training_info
        from metamat.tasks.task import TargetTransform

        o = self.owner
        clash = overlap(training_info(self.path), o.exclude_quantities)
        if clash:
            raise ValueError(f"leakage guard: the graph model was trained on {', '.join(clash)}, the quantity "
                             "of this task")
        template = load(self.path)
        template.target_transform = o.target_transform
        transform = TargetTransform(o.target_transform)
        z = transform.forward(y, source="support")
        folds = cv_folds(len(y), o.loo_max, o.n_folds, o.seed)
        pred = np.empty(len(y))
        for f in np.unique(folds):
            test = folds == f
            m = copy.deepcopy(template).fit(X[~test], y[~test])
            pred[test] = transform.forward(np.asarray(m.predict(X[test]), float))
        self.model_ = template.fit(X, y)
        self.chosen_ = GRAPH
        self.cv_predictions_ = {GRAPH: pred}
        self.residuals_ = np.abs(z - pred)
        self.choice_ = {"dropped": {}}
        return self

    def predict_dist(self, X: np.ndarray, level: float = 0.9) -> tuple[np.ndarray, ...]:
        return self.model_.predict_dist(X, level=level)


__all__ = ["EMBEDDING", "EMBEDDING_CANDIDATES", "STRUCTURE_CANDIDATES", "GraphCandidate", "StructureAutoRegressor"]
