"""Command flows and all terminal output (cli.py only registers them)."""
