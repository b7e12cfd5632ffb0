"""Library messages in command-line words: a Python argument named in an error (``pass formula_column=``)
becomes the flag a user types (``pass --formula-column``)."""

from __future__ import annotations

import re

#: Python argument -> what the command line calls it (anything else: ``--`` + name with dashes).
CLI_NAMES = {"target_columns": "--target", "target_column": "--target", "data_dir": "--data-dir",
             "api_key": "the MP_API_KEY environment variable", "cache_dir": "the METAMAT_CACHE_DIR variable"}
_ARG = re.compile(r"\b([a-z][a-z0-9]*(?:_[a-z0-9]+)*)=(?=$|[\s;,.)])")


def speak_cli(text: str) -> str:
    """Replace ``name=`` (a Python keyword argument in a message) by the command-line option or variable."""
    return _ARG.sub(lambda m: CLI_NAMES.get(m.group(1), "--" + m.group(1).replace("_", "-")), text)
