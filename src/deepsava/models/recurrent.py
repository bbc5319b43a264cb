"""CNN + recurrent models: Inception-v3 features per frame -> LSTM / GRU / vanilla RNN -> logits.

Choice: the head of Wei et al. (2019), the Sparse baseline the paper compares
against: a 512-unit recurrent layer (``paper``; 64 for ``tiny``) over the
frame features, a linear classifier at every step, logits averaged over time.
An early frame reaches every later step's output, so it weighs most in the
average, in line with the paper's finding that BO picks front frames more
often for CNN+LSTM. The authors' Keras head (LSTM(2048) + dense 512) is not
followed. Frame features: ``paper`` 2048-d globally pooled Inception-v3;
``tiny`` and ``small`` keep a 4x4 layout (see ``TinyInception``).
"""

import torch
from torch import nn

from deepsava.models.base import VideoClassifier
from deepsava.models.inception import FrameCNN, is_torchvision_inception, torchvision_to_frame_cnn

CELLS = {"cnn-lstm": nn.LSTM, "cnn-gru": nn.GRU, "cnn-rnn": nn.RNN}
HIDDEN = {"paper": 512, "tiny": 64, "small": 64}


class RecurrentClassifier(VideoClassifier):
    """``(B, T, 3, H, W)`` -> frame features ``(B, T, D)`` -> recurrent states ``(B, T, h)`` -> logits ``(B, K)``."""

    head_prefix = "classifier."

    def __init__(self, name: str, num_classes: int, preset: str = "tiny"):
        super().__init__(name, preset, num_classes)
        self.cnn = FrameCNN(preset)
        self.rnn = CELLS[name](self.cnn.out_features, HIDDEN[preset], batch_first=True)
        self.classifier = nn.Linear(HIDDEN[preset], num_classes)

    def classify(self, videos: torch.Tensor) -> torch.Tensor:
        b, t = videos.shape[:2]
        features = self.cnn(videos.flatten(0, 1)).view(b, t, -1)
        states, _ = self.rnn(features)
        return self.classifier(states).mean(1)

    def translate_state_dict(self, state: dict) -> tuple[dict, tuple[str, ...]]:
        """Accept this model's own keys, or frame-CNN weights only (torchvision's ImageNet
        Inception-v3 file or a deepsava ``inception-v3`` checkpoint), leaving the recurrent
        layer and classifier fresh."""
        if is_torchvision_inception(state):
            return torchvision_to_frame_cnn(state), ("rnn.", "classifier.")
        has = {prefix: any(k.startswith(prefix) for k in state) for prefix in ("cnn.", "rnn.")}
        if has["cnn."] and not has["rnn."]:
            return {k: v for k, v in state.items() if k.startswith("cnn.")}, ("rnn.", "classifier.")
        return state, ()
