"""Compression survival (paper Section 4.2.3): does an adversarial video stay adversarial through H.264?

An experiment whose configuration names ``compression: [CRF, ...]`` writes every
batch's adversarial videos, and their clean originals, to H.264 files at each
CRF (PyAV/libx264, yuv420p, 25 fps), decodes them back and classifies the decoded
frames with the attacked model. ``LOSSLESS`` (rounding to the 8 bits a video
file holds, what a lossless FFV1 file gives back exactly) is always measured too,
as the reference. Per video::

    record["compression"] = {"8bit": {"clean_pred": int, "adv_pred": int}, "18": {...}, ...}

The surviving fooling rate at a CRF counts the videos classified correctly before
the attack and still classified correctly after compressing the clean video (so
that compression alone does not do the fooling), and among them those whose
compressed adversarial video is misclassified. The retention counts, among those,
only the videos the attack fooled before compression: the share of its successes
that survive. Per repeat, averaged over repeats.
"""

import math
import tempfile
from pathlib import Path

import torch

from deepsava.errors import InvalidVideoError
from deepsava.io import quantize, read_frames, write_video
from deepsava.metrics import nan_mean

LOSSLESS = "8bit"
FPS = 25


def h264_round_trip(videos: torch.Tensor, crf: int, folder: str | Path) -> torch.Tensor:
    """Videos (B, T, C, H, W) in [0, 1] encoded to H.264 at ``crf`` and decoded back -> (B, T, C, H, W).

    Raises InvalidVideoError if a decoded video does not have the input's frame count and size.
    Grey videos (C = 1) are encoded as grey RGB and come back as the mean of the decoded channels.
    """
    decoded = []
    for i, clip in enumerate(videos.detach().cpu()):
        path = write_video(Path(folder) / f"video-{i}-crf{crf}.mp4", clip, fps=FPS, codec="h264", crf=crf)
        frames = read_frames(path)
        path.unlink()
        if frames.shape[0] != clip.shape[0] or frames.shape[-2:] != clip.shape[-2:]:
            raise InvalidVideoError(f"H.264 round trip at CRF {crf} gave {tuple(frames.shape)} for a clip"
                                    f" {tuple(clip.shape)}: frames were dropped or resized")
        decoded.append(frames.mean(dim=1, keepdim=True) if clip.shape[1] == 1 else frames)
    return torch.stack(decoded).to(videos.device)


@torch.no_grad()
def compression_predictions(model, videos: torch.Tensor, adversarial: torch.Tensor, crfs: list[int]) -> list[dict]:
    """The model's predictions on clean and adversarial videos after each compression -> one dict per video."""
    per_video = [{} for _ in range(videos.shape[0])]
    device = next(model.parameters()).device
    with tempfile.TemporaryDirectory(prefix="deepsava-h264-") as folder:
        for setting in [LOSSLESS, *crfs]:
            for kind, batch in (("clean_pred", videos), ("adv_pred", adversarial)):
                batch = batch.to(device)
                squeezed = quantize(batch) if setting == LOSSLESS else h264_round_trip(batch, setting, folder)
                for i, pred in enumerate(model(squeezed).argmax(dim=1).tolist()):
                    per_video[i].setdefault(str(setting), {})[kind] = pred
    return per_video


def surviving_rate(records: list[dict], setting: str) -> dict:
    """Surviving FR and retention of one cell's records at a setting (``"8bit"`` or a CRF as text).

    Rates are per repeat, averaged over repeats; counts are summed over repeats. Returns:

    - ``fooling_rate``: share of ``n`` (videos correct before the attack whose compressed clean video is
      still correct) whose compressed adversarial video is misclassified, ``fooled`` of them;
    - ``retention``: the same share among the ``successes`` of ``n`` (videos the attack fooled before
      compression), ``retained`` of them: P(still fooled after compression | fooled before, compressed
      clean still correct), the survival the paper's claim is about;
    - ``clean_lost``: share of the ``attacked`` videos misclassified once the clean video alone is compressed.
    """
    rates, retention = [], []
    totals = dict.fromkeys(("attacked", "n", "fooled", "successes", "retained"), 0)
    for repeat in sorted({r.get("repeat", 0) for r in records}):
        mine = [r for r in records if r.get("repeat", 0) == repeat and r["clean_correct"]]
        kept = [r for r in mine if r["compression"][setting]["clean_pred"] == r["label"]]
        fooled = [r for r in kept if r["compression"][setting]["adv_pred"] != r["label"]]
        wins = [r for r in kept if r["success"]]
        retained = [r for r in wins if r["compression"][setting]["adv_pred"] != r["label"]]
        for key, group in (("attacked", mine), ("n", kept), ("fooled", fooled), ("successes", wins),
                           ("retained", retained)):
            totals[key] += len(group)
        if kept:
            rates.append(len(fooled) / len(kept))
        if wins:
            retention.append(len(retained) / len(wins))
    lost = totals["attacked"] - totals["n"]
    return {"fooling_rate": nan_mean(rates), "retention": nan_mean(retention), **totals,
            "clean_lost": lost / totals["attacked"] if totals["attacked"] else math.nan}
