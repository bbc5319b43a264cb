"""The ``deepsava`` command line: each subcommand is a thin layer over the Python API."""

import sys
from typing import Optional

import typer

from deepsava.errors import DeepSAVAError

app = typer.Typer(
    help="Sparse adversarial attacks on video classifiers (DeepSAVA) and defences against them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_state = {"debug": False}


@app.callback()
def main(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for user errors.")) -> None:
    _state["debug"] = debug


# --- commands (each block owned by the module it calls) -------------------------------


def run() -> None:
    """Entry point: user errors become one line on stderr and a documented exit code."""
    try:
        app(standalone_mode=False)
    except DeepSAVAError as err:
        if _state["debug"]:
            raise
        typer.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
