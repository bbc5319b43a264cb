"""The dataset contract every deepsava dataset fulfils."""

import numpy as np
import torch
from torch.utils.data import Dataset


class VideoDataset(Dataset):
    """Items are ``(clip float32 (T, C, H, W) in [0, 1], label int)``.

    ``classes[label]`` names a label; ``video_ids[i]`` is a stable id of item ``i``
    (unique within one dataset configuration); ``labels[i]`` is its label.
    """

    def __init__(self, classes: list[str], video_ids: list[str], labels: list[int]):
        self.classes = list(classes)
        self.video_ids = list(video_ids)
        self.labels = [int(label) for label in labels]

    def __len__(self) -> int:
        return len(self.video_ids)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} videos, {len(self.classes)} classes)"


class ArrayVideoDataset(VideoDataset):
    """Clips held as uint8 ``(N, T, C, H, W)`` (in memory or memory-mapped); ``rows`` picks the items.

    ``source`` is the file the array is read from, if any.
    """

    def __init__(self, videos: np.ndarray, rows, classes, video_ids, labels, source=None):
        super().__init__(classes, video_ids, labels)
        self.videos = videos
        self.source = source
        self.rows = [int(r) for r in rows]

    def __getitem__(self, i: int):
        clip = torch.from_numpy(np.array(self.videos[self.rows[i]])).float().div_(255)
        return clip, self.labels[i]
