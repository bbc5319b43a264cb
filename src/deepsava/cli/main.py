"""The ``deepsava`` command: the command groups registered on one Typer app, and user errors as one line + exit code."""

import logging
import sqlite3
import sys

import typer

from deepsava import __version__
from deepsava.cli import attack, data, defend, experiment, robustness, studies, train
from deepsava.errors import EXIT_CODES, FILE_SYSTEM_EXIT_CODE, DeepSAVAError

app = typer.Typer(
    help="Sparse adversarial attacks on video classifiers (DeepSAVA) and defences against them.",
    epilog="Exit codes: " + "; ".join(f"{code} {text}" for code, text in EXIT_CODES.items()) + ".",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)

COMMANDS = {
    "attack": attack.attack_command,
    "experiment": experiment.experiment_command,
    "report": experiment.report_command,
    "demo": experiment.demo_command,
    "transfer": experiment.transfer_command,
    "compress-eval": experiment.compress_eval_command,
    "robustness": robustness.robustness_command,
    "data": data.data_command,
    "train": train.train_command,
    "evaluate": train.evaluate_command,
    "train-predictor": train.train_predictor_command,
    "defend": defend.defend_command,
    "saliency": studies.saliency_command,
    "prediction-attack": studies.prediction_attack_command,
    "sensitivity": studies.sensitivity_command,
}
for _name, _command in COMMANDS.items():
    app.command(_name)(_command)

_state = {"debug": False}


class _EchoHandler(logging.Handler):
    """deepsava's log lines (e.g. a head replaced for fine-tuning), one per line on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        typer.echo(self.format(record), err=True)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"deepsava {__version__}")
        raise typer.Exit()


@app.callback()
def main(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for user errors."),
         version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                      help="Print the version and exit.")) -> None:
    _state["debug"] = debug
    log = logging.getLogger("deepsava")
    if not any(isinstance(h, _EchoHandler) for h in log.handlers):
        log.addHandler(_EchoHandler())
        log.setLevel(logging.INFO)


def _from_ctrl_c(err: BaseException) -> bool:
    """Whether a KeyboardInterrupt is among the exceptions that led to ``err``."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, KeyboardInterrupt):
            return True
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return False


def run() -> None:
    """Entry point: user errors become one line on stderr and a documented exit code.

    Exit codes (``deepsava.errors.EXIT_CODES``): 0 success, 2 usage error (unknown
    option, bad option value), one per error class (3 invalid argument, 4 invalid
    video, 5 invalid checkpoint, 6 invalid dataset, 7 invalid config), 8 a file or
    folder that cannot be read or written, 130 interrupted. ``--debug`` shows the
    traceback instead.
    """
    try:
        app()
    except SystemExit as done:  # typer turns Ctrl-C into a silent exit 130: say so
        if done.code == 130 and _from_ctrl_c(done):
            typer.echo("interrupted", err=True)
        raise
    except DeepSAVAError as err:
        if _state["debug"]:
            raise
        typer.echo("error: " + " ".join(str(err).split()), err=True)  # one line, whatever the message
        sys.exit(err.exit_code)
    except OSError as err:
        if _state["debug"]:
            raise
        where = f": {err.filename}" if err.filename else ""
        typer.echo(f"error: {err.strerror or err}{where}", err=True)
        sys.exit(FILE_SYSTEM_EXIT_CODE)
    except sqlite3.DatabaseError as err:
        if _state["debug"] or type(err) not in (sqlite3.OperationalError, sqlite3.DatabaseError):
            raise  # its other subclasses (ProgrammingError, IntegrityError, ...) are bugs
        typer.echo(f"error: the result database cannot be read or written: {err}", err=True)  # disk full, read-only
        sys.exit(FILE_SYSTEM_EXIT_CODE)
