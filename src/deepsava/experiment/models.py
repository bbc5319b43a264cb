"""The models an experiment names: a checkpoint, or a model spec with its weights file; and their identity.

A ``models.<label>`` entry is ``{checkpoint: "shipped:i3d" | path stem}`` or
``{model: SPEC, weights: FILE, preset, num_classes, options}`` (any spec
:func:`deepsava.models.create_model` takes: ``i3d``, ``torchvision:r2plus1d_18``,
``hf:/folder``, ``python:module:factory``). The identity of a model (what enters a
cell's key) holds the SHA-256 of its weights file, so a changed file makes new cells.
"""

import hashlib
from pathlib import Path

import torch

from deepsava.errors import DeepSAVAError, InvalidArgumentError, InvalidConfigError
from deepsava.models import MODELS, create_model, load_checkpoint, model_family, needed_frames
from deepsava.models.checkpoint import checkpoint_stem, inspect_checkpoint


def sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _stem(label: str, spec: str) -> Path:
    where = f"models.{label}.checkpoint"
    try:
        stem = checkpoint_stem(spec)
    except DeepSAVAError as err:
        raise InvalidConfigError(f"{where}: {err}") from None
    for suffix in (".safetensors", ".json"):
        if not (stem.parent / (stem.name + suffix)).is_file():
            raise InvalidConfigError(f"{where}: no checkpoint file {stem}{suffix}")
    return stem


def recorded_classes(label: str, entry: dict) -> tuple[int | None, list[str] | None]:
    """(class count, class names) an entry records without building the model: a checkpoint's metadata, else unknown.

    Checks the checkpoint's files and the weights' shapes on the way (nothing is allocated).
    """
    if "checkpoint" not in entry:
        return entry.get("num_classes"), None
    stem = _stem(label, entry["checkpoint"])
    try:
        meta = inspect_checkpoint(stem)
    except DeepSAVAError as err:
        raise InvalidConfigError(f"models.{label}.checkpoint: {err}") from None
    return meta["num_classes"], meta.get("classes")


def load_entry(label: str, entry: dict, num_classes: int | None, device: torch.device):
    """Build the model of ``models.<label>`` -> (model in eval mode, identity dict, class names or None).

    ``num_classes``: the dataset's class count, for a spec entry that does not give its own.
    """
    try:
        if "checkpoint" in entry:
            stem = _stem(label, entry["checkpoint"])
            model, meta = load_checkpoint(stem, device)
            identity = {"checkpoint": entry["checkpoint"], "model": meta["model"], "preset": meta["preset"],
                        "sha256": sha256(stem.parent / (stem.name + ".safetensors"))}
            return model, identity, meta.get("classes") or getattr(model, "classes", None)
        family, target = model_family(entry["model"])
        if not entry.get("weights") and family.pretrained is None and not family.runs_user_code:
            raise InvalidConfigError(f"models.{label}: give the weights file of {entry['model']} (weights: FILE),"
                                     " or name a checkpoint instead (checkpoint: ...)")
        count = entry.get("num_classes") or num_classes
        model = create_model(entry["model"], count, entry.get("preset") or "tiny", weights=entry.get("weights"),
                             **(entry.get("options") or {}))
    except InvalidConfigError:
        raise
    except DeepSAVAError as err:  # the model's own error (e.g. weights of another class count: exit 5), located
        raise type(err)(f"models.{label}: {err}") from None
    weights = entry.get("weights") or _own_weights(family, target)
    identity = {"spec": entry["model"], "preset": entry.get("preset"), "num_classes": model.num_classes,
                "options": entry.get("options") or {}, "weights": None if weights is None else str(weights),
                "sha256": None if weights is None else sha256(Path(weights).expanduser())}
    classes = getattr(model, "classes", None)
    if classes:
        identity["classes"] = list(classes)
    return model.to(device).eval(), identity, classes


def _own_weights(family, target: str) -> Path | None:
    """The file that holds a spec's weights when no weights file is given: an hf: folder's, a FILE.py's code."""
    if family.pretrained is not None:
        return Path(target).expanduser() / "model.safetensors"
    if target.split(":")[0].endswith(".py"):
        return Path(target.split(":")[0])
    return None  # python:MODULE:FACTORY: the module's code is the user's, on their path


def _is_spec(text: str) -> bool:
    try:
        model_family(text)
    except InvalidArgumentError:
        return False
    return True


def model_entry(model: str | None, checkpoint: str | None = None, weights: str | None = None, preset: str = "paper",
                num_classes: int | None = None, options: dict | None = None) -> dict:
    """The ``models.<label>`` entry that command-line options name.

    ``--checkpoint`` names a checkpoint; ``--model NAME`` alone (or ``shipped:NAME``) the shipped checkpoint;
    ``--model SPEC --weights FILE`` (or an ``hf:`` folder, which holds its weights) a model built from a spec.
    """
    if checkpoint is not None:
        if model is not None or weights is not None:
            raise InvalidArgumentError("give --checkpoint alone, or --model (with --weights)")
        return {"checkpoint": checkpoint}
    if model is None:
        raise InvalidArgumentError("name a --model (its shipped tiny checkpoint, or a spec with --weights) or give"
                                   " --checkpoint PATH")
    if model.startswith("shipped:") or (weights is None and (model in MODELS or not _is_spec(model))):
        return {"checkpoint": model if model.startswith("shipped:") else f"shipped:{model}"}  # a shipped name
    entry = {"model": model, "weights": weights, "preset": preset, "num_classes": num_classes, "options": options}
    return {k: v for k, v in entry.items() if v is not None}


def entry_frames(entry: dict) -> int | None:
    """The clip length the model of an entry needs (see :func:`deepsava.models.needed_frames`), or None."""
    try:
        if "checkpoint" in entry:
            meta = inspect_checkpoint(checkpoint_stem(entry["checkpoint"]))
            return needed_frames(meta["model"], meta["num_classes"], meta["preset"], **(meta.get("input_options") or {}))
        return needed_frames(entry["model"], entry.get("num_classes"), entry.get("preset"), **(entry.get("options") or {}))
    except DeepSAVAError:
        return None  # the model's own check says what is wrong when the run loads it
