"""`metamat fewshot --structure-column`: CIF text and structure files in, a graph-encoder model, bad rows listed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from pymatgen.core import Lattice, Structure
from typer.testing import CliRunner

from metamat.cli import app
from metamat.errors import InputError
from metamat.featurize.graphs import GraphLayout
from metamat.fewshot import run_fewshot
from metamat.models.meta import make_meta_model
from metamat.models.registry import save_model
from metamat.tasks.structure_tasks import model_inputs, model_layout, structure_inputs
from metamat.tasks.task import Task
from metamat.train.synthetic import random_crystal

torch.set_num_threads(1)


def _pmg(c) -> Structure:
    return Structure(Lattice(c.cell), c.numbers.tolist(), c.positions, coords_are_cartesian=True)


@pytest.fixture(scope="module")
def crystals():
    rng = np.random.default_rng(0)
    return [random_crystal(rng) for _ in range(140)]


@pytest.fixture(scope="module")
def model_path(crystals, tmp_path_factory) -> Path:
    cs, formulas = zip(*crystals, strict=True)
    layout = GraphLayout.fit(cs, cutoff=4.0, species_slots=1, headroom=1.3)
    X = structure_inputs(cs, formulas, "graph", layout=layout)
    vpa = np.array([c.volume / c.n_sites for c in cs])
    tasks = [Task(f"t{i}", X[i * 35:(i + 1) * 35 + 35], (vpa * (1 + i) + i)[i * 35:(i + 1) * 35 + 35],
                  np.array(formulas[i * 35:(i + 1) * 35 + 35], dtype=object)) for i in range(3)]
    m = make_meta_model("transfer_last", hidden=(16,), embed_dim=8, encoder="cgcnn",
                        encoder_options={**layout.to_dict(), "extra_dim": X.shape[1] - layout.width})
    m.meta_fit(tasks[:2], tasks[2:], steps=4, batch=2, k_min=5, k_max=10, n_query=8, eval_every=2, val_episodes=1,
               progress=False)
    return save_model(m, tmp_path_factory.mktemp("smodel") / "graph")


@pytest.fixture
def files(crystals, tmp_path: Path) -> dict[str, Path]:
    sup = pd.DataFrame({"cif": [_pmg(c).to(fmt="cif") for c, _ in crystals[:12]],
                        "vpa": [c.volume / c.n_sites for c, _ in crystals[:12]]})
    sup.to_csv(tmp_path / "sup.csv", index=False)
    (tmp_path / "structs").mkdir()
    paths = []
    for i, (c, _) in enumerate(crystals[12:15]):
        fmt, name = ("poscar", f"POSCAR_{i}") if i == 0 else ("cif", f"s{i}.cif")
        _pmg(c).to(filename=str(tmp_path / "structs" / name), fmt=fmt)
        paths.append(f"structs/{name}")
    overlap = Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.01, 0, 0]]).to(fmt="cif")
    pd.DataFrame({"id": list("abcdef"), "cif": [*paths, "structs/missing.cif", overlap, _pmg(crystals[20][0])
                                                .to(fmt="cif")]}).to_csv(tmp_path / "q.csv", index=False)
    return {"support": tmp_path / "sup.csv", "query": tmp_path / "q.csv", "dir": tmp_path}


def test_structure_fewshot_predicts_and_lists_bad_structures(files, model_path):
    out = files["dir"] / "pred.csv"
    res = run_fewshot(files["support"], files["query"], target="vpa", model=model_path, output=out,
                      structure_column="cif")
    df = pd.read_csv(out)
    assert len(df) == 6 and list(df.columns[-4:]) == ["prediction", "std", "lower90", "upper90"]
    assert df["prediction"].notna().tolist() == [True, True, True, False, False, True]
    reasons = {p.row: p.reason for p in res.query_problems}
    assert set(reasons) == {4, 5}
    assert "not found" in reasons[4] and "overlapping" in reasons[5]
    ok = df["prediction"].notna()
    assert np.all(df.loc[ok, "lower90"] < df.loc[ok, "prediction"]) and np.all(df.loc[ok, "std"] > 0)
    assert res.loo["n"] == 12 and np.isfinite(res.loo["mae"])


def test_structure_inputs_follow_the_model_layout(crystals, model_path):
    from metamat.models.registry import load_model

    m = load_model(model_path)
    layout = model_layout(m)
    assert layout is not None and layout.cutoff == 4.0
    cs, formulas = zip(*crystals[:5], strict=True)
    X = model_inputs(m, cs, formulas)
    assert X.shape == (5, m.prep_.n_features_in_)
    m.fit(X, np.arange(5.0))
    assert np.all(np.isfinite(m.predict(X)))


def test_structure_column_missing_is_a_clear_error(files, model_path):
    with pytest.raises(InputError, match="structure"):
        run_fewshot(files["support"], files["query"], target="vpa", model=model_path, structure_column="poscar")


def test_cli_structure_column(files, model_path):
    out = files["dir"] / "cli.csv"
    r = CliRunner().invoke(app, ["fewshot", "-s", str(files["support"]), "-q", str(files["query"]), "-o", str(out),
                                 "-t", "vpa", "-m", str(model_path), "--structure-column", "cif"])
    assert r.exit_code == 0, r.output
    assert "row 4" in r.output and "row 5" in r.output and "crystal graphs" in r.output
    assert pd.read_csv(out)["prediction"].notna().sum() == 4


def test_shipped_structure_model_adapts(crystals):
    from metamat.fewshot import load_fewshot_model

    m = load_fewshot_model("default", structure=True)
    layout = model_layout(m)
    assert layout is not None and m.encoder == "cgcnn"
    cs, formulas = zip(*crystals[:40], strict=True)
    X = model_inputs(m, cs, formulas)
    vpa = np.array([c.volume / c.n_sites for c in cs])
    m.fit(X[:20], vpa[:20])
    mean, std = m.predict(X[20:], return_std=True)
    assert np.all(np.isfinite(mean)) and np.all(std > 0)
    # volume per atom of rattled fcc/bcc/rocksalt cells: better than predicting the support mean
    assert np.mean(np.abs(mean - vpa[20:])) < np.mean(np.abs(vpa[:20].mean() - vpa[20:]))


def test_query_structure_larger_than_the_layout_is_listed(files, model_path, crystals):
    from metamat.models.registry import load_model

    big = crystals[0][0].supercell((4, 4, 4))  # 128-512 sites, far above the layout
    layout = model_layout(load_model(model_path))
    assert big.n_sites > layout.max_sites
    q = pd.read_csv(files["query"])
    q.loc[len(q)] = ["g", _pmg(big).to(fmt="cif")]
    q.to_csv(files["query"], index=False)
    res = run_fewshot(files["support"], files["query"], target="vpa", model=model_path, structure_column="cif",
                      plot=False)
    reasons = {p.row: p.reason for p in res.query_problems}
    assert "too large" in reasons[7] and "max_sites" in reasons[7]
    assert res.predictions["prediction"].notna().sum() == 4


def test_support_structure_larger_than_the_layout_names_the_row(files, model_path, crystals):
    sup = pd.read_csv(files["support"])
    sup.loc[2, "cif"] = _pmg(crystals[0][0].supercell((4, 4, 4))).to(fmt="cif")
    sup.to_csv(files["support"], index=False)
    with pytest.raises(InputError, match="too large") as err:
        run_fewshot(files["support"], files["query"], target="vpa", model=model_path, structure_column="cif",
                    plot=False)
    assert [p.row for p in err.value.problems] == [3] and err.value.field == "cif"
