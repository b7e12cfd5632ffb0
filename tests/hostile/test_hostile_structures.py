"""Hostile structure files: every bad one is rejected with file, row and reason; none is used silently."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metamat.data.structure_io import check_cif_text, check_poscar_text, structure_from_file
from metamat.errors import InputError
from metamat.fewshot import run_fewshot

SI_POSCAR = """Si2
1.0
0 2.715 2.715
2.715 0 2.715
2.715 2.715 0
Si
2
Direct
0 0 0
0.25 0.25 0.25
"""

SI_CIF = """data_Si
_cell_length_a 3.8396
_cell_length_b 3.8396
_cell_length_c 3.8396
_cell_angle_alpha 60
_cell_angle_beta 60
_cell_angle_gamma 60
_symmetry_space_group_name_H-M 'P 1'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
Si1 Si 0 0 0 1
Si2 Si 0.25 0.25 0.25 1
"""

# name -> (file text, substring of the reason)
BAD = {
    "neg_length.cif": (SI_CIF.replace("_cell_length_a 3.8396", "_cell_length_a -3.8396"), "cell lengths must be"),
    "zero_length.cif": (SI_CIF.replace("_cell_length_b 3.8396", "_cell_length_b 0"), "cell lengths must be"),
    "flat_angles.cif": (SI_CIF.replace("_cell_angle_gamma 60", "_cell_angle_gamma 120"), "give no volume"),
    "occ_zero.cif": (SI_CIF.replace("0.25 0.25 1", "0.25 0.25 0"), "site Si2: occupancy 0 "),
    "occ_negative.cif": (SI_CIF.replace("0.25 0.25 1", "0.25 0.25 -0.5"), "site Si2: occupancy -0.5"),
    "occ_above_one.cif": (SI_CIF.replace("0.25 0.25 1", "0.25 0.25 1.5"), "site Si2: occupancy 1.5"),
    "occ_sum.cif": (SI_CIF.replace("Si2 Si 0.25 0.25 0.25 1", "Si2 Si 0.25 0.25 0.25 1\nGe2 Ge 0.25 0.25 0.25 0.6"),
                    "sites Si2, Ge2 at 0.25 0.25 0.25: occupancies sum to 1.6"),
    "close.cif": (SI_CIF.replace("0.25 0.25 0.25", "0.02 0.02 0.02"), "overlapping atoms"),
    "count_lines.vasp": (SI_POSCAR.replace("\n2\n", "\n1\n"), "counts sum to 1 atoms but 2 coordinate lines"),
    "few_lines.vasp": (SI_POSCAR.replace("\n2\n", "\n3\n"), "counts sum to 3 atoms but only 2"),
    "species_counts.vasp": (SI_POSCAR.replace("\nSi\n2\n", "\nSi O\n2\n"), "2 species ['Si', 'O'] but counts [2]"),
    "no_species.vasp": (SI_POSCAR.replace("\nSi\n2\n", "\n2\n"), "no species line (VASP 4 format)"),
    "zero_volume.vasp": (SI_POSCAR.replace("2.715 2.715 0", "0 0 0"), "span no volume"),
    "zero_scale.vasp": (SI_POSCAR.replace("\n1.0\n", "\n0\n"), "scale factor"),
    "left_handed.vasp": (SI_POSCAR.replace("0 2.715 2.715\n2.715 0 2.715", "2.715 0 2.715\n0 2.715 2.715"),
                         "negative cell volume"),
}


def test_good_files_still_read() -> None:
    check_cif_text(SI_CIF)
    check_poscar_text(SI_POSCAR)


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_structure_file_is_rejected_naming_file_and_reason(name: str, tmp_path: Path) -> None:
    from metamat.data.structures import crystals_from_objects

    text, reason = BAD[name]
    path = tmp_path / name
    path.write_text(text)
    out, problems = crystals_from_objects([str(path)], "table.csv", "structure")
    assert out == [None] and len(problems) == 1
    assert problems[0].row == 1 and reason in problems[0].reason and str(path) in problems[0].reason


def test_support_table_lists_every_bad_structure_row_and_uses_none(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = []
    for k, a in enumerate(np.linspace(3.7, 4.2, 6)):  # six good silicon cells of different size
        (tmp_path / f"good{k}.cif").write_text(SI_CIF.replace("3.8396", f"{a:.4f}"))
        rows.append((f"good{k}.cif", float(a ** 3 / 8 + rng.normal(0, 0.1))))
    for name, (text, _) in BAD.items():
        (tmp_path / name).write_text(text)
        rows.append((name, 1.0))
    support = tmp_path / "support.csv"
    pd.DataFrame(rows, columns=["path", "vpa"]).to_csv(support, index=False)
    query = tmp_path / "query.csv"
    pd.DataFrame({"path": ["good0.cif"]}).to_csv(query, index=False)
    with pytest.raises(InputError) as err:
        run_fewshot(support, query, target="vpa", structure_column="path", output=tmp_path / "out.csv", plot=False)
    bad_rows = {p.row: p.reason for p in err.value.problems}
    assert sorted(bad_rows) == list(range(7, 7 + len(BAD)))  # every bad row, none of the good ones
    for row, (name, (_, reason)) in zip(range(7, 7 + len(BAD)), BAD.items(), strict=True):
        assert reason in bad_rows[row], (name, bad_rows[row])
        # the reader names the file; the physical check after it (overlap) has the row
        assert name in bad_rows[row] or name == "close.cif", (name, bad_rows[row])
    assert not (tmp_path / "out.csv").exists()


def test_structure_from_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "POSCAR"
    path.write_text(BAD["no_species.vasp"][0])
    with pytest.raises(ValueError, match="no species line") as err:
        structure_from_file(path)
    assert str(path) in str(err.value)
