"""``python -m deepsava`` runs the command line."""

from deepsava.cli import run

run()
