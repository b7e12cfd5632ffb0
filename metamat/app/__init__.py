"""Command flows and all terminal output; `metamat.cli` only registers them."""
