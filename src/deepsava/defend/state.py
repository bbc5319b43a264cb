"""The state of a training run after an epoch: what an interrupted run resumes from.

One file, ``<out>.state.safetensors``, replaced atomically after every epoch:
tensors ``model.<name>`` (the weights and batch-norm statistics) and
``optimizer.<index>.<name>`` (Adam's moments and step counts), and in the
safetensors metadata one JSON document with the epoch, the history so far, the
optimiser's hyper-parameters, the learning-rate schedule and the run's
identity (everything that must match for a resumed run to continue the same
computation: method and parameters, model, data, seed, epochs, ...).

Everything random in training is derived from (seed, epoch, video index)
(see :mod:`deepsava.defend.trainer`), so no random-generator state is stored
and a resumed run repeats the uninterrupted one exactly. Under torchrun only the
first process reads and writes the file; it hands the state to the others over
the process group (:func:`deepsava.distributed.from_main`), so the other nodes
need not see the folder.
"""

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from deepsava.errors import InvalidArgumentError, InvalidCheckpointError
from deepsava.models.weights import load_weights_file


def state_file(out: str | Path) -> Path:
    """Where the run writing checkpoint ``out`` keeps its epoch state."""
    out = Path(out)
    return out.parent / (out.name + ".state.safetensors")


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 (hex) of a model's state dict (names, dtypes, shapes, values): the weights a run started from."""
    digest = hashlib.sha256()
    for name, value in sorted(model.state_dict().items()):
        value = value.detach().cpu().contiguous()
        digest.update(f"{name}:{value.dtype}:{tuple(value.shape)}".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_state(path: Path, model: torch.nn.Module, optimiser: torch.optim.Optimizer, schedule, epoch: int,
               history: list[dict], identity: dict) -> None:
    """Write the state after ``epoch`` (atomically: a kill leaves the previous epoch's file whole)."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    optim = optimiser.state_dict()
    for index, values in optim["state"].items():
        for name, value in values.items():
            tensors[f"optimizer.{index}.{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    document = {"identity": identity, "epoch": epoch, "history": history, "param_groups": optim["param_groups"],
                "schedule": schedule.state_dict()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"state": json.dumps(document)})
    os.replace(tmp, path)


def read_state(path: Path, identity: dict) -> dict:
    """The state in ``path`` (``{"document": ..., "tensors": ...}``) after checking it belongs to this run.

    Raises InvalidArgumentError naming the settings that differ when the file
    belongs to a run with another identity, InvalidCheckpointError when it cannot be read.
    """
    try:
        with safe_open(str(path), "pt") as f:
            document = json.loads((f.metadata() or {}).get("state", "{}"))
    except (SafetensorError, OSError, ValueError) as err:  # ValueError: its JSON is not JSON or not UTF-8
        raise InvalidCheckpointError(f"{path}: the interrupted run's state cannot be read ({err}): pass --force to"
                                     " discard it and start over") from None
    if not isinstance(document, dict):
        raise InvalidCheckpointError(f"{path}: the interrupted run's state is not a JSON object: pass --force to"
                                     " discard it and start over")
    stored = document.get("identity") or {}
    wanted = json.loads(json.dumps(identity))
    if stored != wanted:
        changed = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
        raise InvalidArgumentError(
            f"{path} holds an interrupted run with other settings ({', '.join(changed)} differ): resume it with the"
            " same command, or pass --force to discard it and start over")
    return {"document": document, "tensors": load_weights_file(path)}


def restore_state(state: dict, model: torch.nn.Module, optimiser: torch.optim.Optimizer,
                  schedule) -> tuple[int, list[dict]]:
    """Load a :func:`read_state` result into model, optimiser and schedule; return ``(last finished epoch, history)``."""
    document, tensors = state["document"], state["tensors"]
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    moments: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            moments.setdefault(int(index), {})[name] = value
    optimiser.load_state_dict({"state": moments, "param_groups": document["param_groups"]})
    schedule.load_state_dict(document["schedule"])
    return document["epoch"], document["history"]
