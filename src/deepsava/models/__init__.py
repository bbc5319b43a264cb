"""Video classifiers: pixels ``(B, T, C, H, W)`` in ``[0, 1]`` in, logits ``(B, K)`` out.

Ours (``i3d``, ``inception-v3``, ``cnn-lstm`` ...) and foreign ones (``torchvision:NAME``,
``hf:FOLDER``, ``python:MODULE:FACTORY``) alike, named by a spec: see ``MODEL_FAMILIES``.
"""

from deepsava.models.base import VideoClassifier
from deepsava.models.checkpoint import load_checkpoint, load_shipped, save_checkpoint, shipped_checkpoint
from deepsava.models.registry import (MODEL_FAMILIES, MODELS, ModelFamily, create_model, model_family, model_spec_help,
                                      needed_frames)
from deepsava.models.weights import load_weights_file

__all__ = [
    "MODELS",
    "MODEL_FAMILIES",
    "ModelFamily",
    "VideoClassifier",
    "create_model",
    "load_checkpoint",
    "load_shipped",
    "load_weights_file",
    "model_family",
    "model_spec_help",
    "needed_frames",
    "save_checkpoint",
    "shipped_checkpoint",
]
