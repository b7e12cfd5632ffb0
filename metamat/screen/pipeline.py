"""The streaming screen: candidates generated, filtered, featurized and predicted chunk by chunk, on Dask.

A screen is a list of chunks (index ranges of a composition grid, or row ranges of a candidate table).
Each chunk is processed independently by :func:`process_chunk` -- element filter, charge filter,
featurization, formation energy and hull, stability filter, target prediction -- and written to
``<out>/parts/part-NNNNNN.parquet`` plus a small ``.json`` report beside it (both atomic; the report
last, so a chunk counts as finished only when both exist). Memory per worker is bounded by the chunk size.

:func:`run_screen` runs the chunks that are not finished yet -- in this process (``client=None``) or on a
``dask.distributed`` client (a ``LocalCluster`` from :func:`start_client`, or an existing scheduler) -- so
an interrupted screen resumes where it stopped, and Dask recomputes the chunks of a lost worker. Finally
the chunks' own top-N lists (kept in their reports) are merged into ``top.csv`` and the per-filter counts
go to ``summary.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from metamat.active.constraints import Constraints
from metamat.data.compositions import compositions_from_dense, parse_formulas
from metamat.data.formula import ATOMIC_NUMBER, ELEMENTS
from metamat.errors import InputError
from metamat.files import atomic_path, write_json
from metamat.screen.filters import ChargeFilter, ConstraintFilter, FilterReport
from metamat.screen.generate import GridPlan, formulas_from_amounts

FILTERS = ("charge", "stability")
OUTPUT_COLUMNS = ("formula", "prediction", "std", "lower90", "upper90")


@dataclass(frozen=True)
class ScreenConfig:
    """Everything that defines a screen's output (its fingerprint guards resumes against mixing screens)."""

    elements: tuple[str, ...] = ()
    step: float = 0.05
    max_elements: int | None = None
    min_elements: int = 2  # grids: no pure elements by default
    candidates: tuple[str, ...] = ()  # formulas (instead of a grid)
    filters: tuple[str, ...] = ("charge",)
    mixed_valence: bool = True
    stability_threshold: float = 0.1
    min_probability: float = 0.5
    chunk_size: int = 100_000
    top: int = 50
    maximize: bool = True
    level: float = 0.9
    target: str | None = None  # name of the adapted target (None: stability only)
    model_tag: str = ""  # fingerprint of the adapted model (e.g. hash of the measured rows)
    data_dir: str | None = None  # folder with the known phases (CritExam__Ef)
    formation_model: str | None = None  # None: the shipped one
    exclude: tuple[str, ...] = ()  # user constraints (metamat.active.constraints.Constraints)
    require: tuple[str, ...] = ()
    max_cost_per_kg: float | None = None
    max_hhi: float | None = None

    def __post_init__(self) -> None:
        unknown = set(self.filters) - set(FILTERS)
        if unknown:
            raise InputError(f"unknown filters {sorted(unknown)}; choose from {list(FILTERS)}", field="--filters")
        if bool(self.elements) == bool(self.candidates):
            raise InputError("give either elements (a composition grid) or candidate formulas")
        if self.chunk_size < 1 or self.top < 0:
            raise InputError("chunk size must be >= 1 and top >= 0", field="--chunk-size/--top")

    def constraints(self) -> Constraints:
        """The user constraints (element count only for candidate files: grids are built within it)."""
        return Constraints(exclude=self.exclude, require=self.require, max_cost_per_kg=self.max_cost_per_kg,
                           max_hhi=self.max_hhi, max_elements=self.max_elements if self.plan() is None else None)

    def plan(self) -> GridPlan | None:
        if not self.elements:
            return None
        return GridPlan(self.elements, self.step, self.max_elements or len(self.elements),
                        min(self.min_elements, self.max_elements or len(self.elements)))

    def n_candidates(self) -> int:
        plan = self.plan()
        return len(plan) if plan is not None else len(self.candidates)

    def chunks(self) -> list[tuple[int, int]]:
        n = self.n_candidates()
        return [(s, min(s + self.chunk_size, n)) for s in range(0, n, self.chunk_size)]

    @cached_property
    def fingerprint_(self) -> str:
        return self.fingerprint()

    def fingerprint(self) -> str:
        d = asdict(self)
        d["candidates"] = hashlib.sha256("\n".join(self.candidates).encode()).hexdigest() if self.candidates else ""
        d.pop("top")
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def rank_column(self) -> str:
        return "prediction" if self.target or "stability" not in self.filters else "e_hull"

    def rank_descending(self) -> bool:
        return self.maximize if self.target else False


# ---------------------------------------------------------------------------------------------- workers
_WORKER_CACHE: dict[str, Any] = {}


def _hulls(data_dir: str | None):
    from metamat.screen.stability import HullCache, load_known_phases

    key = f"hulls:{data_dir}"
    if key not in _WORKER_CACHE:
        _WORKER_CACHE[key] = HullCache(load_known_phases(data_dir))
    return _WORKER_CACHE[key]


