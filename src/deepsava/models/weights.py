"""Reading weight files safely and checking that a state dict fits a model."""

import pickle
from pathlib import Path

import torch
from safetensors import SafetensorError
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


def _summarise(keys: list[str], limit: int = 4) -> str:
    shown = ", ".join(keys[:limit])
    return f"{shown} (+{len(keys) - limit} more)" if len(keys) > limit else shown


def match_state_dict(model: nn.Module, state: dict, allow_missing: tuple[str, ...] = ()) -> None:
    """Raise InvalidCheckpointError unless ``state`` fits ``model`` key for key and shape for shape.

    Keys starting with a prefix in ``allow_missing`` may be absent from ``state``.
    """
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.startswith(allow_missing)]
    unexpected = [k for k in state if k not in own]
    mismatched = [
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in state
        if k in own and state[k].shape != own[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys: {_summarise(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys: {_summarise(unexpected)}")
    if mismatched:
        problems.append(f"{len(mismatched)} shape mismatches (file vs model): {_summarise(mismatched)}")
    if problems:
        name = getattr(model, "name", type(model).__name__)
        raise InvalidCheckpointError(f"weights do not fit model {name}: " + "; ".join(problems))
