"""The contract every classifier keeps: pixels ``(B, T, C, H, W)`` in ``[0, 1]`` in, logits ``(B, K)`` out."""

import logging
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from deepsava.errors import InvalidCheckpointError, InvalidVideoError
from deepsava.models.weights import match_state_dict
from deepsava.video import check_videos

# Architecture sizes of our models: ``tiny`` resizes frames to 32x32 inside (trains on a CPU in minutes);
# ``small`` has tiny's widths but reads the native 64x64 frames, downsampling by a learnt stride-2 stem and a
# max-pool as the full models do; ``paper`` is the full-size architecture of the paper.
PRESETS = ("tiny", "small", "paper")
LOG = logging.getLogger("deepsava")


class VideoClassifier(nn.Module):
    """Base of every model: validates the input, then calls ``classify``.

    Subclasses set ``head_prefix`` (the parameters that depend on the class
    count) and implement ``classify(videos (B, T, 3, H, W)) -> (B, K)``; they
    normalise and resize inside, so callers only ever handle pixels.

    Every model has ``name`` (also its ``spec``: what ``create_model`` rebuilds
    it from, with ``num_classes``, ``preset`` and ``input_options``),
    ``num_classes``, ``classes`` (class names, or None when unknown),
    ``num_frames`` (the exact clip length it needs, or None: any length of at
    least ``min_frames``) and ``input_options`` (JSON-serialisable; empty but
    for a user's module). ``preset`` is None for models deepsava does not define.
    """

    head_prefix = ""

    def __init__(self, name: str, preset: str | None, num_classes: int | None, classes: list[str] | None = None,
                 num_frames: int | None = None, min_frames: int = 1, input_options: dict | None = None):
        super().__init__()
        self.name = name
        self.preset = preset
        self.num_classes = num_classes
        self.classes = classes
        self.num_frames = num_frames
        self.min_frames = min_frames
        self.input_options = input_options or {}

    @property
    def spec(self) -> str:
        """The model spec that rebuilds this model: ``i3d``, ``torchvision:r3d_18``, ``hf:/abs/folder`` ..."""
        return self.name

    def forward(self, videos: torch.Tensor) -> torch.Tensor:
        """Validate ``videos (B, T, C, H, W)`` in ``[0, 1]`` (C = 1 or 3) and return logits ``(B, K)``.

        Videos of another float dtype than the weights (e.g. float64) are converted to it. Raises
        InvalidVideoError when the clip length is not one the model takes (``num_frames``, ``min_frames``).
        """
        check_videos(videos)
        frames = videos.shape[1]
        if self.num_frames is not None and frames != self.num_frames:
            raise InvalidVideoError(f"{self.name} needs {self.num_frames} frames, got {frames}")
        if frames < self.min_frames:
            raise InvalidVideoError(f"{self.name} needs at least {self.min_frames} frames, got {frames}")
        weight = next(self.parameters(), None)
        if weight is not None and videos.dtype != weight.dtype:
            videos = videos.to(weight.dtype)
        if videos.shape[2] == 1:
            videos = videos.expand(-1, -1, 3, -1, -1)
        return self.classify(videos)

    def classify(self, videos: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def translate_state_dict(self, state: dict) -> tuple[dict, tuple[str, ...]]:
        """Rename a foreign state dict to this model's names.

        Returns the renamed dict and the key prefixes allowed to stay freshly
        initialised. The default expects this model's own names.
        """
        return state, ()

    def load_pretrained(self, state: dict, fine_tune: bool = False,
                        describe: Callable[[dict], str | None] | None = None) -> None:
        """Load weights; with ``fine_tune``, parts they lack or fit to another class count start fresh.

        Without ``fine_tune`` (the model is used as it is: attacked, evaluated) the weights
        must be the whole model for this class count. With it (they start a training run)
        a head for another class count is replaced by a fresh one, and weights of the frame
        CNN alone leave the rest fresh; a log line says so. Raises InvalidCheckpointError
        naming the class counts, or summarising missing, unexpected and mismatched keys (and,
        through ``describe(shapes)``, which model the weights are when it can tell).
        """
        state, fresh = self.translate_state_dict(state)
        own = self.state_dict()
        head = [k for k in state if self.head_prefix and k.startswith(self.head_prefix)]
        found, whole = None, state  # found: the weights' class count, when it is not the model's
        if any(k in own and own[k].shape != state[k].shape for k in head):
            found = state[head[0]].shape[0]
            state = {k: v for k, v in state.items() if k not in head}
            fresh = fresh + (self.head_prefix,)
        match_state_dict(self, state, allow_missing=fresh, whole=whole, describe=describe)  # all but the head fits
        if found is not None and not fine_tune:
            raise class_count_error(self.name, found, self.num_classes)
        lacking = [p for p in dict.fromkeys(fresh) if any(k.startswith(p) and k not in state for k in own)]
        if lacking and not fine_tune:
            raise InvalidCheckpointError(
                f"the weights hold only part of a {self.name} ({', '.join(lacking)} missing): fine-tune them first"
                " (deepsava train --weights)")
        if lacking:
            why = "" if found is None else f" (the weights' head is for {found} classes, this model's for {self.num_classes})"
            LOG.info("%s: %s freshly initialised for fine-tuning%s", self.name, ", ".join(lacking), why)
        self.load_state_dict(state, strict=False)


def class_count_error(name: str, found: int, num_classes: int) -> InvalidCheckpointError:
    """The refusal of weights for ``found`` classes in model ``name`` built for ``num_classes``, without fine-tuning."""
    return InvalidCheckpointError(
        f"the weights are a {name} for {found} classes, not {num_classes}: give the class count"
        " they were trained for, or fine-tune them to this one (deepsava train/defend --weights)")


class WrappedNetwork(VideoClassifier):
    """Base of the wrappers of networks deepsava does not define (torchvision, Hugging Face, a user's module).

    Subclasses hold the network as ``net`` (so its state-dict keys appear under ``net.``)
    and its preprocessing as ``transform``; weights load from the network's own files
    (keys without ``net.``) as well as from deepsava checkpoints of the wrapper.
    """

    def translate_state_dict(self, state: dict) -> tuple[dict, tuple[str, ...]]:
        own = self.state_dict()
        if any(k in own for k in state):  # already this wrapper's keys
            return state, ()
        return {f"net.{k}": v for k, v in state.items()}, ()


def resize_frames(frames: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinearly resize ``frames (N, C, H, W)`` to ``(N, C, size, size)``; no-op when already that size."""
    if frames.shape[-2:] == (size, size):
        return frames
    return F.interpolate(frames, size=(size, size), mode="bilinear", align_corners=False)
