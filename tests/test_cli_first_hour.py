"""A new user's first hour on the command line (issue 17): help text, flags, output formats, precision,
clear refusals, METAMAT_DEBUG, the hydrate-dot warning."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import typer

from metamat.app.flags import normalize_flag_values
from metamat.cli import app
from metamat.errors import InputError
from metamat.files import table_format, write_table


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "metamat", *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


def _walk(cmd, path):
    yield path, cmd
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _walk(sub, f"{path} {name}")


def test_every_option_of_every_command_has_help() -> None:
    missing = [f"{path}: {p.name}" for path, cmd in _walk(typer.main.get_command(app), "metamat")
               for p in cmd.params if not (getattr(p, "help", None) or "").strip()]
    assert not missing, "options without help text:\n" + "\n".join(missing)


def test_flags_show_as_flags_and_accept_true_false(tmp_path: Path) -> None:
    help_text = run("featurize", "--help").stdout
    line = next(row for row in help_text.splitlines() if "--skip-invalid" in row)
    assert "<bool>" not in line
    command = typer.main.get_command(app)
    argv = ["featurize", "in.csv", "--skip-invalid", "TRUE", "-o", "x.csv"]
    assert normalize_flag_values(argv, command) == ["featurize", "in.csv", "--skip-invalid", "-o", "x.csv"]
    assert normalize_flag_values(["featurize", "--skip-invalid", "no"], command) == ["featurize"]
    src = tmp_path / "in.csv"
    src.write_text("formula,y\nNaCl,1\nXx,2\n")
    ok = run("featurize", str(src), "-o", str(tmp_path / "out.csv"), "--skip-invalid", "true")
    assert ok.returncode == 0, ok.stderr
    assert len(pd.read_csv(tmp_path / "out.csv")) == 1  # NaCl kept, Xx reported
    refused = run("featurize", str(src), "-o", str(tmp_path / "out2.csv"), "--skip-invalid", "false")
    assert refused.returncode == 2 and "row 2" in refused.stderr


def test_output_format_by_suffix_and_clear_refusals(tmp_path: Path) -> None:
    df = pd.DataFrame({"formula": ["NaCl", "MgO"], "x": [1 / 3, 2.0]})
    assert table_format(tmp_path / "a.CSV") == "csv" and table_format(tmp_path / "a.tsv") == "tsv"
    write_table(df, tmp_path / "a.xlsx")
    assert (tmp_path / "a.xlsx").read_bytes()[:2] == b"PK"  # a real (zip) Excel workbook, not CSV text
    pd.testing.assert_frame_equal(pd.read_excel(tmp_path / "a.xlsx"), df)
    write_table(df, tmp_path / "a.tsv")
    assert (tmp_path / "a.tsv").read_text().splitlines() == ["formula\tx", "NaCl\t0.333333", "MgO\t2"]
    write_table(df, tmp_path / "b.csv", precision=None)
    assert pd.read_csv(tmp_path / "b.csv")["x"][0] == 1 / 3  # full precision round-trips
    with pytest.raises(InputError, match="unknown output format"):
        write_table(df, tmp_path / "a.txt")
    with pytest.raises(InputError, match="is a folder"):
        write_table(df, tmp_path)
    src = tmp_path / "in.csv"
    df[["formula"]].to_csv(src, index=False)
    res = run("featurize", str(src), "-o", str(tmp_path))
    assert res.returncode == 2 and "is a folder" in res.stderr and "Errno" not in res.stderr
    res = run("featurize", str(src), "-o", str(tmp_path / "f.csv"), "--precision", "3", "--features", "fractions")
    assert res.returncode == 0, res.stderr
    text = (tmp_path / "f.csv").read_text()
    assert "0.5" in text and all(len(v.lstrip("0.")) <= 3 for v in text.replace("\n", ",").split(",")
                                 if v.replace(".", "").isdigit())


def test_debug_shows_the_traceback_for_input_errors_too(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("formula\nNaCl\n")
    plain = run("featurize", str(src), "-o", str(tmp_path / "o.txt"))
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    debug = run("featurize", str(src), "-o", str(tmp_path / "o.txt"), env={"METAMAT_DEBUG": "1"})
    assert debug.returncode == 2 and "Traceback" in debug.stderr and "unknown output format" in debug.stderr


def test_a_plain_dot_before_water_warns_but_is_not_an_error(tmp_path: Path) -> None:
    from metamat.data.formula import parse_formula
    from metamat.data.hydrate import hydrate_dot_warnings

    # the parser's reading (unchanged): CuSO4.5H2O = Cu1 S1 O4.5 H2 O1 (9.5 atoms), not the pentahydrate
    assert parse_formula("CuSO4.5H2O")["Cu"] == pytest.approx(1 / 9.5)
    assert parse_formula("CuSO4·5H2O")["Cu"] == pytest.approx(1 / 21)  # 1 + 1 + 4 + 5 * 3 atoms
    assert hydrate_dot_warnings(["Al0.5Cu0.5", "Na0.5H2.5O", "Fe2O3"]) == []
    src = tmp_path / "in.csv"
    src.write_text("formula\nCuSO4.5H2O\nNaCl\n")
    res = run("featurize", str(src), "-o", str(tmp_path / "o.csv"))
    assert res.returncode == 0, res.stderr
    assert "warning:" in res.stderr and "'CuSO4·5H2O'" in res.stderr
    assert len(pd.read_csv(tmp_path / "o.csv")) == 2


def test_section_titles_are_never_cut_and_conflicts_are_explained() -> None:
    from rich.console import Console

    from metamat.app.console import section
    from metamat.data.table import RowReport
    from metamat.errors import Problem

    title = "4. few-shot: 20 measured materials, the rest predicted by the pretrained default model"
    for width in (40, 80, 200):
        out = Console(width=width, record=True, force_terminal=False)
        section(title, out)
        assert title in " ".join(out.export_text().split())  # whole (maybe wrapped), never cut
    report = RowReport(source="t.csv", n_read=3, n_used=2, flagged=[
        Problem("conflicting duplicates: rows 1, 3 have the same composition ...", "t.csv", 1, "y")])
    lines = report.summary().splitlines()
    flagged = next(i for i, line in enumerate(lines) if "conflicting duplicates: 1 cells in 1 rows" in line)
    assert "values more than 5% apart" in lines[flagged + 1]


def test_messages_speak_cli_on_the_cli(tmp_path: Path) -> None:
    from metamat.app.messages import speak_cli

    assert speak_cli("no formula column found; pass formula_column=; columns: 'a'") == \
        "no formula column found; pass --formula-column; columns: 'a'"
    assert speak_cli("pass target_columns= to choose)") == "pass --target to choose)"
    assert speak_cli("x = 3, a==b, url=http") == "x = 3, a==b, url=http"  # not an argument name
    src = tmp_path / "t.csv"
    src.write_text("a,b\nfoo,1\nbar,2\n")
    res = run("bench", "cv", "--data", str(src), "--target", "b", "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "pass --formula-column" in res.stderr and "formula_column=" not in res.stderr


def test_no_help_of_any_command_shows_bool(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """`metamat ... --help` of every command (run through the real entry point) labels no flag `<bool>`,
    --help itself included."""
    from metamat.cli import main

    monkeypatch.setenv("COLUMNS", "200")
    paths = [path.split()[1:] for path, _ in _walk(typer.main.get_command(app), "metamat")]
    assert len(paths) > 15  # every command and group, not just a few
    seen = []
    for path in paths:
        monkeypatch.setattr(sys, "argv", ["metamat", *path, "--help"])
        with pytest.raises(SystemExit) as stop:
            main()
        assert stop.value.code in (0, None)
        out = capsys.readouterr().out
        assert "--help" in out and "Show this message and exit." in out
        if "<bool>" in out:
            seen.append(" ".join(path))
    assert not seen, f"<bool> shown in the help of: {seen}"