def dense_from_formulas(formulas: Sequence[str]) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Parse formulas into a dense amount array over the elements they use (columns sorted by Z)."""
    parsed = parse_formulas(list(formulas), field="formula", errors="raise")
    comps = parsed.compositions
    z_cols = np.unique(comps.z)
    dense = np.zeros((len(comps), len(z_cols)))
    dense[comps.owner, np.searchsorted(z_cols, comps.z)] = comps.amounts
    return tuple(ELEMENTS[z - 1] for z in z_cols), dense[parsed.codes], np.asarray(formulas, dtype=object)


@dataclass
class ChunkResult:
    index: int
    rows: int
    reports: list[dict]
    computed: bool = True


def part_paths(out_dir: str | os.PathLike, index: int) -> tuple[Path, Path]:
    base = Path(out_dir) / "parts" / f"part-{index:06d}"
    return base.with_suffix(".parquet"), base.with_suffix(".json")


def candidates_of_chunk(config: ScreenConfig, start: int, stop: int) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Element columns (increasing Z), dense amounts and formulas of candidates ``start:stop``."""
    plan = config.plan()
    if plan is None:
        return dense_from_formulas(config.candidates[start:stop])
    order = np.argsort([ATOMIC_NUMBER[s] for s in plan.elements], kind="stable")
    elements = tuple(plan.elements[i] for i in order)
    amounts = plan.chunk(start, stop)[:, order]
    return elements, amounts, None


def process_chunk(index: int, config: ScreenConfig, out_dir: str, model: Any = None) -> ChunkResult:
    """Screen chunk ``index`` and write its parquet part and report (see the module docstring)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        table, reports = screen_candidates(config, *config.chunks()[index], model=model)
    finally:
        torch.set_num_threads(threads)
    parquet, report = part_paths(out_dir, index)
    with atomic_path(parquet) as tmp:
        table.to_parquet(tmp, index=False)
    top = _top(table, config.rank_column(), config.rank_descending(), config.top) if config.top else table.iloc[:0]
    write_json(report, {"index": index, "rows": len(table), "fingerprint": config.fingerprint_,
                        "filters": [r.as_dict() for r in reports], "top": top.to_dict(orient="list")})
    return ChunkResult(index, len(table), [r.as_dict() for r in reports])


def screen_candidates(config: ScreenConfig, start: int, stop: int, model: Any = None
                      ) -> tuple[pd.DataFrame, list[FilterReport]]:
    """The whole per-chunk flow in memory: the surviving candidates' table and the filter reports."""
    from metamat.featurize.pipeline import featurize_compositions

    elements, amounts, formulas = candidates_of_chunk(config, start, stop)
    reports: list[FilterReport] = []
    keep = np.ones(len(amounts), bool)

    def apply(mask: np.ndarray, report: FilterReport) -> None:
        nonlocal keep
        reports.append(report)
        keep = keep & mask

    constraints = config.constraints()
    if constraints.active:
        apply(*ConstraintFilter(constraints).apply(elements, amounts))
    if "charge" in config.filters:
        rows = np.flatnonzero(keep)
        ok, report = ChargeFilter(config.mixed_valence).apply(elements, amounts[rows])
        mask = np.zeros_like(keep)
        mask[rows[ok]] = True
        apply(mask, report)
    rows = np.flatnonzero(keep)
    amounts = amounts[rows]
    if formulas is None:  # grid: formulas in the user's element order
        shown = config.plan().elements
        formulas = formulas_from_amounts(shown, amounts[:, [elements.index(s) for s in shown]])
    else:
        formulas = formulas[rows]
    comps = compositions_from_dense(elements, amounts, formulas)
    X, _ = featurize_compositions(comps, "composition")
    out = pd.DataFrame({"formula": formulas, "n_elements": (amounts > 0).sum(axis=1)})
    need_stability = "stability" in config.filters or model is None
    if need_stability:
        from metamat.screen.formation import load_formation_model
        from metamat.screen.stability import StabilityFilter, predict_stability

        fe = load_formation_model(config.formation_model)
        ef, ef_std = fe.predict(X, return_std=True)
        single = out["n_elements"].to_numpy() == 1  # an element's formation energy is 0 by definition
        ef[single], ef_std[single] = 0.0, 0.0
        out["formation_energy"], out["formation_energy_std"] = ef, ef_std
        if "stability" in config.filters:
            fractions = amounts / amounts.sum(axis=1, keepdims=True)
            z_cols = [ATOMIC_NUMBER[s] for s in elements]
            st = predict_stability(fractions, z_cols, ef, ef_std, _hulls(config.data_dir),
                                   config.stability_threshold)
            out["e_hull"], out["e_hull_std"], out["p_stable"] = st.e_hull, ef_std, st.p_stable
            ok, report = StabilityFilter(config.stability_threshold, config.min_probability).apply(st)
            reports.append(report)
            out, X = out[ok].reset_index(drop=True), X[ok]
    if model is not None:
        mean, std, lo, hi = model.predict_dist(X, level=config.level) if len(X) else (np.zeros(0),) * 4
    else:  # stability only: the prediction is the formation energy (eV/atom) or e_hull
        col = "e_hull" if "e_hull" in out else "formation_energy"
        from scipy.stats import norm

        mean, std = out[col].to_numpy(), out["formation_energy_std"].to_numpy()
        z = norm.ppf(0.5 + config.level / 2)
        lo, hi = mean - z * std, mean + z * std
    out.insert(1, "prediction", mean)
    out.insert(2, "std", std)
    out.insert(3, "lower90", lo)
    out.insert(4, "upper90", hi)
    return out, reports


