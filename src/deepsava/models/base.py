"""The contract every classifier keeps: pixels ``(B, T, C, H, W)`` in ``[0, 1]`` in, logits ``(B, K)`` out."""

import logging

import torch
import torch.nn.functional as F
from torch import nn

from deepsava.errors import InvalidCheckpointError
from deepsava.models.weights import match_state_dict
from deepsava.video import check_videos

PRESETS = ("tiny", "paper")
LOG = logging.getLogger("deepsava")


class VideoClassifier(nn.Module):
    """Base of every model: validates the input, then calls ``classify``.

    Subclasses set ``head_prefix`` (the parameters that depend on the class
    count) and implement ``classify(videos (B, T, 3, H, W)) -> (B, K)``; they
    normalise and resize inside, so callers only ever handle pixels.
    """

    head_prefix = ""

    def __init__(self, name: str, preset: str, num_classes: int):
        super().__init__()
        self.name = name
        self.preset = preset
        self.num_classes = num_classes

    def forward(self, videos: torch.Tensor) -> torch.Tensor:
        """Validate ``videos (B, T, C, H, W)`` in ``[0, 1]`` (C = 1 or 3) and return logits ``(B, K)``.

        Videos of another float dtype than the weights (e.g. float64) are converted to it.
        """
        check_videos(videos)
        weight = next(self.parameters())
        if videos.dtype != weight.dtype:
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

    def load_pretrained(self, state: dict, fine_tune: bool = False) -> None:
        """Load weights; with ``fine_tune``, parts they lack or fit to another class count start fresh.

        Without ``fine_tune`` (the model is used as it is: attacked, evaluated) the weights
        must be the whole model for this class count. With it (they start a training run)
        a head for another class count is replaced by a fresh one, and weights of the frame
        CNN alone leave the rest fresh; a log line says so. Raises InvalidCheckpointError
        naming the class counts, or summarising missing, unexpected and mismatched keys.
        """
        state, fresh = self.translate_state_dict(state)
        own = self.state_dict()
        head = [k for k in state if k.startswith(self.head_prefix)]
        found, whole = None, state  # found: the weights' class count, when it is not the model's
        if any(k in own and own[k].shape != state[k].shape for k in head):
            found = state[head[0]].shape[0]
            state = {k: v for k, v in state.items() if k not in head}
            fresh = fresh + (self.head_prefix,)
        match_state_dict(self, state, allow_missing=fresh, whole=whole)  # all but the head fits
        if found is not None and not fine_tune:
            raise InvalidCheckpointError(
                f"the weights are a {self.name} for {found} classes, not {self.num_classes}: give the class count"
                " they were trained for, or fine-tune them to this one (deepsava train/defend --weights)")
        lacking = [p for p in dict.fromkeys(fresh) if any(k.startswith(p) and k not in state for k in own)]
        if lacking and not fine_tune:
            raise InvalidCheckpointError(
                f"the weights hold only part of a {self.name} ({', '.join(lacking)} missing): fine-tune them first"
                " (deepsava train --weights)")
        if lacking:
            why = "" if found is None else f" (the weights' head is for {found} classes, this model's for {self.num_classes})"
            LOG.info("%s: %s freshly initialised for fine-tuning%s", self.name, ", ".join(lacking), why)
        self.load_state_dict(state, strict=False)


def resize_frames(frames: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinearly resize ``frames (N, C, H, W)`` to ``(N, C, size, size)``; no-op when already that size."""
    if frames.shape[-2:] == (size, size):
        return frames
    return F.interpolate(frames, size=(size, size), mode="bilinear", align_corners=False)
