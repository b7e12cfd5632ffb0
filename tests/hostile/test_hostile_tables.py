"""Hostile table files and output names: clean errors naming the file, no silent misreads, no data loss."""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metamat.data.readers import read_frame, read_table, sniff_delimiter
from metamat.errors import InputError
from metamat.files import atomic_path, side_report_path, sweep_stale_temps

FORMULAS = ["LiCoO2", "Fe2O3", "NaCl", "MgO", "Al2O3", "SiO2", "TiO2", "ZnO", "CuO", "NiO"]


def _table(path: Path, formulas=FORMULAS, y=None, **kw) -> Path:
    y = np.linspace(0.5, 5.0, len(formulas)) if y is None else y
    pd.DataFrame({"formula": formulas, "y": y}).to_csv(path, index=False, **kw)
    return path


def test_truncated_gzip_names_the_file(tmp_path: Path, run_cli) -> None:
    raw = gzip.compress(_table(tmp_path / "t.csv").read_bytes() * 200)
    bad = tmp_path / "cut.csv.gz"
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError, match="EOFError") as err:
        read_frame(bad)
    assert err.value.source == str(bad)
    code, _, stderr = run_cli("featurize", bad, "-o", tmp_path / "o.csv")
    assert code == 2 and str(bad) in stderr and "Aborted" not in stderr
    assert not (tmp_path / "o.csv").exists()


def test_tab_separated_file_named_csv_is_read_as_columns(tmp_path: Path) -> None:
    path = _table(tmp_path / "tabs.csv", formulas=["Fe2Pt1Yb1", *FORMULAS[1:]], sep="\t")
    assert sniff_delimiter(path) == "\t"
    table = read_table(path)
    assert list(table.targets) == ["y"] and len(table) == len(FORMULAS)
    assert any("delimiter detected: '\\t'" in n for n in table.report.notes)
    # the Yb amount is 1, not the 10.0 a one-column read glued together
    assert table.data["formula"].iloc[0] == "Fe2Pt1Yb1"
    semi = _table(tmp_path / "semi.csv", sep=";")
    assert sniff_delimiter(semi) == ";"
    assert sniff_delimiter(_table(tmp_path / "comma.csv")) == ","


def test_one_column_named_with_a_delimiter_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "glued.tsv"
    path.write_text("formula;target\nFe2O3;1.0\n")  # a .tsv that holds ';'-separated text
    with pytest.raises(InputError, match="one column named 'formula;target'"):
        read_frame(path)


def test_overflowing_targets_are_rejected_with_their_rows(tmp_path: Path) -> None:
    y = np.linspace(0.5, 5.0, len(FORMULAS))
    y[[2, 5]] = [1e308, -1e308]
    table = read_table(_table(tmp_path / "huge.csv", y=y))
    assert len(table) == len(FORMULAS) - 2
    rejected = {p.row: p.reason for p in table.report.rejected}
    assert set(rejected) == {3, 6} and all("overflow" in r for r in rejected.values())


def test_featurize_never_overwrites_its_output_or_unnamed_files(tmp_path: Path, run_cli) -> None:
    src = _table(tmp_path / "in.csv", formulas=[*FORMULAS[:4], "Xx", "H" + "9" * 400])
    out = tmp_path / "feat.rejected.csv"
    code, _, err = run_cli("featurize", src, "-o", out, "--skip-invalid")
    assert code == 0, err
    features = pd.read_csv(out)
    assert len(features) == 4 and "formula" in features.columns  # features, not the report
    report = pd.read_csv(tmp_path / "feat.rejected.rejected.csv")
    assert report["row"].tolist() == [5, 6]
    # full stem for the report, and an unrelated existing file is refused, not overwritten
    unrelated = tmp_path / "results.rejected.csv"
    unrelated.write_text("precious\n")
    code, _, err = run_cli("featurize", src, "-o", tmp_path / "results.v2.csv", "--skip-invalid")
    assert code == 0 and (tmp_path / "results.v2.rejected.csv").exists()
    assert unrelated.read_text() == "precious\n"
    blocker = tmp_path / "r3.rejected.csv"
    blocker.write_text("mine\n")
    code, _, err = run_cli("featurize", src, "-o", tmp_path / "r3.csv", "--skip-invalid")
    assert code == 2 and "already exists" in err and blocker.read_text() == "mine\n"
    assert not (tmp_path / "r3.csv").exists()  # refused before anything was written
    # a rerun replaces the report it wrote itself
    code, _, err = run_cli("featurize", src, "-o", tmp_path / "results.v2.csv", "--skip-invalid")
    assert code == 0, err


