"""What every command shares: the console, option checks, the command line as typed, the end of an interrupted run."""

import shlex
import sys

import typer
import yaml

from deepsava.errors import InvalidArgumentError
from deepsava.models import MODEL_FAMILIES
from deepsava.models.base import PRESETS

MODEL_SPECS = ", ".join(family.form for family in MODEL_FAMILIES)  # for --model's help: every form a spec takes
PRESET_HELP = (f"Architecture size of one of our models: {', '.join(PRESETS)} (tiny: 32x32 inside, trains on a CPU in"
               " minutes; small: tiny's widths on the native 64x64 frames; paper: full size).")

INTERRUPTED = 130  # the exit code of a run stopped by Ctrl-C (its stored results are kept)


def console():
    """A rich console; 150 columns when the output is not a terminal, so that logged table rows stay whole."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=150)


def at_least_one(**options) -> None:
    """Raise InvalidArgumentError for the first integer option (``--name``) below 1; None values are skipped."""
    for name, value in options.items():
        if value is not None and value < 1:
            raise InvalidArgumentError(f"--{name.replace('_', '-')} must be at least 1, got {value}")


def fraction(option: str, text: str | None) -> float | None:
    """A number written as 0.0314 or 8/255."""
    if text is None:
        return None
    try:
        top, _, bottom = text.partition("/")
        return float(top) / float(bottom) if bottom else float(top)
    except (ValueError, ZeroDivisionError):
        raise InvalidArgumentError(f"{option} must be a number such as 0.03 or 8/255, got {text!r}") from None


INPUT_HELP = ("An input option of a python:/FILE.py: model, KEY=VALUE, repeatable: layout=BCTHW or BTCHW, size=112,"
              " frames=16, mean=[0.43,0.39,0.37], std=[0.23,0.22,0.22], value_range=[0,255].")


def input_options(pairs: list[str] | None) -> dict | None:
    """``["layout=BCTHW", "mean=[0.5,0.5,0.5]"]`` -> ``{"layout": "BCTHW", "mean": [0.5, 0.5, 0.5]}`` (values as YAML)."""
    if not pairs:
        return None
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidArgumentError(f"--input takes KEY=VALUE (e.g. layout=BCTHW), got {pair!r}")
        try:
            options[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise InvalidArgumentError(f"--input {key}: cannot read the value {value!r}") from None
    return options


def invocation(context: typer.Context, leave_out: tuple[str, ...] = ("progress", "force")) -> str:
    """The running command with every option's value, defaults included (``deepsava train --model i3d ...``).

    Recorded in checkpoints and results so that the run can be repeated as it was, even if defaults change;
    the options in ``leave_out`` (how it is shown, whether to overwrite) are not part of what was computed.
    """
    words = ["deepsava", context.info_name]  # the command (one level under deepsava)
    for param in context.command.params:
        value = context.params.get(param.name)
        if value is None or param.name in leave_out or param.param_type_name != "option":
            continue
        if param.is_flag:
            if value or param.secondary_opts:
                words.append(param.opts[0] if value else param.secondary_opts[0])
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            words += [param.opts[0], str(item)]
    return shlex.join(words)


def finish_run(outcome, out_console, report_hint: bool = True) -> None:
    """Say where a run's results are; when interrupted, how to resume it, and exit 130."""
    if outcome.interrupted:
        out_console.print(outcome.stopped())
        raise typer.Exit(INTERRUPTED)
    out_console.print(f"{outcome.videos_done}/{outcome.videos_total} videos done ({outcome.batches_run} batches run"
                      f" now); results in {outcome.store_path}"
                      + (f"; tables and plots: deepsava report {outcome.out}" if report_hint else ""))