# ----------------------------------------------------------------------------------------------- driver
@dataclass
class ScreenSummary:
    candidates: int
    chunks: int
    computed: int
    skipped: int
    written: int
    filters: list[dict]
    top: pd.DataFrame
    out_dir: Path
    files: dict[str, Path] = field(default_factory=dict)


def start_client(scheduler: str | None = None, workers: int | None = None, memory_limit: str = "2GB"):
    """A dask.distributed Client: to ``scheduler`` (``tcp://host:port``) or a new LocalCluster of
    ``workers`` single-threaded processes (default: one per core). Returns (client, dashboard link)."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler)
    else:
        n = workers or os.cpu_count() or 1
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, memory_limit=memory_limit,
                               dashboard_address=":0")
        client = Client(cluster)
    return client, client.dashboard_link


def _check_out_dir(config: ScreenConfig, out_dir: Path) -> None:
    meta = out_dir / "screen.json"
    if meta.exists():
        old = json.loads(meta.read_text()).get("fingerprint")
        if old != config.fingerprint():
            raise InputError("the output folder holds a different screen (other candidates, filters or model); "
                             "choose another -o or delete it", source=str(out_dir))
    else:
        write_json(meta, {"fingerprint": config.fingerprint(), "config": {**asdict(config), "candidates":
                                                                          len(config.candidates)}})


def run_screen(config: ScreenConfig, out_dir: str | os.PathLike, *, client=None, model: Any = None,
               progress: Callable[[int, int], None] | None = None) -> ScreenSummary:
    """Run (or resume) a screen into ``out_dir``; see the module docstring."""
    out_dir = Path(out_dir)
    _check_out_dir(config, out_dir)
    chunks = config.chunks()
    done, todo = [], []
    for i in range(len(chunks)):
        parquet, report = part_paths(out_dir, i)
        (done if parquet.exists() and report.exists() else todo).append(i)
    finished = len(done)
    if progress:
        progress(finished, len(chunks))
    if client is None:
        for i in todo:
            process_chunk(i, config, str(out_dir), model)
            finished += 1
            if progress:
                progress(finished, len(chunks))
    elif todo:
        from dask.distributed import as_completed

        # the config (it may hold a million candidate formulas) and the model go to each worker once
        model_ref = client.scatter(model, broadcast=True) if model is not None else None
        config_ref = client.scatter(config, broadcast=True)
        futures = [client.submit(process_chunk, i, config_ref, str(out_dir), model_ref, retries=2,
                                 key=f"screen-{config.fingerprint()}-{i}") for i in todo]
        for fut in as_completed(futures):
            fut.result()
            finished += 1
            if progress:
                progress(finished, len(chunks))
    return summarize(config, out_dir, computed=len(todo), skipped=len(done))


def summarize(config: ScreenConfig, out_dir: Path, computed: int = 0, skipped: int = 0) -> ScreenSummary:
    """Merge the chunk reports, stream the parts once for the top N, write top.csv and summary.json."""
    totals: dict[str, FilterReport] = {}
    written = 0
    top = None
    rank, desc = config.rank_column(), config.rank_descending()
    for i in range(len(config.chunks())):
        parquet, report = part_paths(out_dir, i)
        info = json.loads(report.read_text())
        written += info["rows"]
        for r in info["filters"]:
            totals.setdefault(r["name"], FilterReport(r["name"])).add(FilterReport(**r))
        if config.top and info["rows"]:
            # each chunk's own top N is enough; read the whole part only if it kept fewer than asked for
            stored = pd.DataFrame(info.get("top", {}))
            part = stored if len(stored) >= min(config.top, info["rows"]) else pd.read_parquet(parquet)
            top = _top(part if top is None else pd.concat([top, part], ignore_index=True), rank, desc, config.top)
    top = top if top is not None else pd.DataFrame(columns=list(OUTPUT_COLUMNS))
    files = {"parts": out_dir / "parts", "top": out_dir / "top.csv", "summary": out_dir / "summary.json"}
    with atomic_path(files["top"]) as tmp:
        top.to_csv(tmp, index=False)
    filters = [r.as_dict() for r in totals.values()]
    write_json(files["summary"], {"candidates": config.n_candidates(), "chunks": len(config.chunks()),
                                  "written": written, "filters": filters, "rank_by": rank,
                                  "descending": desc, "top": config.top})
    return ScreenSummary(config.n_candidates(), len(config.chunks()), computed, skipped, written, filters, top,
                         out_dir, files)


def _top(df: pd.DataFrame, column: str, descending: bool, n: int) -> pd.DataFrame:
    return df.sort_values([column, "formula"], ascending=[not descending, True], kind="mergesort").head(n) \
        .reset_index(drop=True)