def test_featurize_lists_every_bad_row_in_a_report(tmp_path: Path, run_cli) -> None:
    formulas = [f"Xx{k}" if k % 2 else "Fe2O3" for k in range(1, 201)]
    src = _table(tmp_path / "many.csv", formulas=formulas)
    code, _, err = run_cli("featurize", src, "-o", tmp_path / "f.csv")
    assert code == 2 and "100 problems" in err and "and 50 more" in err
    report = pd.read_csv(tmp_path / "f.rejected.csv")
    assert report["row"].tolist() == list(range(1, 201, 2))
    assert not (tmp_path / "f.csv").exists()


def test_side_report_names() -> None:
    assert side_report_path("/x/results.v2.csv").name == "results.v2.rejected.csv"
    assert side_report_path("/x/a.b.csv.gz").name == "a.b.rejected.csv"
    assert side_report_path("/x/out.parquet", "loo_parity", ".png", sep="_").name == "out_loo_parity.png"


def test_stale_temp_files_are_swept_but_not_foreign_or_live_ones(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    stale = tmp_path / ".out.csv.k3j_x9a2.tmp"
    foreign = tmp_path / ".out.csv.tmp"  # not our pattern
    other = tmp_path / ".other.csv.k3j_x9a2.tmp"  # another target
    for p in (stale, foreign, other):
        p.write_text("partial")
        os.utime(p, (time.time() - 3600,) * 2)
    with atomic_path(target) as tmp:
        tmp.write_text("a\n")
        live = tmp
        assert sweep_stale_temps(target) == []  # our own live temp file is locked, and new
    assert target.read_text() == "a\n" and not live.exists()
    assert not stale.exists() and foreign.exists() and other.exists()


def test_a_locked_old_temp_file_is_left_alone(tmp_path: Path) -> None:
    fcntl = pytest.importorskip("fcntl")
    held = tmp_path / ".out.csv.aaaa1111.tmp"
    held.write_text("another writer, still running")
    os.utime(held, (time.time() - 3600,) * 2)
    fd = os.open(held, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert sweep_stale_temps(tmp_path / "out.csv") == [] and held.exists()
    finally:
        os.close(fd)
    assert sweep_stale_temps(tmp_path / "out.csv") == [held] and not held.exists()


def test_sigterm_during_a_write_removes_the_temp_file(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    code = ("import sys, time\n"
            "from metamat.files import atomic_path, terminate_on_sigterm\n"
            "terminate_on_sigterm()\n"
            f"with atomic_path({str(tmp_path / 'big.csv')!r}) as tmp:\n"
            "    tmp.write_text('x' * 1000)\n"
            "    print('writing', flush=True)\n"
            "    time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert proc.stdout.readline().strip() == "writing"
    assert len(list(tmp_path.glob(".big.csv.*.tmp"))) == 1
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []  # no temp file, no partial output


def test_log_target_problems_carry_row_numbers() -> None:
    from metamat.fewshot import check_support

    y = np.array([1.0, -2.0, 3.0, 0.0, 5.0, 6.0])
    with pytest.raises(InputError) as err:
        check_support(y, np.array(FORMULAS[:6], dtype=object), source="s.csv", target="y", log_target=True,
                      rows=np.array([2, 3, 5, 6, 7, 9]))
    assert [(p.row, p.value) for p in err.value.problems] == [(3, -2.0), (6, 0.0)]
    assert "s.csv, row 3, field 'y'" in str(err.value)
