"""``create_model``: one entry point from a model name to a ready classifier."""

from pathlib import Path

from deepsava.errors import InvalidArgumentError
from deepsava.models.base import PRESETS, VideoClassifier
from deepsava.models.i3d import I3D
from deepsava.models.inception import InceptionV3
from deepsava.models.recurrent import CELLS, RecurrentClassifier
from deepsava.models.weights import load_weights_file

MODELS = ("i3d", "inception-v3", *CELLS)


def create_model(
    name: str, num_classes: int, preset: str = "tiny", weights: str | Path | None = None
) -> VideoClassifier:
    """Build model ``name`` (``i3d``, ``inception-v3``, ``cnn-lstm``, ``cnn-rnn``, ``cnn-gru``).

    The model maps ``(B, T, C, H, W)`` pixels in ``[0, 1]`` to logits
    ``(B, num_classes)``. ``weights`` is an optional ``.safetensors`` or
    ``torch.save`` state-dict file (e.g. ``rgb_imagenet.pt`` for I3D,
    torchvision's ImageNet Inception-v3); a head with another class count is
    replaced by a fresh one.
    """
    if name not in MODELS:
        raise InvalidArgumentError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    if preset not in PRESETS:
        raise InvalidArgumentError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise InvalidArgumentError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    if name == "i3d":
        model = I3D(num_classes, preset)
    elif name == "inception-v3":
        model = InceptionV3(num_classes, preset)
    else:
        model = RecurrentClassifier(name, num_classes, preset)
    if weights is not None:
        model.load_pretrained(load_weights_file(weights))
    return model
