"""Reading weight files safely and checking that a state dict fits a model."""

import pickle
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file
from torch import nn

from deepsava.errors import InvalidCheckpointError


def load_weights_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from ``.safetensors`` or a ``torch.save`` file, never running pickled code.

    ``.pt``/``.pth`` files go through ``torch.load(weights_only=True)``, which
    refuses any object that is not a tensor or a plain container. A dict
    wrapped as ``{"state_dict": ...}`` and DataParallel ``module.`` prefixes
    are unwrapped.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidCheckpointError(f"weights file {path} does not exist")
    try:
        if path.suffix == ".safetensors":
            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        reason = _first_sentence(str(err).split("WeightsUnpickler error: ")[-1])
        raise InvalidCheckpointError(
            f"refusing weights file {path}: the safe unpickler rejected it ({reason});"
            " only .safetensors files and torch.save state dicts of tensors are loaded, never other objects"
        ) from None
    except (SafetensorError, RuntimeError, EOFError, OSError, ValueError) as err:
        raise InvalidCheckpointError(f"cannot read weights file {path}: {_first_sentence(str(err))}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InvalidCheckpointError(f"weights file {path} does not hold a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in state.items()}


def _first_sentence(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0].split(". ")[0] if lines else "unreadable"


def summarise_keys(keys: list[str], limit: int = 4) -> str:
    """The first ``limit`` keys, comma-separated, and how many more there are."""
    shown = ", ".join(keys[:limit])
    return f"{shown} (+{len(keys) - limit} more)" if len(keys) > limit else shown


def header_shapes(path: str | Path) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor in a ``.safetensors`` file, read from its header only (nothing allocated)."""
    try:
        with safe_open(str(path), "pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise InvalidCheckpointError(f"cannot read weights file {path}: {_first_sentence(str(err))}") from None


def shape_problems(own: dict[str, tuple], found: dict[str, tuple], allow_missing: tuple[str, ...] = ()) -> list[str]:
    """What keeps tensors of shapes ``found`` (a file) from fitting a model whose tensors have shapes ``own``.

    Keys starting with a prefix in ``allow_missing`` may be absent from ``found``. Empty when they fit.
    """
    missing = [k for k in own if k not in found and not k.startswith(allow_missing)]
    unexpected = [k for k in found if k not in own]
    mismatched = [f"{k} {tuple(found[k])} vs {tuple(own[k])}" for k in found if k in own and tuple(found[k]) != tuple(own[k])]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys: {summarise_keys(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys: {summarise_keys(unexpected)}")
    if mismatched:
        problems.append(f"{len(mismatched)} shape mismatches (file vs model): {summarise_keys(mismatched)}")
    return problems


def shapes_of(state: dict[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    """Name -> shape of a state dict's tensors."""
    return {k: tuple(v.shape) for k, v in state.items()}


def match_state_dict(model: nn.Module, state: dict, allow_missing: tuple[str, ...] = (), whole: dict | None = None,
                     describe: Callable[[dict], str | None] | None = None) -> None:
    """Raise InvalidCheckpointError unless ``state`` fits ``model`` key for key and shape for shape.

    Keys starting with a prefix in ``allow_missing`` may be absent from ``state``. When they do not
    fit, ``describe(shapes)`` (e.g. ``registry.identify``) may say which model the weights
    (``whole``, default ``state``) are instead; its answer ends the message.
    """
    problems = shape_problems(shapes_of(model.state_dict()), shapes_of(state), allow_missing)
    if problems:
        name = getattr(model, "name", type(model).__name__)
        looks = describe(shapes_of(state if whole is None else whole)) if describe else None
        hint = f"; they are the weights of {looks}" if looks else ""
        raise InvalidCheckpointError(f"weights do not fit model {name}: " + "; ".join(problems) + hint)
