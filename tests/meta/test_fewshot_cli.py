"""`metamat fewshot` and its library function: outputs, leave-one-out check, and every bad-input path."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from metamat.errors import InputError
from metamat.fewshot import run_fewshot
from metamat.models.meta import make_meta_model
from metamat.models.registry import save_model
from metamat.train.synthetic import random_formulas, synthetic_tasks

torch.set_num_threads(1)

SUPPORT = """formula,Tc,other
Nb3Sn,18,1
MgB2,39,2
Xyz12,5,3
NbTi,10,4
Pb,7.2,5
V3Si,17,6
NbN,16,7
YBa2Cu3O7,92,8
La2CuO4,,9
Hg,4.1,10
"""


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    tasks = synthetic_tasks(n_tasks=4, n_rows=80, seed=7)
    m = make_meta_model("dkgp", hidden=(16,), embed_dim=8).meta_fit(
        tasks[:3], tasks[3:], steps=10, batch=3, k_min=5, k_max=12, n_query=16, eval_every=5, val_episodes=1,
        progress=False)
    return save_model(m, tmp_path_factory.mktemp("model") / "small")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "sup.csv").write_text(SUPPORT)
    (tmp_path / "q.csv").write_text("name,composition\na,Nb3Ge\nb,Foo\nc,MgCNi3\nd,\n")
    return {"support": tmp_path / "sup.csv", "query": tmp_path / "q.csv", "dir": tmp_path}


def test_fewshot_writes_predictions_and_lists_unusable_rows(files, model_path):
    out = files["dir"] / "pred.csv"
    res = run_fewshot(files["support"], files["query"], target="Tc", model=model_path, output=out)
    df = pd.read_csv(out)
    assert list(df.columns) == ["name", "composition", "prediction", "std", "lower90", "upper90", "in_domain",
                                "support_distance"]
    assert len(df) == 4                                  # no query row dropped
    assert df["in_domain"].isna().tolist() == [False, True, False, True]  # flagged where predicted
    ok = df["prediction"].notna().to_numpy()
    assert ok.tolist() == [True, False, True, False]    # 'Foo' and the empty formula are listed instead
    assert {p.row for p in res.query_problems} == {2, 4}
    assert np.all(df.loc[ok, "lower90"] < df.loc[ok, "prediction"])
    assert np.all(df.loc[ok, "prediction"] < df.loc[ok, "upper90"])
    assert res.n_support == 8 and res.loo["n"] == 8 and 0 <= res.loo["coverage"] <= 1
    assert res.support_report.n_rejected == 2            # bad formula + missing value, reported
    assert res.plot is not None and res.plot.exists() and res.plot.suffix == ".png"
    text = res.summary()
    assert "leave-one-out" in text and "coverage" in text and "row 2" in text


def test_fewshot_with_auto_prints_its_choice_and_flags_extrapolations(files):
    from metamat.models.registry import make_model

    auto = make_model("auto", candidates=("ridge", "median"), fallback=("median",))
    res = run_fewshot(files["support"], files["query"], target="Tc", model=auto, plot=False)
    assert res.choice["chosen"] in ("ridge", "median") and set(res.choice["table"]) == {"ridge", "median"}
    text = res.summary()
    assert f"auto chose {res.choice['chosen']}" in text and "CV MAE" in text
    assert res.loo["n"] == 8 and "auto's own cross-validation" in res.loo["scheme"]
    pred = res.predictions
    assert pred["in_domain"].notna().sum() == 2


def test_log_target_keeps_original_units(files, model_path):
    res = run_fewshot(files["support"], files["query"], target="Tc", model=model_path, log_target=True,
                      plot=False)
    p = res.predictions.dropna(subset=["prediction"])
    assert np.all(p["lower90"] > 0) and np.all(p["lower90"] < p["prediction"])


def _table(path: Path, formulas, y) -> Path:
    pd.DataFrame({"formula": formulas, "y": y}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("case,match", [
    ("too_few", "only 3 usable support rows"),
    ("constant", "constant"),
    ("negative_log", "positive"),
    ("all_bad_formulas", "row 1, field .formula.: bad formula"),
    ("two_targets", "choose one with --target"),
    ("no_query_formula", "no formula column"),
    ("missing_model", "not found"),
    ("query_has_prediction", "already has column"),
])
def test_bad_input(case, match, files, model_path, tmp_path):
    rng = np.random.default_rng(0)
    forms = random_formulas(12, rng)
    sup = _table(tmp_path / "s.csv", forms, rng.normal(size=12))
    query = files["query"]
    kw: dict = {"model": model_path, "plot": False}
    if case == "too_few":
        sup = _table(tmp_path / "s.csv", forms[:3], [1.0, 2.0, 3.0])
    elif case == "constant":
        sup = _table(tmp_path / "s.csv", forms, np.full(12, 2.5))
    elif case == "negative_log":
        kw["log_target"] = True
    elif case == "all_bad_formulas":
        sup = _table(tmp_path / "s.csv", ["Qq1", "Zz2", "Xx3", "Yy4", "Ww5"], [1.0, 2.0, 3.0, 4.0, 5.0])
        kw["formula_column"] = "formula"
    elif case == "two_targets":
        pd.DataFrame({"formula": forms, "a": rng.normal(size=12), "b": rng.normal(size=12)}).to_csv(sup, index=False)
    elif case == "no_query_formula":
        query = tmp_path / "q.csv"
        pd.DataFrame({"x": [1, 2], "z": [3.0, 4.0]}).to_csv(query, index=False)
    elif case == "missing_model":
        kw["model"] = tmp_path / "nothing_here"
    elif case == "query_has_prediction":
        query = tmp_path / "q.csv"
        pd.DataFrame({"formula": ["NaCl"], "prediction": [1.0]}).to_csv(query, index=False)
    with pytest.raises(InputError, match=match):
        run_fewshot(sup, query, **kw)


def test_cli_exit_codes(files, model_path, monkeypatch, capsys):
    from metamat import cli
    from metamat.app.fewshot import fewshot

    if not any(getattr(c, "name", None) == "fewshot" or getattr(c.callback, "__name__", "") == "fewshot"
               for c in cli.app.registered_commands):
        cli.app.command("fewshot")(fewshot)
    out = files["dir"] / "cli.csv"
    base = ["metamat", "fewshot", "--support", str(files["support"]), "--query", str(files["query"]),
            "--model", str(model_path), "-o", str(out)]
    monkeypatch.setattr(sys, "argv", base + ["--target", "Tc"])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code in (0, None) and out.exists()
    printed = capsys.readouterr().out
    assert "leave-one-out" in printed and "formula column guessed" in printed
    monkeypatch.setattr(sys, "argv", base + ["--target", "nope"])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_default_model_ships_and_adapts():
    from metamat.pretrained import default_model_path, load_default

    base = default_model_path()  # the weights ship with the package: a missing file is a failure, not a skip
    assert base.with_suffix(".safetensors").is_file() and base.with_suffix(".json").is_file()
    m = load_default()
    tasks = synthetic_tasks(n_tasks=1, n_rows=60, seed=9)
    mean, std = m.fit(tasks[0].X[:20], tasks[0].y[:20]).predict(tasks[0].X[20:], return_std=True)
    assert np.all(np.isfinite(mean)) and np.all(std > 0)
