"""The model registry: every form of model spec, ``create_model`` over it, and what a weights file is.

A spec names a model: one of ours (``i3d``, ``inception-v3``, ``cnn-lstm``, ``cnn-gru``,
``cnn-rnn``), ``torchvision:NAME``, ``hf:FOLDER``, ``python:MODULE:FACTORY`` or
``path/to/file.py:FACTORY``. ``MODEL_FAMILIES`` lists them with a line each; every
list of model names (``MODELS``, help texts, errors) is made from it.
"""

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from deepsava.errors import InvalidArgumentError
from deepsava.models.base import PRESETS, VideoClassifier
from deepsava.models.huggingface import HuggingFaceVideo
from deepsava.models.i3d import I3D
from deepsava.models.inception import InceptionV3
from deepsava.models.recurrent import CELLS, RecurrentClassifier
from deepsava.models.torchvision_video import ARCHITECTURES, TorchvisionVideo
from deepsava.models.user_module import INPUT_OPTIONS, UserModule
from deepsava.models.weights import load_weights_file, shapes_of


@dataclass(frozen=True)
class ModelFamily:
    """One form of model spec: how it is written, what it is, how its architecture is built.

    ``pattern`` matches a whole spec of this form; its group 1 is the ``target`` the
    builders get. ``build(target, num_classes, preset, **input_options)`` makes the
    architecture without loading weights; ``pretrained(target, num_classes, fine_tune)``,
    when set, makes it with the weights the spec itself names (an ``hf:`` folder's).
    ``ours``: an architecture deepsava defines (it has a preset and needs ``num_classes``).
    ``runs_user_code``: building it imports the user's code. ``options``: the input
    options it takes.
    """

    form: str
    description: str
    pattern: str
    build: Callable[..., VideoClassifier]
    pretrained: Callable[..., VideoClassifier] | None = None
    ours: bool = False
    runs_user_code: bool = False
    options: tuple[str, ...] = ()


def _check_num_classes(num_classes, required: bool) -> None:
    if num_classes is None and not required:
        return
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise InvalidArgumentError(f"num_classes must be an integer >= 2, got {num_classes!r}")


def _ours(name: str, num_classes: int, preset: str) -> VideoClassifier:
    if not isinstance(preset, str) or preset not in PRESETS:
        raise InvalidArgumentError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
    _check_num_classes(num_classes, required=True)
    if name == "i3d":
        return I3D(num_classes, preset)
    if name == "inception-v3":
        return InceptionV3(num_classes, preset)
    return RecurrentClassifier(name, num_classes, preset)


def _torchvision(arch: str, num_classes: int | None, preset) -> VideoClassifier:
    return TorchvisionVideo(arch, num_classes)


def _huggingface(folder: str, num_classes: int | None, preset) -> VideoClassifier:
    return HuggingFaceVideo(folder, num_classes)


def _huggingface_pretrained(folder: str, num_classes: int | None, fine_tune: bool) -> VideoClassifier:
    return HuggingFaceVideo(folder, num_classes, pretrained=True, fine_tune=fine_tune)


def _user_module(target: str, num_classes: int | None, preset, **options) -> VideoClassifier:
    return UserModule(target, num_classes, **options)


_OURS = {
    "i3d": "I3D (Inflated Inception-v1, RGB stream), logits averaged over time",
    "inception-v3": "Inception-v3 on every frame, logits averaged over frames",
    **{name: f"Inception-v3 features per frame, {cell.__name__} over them, logits averaged over time"
       for name, cell in CELLS.items()},
}
_USER = f"(this runs your code); input options: {', '.join(INPUT_OPTIONS)}"
MODEL_FAMILIES = (
    *(ModelFamily(name, description, f"({re.escape(name)})", _ours, ours=True) for name, description in _OURS.items()),
    ModelFamily("torchvision:NAME", f"a torchvision video classifier ({', '.join(ARCHITECTURES)}); --weights: the"
                " state-dict .pth torchvision publishes", r"torchvision:(.+)", _torchvision),
    ModelFamily("hf:FOLDER", "a Hugging Face VideoMAE, TimeSformer or ViViT classifier saved by save_pretrained"
                " (pip install 'deepsava[hf]')", r"hf:(.+)", _huggingface, pretrained=_huggingface_pretrained),
    ModelFamily("python:MODULE:FACTORY", f"your own nn.Module, made by calling FACTORY() {_USER}", r"python:(.+)",
                _user_module, runs_user_code=True, options=INPUT_OPTIONS),
    ModelFamily("FILE.py:FACTORY", f"the same from a Python file {_USER}", r"(.+\.py:[^:]+)",
                _user_module, runs_user_code=True, options=INPUT_OPTIONS),
)
MODELS = tuple(family.form for family in MODEL_FAMILIES if family.ours)


def model_family(spec) -> tuple[ModelFamily, str]:
    """The family a model spec belongs to and what it names within it; InvalidArgumentError listing the forms."""
    if isinstance(spec, str):
        for family in MODEL_FAMILIES:
            found = re.fullmatch(family.pattern, spec)
            if found:
                return family, found.group(1)
    raise InvalidArgumentError(f"unknown model {spec!r}: choose one of {', '.join(f.form for f in MODEL_FAMILIES)}")


