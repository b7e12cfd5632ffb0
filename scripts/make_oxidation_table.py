"""Write metamat/screen/data/oxidation_states.json from SMACT (MIT licence), the table behind the charge filter.

Per element: the ICSD-2024 oxidation states SMACT uses by default in ``smact.screening.smact_validity``
(consensus >= 3 occurrences, no commonality cut, no zero state), SMACT's Pauling electronegativity, and
whether SMACT counts the element as a metal (its alloy shortcut). Also SMACT's list of mixed-valence elements.

    python scripts/make_oxidation_table.py
"""

from __future__ import annotations

from pathlib import Path

import smact
import smact.screening as screening

from metamat.data.formula import ELEMENTS
from metamat.files import write_json

OUT = Path(__file__).resolve().parents[1] / "metamat" / "screen" / "data" / "oxidation_states.json"


def main() -> None:
    cfg = screening.ICSD24FilterConfig()
    states = screening._get_icsd24_oxidation_dict(include_zero=cfg.include_zero, consensus=cfg.consensus,
                                                  commonality=cfg.commonality)
    table = {}
    for symbol in ELEMENTS:
        try:
            eneg = smact.Element(symbol).pauling_eneg
        except Exception:  # noqa: BLE001 - elements SMACT does not know
            eneg = None
        table[symbol] = {"states": sorted(int(s) for s in states.get(symbol, [])), "pauling": eneg,
                         "metal": symbol in screening.metals}
    write_json(OUT, {"source": f"SMACT {smact.__version__} (MIT): ICSD24 oxidation states (consensus "
                               f"{cfg.consensus}, commonality {cfg.commonality}), Pauling electronegativities, "
                               "metals; D. W. Davies et al., J. Open Source Softw. 4, 1361 (2019)",
                     "mixed_valence": sorted(screening.MIXED_VALENCE_ELEMENTS), "elements": table}, indent=1)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
