"""``create_model``: one entry point from a model name to a ready classifier; what a weight file looks like."""

import functools
from pathlib import Path

import torch

from deepsava.errors import InvalidArgumentError
from deepsava.models.base import PRESETS, VideoClassifier
from deepsava.models.i3d import I3D
from deepsava.models.inception import InceptionV3
from deepsava.models.recurrent import CELLS, RecurrentClassifier
from deepsava.models.weights import load_weights_file, shapes_of

MODELS = ("i3d", "inception-v3", *CELLS)


def create_model(
    name: str, num_classes: int, preset: str = "tiny", weights: str | Path | None = None, fine_tune: bool = False
) -> VideoClassifier:
    """Build model ``name`` (``i3d``, ``inception-v3``, ``cnn-lstm``, ``cnn-rnn``, ``cnn-gru``).

    The model maps ``(B, T, C, H, W)`` pixels in ``[0, 1]`` to logits
    ``(B, num_classes)``. ``weights`` is an optional ``.safetensors`` or
    ``torch.save`` state-dict file (e.g. ``rgb_imagenet.pt`` for I3D,
    torchvision's ImageNet Inception-v3). They must be the whole model for
    ``num_classes`` classes, unless ``fine_tune``: then a head for another class
    count is replaced by a fresh one (see :meth:`VideoClassifier.load_pretrained`).
    """
    _check_spec(name, num_classes, preset)
    if name == "i3d":
        model = I3D(num_classes, preset)
    elif name == "inception-v3":
        model = InceptionV3(num_classes, preset)
    else:
        model = RecurrentClassifier(name, num_classes, preset)
    if weights is not None:
        model.load_pretrained(load_weights_file(weights), fine_tune=fine_tune)
    return model


def _check_spec(name, num_classes, preset) -> None:
    if not isinstance(name, str) or name not in MODELS:
        raise InvalidArgumentError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    if not isinstance(preset, str) or preset not in PRESETS:
        raise InvalidArgumentError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise InvalidArgumentError(f"num_classes must be an integer >= 2, got {num_classes!r}")


@functools.lru_cache(maxsize=64)
def _layout(name: str, num_classes: int, preset: str) -> tuple[dict[str, tuple[int, ...]], str]:
    with torch.device("meta"):  # shapes only: nothing is allocated
        model = create_model(name, num_classes, preset)
    return shapes_of(model.state_dict()), model.head_prefix


def expected_shapes(name: str, num_classes: int, preset: str) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor of model ``name`` for ``num_classes`` classes, without allocating it."""
    _check_spec(name, num_classes, preset)
    return dict(_layout(name, num_classes, preset)[0])


def identify(shapes: dict[str, tuple]) -> str | None:
    """Which deepsava model a state dict of these tensor shapes is, e.g. ``"cnn-lstm (tiny preset, 12 classes)"``.

    The class count is read from the head's shape; None when the shapes are no whole model.
    """
    shapes = {k: tuple(v) for k, v in shapes.items()}
    for name in MODELS:
        for preset in PRESETS:
            layout, head = _layout(name, 2, preset)
            heads = [v for k, v in shapes.items() if k.startswith(head)]
            if not heads or shapes.keys() != layout.keys() or heads[0][0] < 2:
                continue
            if all(shapes[k] == v for k, v in layout.items() if not k.startswith(head)):
                return f"{name} ({preset} preset, {heads[0][0]} classes)"
    return None