def model_spec_help() -> str:
    """One line per form of model spec, what it is (for --help texts)."""
    width = max(len(family.form) for family in MODEL_FAMILIES)
    return "\n".join(f"{family.form:<{width}}  {family.description}" for family in MODEL_FAMILIES)


def create_model(spec: str, num_classes: int | None = None, preset: str = "tiny", weights: str | Path | None = None,
                 fine_tune: bool = False, **input_options) -> VideoClassifier:
    """Build the model a spec names (see ``MODEL_FAMILIES``), with weights when given.

    The model maps ``(B, T, C, H, W)`` pixels in ``[0, 1]`` at any resolution to logits
    ``(B, num_classes)``. ``num_classes`` is required for ours; foreign models default to
    their weights' class count (400 for torchvision's Kinetics models, the folder's for
    ``hf:``, the first output's for a user's module). ``preset`` applies to ours only,
    ``input_options`` to a user's module only. ``weights`` is a ``.safetensors`` or
    ``torch.save`` state-dict file (e.g. ``rgb_imagenet.pt`` for I3D, torchvision's
    ``r2plus1d_18-91a641e6.pth``); an ``hf:`` folder brings its own (a ``weights`` file
    then replaces them: a deepsava checkpoint of that model). They must be the
    whole model for ``num_classes`` classes, unless ``fine_tune``: then a head for another
    class count is replaced by a fresh one (see :meth:`VideoClassifier.load_pretrained`).
    """
    family, target = model_family(spec)
    unknown = [name for name in input_options if name not in family.options]
    if unknown:
        takes = f"input options {', '.join(family.options)}" if family.options else "no input options"
        raise InvalidArgumentError(f"{spec} takes {takes}, not {', '.join(unknown)}")
    _check_num_classes(num_classes, required=False)
    if weights is None and family.pretrained is not None:
        return family.pretrained(target, num_classes, fine_tune)
    model = family.build(target, num_classes, preset, **input_options)
    if weights is not None:
        model.load_pretrained(load_weights_file(weights), fine_tune=fine_tune, describe=identify)
    return model


def needed_frames(spec: str, num_classes: int | None = None, preset: str | None = "tiny", **input_options) -> int | None:
    """The clip length the model a spec names needs (16 for MViT or a VideoMAE), None when any length will do.

    The architecture is built on the meta device: nothing is allocated and no weights are read.
    """
    family, target = model_family(spec)
    _check_num_classes(num_classes, required=False)
    with torch.device("meta"):
        return family.build(target, num_classes or 2, preset or "tiny", **input_options).num_frames


@functools.lru_cache(maxsize=64)
def _layout(spec: str, num_classes: int | None, preset: str | None) -> tuple[dict[str, tuple[int, ...]], str]:
    family, target = model_family(spec)
    with torch.device("meta"):  # shapes only: nothing is allocated
        model = family.build(target, num_classes, preset)
    return shapes_of(model.state_dict()), model.head_prefix


def expected_shapes(spec: str, num_classes: int | None, preset: str | None = "tiny") -> dict[str, tuple] | None:
    """Name -> shape of every tensor of the model ``spec`` names, without allocating it.

    None for a user's module: building it would run their code, so its weights are checked when it is loaded.
    """
    family, _ = model_family(spec)
    if family.runs_user_code:
        return None
    return dict(_layout(spec, num_classes, preset)[0])


def identify(shapes: dict[str, tuple]) -> str | None:
    """Which model a state dict of these tensor shapes is, e.g. ``"cnn-lstm (tiny preset, 12 classes)"``.

    Knows ours and torchvision's (as published, or as a deepsava checkpoint of the wrapper,
    ``"torchvision:r3d_18 (400 classes)"``). The class count is read from the head's shape;
    None when the shapes are no whole model of these.
    """
    shapes = {k: tuple(v) for k, v in shapes.items()}
    published = {f"net.{k}": v for k, v in shapes.items()}  # a torchvision file's keys, as the wrapper names them
    for name in MODELS:  # presets that differ only in layers without weights (i3d tiny, small) are named together
        counts = {preset: count for preset in PRESETS if (count := _class_count(shapes, name, preset))}
        if counts:
            return f"{name} ({' or '.join(counts)} preset, {next(iter(counts.values()))} classes)"
    for spec, found in ((f"torchvision:{arch}", found) for arch in ARCHITECTURES for found in (shapes, published)):
        if classes := _class_count(found, spec, None):
            return f"{spec} ({classes} classes)"
    return None


def _class_count(shapes: dict[str, tuple], spec: str, preset: str | None) -> int | None:
    """The class count when ``shapes`` are those of the model ``spec`` (at ``preset``), else None."""
    layout, head = _layout(spec, 2, preset)
    heads = [v for k, v in shapes.items() if k.startswith(head)]
    if not heads or shapes.keys() != layout.keys() or heads[0][0] < 2:
        return None
    return heads[0][0] if all(shapes[k] == v for k, v in layout.items() if not k.startswith(head)) else None
