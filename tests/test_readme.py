"""The README, walked from top to bottom (issue 17): every ```python block and every ``metamat`` command of
every ```bash block runs, in order, in a fresh temporary folder without METAMAT_DATA_DIR (built-in data
only), so README and program cannot drift apart.

Blocks tagged ``<!-- needs-data -->`` or ``<!-- no-run: why -->`` on the line before are skipped, and so
are the commands listed in SKIP (network, shared data, the demo which has its own test, or placeholders).
Optional parts written ``[--flag VALUE]`` are left out; a line continued with ``\\`` is joined.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
ROOT = README.parent

#: (substring of a command, why it is not run here)
SKIP = [
    ("metamat data fetch", "network"),
    ("metamat data show matbench_steels", "needs the shared data (METAMAT_DATA_DIR)"),
    ("metamat demo", "runs in tests/test_cli.py"),
    ("metamat bench ", "needs the shared data; placeholder arguments"),
    ("metamat suggest --measured m.csv", "placeholder COL"),
    ("metamat design ", "placeholder COL and LO..HI"),
    ("metamat screen ", "long run; see tests/screen"),
    ("metamat potential ", "placeholder files"),
]


def blocks(text: str) -> list[tuple[str, str, int]]:
    """(language, code, line number) of every fenced block not tagged as skipped."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1)
        j = i + 1
        while not lines[j].startswith("```"):
            j += 1
        tagged = start > 0 and re.match(r"<!--\s*(needs-data|no-run)", lines[start - 1])
        if lang in ("python", "bash") and not tagged:
            out.append((lang, "\n".join(lines[start + 1:j]), start + 1))
        i = j + 1
    return out


def commands(code: str) -> list[str]:
    """The ``metamat`` commands of a bash block (continuations joined, optional ``[...]`` dropped)."""
    joined = re.sub(r"\s*\\\n\s*", " ", code)
    out = []
    for line in joined.splitlines():
        line = line.split(" #")[0].strip()
        if line.startswith("metamat ") and not any(s in line for s, _ in SKIP):
            out.append(re.sub(r"\s*\[[^\]]*\]", "", line))
    return out


def test_readme_blocks_are_found() -> None:
    found = blocks(README.read_text())
    langs = [lang for lang, _, _ in found]
    assert "python" in langs and "bash" in langs
    cmds = [c for lang, code, _ in found if lang == "bash" for c in commands(code)]
    assert any(c.startswith("metamat featurize in.csv") for c in cmds)
    assert commands("metamat fewshot -s a.csv \\\n   -q b.csv [--log-target] -o x.csv") == [
        "metamat fewshot -s a.csv -q b.csv -o x.csv"]


@pytest.mark.slow
def test_readme_runs_top_to_bottom(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "METAMAT_DATA_DIR"}
    env.update(MPLBACKEND="Agg", PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""), COLUMNS="200")
    ran, times, done = 0, [], set()
    for lang, code, line in blocks(README.read_text()):
        if lang == "python":
            t0 = time.perf_counter()
            res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
            times.append((f"python block at line {line}", time.perf_counter() - t0))
            assert res.returncode == 0, f"README.md line {line}: python block failed:\n{res.stderr[-3000:]}"
            ran += 1
            continue
        for cmd in commands(code):
            if cmd in done:  # the same command shown again further down
                continue
            done.add(cmd)
            args = shlex.split(cmd)[1:]
            t0 = time.perf_counter()
            res = subprocess.run([sys.executable, "-m", "metamat", *args], cwd=tmp_path, env=env,
                                 capture_output=True, text=True)
            times.append((cmd, time.perf_counter() - t0))
            assert res.returncode == 0, f"README.md line {line}: {cmd!r} exited {res.returncode}:\n{res.stderr[-3000:]}"
            ran += 1
    print("\n".join(f"{t:6.1f} s  {what}" for what, t in times))
    assert ran >= 8
