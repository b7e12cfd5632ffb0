"""``python -m metamat`` runs the command-line tool."""

from metamat.cli import main

main()
