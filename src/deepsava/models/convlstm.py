"""A ConvLSTM next-frame predictor (paper Appendix C: a CNN encoder, an LSTM over time, a CNN decoder).

``NextFramePredictor`` maps frames ``(B, T, C, H, W)`` in ``[0, 1]`` to predictions
``(B, T, C, H, W)`` in ``[0, 1]``: output ``t`` is the predicted frame ``t + 1``
given frames ``0..t`` (it is causal: a frame reaches only its own and later
predictions). The recurrent layer is a convolutional LSTM (Shi et al., 2015), so
the state keeps a spatial layout: a strided CNN encodes each 64×64 frame to a
16×16 map, the ConvLSTM runs over those maps, a transposed CNN decodes each
state to the next frame.

Checkpoints follow the classifiers' layout, ``<stem>.safetensors`` + ``<stem>.json``
(metadata: ``model: convlstm``, ``channels``, ``hidden``, the data and the
training command); they are read with safetensors only.
"""

from pathlib import Path

import torch
from torch import nn

from deepsava.errors import InvalidCheckpointError, InvalidVideoError
from deepsava.models.checkpoint import read_metadata, write_checkpoint
from deepsava.models.weights import load_weights_file, match_state_dict
from deepsava.video import check_videos

SHIPPED_PREDICTOR = Path(__file__).resolve().parent.parent / "checkpoints" / "predictors" / "convlstm-moving-digits"


class ConvLSTMCell(nn.Module):
    """One ConvLSTM step: the four gates are one convolution over [input, hidden] (B, in + h, H, W) -> (B, 4h, H, W)."""

    def __init__(self, in_channels: int, hidden: int, kernel: int = 3):
        super().__init__()
        self.hidden = hidden
        self.gates = nn.Conv2d(in_channels + hidden, 4 * hidden, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, in, H, W), state (h, c) each (B, hidden, H, W) -> new (h, c)."""
        h, c = state
        i, f, o, g = self.gates(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class NextFramePredictor(nn.Module):
    """Frames (B, T, C, H, W) in [0, 1] -> predicted next frames (B, T, C, H, W) in [0, 1]; H and W divisible by 4."""

    name = "convlstm"

    def __init__(self, channels: int = 1, hidden: int = 32):
        super().__init__()
        self.channels = channels
        self.hidden = hidden
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, 16, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(16, hidden, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
        )  # fmt: skip
        self.cell = ConvLSTMCell(hidden, hidden)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(hidden, 16, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(16, channels, 4, stride=2, padding=1),
        )  # fmt: skip

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        check_videos(frames, "frames")
        b, t, c, h, w = frames.shape
        if c != self.channels or h % 4 or w % 4:
            raise InvalidVideoError(
                f"this predictor takes {self.channels}-channel frames with sides divisible by 4, got {tuple(frames.shape)}")
        codes = self.encoder(frames.flatten(0, 1)).view(b, t, self.hidden, h // 4, w // 4)
        state = (torch.zeros_like(codes[:, 0]), torch.zeros_like(codes[:, 0]))
        outputs = []
        for step in range(t):
            state = self.cell(codes[:, step], state)
            outputs.append(state[0])
        predicted = self.decoder(torch.stack(outputs, 1).flatten(0, 1))
        return torch.sigmoid(predicted).view(b, t, c, h, w)


def save_predictor(model: NextFramePredictor, path: str | Path, metadata: dict) -> Path:
    """Write ``<path>.safetensors`` and ``<path>.json`` (each under a temporary name, then renamed); return the stem."""
    meta = {**metadata, "model": model.name, "channels": model.channels, "hidden": model.hidden}
    return write_checkpoint(model, path, meta)


def load_predictor(path: str | Path | None = None, device: str | torch.device = "cpu") -> tuple[NextFramePredictor, dict]:
    """A predictor checkpoint (default: the shipped one, trained on moving-digits) -> (model in eval mode, metadata)."""
    stem = Path(path) if path is not None else SHIPPED_PREDICTOR
    stem = stem.with_suffix("") if stem.suffix in (".safetensors", ".json") else stem
    meta = read_metadata(stem, required=("model", "channels", "hidden"))
    if meta["model"] != NextFramePredictor.name:
        raise InvalidCheckpointError(f"{stem}.json describes a {meta['model']!r} model, not a convlstm predictor")
    model = NextFramePredictor(meta["channels"], meta["hidden"])
    state = load_weights_file(stem.parent / (stem.name + ".safetensors"))
    match_state_dict(model, state)
    model.load_state_dict(state)
    return model.to(device).eval(), meta
