"""Compression survival: the H.264 round trip keeps frame count and size, and the FR is recomputed from its frames."""

import torch

from deepsava.studies.compression import LOSSLESS, compression_predictions, h264_round_trip, surviving_rate

SIZE = 32


def checkerboard(size: int) -> torch.Tensor:
    """A one-pixel ±1 checkerboard (size, size): the finest pattern a frame can hold, which H.264 removes."""
    return ((torch.arange(size)[:, None] + torch.arange(size)[None]) % 2).float() * 2 - 1


CHECKERBOARD = checkerboard(SIZE)


def smooth_videos(batch=2, frames=6, channels=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(batch * frames, channels, 4, 4, generator=g) * 0.6 + 0.2
    videos = torch.nn.functional.interpolate(coarse, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    return videos.view(batch, frames, channels, SIZE, SIZE)


class CheckerboardDetector(torch.nn.Module):
    """Class 1 when the video correlates with a one-pixel checkerboard (a fine pattern H.264 removes), else class 0."""

    name = "checkerboard-detector"
    num_classes = 2

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(()))  # gives the model a device

    def forward(self, videos):
        score = (videos * checkerboard(videos.shape[-1]).to(videos.device)).mean(dim=(1, 2, 3, 4))
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


def test_runner_recomputes_fr_after_h264_and_early_stop_false_pushes_past_the_boundary(tmp_path, monkeypatch):
    """An experiment over the checkerboard detector: the attack's fine pattern fools it (float FR 100%) and H.264 at
    CRF 28 removes it from videos stopped at their first success (surviving FR 0%), not from videos attacked for
    all steps (``early_stop: false``), which sit further across the boundary."""
    import yaml

    import deepsava.experiment.models as models
    from deepsava.experiment.runner import run_experiment
    from deepsava.experiment.store import ResultStore

    monkeypatch.setenv("DEEPSAVA_CACHE", str(tmp_path / "cache"))
    (tmp_path / "detector.safetensors").write_bytes(b"stands for the detector")  # hashed into the cell key
    (tmp_path / "detector.json").write_text("{}")
    meta = {"model": "checkerboard-detector", "preset": "test", "classes": ["move-left", "move-right"]}
    monkeypatch.setattr(models, "load_checkpoint", lambda stem, device=None: (CheckerboardDetector(), meta))
    monkeypatch.setattr(models, "inspect_checkpoint", lambda stem: {**meta, "num_classes": 2})
    config = {
        "name": "compression", "videos": 6, "batch_size": 6, "examples": 0, "compression": [28],
        "dataset": {"name": "synth-actions", "frames": 4, "size": 64,
                    "options": {"num_classes": 2, "videos_per_class": 10, "progress": False}},
        "models": {"detector": {"checkpoint": str(tmp_path / "detector")}},
        "cells": [{"label": "D", "attack": {"method": "deepsava", "mode": "additive", "selector": "first", "frames": 1,
                                            "early_stop": [True, False]}}],
    }
    path = tmp_path / "compression.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    outcome = run_experiment(path, out=tmp_path / "run", device="cpu", progress=False)
    with ResultStore(outcome.store_path) as store:
        cells = {row["attack"]["early_stop"]: (row, store.records(row["cell_key"])) for row in outcome.summary}
    for early_stop, (row, records) in cells.items():
        assert row["attacked"] == 3 and row["fooling_rate"] == 1.0  # the detector calls the label-0 videos 0
        assert all(r["iterations"] == 100 for r in records if r["clean_correct"]) != early_stop
        crf = surviving_rate(records, "28")
        assert crf["n"] == 3 and crf["clean_lost"] == 0.0  # compression alone changes no clean prediction
        assert crf["fooling_rate"] == crf["retention"] == (0.0 if early_stop else 1.0)


def test_early_stop_must_be_a_boolean():
    import pytest

    from deepsava.attacks import Sparse
    from deepsava.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="early_stop must be true or false"):
        Sparse(CheckerboardDetector(), early_stop=1)
    assert Sparse(CheckerboardDetector(), early_stop=False).params()["early_stop"] is False
    assert "early_stop" not in Sparse(CheckerboardDetector()).params()  # absent by default: earlier cell keys hold
