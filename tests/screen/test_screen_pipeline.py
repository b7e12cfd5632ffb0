"""The streaming screen: consistent counts, resume after deletion / interruption, Dask equals one process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metamat.errors import InputError
from metamat.featurize.pipeline import featurize_formulas
from metamat.screen.pipeline import ScreenConfig, part_paths, run_screen

GRID = dict(elements=("Li", "Fe", "P", "O"), step=0.125, max_elements=4, filters=("charge",), chunk_size=40,
            top=7)


class Ridge:
    """A tiny model with the metamat protocol (closed-form ridge), to check predictions end to end."""

    def fit(self, X, y):
        self.mu_, self.sd_ = X.mean(0), X.std(0) + 1e-9
        Z = (X - self.mu_) / self.sd_
        self.w_ = np.linalg.solve(Z.T @ Z + np.eye(Z.shape[1]), Z.T @ (y - y.mean()))
        self.b_ = y.mean()
        return self

    def predict_dist(self, X, level=0.9):
        mean = ((X - self.mu_) / self.sd_) @ self.w_ + self.b_
        std = np.full(len(X), 0.5)
        return mean, std, mean - 1.645 * std, mean + 1.645 * std


def model() -> Ridge:
    f = ["LiFePO4", "Li3PO4", "FePO4", "Fe2O3", "Li2O", "LiFeO2", "Fe3(PO4)2", "P2O5"]
    return Ridge().fit(featurize_formulas(f).values, np.arange(len(f), dtype=float))


def read_parts(out: Path) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(p) for p in sorted((out / "parts").glob("*.parquet"))], ignore_index=True)


def test_screen_counts_predictions_and_top(tmp_path: Path) -> None:
    config = ScreenConfig(**GRID, target="y")
    m = model()
    summary = run_screen(config, tmp_path / "s", model=m)
    n = 6 * 7 + 4 * 21 + 35  # 8 units over 4 elements, 2-4 present: C(4,k) * C(7,k-1)
    assert summary.candidates == n and summary.computed == summary.chunks == -(-n // 40)
    (charge,) = summary.filters
    assert charge["seen"] == n and charge["kept"] == summary.written
    assert charge["seen"] - charge["kept"] == sum(charge["removed"].values())
    parts = read_parts(tmp_path / "s")
    assert len(parts) == summary.written and parts["formula"].is_unique
    assert {"Li3PO4", "LiFeO2", "FeO"} <= set(parts["formula"])  # charge-balanced members of the grid
    assert not {"LiO3", "Li3O"} & set(parts["formula"])  # 1 Li+ vs 3 O(-1 or -2); 3 Li+ vs O(-1 or -2)
    # predictions are the model's on the features of the written formula
    mean, std, lo, hi = m.predict_dist(featurize_formulas(parts["formula"].tolist()).values)
    np.testing.assert_allclose(parts["prediction"], mean, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(parts["upper90"], hi, rtol=1e-9, atol=1e-9)
    top = pd.read_csv(tmp_path / "s" / "top.csv")
    expected = parts.sort_values(["prediction", "formula"], ascending=[False, True]).head(7)
    assert top["formula"].tolist() == expected["formula"].tolist()
    assert json.loads((tmp_path / "s" / "summary.json").read_text())["written"] == summary.written


def test_resume_recomputes_only_missing_chunks(tmp_path: Path) -> None:
    config = ScreenConfig(**GRID, target="y")
    m = model()
    run_screen(config, tmp_path / "s", model=m)
    before = read_parts(tmp_path / "s")
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "s" / "parts").glob("*.parquet")}
    for i in (1, 3):
        part_paths(tmp_path / "s", i)[0].unlink()  # a deleted part ...
    part_paths(tmp_path / "s", 4)[1].unlink()  # ... and a part whose report was never written
    summary = run_screen(config, tmp_path / "s", model=m)
    assert summary.computed == 3 and summary.skipped == summary.chunks - 3
    pd.testing.assert_frame_equal(read_parts(tmp_path / "s"), before)
    untouched = [p for p in stamps if p.name not in {f"part-{i:06d}.parquet" for i in (1, 3, 4)}]
    assert all(p.stat().st_mtime_ns == stamps[p] for p in untouched)  # finished chunks were not rewritten


def test_interrupted_screen_resumes_to_the_same_output(tmp_path: Path) -> None:
    config = ScreenConfig(**GRID, target="y")
    m = model()
    run_screen(config, tmp_path / "full", model=m)

    def stop_after_two(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_screen(config, tmp_path / "cut", model=m, progress=stop_after_two)
    assert len(list((tmp_path / "cut" / "parts").glob("*.parquet"))) == 2
    summary = run_screen(config, tmp_path / "cut", model=m)
    assert summary.skipped == 2 and summary.computed == summary.chunks - 2
    pd.testing.assert_frame_equal(read_parts(tmp_path / "cut"), read_parts(tmp_path / "full"))
    assert (tmp_path / "cut" / "top.csv").read_text() == (tmp_path / "full" / "top.csv").read_text()


def test_other_screen_in_same_folder_is_refused(tmp_path: Path) -> None:
    run_screen(ScreenConfig(**GRID), tmp_path / "s")
    with pytest.raises(InputError, match="different screen"):
        run_screen(ScreenConfig(**{**GRID, "step": 0.25}), tmp_path / "s")


def test_candidate_file_rows(tmp_path: Path) -> None:
    formulas = ("NaCl", "NaCl2", "Fe3O4", "LiO2", "Li2O2", "CuZn", "Fe2O3")
    summary = run_screen(ScreenConfig(candidates=formulas, filters=("charge",), chunk_size=3, top=10), tmp_path / "s")
    kept = set(read_parts(tmp_path / "s")["formula"])
    assert kept == {"NaCl", "Fe3O4", "Li2O2", "CuZn", "Fe2O3"}  # see test_screen_filters for the rule
    assert summary.filters[0]["seen"] == 7


@pytest.mark.slow
def test_local_cluster_with_a_killed_worker_equals_single_process(tmp_path: Path) -> None:
    pytest.importorskip("dask.distributed")
    import os
    import signal

    from metamat.screen.pipeline import start_client

    config = ScreenConfig(**{**GRID, "chunk_size": 10}, target="y")
    m = model()
    run_screen(config, tmp_path / "one", model=m)
    client, dashboard = start_client(workers=2)
    assert dashboard.startswith("http")
    killed = []

    pids = client.run(os.getpid)  # worker address -> process id

    def kill_one_worker(done: int, total: int) -> None:
        if done == 3 and not killed:  # mid-run: the worker dies with its queued chunks (the nanny restarts it)
            victim = min(pids.values())
            killed.append(victim)
            os.kill(victim, signal.SIGKILL)

    try:
        summary = run_screen(config, tmp_path / "dask", client=client, model=m, progress=kill_one_worker)
        assert killed and killed[0] not in client.run(os.getpid).values()  # it did die
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
    assert summary.computed == summary.chunks
    pd.testing.assert_frame_equal(read_parts(tmp_path / "dask"), read_parts(tmp_path / "one"))
    assert (tmp_path / "dask" / "top.csv").read_text() == (tmp_path / "one" / "top.csv").read_text()


def test_rerun_with_a_longer_top_list_reads_the_parts(tmp_path: Path) -> None:
    m = model()
    run_screen(ScreenConfig(**{**GRID, "top": 2}, target="y"), tmp_path / "s", model=m)
    summary = run_screen(ScreenConfig(**{**GRID, "top": 30}, target="y"), tmp_path / "s", model=m)
    assert summary.computed == 0  # same screen: nothing recomputed, only the top list is rebuilt
    parts = read_parts(tmp_path / "s")
    expected = parts.sort_values(["prediction", "formula"], ascending=[False, True]).head(30)
    assert pd.read_csv(tmp_path / "s" / "top.csv")["formula"].tolist() == expected["formula"].tolist()
