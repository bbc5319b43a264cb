"""Compression survival: the H.264 round trip keeps frame count and size, and the FR is recomputed from its frames."""

import torch

from deepsava.evaluate.compression import LOSSLESS, compression_predictions, h264_round_trip, surviving_rate

SIZE = 32
CHECKERBOARD = ((torch.arange(SIZE)[:, None] + torch.arange(SIZE)[None]) % 2).float() * 2 - 1


def smooth_videos(batch=2, frames=6, channels=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(batch * frames, channels, 4, 4, generator=g) * 0.6 + 0.2
    videos = torch.nn.functional.interpolate(coarse, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    return videos.view(batch, frames, channels, SIZE, SIZE)


class CheckerboardDetector(torch.nn.Module):
    """Class 1 when the video correlates with a one-pixel checkerboard (a fine pattern H.264 removes), else class 0."""

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(()))  # gives the model a device

    def forward(self, videos):
        score = (videos * CHECKERBOARD).mean(dim=(1, 2, 3, 4))
        return torch.stack([torch.zeros_like(score), (score - 0.008) * 1000], dim=1)


def test_round_trip_keeps_frame_count_and_size_and_is_lossy(tmp_path):
    for channels in (1, 3):
        videos = smooth_videos(channels=channels)
        decoded = h264_round_trip(videos, 28, tmp_path)
        assert decoded.shape == videos.shape and decoded.dtype == torch.float32
        assert 0 < (decoded - videos).abs().mean() < 0.05  # changed, but the same pictures
    assert not list(tmp_path.iterdir())  # the files are removed


def test_round_trip_is_deterministic(tmp_path):
    videos = smooth_videos(batch=3, frames=8, channels=3, seed=1)
    first = h264_round_trip(videos, 23, tmp_path)
    for _ in range(3):  # x264's SIMD paths gave different bytes from run to run; the study needs the same ones
        assert torch.equal(h264_round_trip(videos, 23, tmp_path), first)


def test_fooling_rate_is_recomputed_from_the_decoded_frames():
    model = CheckerboardDetector().eval()
    clean = smooth_videos(batch=3)
    adversarial = (clean + 4 / 255 * CHECKERBOARD).clamp(0, 1)  # fools the detector, in float and in 8 bits
    with torch.no_grad():
        assert (model(clean).argmax(1) == 0).all() and (model(adversarial).argmax(1) == 1).all()
    seen = compression_predictions(model, clean, adversarial, [18, 28])
    records = [{"label": 0, "clean_correct": True, "success": True, "compression": s} for s in seen]
    assert surviving_rate(records, LOSSLESS)["fooling_rate"] == 1.0
    assert surviving_rate(records, "28")["fooling_rate"] == 0.0  # the pattern did not survive CRF 28
    assert surviving_rate(records, "28")["clean_lost"] == 0.0
    assert all(s["28"]["clean_pred"] == 0 for s in seen)
