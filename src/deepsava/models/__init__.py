"""Video classifiers: pixels ``(B, T, C, H, W)`` in ``[0, 1]`` in, logits ``(B, K)`` out."""

from deepsava.models.base import VideoClassifier
from deepsava.models.checkpoint import load_checkpoint, load_shipped, save_checkpoint, shipped_checkpoint
from deepsava.models.registry import MODELS, create_model
from deepsava.models.weights import load_weights_file

__all__ = [
    "MODELS",
    "VideoClassifier",
    "create_model",
    "load_checkpoint",
    "load_shipped",
    "load_weights_file",
    "save_checkpoint",
    "shipped_checkpoint",
]
