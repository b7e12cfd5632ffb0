"""The application layer: every command flow and all terminal output.

One module per command flow (``featurize``, ``datasets``, ``fewshot``, ``demo``, ``bench``, ``potential``);
each parses options, calls library functions that return data, and prints. :mod:`metamat.cli` only
registers these commands on the ``metamat`` typer app. Library modules (everything outside this package
and ``cli.py``) never print.
"""
