"""deepsava checkpoints: ``<path>.safetensors`` (weights) + ``<path>.json`` (how to rebuild and where it came from).

The JSON holds ``model`` (the model spec), ``preset`` (null for foreign models),
``num_classes`` and, for a user's module, ``input_options``: enough to rebuild the
architecture (an ``hf:`` spec names the absolute folder whose configs it is built
from). Then ``torch_version``, ``classes`` (the model's own class names unless the
caller records the dataset's) and whatever else the caller records: dataset,
frames, size, clean test accuracy, hyper-parameters, the command.
"""

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from deepsava.data.cache import atomic_path
from deepsava.errors import InvalidArgumentError, InvalidCheckpointError
from deepsava.models.base import VideoClassifier
from deepsava.models.registry import create_model, expected_shapes, identify
from deepsava.models.weights import header_shapes, load_weights_file, shape_problems

SHIPPED = ("i3d", "inception-v3", "cnn-lstm", "cnn-rnn", "cnn-gru",
           "cnn-lstm-shared", "cnn-rnn-shared", "cnn-gru-shared",  # *-shared: heads over inception-v3's frozen CNN
           "i3d-small", "inception-v3-small", "cnn-lstm-small")  # *-small: the small preset, native 64x64 frames
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
# Written by `deepsava defend` (fine-tuned from the shipped models above; their JSON holds the command),
# kept in checkpoints/defended/: the models of the paper's Tables 11 and B.13 (and a TRADES model beside them).
DEFENDED = (
    "inception-v3-undefended",
    "inception-v3-pgd",
    "inception-v3-combined",
    "i3d-undefended",
    "i3d-pgd",
    "i3d-combined",
    "cnn-lstm-undefended",
    "cnn-lstm-pgd",
    "cnn-lstm-combined",
    "inception-v3-trades",
    "inception-v3-pgd-alpha0.001",
    "inception-v3-combined-alpha0.001",
    "inception-v3-pgd-alpha0.005",
    "inception-v3-combined-alpha0.005",
    "inception-v3-pgd-alpha0.01",
    "inception-v3-combined-alpha0.01",
)

__all__ = ["save_checkpoint", "load_checkpoint", "load_weights_file", "shipped_checkpoint", "load_shipped"]


def _stem(path: str | Path) -> Path:
    path = Path(path)
    return path.with_suffix("") if path.suffix in (".safetensors", ".json") else path


def _file(stem: Path, suffix: str) -> Path:
    return stem.parent / (stem.name + suffix)


def refuse_overwrite(path: str | Path, force: bool) -> None:
    """Raise InvalidArgumentError when a checkpoint exists at ``path`` and not ``force`` (call it before training)."""
    stem = _stem(path)
    existing = [p for p in (_file(stem, ".safetensors"), _file(stem, ".json")) if p.exists()]
    if existing and not force:
        raise InvalidArgumentError(f"{existing[0]} already exists: pass --force to overwrite it or choose another --out")


def save_checkpoint(model: VideoClassifier, path: str | Path, metadata: dict) -> Path:
    """Write ``<path>.safetensors`` and ``<path>.json``; return the stem ``path``.

    Each file is written under a temporary name and renamed, so a kill never leaves half a checkpoint.
    """
    meta = {**metadata, "model": model.spec, "preset": model.preset, "num_classes": model.num_classes}
    if model.input_options:
        meta["input_options"] = model.input_options
    if model.classes is not None:
        meta.setdefault("classes", model.classes)
    return write_checkpoint(model, path, meta)


def write_checkpoint(model: torch.nn.Module, path: str | Path, metadata: dict) -> Path:
    """Write ``model``'s weights to ``<path>.safetensors`` and ``metadata`` (+ ``torch_version``) to ``<path>.json``.

    Each file is written under a temporary name and renamed onto its own; returns the stem.
    """
    stem = _stem(path)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(_file(stem, ".safetensors")) as tmp:
        save_file(state, str(tmp))
    with atomic_path(_file(stem, ".json")) as tmp:
        tmp.write_text(json.dumps({**metadata, "torch_version": torch.__version__}, indent=2) + "\n")
    return stem


def read_metadata(path: str | Path, required: tuple[str, ...] = ("model", "preset", "num_classes")) -> dict:
    """Read the ``<path>.json`` half of a checkpoint and check it names the ``required`` keys."""
    meta_path = _file(_stem(path), ".json")
    if not meta_path.is_file():
        raise InvalidCheckpointError(f"checkpoint metadata {meta_path} does not exist")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InvalidCheckpointError(f"checkpoint metadata {meta_path} is not valid JSON: {err}") from None
    if not isinstance(meta, dict):
        raise InvalidCheckpointError(f"checkpoint metadata {meta_path} must be a JSON object, got {type(meta).__name__}")
    missing = [k for k in required if k not in meta]
    if missing:
        raise InvalidCheckpointError(f"checkpoint metadata {meta_path} lacks {', '.join(missing)}")
    return meta


