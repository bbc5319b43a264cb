"""How a torchvision video classifier is wrapped: ``torchvision:NAME`` for every model of ``torchvision.models.video``.

The architecture comes from torchvision's builder with ``weights=None`` (nothing is
downloaded); the user's weights are the state-dict ``.pth`` files torchvision
publishes (e.g. ``r2plus1d_18-91a641e6.pth``), loaded by ``create_model``. What
the weights expect is read, offline, from the model's default ``Weights`` entry:
its ``transforms()`` (a ``VideoClassification`` preset) gives the resize, centre
crop, mean and std, its ``meta`` the Kinetics-400 class names and the shortest
clip (``min_temporal_size``).
"""

import torchvision
from torch import nn
from torchvision.models import get_model, get_model_weights
from torchvision.models.video import MViT

from deepsava.errors import InvalidArgumentError
from deepsava.models.base import WrappedNetwork
from deepsava.models.preprocess import Preprocess

ARCHITECTURES = tuple(torchvision.models.list_models(module=torchvision.models.video))


def head_prefix(net: nn.Module) -> str:
    """The state-dict prefix of a torchvision classifier's last layer, e.g. ``fc.``, ``classifier.1.``, ``head.``."""
    last = next(reversed(dict(net.named_parameters())))
    return last.rsplit(".", 1)[0] + "."


def preprocessing(arch: str) -> Preprocess:
    """What ``get_model_weights(arch).DEFAULT.transforms()`` does, as a differentiable module.

    ``VideoClassification.forward`` resizes with ``antialias=False`` (hard-coded there,
    unlike the default of ``torchvision.transforms.functional.resize``), then centre-crops
    (torchvision's rounding), normalises and reorders to ``(B, C, T, H, W)``.
    """
    preset = get_model_weights(arch).DEFAULT.transforms()
    size = preset.resize_size
    return Preprocess(resize=size[0] if len(size) == 1 else tuple(size), mode=preset.interpolation.value,
                      antialias=False, crop=tuple(preset.crop_size), crop_rounding="round",
                      mean=preset.mean, std=preset.std, layout="BCTHW")


class TorchvisionVideo(WrappedNetwork):
    """A ``torchvision.models.video`` network: pixels ``(B, T, C, H, W)`` in ``[0, 1]`` -> logits ``(B, K)``.

    ``net`` is torchvision's model (its keys, under ``net.``); ``transform`` its weights'
    preprocessing. ``num_classes`` defaults to the weights' (400), and ``classes`` are
    their Kinetics-400 names when K is that count. ``num_frames``
    is 16 for MViT (its positional layout is built for exactly ``temporal_size`` frames);
    other models take any clip of at least ``min_frames`` (the weights' ``min_temporal_size``).
    """

    def __init__(self, arch: str, num_classes: int | None = None):
        if arch not in ARCHITECTURES:
            raise InvalidArgumentError(
                f"unknown torchvision video model {arch!r}: choose one of {', '.join(ARCHITECTURES)}")
        meta = get_model_weights(arch).DEFAULT.meta
        categories = list(meta["categories"])
        num_classes = len(categories) if num_classes is None else num_classes
        net = get_model(arch, weights=None, num_classes=num_classes)
        shortest = meta.get("min_temporal_size", 1)
        super().__init__(f"torchvision:{arch}", None, num_classes,
                         classes=categories if num_classes == len(categories) else None,
                         num_frames=shortest if isinstance(net, MViT) else None, min_frames=shortest)
        self.net = net
        self.head_prefix = "net." + head_prefix(net)
        self.transform = preprocessing(arch)

    def classify(self, videos):
        return self.net(self.transform(videos))
