"""``python -m deepsava`` runs the command line."""

from deepsava.cli.main import run

run()