def inspect_checkpoint(path: str | Path) -> dict:
    """Check a checkpoint without loading it: its metadata, and the weights' shapes against the model it names.

    Reads ``<path>.json`` and only the header of ``<path>.safetensors``; returns the metadata.
    Raises InvalidCheckpointError when a file is missing or unreadable, or when the weights do
    not fit the architecture, preset or class count recorded (saying what they are instead).
    A user's module is not built here (that runs their code): its weights are checked on loading.
    """
    stem = _stem(path)
    meta = read_metadata(stem)
    preset = f", {meta['preset']} preset" if meta["preset"] is not None else ""
    recorded = f"{meta['model']}{preset}, {meta['num_classes']} classes"
    try:
        expected = expected_shapes(meta["model"], meta["num_classes"], meta["preset"])
    except InvalidArgumentError as err:
        raise InvalidCheckpointError(f"checkpoint {stem}: {err}") from None
    weights = _file(stem, ".safetensors")
    if not weights.is_file():
        raise InvalidCheckpointError(f"checkpoint weights {weights} do not exist")
    found = header_shapes(weights)
    problems = shape_problems(expected, found) if expected is not None else []
    if problems:
        looks = identify(found)
        hint = f"; they are the weights of {looks}" if looks else ""
        raise InvalidCheckpointError(f"checkpoint {stem} (metadata: {recorded}): weights do not fit model"
                                     f" {meta['model']}: " + "; ".join(problems) + hint)
    return meta


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[VideoClassifier, dict]:
    """Rebuild the model the metadata names, load its weights strictly; return ``(model in eval mode, metadata)``.

    The model's ``classes`` are the recorded ones when they are as many as its classes.
    Raises InvalidCheckpointError when a file is missing or unreadable, or
    when the weights do not fit the architecture or class count recorded
    (checked on the file's header, before anything is allocated).
    """
    stem = _stem(path)
    meta = inspect_checkpoint(stem)
    model = create_model(meta["model"], meta["num_classes"], meta["preset"], weights=_file(stem, ".safetensors"),
                         **meta.get("input_options", {}))
    classes = meta.get("classes")
    if isinstance(classes, list) and len(classes) == model.num_classes:
        model.classes = classes
    return model.to(device).eval(), meta


def shipped_checkpoint(name: str) -> Path:
    """Path stem of the tiny checkpoint shipped for ``name``, trained on synth-actions."""
    if name not in SHIPPED + DEFENDED:
        raise InvalidArgumentError(f"no shipped checkpoint {name!r}: choose one of {', '.join(SHIPPED + DEFENDED)}")
    stem = SHIPPED_DIR / name if name in SHIPPED else SHIPPED_DIR / "defended" / name
    if not _file(stem, ".safetensors").is_file():
        raise InvalidCheckpointError(f"shipped checkpoint {name!r} is missing from {SHIPPED_DIR}")
    return stem


def checkpoint_stem(spec: str) -> Path:
    """The path stem a checkpoint reference names: ``shipped:NAME`` or a path (with or without suffix)."""
    if spec.startswith("shipped:"):
        return shipped_checkpoint(spec.split(":", 1)[1])
    return _stem(Path(spec).expanduser())


def load_shipped(name: str, device: str | torch.device = "cpu") -> tuple[VideoClassifier, dict]:
    """Load the shipped tiny checkpoint ``name``; returns ``(model in eval mode, metadata)``."""
    return load_checkpoint(shipped_checkpoint(name), device)


def starting_weights(spec: str | None) -> tuple[Path | None, dict]:
    """The weights file a ``--weights`` value names and the metadata beside it (empty when none).

    ``shipped:NAME`` is the shipped tiny checkpoint of that model; a checkpoint
    stem (``ckpt/x`` for ``ckpt/x.safetensors``) or any weights file path works too.
    """
    if spec is None:
        return None, {}
    path = Path(spec).expanduser()
    if spec.startswith("shipped:") or not path.is_file():
        stem = checkpoint_stem(spec)
        path = stem.parent / (stem.name + ".safetensors")
    if not path.is_file():
        raise InvalidArgumentError(f"--weights {spec}: no such file (give a weights file, a checkpoint stem or"
                                   " shipped:NAME)")
    meta_path = path.with_suffix(".json")
    return path, read_metadata(path, required=()) if meta_path.is_file() else {}
