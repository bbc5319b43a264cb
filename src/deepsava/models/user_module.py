"""How a user's own ``nn.Module`` is wrapped: ``python:MODULE:FACTORY`` or ``path/to/file.py:FACTORY``.

Naming such a model imports MODULE (or runs the file) and calls ``FACTORY()``
with no arguments: **this runs the user's code**, with the user's permissions,
and deepsava does it only when the spec is named. The network must map its
input to logits ``(B, K)``; its input spec, given as options, says what that
input is (``INPUT_OPTIONS``, defaults: deepsava's own videos, untouched):

- ``layout``: ``"BTCHW"`` (default) or ``"BCTHW"``;
- ``size``: resize every frame to it (int: a square; ``(h, w)``), bilinear with
  antialiasing; None (default) passes frames at the size given;
- ``frames``: the exact clip length it takes, None (default) for any;
- ``value_range``: ``(0, 1)`` (default) or ``(0, 255)``;
- ``mean``, ``std``: per-channel normalisation after the value range, in its units
  (``(x - mean) / std``); None (default) for none.
"""

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from deepsava.errors import InvalidArgumentError
from deepsava.models.base import WrappedNetwork
from deepsava.models.preprocess import LAYOUTS, Preprocess

INPUT_OPTIONS = ("layout", "size", "frames", "mean", "std", "value_range")
VALUE_RANGES = ((0, 1), (0, 255))


def run_user_code(what: str, action: Callable):
    """``action()``, any exception it raises turned into one InvalidArgumentError line (chained, for ``--debug``)."""
    try:
        return action()
    except Exception as err:
        reason = (str(err).strip().splitlines() or [""])[0]
        raise InvalidArgumentError(f"{what} failed: {type(err).__name__}: {reason}") from err


def exec_file(path: Path):
    """Run the Python file ``path`` as a module (registered in ``sys.modules``) and return it."""
    name = f"deepsava_user_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_factory(target: str) -> tuple[str, Callable]:
    """Import what ``MODULE:FACTORY`` or ``path/to/file.py:FACTORY`` names, running its code; return (spec, factory).

    The spec is ``python:MODULE:FACTORY``, or the file's absolute path and ``:FACTORY``.
    """
    where, _, attr = target.rpartition(":")
    if not where or not attr:
        raise InvalidArgumentError(f"model {target!r}: write python:MODULE:FACTORY or path/to/file.py:FACTORY")
    if where.endswith(".py"):
        path = Path(where).expanduser().resolve()
        if not path.is_file():
            raise InvalidArgumentError(f"model {target!r}: no such file {path}")
        spec = f"{path}:{attr}"
        module = run_user_code(f"{spec}: running {path.name}", lambda: exec_file(path))
    else:
        spec = f"python:{where}:{attr}"
        module = run_user_code(f"{spec}: importing {where}", lambda: importlib.import_module(where))
    factory = getattr(module, attr, None)
    if factory is None:
        raise InvalidArgumentError(f"{spec}: {where} has no {attr}")
    if not callable(factory):
        raise InvalidArgumentError(f"{spec}: {attr} is a {type(factory).__name__}, not a function or class")
    return spec, factory


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _size(size) -> int | list[int] | None:
    if size is None:
        return None
    sides = list(size) if isinstance(size, (list, tuple)) else [size]
    if not (len(sides) in (1, 2) and all(_is_count(side) for side in sides)):
        raise InvalidArgumentError(f"input option size must be a positive int or (height, width), got {size!r}")
    return sides if len(sides) == 2 else sides[0]


def _per_channel(name: str, values, positive: bool) -> list[float] | None:
    def number(v) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and (v > 0 or not positive)

    if values is None:
        return None
    if not (isinstance(values, (list, tuple)) and len(values) in (1, 3) and all(map(number, values))):
        kind = "positive numbers" if positive else "numbers"
        raise InvalidArgumentError(f"input option {name} must be 1 or 3 {kind} (per channel), got {values!r}")
    return [float(v) for v in values]


def check_input_options(layout: str = "BTCHW", size=None, frames=None, mean=None, std=None,
                        value_range=(0, 1)) -> dict:
    """Validate a user module's input options; return them as JSON values (lists, not tuples)."""
    if layout not in LAYOUTS:
        raise InvalidArgumentError(f"input option layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if frames is not None and not _is_count(frames):
        raise InvalidArgumentError(f"input option frames must be a positive int, got {frames!r}")
    if (mean is None) != (std is None):
        raise InvalidArgumentError("input options mean and std go together: give both or neither")
    if not isinstance(value_range, (list, tuple)) or tuple(value_range) not in VALUE_RANGES:
        raise InvalidArgumentError(f"input option value_range must be (0, 1) or (0, 255), got {value_range!r}")
    return {"layout": layout, "size": _size(size), "frames": frames, "mean": _per_channel("mean", mean, False),
            "std": _per_channel("std", std, True), "value_range": list(value_range)}


class UserModule(WrappedNetwork):
    """The user's ``nn.Module`` behind its input spec: pixels ``(B, T, C, H, W)`` in ``[0, 1]`` -> logits ``(B, K)``.

    ``num_classes`` None: taken from the first output. Every output is checked to be
    logits ``(B, K)``; anything else is an InvalidArgumentError naming what came back.
    """

    def __init__(self, target: str, num_classes: int | None = None, **options):
        options = check_input_options(**options)
        spec, factory = load_factory(target)
        net = run_user_code(f"{spec}: calling the factory", factory)
        if not isinstance(net, nn.Module):
            raise InvalidArgumentError(f"{spec} returned a {type(net).__name__}, not a torch.nn.Module")
        super().__init__(spec, None, num_classes, num_frames=options["frames"], input_options=options)
        self.net = net
        size = options["size"]
        resize = None if size is None else (size, size) if isinstance(size, int) else tuple(size)  # int: a square
        self.transform = Preprocess(resize=resize, mode="bilinear", antialias=True,
                                    scale=float(options["value_range"][1]), mean=options["mean"], std=options["std"],
                                    layout=options["layout"])

    def classify(self, videos: torch.Tensor) -> torch.Tensor:
        logits = self.net(self.transform(videos))
        b, k = len(videos), self.num_classes
        if not (isinstance(logits, torch.Tensor) and logits.dim() == 2 and len(logits) == b
                and (k is None or logits.shape[1] == k)):
            got = f"shape {tuple(logits.shape)}" if isinstance(logits, torch.Tensor) else f"a {type(logits).__name__}"
            raise InvalidArgumentError(f"{self.name} returned {got} for {b} videos: expected logits of shape"
                                       f" ({b}, {'K' if k is None else k})")
        if k is None:
            self.num_classes = logits.shape[1]
        return logits
