"""Fuzz the readers with generated hostile inputs and count what happens to each (issue 18).

    PYTHONPATH=. python benchmarks/fuzz_inputs.py [--n 10000] [--seed 0] [--out benchmarks/results/fuzz_inputs]

(from the repository root; ``PYTHONPATH`` picks the metamat of this checkout, the way the "before" counts
were measured on another checkout). The full default run takes about 45 s here.

Inputs (shares of ``--n``): formula strings (70%), table files (15%), structure files: CIF, POSCAR, extxyz
(10%), potential frames and MD settings (4%), CLI invocations of ``metamat featurize`` in-process through
``metamat.cli.main`` (1%). Every input is generated together with its oracle: the composition a formula must
parse to (or that it must be rejected), the values a table must yield, the sites a structure must have,
the frame that must be named. Outcomes:

- ``ok``: accepted and equal to the oracle, or rejected where the oracle says it must be;
- ``rejected``: a clean InputError (or listed problem) where the oracle says it must be rejected;
- ``unlocated``: rejected cleanly, but the message does not name the file;
- ``wrongly_rejected``: a valid input rejected;
- ``hang``: over ``--time-limit`` seconds (interrupted by SIGALRM);
- ``crash``: any exception that is not an InputError (an "internal error" in the CLI);
- ``silent_wrong``: accepted, but different from the oracle (or the two formula parsers disagree);
- ``data_loss``: a file the user did not name as output was changed, or the output is not what was asked.

Target: 0 hang, 0 crash, 0 silent_wrong, 0 data_loss. Writes ``fuzz_inputs.json`` (counts per category and
outcome, examples of every bad outcome) and ``fuzz_inputs.png`` into ``--out`` with ``COMMAND.txt``.
:func:`run` with a small ``n`` is the fast subset the test suite runs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "fuzz_inputs"
OUTCOMES = ("ok", "rejected", "unlocated", "wrongly_rejected", "hang", "crash", "silent_wrong", "data_loss")
BAD = ("hang", "crash", "silent_wrong", "data_loss")
SHARES = {"formula": 0.70, "table": 0.15, "structure": 0.10, "potential": 0.04, "cli": 0.01}
COMMON = ["H", "Li", "B", "C", "N", "O", "F", "Na", "Mg", "Al", "Si", "P", "S", "Cl", "K", "Ca", "Ti", "Fe",
          "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "Se", "Sr", "Y", "Zr", "Nb", "Mo", "Ag", "Sn", "Sb", "Te", "Ba",
          "La", "Ce", "Pb", "Bi", "U", "Yb", "Pt", "Hf", "W", "Au"]


class _Timeout(BaseException):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def handler(signum, frame):  # noqa: ARG001
        raise _Timeout

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# ------------------------------------------------------------------------------------------ formulas
def _amount_text(rng: np.random.Generator) -> tuple[str, float]:
    if rng.random() < 0.6:
        k = int(rng.integers(1, 13))
        return ("" if k == 1 and rng.random() < 0.5 else str(k)), float(k)
    v = round(float(rng.uniform(0.01, 9.99)), 2)
    return f"{v:g}", float(f"{v:g}")


def _composition(rng: np.random.Generator) -> tuple[list[tuple[str, str]], dict[str, float]]:
    symbols = list(rng.choice(COMMON, size=int(rng.integers(1, 5)), replace=False))
    tokens, amounts = [], {}
    for s in symbols:
        text, value = _amount_text(rng)
        tokens.append((s, text))
        amounts[s] = value
    return tokens, amounts


def _flat(tokens) -> str:
    return "".join(s + a for s, a in tokens)


def _fractions(amounts: dict[str, float]) -> dict[str, float]:
    total = sum(amounts.values())
    return {k: v / total for k, v in amounts.items()}


def formula_case(rng: np.random.Generator) -> tuple[str, str, dict[str, float] | None]:
    """(kind, text, expected fractions or None = must be rejected, or {} = no oracle: parsers must agree)."""
    tokens, amounts = _composition(rng)
    flat = _flat(tokens)
    kind = str(rng.choice(["valid_flat", "valid_spaced", "valid_bracket", "valid_hydrate", "valid_nested",
                           "nul", "nul_batch", "control", "unicode_digit", "two_formulas", "tab_in_number", "overflow",
                           "deep_nesting", "backtracking", "too_long", "negative", "zero", "junk", "junk_long"]))
    if kind == "valid_flat":
        return kind, flat, _fractions(amounts)
    if kind == "valid_spaced":
        return kind, " ".join(s + a for s, a in tokens), _fractions(amounts)
    if kind == "valid_bracket":
        m = int(rng.integers(1, 5))
        return kind, f"({flat}){m}", _fractions(amounts)
    if kind == "valid_hydrate":
        n = int(rng.integers(1, 6))
        water = dict(amounts)
        water["H"] = water.get("H", 0.0) + 2 * n
        water["O"] = water.get("O", 0.0) + n
        return kind, f"{flat}·{n}H2O", _fractions(water)
    if kind == "valid_nested":
        depth = int(rng.integers(1, 17))
        return kind, "(" * depth + flat + ")" * depth, _fractions(amounts)
    if kind == "nul":
        return kind, flat + "\x00" + str(rng.choice(["junk", "", "O2", flat])), None
    if kind == "nul_batch":
        return kind, flat, "nul_batch"
    if kind == "control":
        pos = int(rng.integers(0, len(flat) + 1))
        char = chr(int(rng.choice([0, 1, 7, 8, 11, 12, 27, 127, 0x85, 0x9B])))
        return kind, flat[:pos] + char + flat[pos:], None
    if kind == "unicode_digit":
        digits = str(rng.choice(["٠١٢٣٤٥٦٧٨٩", "०१२३४५६७८९", "０１２３４５６７８９"]))
        return kind, tokens[0][0] + digits[int(rng.integers(1, 10))] + _flat(tokens[1:]), None
    if kind == "two_formulas":
        other = tokens[0][0] + str(int(rng.integers(1, 9)))
        return kind, flat + " " + other, None
    if kind == "tab_in_number":  # a tab-separated target glued to the formula: "Yb1\t0.0", "Sn\t1.5"
        return kind, flat + "\t" + f"{rng.uniform(0, 9):.1f}", None
    if kind == "overflow":
        digits = "9" * int(rng.integers(9, 401)) if rng.random() < 0.5 else "1" + "0" * int(rng.integers(9, 309))
        return kind, tokens[0][0] + digits + _flat(tokens[1:]), None
    if kind == "deep_nesting":
        depth = int(rng.integers(17, 1200))
        return kind, "(" * depth + flat + ")" * depth, None
    if kind == "backtracking":
        return kind, "H111" * int(rng.integers(10, 19)) + str(rng.choice(["x", "!", "-", "?"])), None
    if kind == "too_long":
        return kind, flat * (1001 // len(flat) + 1), None
    if kind == "negative":
        return kind, tokens[0][0] + "-" + str(int(rng.integers(1, 9))) + _flat(tokens[1:]), None
    if kind == "zero":
        return kind, tokens[0][0] + "0" + _flat(tokens[1:]), None
    alphabet = list("HOFeCuSiLiNaClXxyz()[]{}·*.0123456789 \t-") + ["\x00", "٢", "₂", "Og"]
    size = int(rng.integers(1, 40)) if kind == "junk" else int(rng.integers(1000, 10_001))
    return kind, "".join(rng.choice(alphabet, size=size)), {}


def _close(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all(math.isclose(a[k], b[k], rel_tol=1e-9) for k in a)


def check_formula(text: str, expected: dict[str, float] | str | None) -> str:
    from metamat.data.compositions import parse_formulas
    from metamat.data.formula import ELEMENTS, parse_formula
    from metamat.errors import InputError

    try:
        single = parse_formula(text)
    except InputError:
        single = None
    if expected == "nul_batch":  # a clean formula and the same text with a NUL byte: never one value
        parsed = parse_formulas([text, text + "\x00junk", "\x00" + text], errors="mask")
        return "rejected" if parsed.valid.tolist() == [True, False, False] else "silent_wrong"
    parsed = parse_formulas(["Fe2O3", text], errors="mask")
    batch = None
    if parsed.valid[1]:
        c = parsed.compositions
        a, b = c.offsets[parsed.codes[1]], c.offsets[parsed.codes[1] + 1]
        batch = {ELEMENTS[z - 1]: float(f) for z, f in zip(c.z[a:b], c.fractions[a:b], strict=True)}
    if not parsed.valid[0]:
        return "silent_wrong"  # the clean neighbour must stay
    if (single is None) != (batch is None) or (single is not None and not _close(single, batch)):
        return "silent_wrong"
    if single is not None and not all(np.isfinite(v) and v > 0 for v in single.values()):
        return "silent_wrong"
    if expected is None:
        return "rejected" if single is None else "silent_wrong"
    if not expected:  # junk: no oracle beyond agreement and sane fractions
        return "ok" if single is None or math.isclose(sum(single.values()), 1.0, rel_tol=1e-9) else "silent_wrong"
    if single is None:
        return "wrongly_rejected"
    return "ok" if _close(single, expected) else "silent_wrong"


# --------------------------------------------------------------------------------------------- tables
def _valid_formulas(rng: np.random.Generator, n: int) -> tuple[list[str], list[dict[str, float]]]:
    out, fr = [], []
    while len(out) < n:
        tokens, amounts = _composition(rng)
        text = _flat(tokens)
        if text not in out:
            out.append(text)
            fr.append(_fractions(amounts))
    return out, fr


def table_case(rng: np.random.Generator, folder: Path, k: int) -> Callable[[], str]:
    import gzip

    import pandas as pd

    n = int(rng.integers(6, 25))
    formulas, _ = _valid_formulas(rng, n)
    y = np.round(rng.normal(0, 3, n), 4)
    kind = str(rng.choice(["comma", "tab_named_csv", "semicolon_named_csv", "bad_rows", "truncated_gz",
                           "garbage", "empty", "header_only"]))
    df = pd.DataFrame({"formula": formulas, "target": y})
    bad: set[int] = set()
    if kind == "bad_rows":
        for r in rng.choice(n, size=int(rng.integers(1, max(2, n // 3))), replace=False):
            choice = int(rng.integers(0, 5))
            if choice == 0:
                df.loc[r, "target"] = float(rng.choice([1e308, -1e308, 1e200]))
            elif choice == 1:
                df.loc[r, "formula"] = "H" + "9" * int(rng.integers(9, 400))
            elif choice == 2:
                df.loc[r, "formula"] = formulas[r] + "\x00junk"
            elif choice == 3:
                df.loc[r, "formula"] = formulas[r] + "\t1.5"
            else:
                df.loc[r, "formula"] = "H111" * 18 + "x"
            bad.add(int(r) + 1)
    sep = {"tab_named_csv": "\t", "semicolon_named_csv": ";"}.get(kind, ",")
    path = folder / f"t{k}.csv"
    if kind == "truncated_gz":
        path = folder / f"t{k}.csv.gz"
        raw = gzip.compress(df.to_csv(index=False).encode() * 20)
        path.write_bytes(raw[: int(len(raw) * rng.uniform(0.2, 0.9))])
    elif kind == "garbage":
        path.write_bytes(rng.integers(0, 256, int(rng.integers(10, 3000)), dtype=np.uint8).tobytes())
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "header_only":
        path.write_text("formula,target\n")
    else:
        df.to_csv(path, index=False, sep=sep)
    must_fail = kind in ("truncated_gz", "garbage", "empty", "header_only")

    def check() -> str:
        from metamat.data.readers import read_table
        from metamat.errors import InputError

        try:
            table = read_table(path, formula_column="formula" if not must_fail else None,
                               target_columns="target" if not must_fail else None, outlier_z=None,
                               duplicates="keep")
        except InputError as exc:
            if not must_fail and not bad:
                return "wrongly_rejected"
            return "rejected" if str(path) in str(exc) else "unlocated"
        if must_fail:
            return "silent_wrong"
        used = dict(zip(table.data["source_row"].astype(int), table.target("target"), strict=True))
        rejected = {p.row for p in table.report.rejected}
        if set(used) & bad or not bad <= rejected:
            return "silent_wrong"
        for row, value in used.items():
            if table.data.loc[table.data["source_row"] == row, "formula"].iloc[0] != formulas[row - 1] \
                    or not math.isclose(value, float(y[row - 1]), rel_tol=1e-12, abs_tol=1e-12):
                return "silent_wrong"
        if len(used) + len(rejected) != n:
            return "silent_wrong"
        return "rejected" if bad else "ok"

    return check


# ----------------------------------------------------------------------------------------- structures
_CIF = """data_x
_cell_length_a {a}
_cell_length_b {b}
_cell_length_c {c}
_cell_angle_alpha {alpha}
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 1'
loop_
_symmetry_equiv_pos_as_xyz
 'x, y, z'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
{sites}
"""


def structure_case(rng: np.random.Generator, folder: Path, k: int) -> Callable[[], str]:
    a = float(rng.uniform(3.5, 6.0))
    el = [str(e) for e in rng.choice(["Na", "Cl", "Mg", "O", "Si", "Cu", "Fe", "Al"], size=2, replace=False)]
    frac = np.array([[0, 0, 0], [0.5, 0.5, 0.5]])
    fmt = str(rng.choice(["cif", "poscar", "extxyz"]))
    defects = {"cif": ["none", "neg_length", "zero_length", "flat_angle", "occ_zero", "occ_negative", "occ_big",
                       "occ_sum", "overlap", "truncated"],
               "poscar": ["none", "count_more_lines", "count_fewer_lines", "species_count", "no_species",
                          "zero_volume", "overlap", "zero_scale"],
               "extxyz": ["none", "overlap", "nan_position", "truncated"]}[fmt]
    defect = str(rng.choice(defects))
    if defect == "overlap":
        frac[1] = [0.02, 0.01, 0.0]
    if fmt == "cif":
        occ = {"occ_zero": "0", "occ_negative": "-0.5", "occ_big": "1.5"}.get(defect, "1")
        sites = f"{el[0]}1 {el[0]} {frac[0][0]} {frac[0][1]} {frac[0][2]} 1\n" \
                f"{el[1]}1 {el[1]} {frac[1][0]} {frac[1][1]} {frac[1][2]} {occ}"
        if defect == "occ_sum":
            sites += f"\n{el[0]}2 {el[0]} {frac[1][0]} {frac[1][1]} {frac[1][2]} 0.6"
        text = _CIF.format(a=-a if defect == "neg_length" else a, b=0 if defect == "zero_length" else a, c=a,
                           alpha=180 if defect == "flat_angle" else 90, sites=sites)
        if defect == "truncated":
            text = text[: int(len(text) * 0.6)]
        path = folder / f"s{k}.cif"
        path.write_text(text)
    elif fmt == "poscar":
        species, counts = f"{el[0]} {el[1]}", "1 1"
        coords = [f"{x} {y} {z}" for x, y, z in frac]
        if defect == "count_more_lines":
            counts = "1 0" if rng.random() < 0.5 else "1"
            species = el[0] if counts == "1" else species
        elif defect == "count_fewer_lines":
            counts = "2 1"
        elif defect == "species_count":
            counts = "2"
            coords = coords[:2]
        cell = f"{a} 0 0\n0 {a} 0\n0 0 {0 if defect == 'zero_volume' else a}"
        lines = ["fuzz", "0" if defect == "zero_scale" else "1.0", cell]
        lines += ([] if defect == "no_species" else [species]) + [counts, "Direct", *coords]
        path = folder / f"s{k}.vasp"
        path.write_text("\n".join(lines) + "\n")
    else:
        from ase import Atoms
        from ase.io import write

        atoms = Atoms(el, scaled_positions=frac, cell=[a, a, a], pbc=True)
        if defect == "nan_position":
            atoms.positions[1, 0] = np.nan
        path = folder / f"s{k}.extxyz"
        write(path, atoms, format="extxyz")
        if defect == "truncated":
            text = path.read_text()
            path.write_text(text[: int(len(text) * 0.7)])
    expected = None if defect != "none" else (2, sorted(el))

    def check() -> str:
        from metamat.data.structures import crystals_from_objects

        out, problems = crystals_from_objects([str(path)], "fuzz.csv", "structure")
        if problems:
            if expected is not None:
                return "wrongly_rejected"
            return "rejected" if str(path) in problems[0].reason or path.name in problems[0].reason else "unlocated"
        if expected is None:
            return "silent_wrong"
        c = out[0]
        from metamat.data.formula import ELEMENTS

        got = (c.n_sites, sorted(ELEMENTS[z - 1] for z in c.numbers))
        return "ok" if got == expected else "silent_wrong"

    return check


# ----------------------------------------------------------------------------------- potential frames
class _PotentialKit:
    """One small untrained Cu potential and EMT reference frames, shared by all potential cases."""

    def __init__(self) -> None:
        import torch

        from metamat.potentials.network import Potential
        from metamat.potentials.symmetry_functions import DescriptorSettings

        torch.manual_seed(0)
        settings = DescriptorSettings.from_dict({"cutoff": 4.0, "angular_cutoff": 3.0,
                                                 "radial": [[0.1, 0.0], [1.0, 2.5]], "angular_eta": [0.02],
                                                 "zeta": [1.0], "lambdas": [1.0, -1.0]})
        self.model = Potential(["Cu"], settings, (8,), "tanh").double().eval()

    @staticmethod
    def frames(rng: np.random.Generator, n: int):
        from ase.build import bulk
        from ase.calculators.emt import EMT

        out = []
        for _ in range(n):
            atoms = bulk("Cu", "fcc", a=3.6)
            atoms = atoms.repeat((2, 1, 1))
            atoms.positions += rng.normal(0, 0.03, atoms.positions.shape)
            atoms.calc = EMT()
            atoms.info["energy"] = atoms.get_potential_energy()
            atoms.arrays["forces"] = atoms.get_forces()
            atoms.calc = None
            out.append(atoms)
        return out


def potential_case(rng: np.random.Generator, folder: Path, k: int, kit: _PotentialKit) -> Callable[[], str]:
    from ase import Atoms
    from ase.io import write

    kind = str(rng.choice(["good", "overlap", "nan_forces", "foreign", "md_good", "md_temperature"]))
    frames = kit.frames(rng, 3)
    bad_frame = int(rng.integers(1, 4))
    path = folder / f"p{k}.extxyz"
    if kind == "overlap":
        frames[bad_frame - 1].positions[1] = frames[bad_frame - 1].positions[0]
    elif kind == "nan_forces":
        frames[bad_frame - 1].arrays["forces"][0, 0] = np.nan
    elif kind == "foreign":
        atoms = Atoms("CuO", positions=[[0, 0, 0], [1.9, 0, 0]], cell=[7, 7, 7], pbc=True)
        atoms.info["energy"], atoms.arrays["forces"] = -1.0, np.zeros((2, 3))
        frames[bad_frame - 1] = atoms
    write(path, frames, format="extxyz")
    temperature = float(rng.choice([-300.0, float("nan"), float("inf"), -1e-3, 1e12]))

    def check() -> str:
        from metamat.data.frames import read_frames
        from metamat.errors import InputError
        from metamat.potentials.evaluation import test_potential
        from metamat.potentials.md import run_md

        if kind.startswith("md"):
            t = 300.0 if kind == "md_good" else temperature
            try:
                rep = run_md(kit.model, frames[0], temperature=t, steps=2, interval=1)
            except InputError:
                return "wrongly_rejected" if kind == "md_good" else "rejected"
            if kind == "md_good":
                return "ok" if all(np.isfinite(v) for v in rep.values() if isinstance(v, float)) else "silent_wrong"
            return "silent_wrong"
        try:
            data = read_frames(path)
            metrics = test_potential(kit.model, data)
        except InputError as exc:
            if kind in ("good", "nan_forces"):
                return "wrongly_rejected"
            located = str(path) in str(exc) and any(p.row == bad_frame for p in exc.problems)
            return "rejected" if located else "unlocated"
        finite = all(np.isfinite(v) for v in metrics.values() if isinstance(v, float))
        if kind == "good":
            return "ok" if finite and metrics["n_frames"] == 3 else "silent_wrong"
        if kind == "nan_forces":
            listed = [r.get("frame") for r in metrics.get("rejected_frames", [])]
            return "rejected" if listed == [bad_frame] and finite else "silent_wrong"
        return "silent_wrong"

    return check


# ------------------------------------------------------------------------------------------------- CLI
def cli_case(rng: np.random.Generator, folder: Path, k: int) -> Callable[[], str]:
    import pandas as pd

    sub = folder / f"cli{k}"
    sub.mkdir()
    formulas, _ = _valid_formulas(rng, 8)
    bad_rows = sorted(int(r) for r in rng.choice(8, size=int(rng.integers(1, 4)), replace=False))
    cells = [("Xx" + str(r) if r in bad_rows else f) for r, f in enumerate(formulas)]
    pd.DataFrame({"formula": cells, "y": np.arange(8.0)}).to_csv(sub / "in.csv", index=False)
    name = str(rng.choice(["feat.rejected.csv", "results.v2.csv", "a.b.c.csv", "out.csv", "out.parquet"]))
    output = sub / name
    precious = {}
    for cand in ("results.rejected.csv", "a.rejected.csv", "feat.rejected.csv.bak", "out.rejected.csv"):
        if rng.random() < 0.5 and cand != name:
            (sub / cand).write_text(f"precious {cand}\n")
            precious[cand] = f"precious {cand}\n"

    def check() -> str:
        from metamat import cli

        argv = sys.argv
        sys.argv = ["metamat", "featurize", str(sub / "in.csv"), "-o", str(output), "--skip-invalid"]
        code = 0
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                cli.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        finally:
            sys.argv = argv
        for cand, text in precious.items():
            if (sub / cand).read_text() != text:
                return "data_loss"
        if code == 1:
            return "crash"
        if code == 2:
            return "rejected"
        out = pd.read_parquet(output) if name.endswith(".parquet") else pd.read_csv(output)
        if "formula" not in out.columns or len(out) != 8 - len(bad_rows) or out.shape[1] < 10:
            return "data_loss"
        return "ok"

    return check


# ------------------------------------------------------------------------------------------------ run
def run(n: int = 10_000, seed: int = 0, time_limit: float = 2.0, progress: bool = False) -> dict:
    """Generate ``n`` inputs, run them, return counts per category and outcome plus examples."""
    _warm_up()
    rng = np.random.default_rng(seed)
    counts: dict[str, Counter] = defaultdict(Counter)
    examples: dict[str, list] = defaultdict(list)
    sizes = {c: max(1, int(round(share * n))) for c, share in SHARES.items()}
    kit = None
    folder = Path(tempfile.mkdtemp(prefix="metamat_fuzz_"))
    t0 = time.perf_counter()
    worst: dict[str, float] = defaultdict(float)
    try:
        for category, size in sizes.items():
            if category == "potential":
                kit = _PotentialKit()
            for k in range(size):
                label = category
                if category == "formula":
                    kind, text, expected = formula_case(rng)
                    label = f"formula:{kind}"

                    def thunk(text=text, expected=expected):
                        return check_formula(text, expected)
                    shown = text if len(text) < 80 else text[:77] + "..."
                elif category == "table":
                    thunk, shown = table_case(rng, folder, k), f"table {k}"
                elif category == "structure":
                    thunk, shown = structure_case(rng, folder, k), f"structure {k}"
                elif category == "potential":
                    thunk, shown = potential_case(rng, folder, k, kit), f"potential {k}"
                else:
                    thunk, shown = cli_case(rng, folder, k), f"cli {k}"
                start = time.perf_counter()
                try:
                    with _time_limit(time_limit), warnings_off():
                        outcome = thunk()
                except _Timeout:
                    outcome = "hang"
                except Exception as exc:  # noqa: BLE001 - a crash is what we count
                    from metamat.errors import InputError

                    outcome = "rejected" if isinstance(exc, InputError) else "crash"
                    shown = f"{shown} -> {type(exc).__name__}: {str(exc)[:160]}"
                elapsed = time.perf_counter() - start
                worst[category] = max(worst[category], elapsed)
                counts[category][outcome] += 1
                if outcome in (*BAD, "unlocated", "wrongly_rejected") and len(examples[outcome]) < 8:
                    examples[outcome].append({"category": label, "input": repr(shown)})
                if progress and (k + 1) % max(1, size // 10) == 0:
                    print(f"{category}: {k + 1}/{size}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    total = Counter()
    for c in counts.values():
        total.update(c)
    return {"n": sum(sizes.values()), "seed": seed, "time_limit_s": time_limit,
            "seconds": round(time.perf_counter() - t0, 1),
            "max_seconds_per_input": {c: round(v, 4) for c, v in worst.items()},
            "counts": {c: {o: counts[c][o] for o in OUTCOMES} for c in sizes},
            "total": {o: total[o] for o in OUTCOMES}, "examples": dict(examples)}


def _warm_up() -> None:
    """Import the heavy modules outside the time limit (an interrupted import leaves a broken module)."""
    import ase.io  # noqa: F401
    import pandas  # noqa: F401
    import pymatgen.core  # noqa: F401
    import pymatgen.io.cif  # noqa: F401
    import pymatgen.io.vasp  # noqa: F401
    import torch  # noqa: F401

    import metamat.cli  # noqa: F401
    import metamat.data.readers  # noqa: F401
    import metamat.data.structures  # noqa: F401
    import metamat.featurize.pipeline  # noqa: F401
    import metamat.potentials.evaluation  # noqa: F401
    import metamat.potentials.md  # noqa: F401
    from metamat.data.structures import crystals_from_objects

    crystals_from_objects(["data_x\n"], "warm-up")  # first CifParser use loads its tables


@contextlib.contextmanager
def warnings_off() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cats = list(result["counts"])
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(OUTCOMES)
    for j, outcome in enumerate(OUTCOMES):
        values = [result["counts"][c][outcome] for c in cats]
        ax.bar(np.arange(len(cats)) + j * width, values, width, label=outcome)
    ax.set_xticks(np.arange(len(cats)) + 0.4 - width / 2, cats)
    ax.set_yscale("symlog")
    ax.set_ylabel("inputs")
    t = result["total"]
    ax.set_title(f"{result['n']} hostile inputs: hang {t['hang']}, crash {t['crash']}, silent wrong "
                 f"{t['silent_wrong']}, data loss {t['data_loss']}", fontsize=9)
    ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=2.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    result = run(args.n, args.seed, args.time_limit, progress=True)
    import metamat

    result["metamat"] = str(Path(metamat.__file__).parent)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fuzz_inputs.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, args.out / "fuzz_inputs.png")
    (args.out / "COMMAND.txt").write_text(
        f"PYTHONPATH=. python benchmarks/fuzz_inputs.py --n {args.n} --seed {args.seed} "
        f"--time-limit {args.time_limit}\n")
    print(json.dumps({"total": result["total"], "seconds": result["seconds"]}, indent=2))


if __name__ == "__main__":
    main()
