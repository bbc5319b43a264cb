"""The ``deepsava`` command line: one thin module per command group; ``deepsava.cli.main`` registers them."""
