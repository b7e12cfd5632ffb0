"""The input flags that ``fewshot``, ``suggest`` and ``design`` share (one definition, same help everywhere):
``--features``, ``--baseline-column``, ``--basis``, ``--bounds``; ``--low-fidelity`` is fewshot's alone (meaning:
:mod:`metamat.fewshot_inputs`)."""

from __future__ import annotations

import typer

FEATURES = typer.Option("composition", "--features", help="composition, knowledge (predicted DFT properties) or "
                                                          "composition+knowledge: what auto and every candidate "
                                                          "see.")
BASELINE_COLUMN = typer.Option(None, "--baseline-column", help="Column (in the measured and the candidate table) "
                                                               "of a per-row physical or DFT estimate of the "
                                                               "target, same unit; the model learns the "
                                                               "difference.")
BASIS = typer.Option("auto", "--basis", help="per-atom, per-formula-unit, per-mass, intensive, or auto (guessed "
                                             "from the column name and unit, e.g. J/mol/K -> per formula unit, "
                                             "J/g/K -> per mass; reported). Extensive targets are learned per "
                                             "atom, with atoms per formula unit and molar mass as inputs.")
BOUNDS = typer.Option(None, "--bounds", help="lo,hi (either may be empty, e.g. '0,'): predictions and intervals "
                                             "stay inside. Default: clipped at 0 when every measured value is "
                                             ">= 0; 'none' turns that off.")
LOW_FIDELITY = typer.Option("auto", "--low-fidelity", help="A same-quantity lower-fidelity estimate per row that "
                                                           "auto can correct: 'auto' (a knowledge surrogate of the "
                                                           "target's quantity, matched from its column name and "
                                                           "unit, e.g. 'gap_expt' -> the OQMD and AFLOW band-gap "
                                                           "surrogates; nothing when there is no match; reported), "
                                                           "a surrogate name, a column (in support and query) of "
                                                           "per-row DFT values, or 'none'.")
