"""What a run writes beside its store: the perturbations of example videos, and adversarial videos as files."""

import os
import re
from pathlib import Path

import numpy as np
import torch

from deepsava.io import quantize, write_video

PREVIEW_CRF = 18  # H.264 quality of the mp4 previews of saved adversarial videos (visually lossless)
PREVIEW_HEIGHT = 256  # previews of smaller frames are enlarged to about this height


def save_example(out: Path, key: str, position: int, record: dict, clean: torch.Tensor, adv: torch.Tensor,
                  flow: torch.Tensor | None) -> None:
    """Perturbed frames' change (float16) of one video, for reports: <out>/examples/<cell key>/<position>.npz.

    ``flow`` (k, 2, H, W), in pixels, is saved too when the attack has one (the report draws it).
    """
    frames = record["frames"]
    delta = (adv[frames] - clean[frames]).numpy().astype(np.float16)
    extra = {} if flow is None else {"flow": flow.numpy().astype(np.float16)}
    folder = out / "examples" / key
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{position:04d}.npz"
    tmp = folder / f".{position:04d}.tmp.npz"
    np.savez_compressed(tmp, video_id=record["video_id"], frames=np.array(frames), delta=delta,
                        label=record["label"], clean_pred=record["clean_pred"], adv_pred=record["adv_pred"], **extra)
    os.replace(tmp, target)


def video_stem(video_id: str, is_file: bool) -> str:
    """A file name for a video's outputs: the file's stem, or a dataset id's last two parts ("move-left_0007")."""
    parts = [p for p in re.split(r"[\\/]+", video_id) if p not in ("", ".", "..")]  # never a folder outside
    if is_file and parts:
        parts = [parts[-1].rsplit(".", 1)[0]]
    text = "_".join(parts[-2:])
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "video"


def save_video(folder: Path, stem: str, clip: torch.Tensor) -> None:
    """``folder/<stem>.mkv`` (lossless FFV1, 8-bit: the attack's output) and ``<stem>.mp4`` (H.264 preview, browsers play it).

    Each is written under a temporary name and renamed, so a kill never leaves half a file.
    """
    folder.mkdir(parents=True, exist_ok=True)
    frames = quantize(clip.detach().float().cpu())
    scale = max(1, PREVIEW_HEIGHT // frames.shape[-2])  # small frames enlarged (nearest neighbour) to be seen
    preview = frames.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1)
    preview = torch.nn.functional.pad(preview, (0, preview.shape[-1] % 2, 0, preview.shape[-2] % 2), mode="replicate")
    for suffix, codec, clip_ in ((".mkv", "ffv1", frames), (".mp4", "h264", preview)):
        tmp = folder / f".{stem}.tmp{suffix}"
        write_video(tmp, clip_, codec=codec, crf=PREVIEW_CRF)
        os.replace(tmp, folder / f"{stem}{suffix}")
