"""One video file as a dataset of one item, so a single attacked video is a run like any other."""

from pathlib import Path

import torch

from deepsava.data.base import VideoDataset
from deepsava.errors import InvalidArgumentError
from deepsava.io import load_video


class OneVideo(VideoDataset):
    """The clip ``(T, C, H, W)`` decoded from ``path``; its label -1 (unknown) until a model's clean prediction sets it.

    ``label_source`` says where the label came from: ``"given"`` or ``"clean prediction"``.
    """

    UNKNOWN = -1

    def __init__(self, path: Path, clip: torch.Tensor, label: int | None, classes: list[str] | None):
        super().__init__(classes or [], [str(path)], [self.UNKNOWN if label is None else label])
        self.path = path
        self.clip = clip
        self.label_source = "given" if label is not None else "clean prediction"

    def __getitem__(self, i: int):
        if i != 0:
            raise IndexError(i)
        return self.clip, self.labels[0]

    def __len__(self) -> int:
        return 1

    def set_prediction(self, label: int, classes: list[str]) -> None:
        """Use a model's clean prediction as the label (no label was given) and its class names."""
        self.labels = [int(label)]
        self.classes = list(classes)


def video_file(split: str, frames: int, size: int, seed: int, root: str | Path, label: int | None = None,
               classes: list[str] | None = None, sampling: str = "stride", short: str = "loop") -> OneVideo:
    """The video file ``root`` sampled to ``frames`` frames of ``size``; ``split`` is ignored (there is one video).

    ``seed`` fixes the offsets of ``sampling="random"``. Raises InvalidVideoError when the file cannot be decoded.
    """
    if root is None:
        raise InvalidArgumentError("the video dataset needs the file: root=PATH")
    if label is not None and (isinstance(label, bool) or not isinstance(label, int) or label < 0):
        raise InvalidArgumentError(f"label must be a non-negative class index, got {label!r}")
    if classes is not None and label is not None and label >= len(classes):
        raise InvalidArgumentError(f"label {label} does not exist: there are {len(classes)} classes")
    path = Path(root).expanduser().resolve()
    clip = load_video(path, frames=frames, size=size, sampling=sampling, short=short, seed=seed)
    return OneVideo(path, clip, label, classes)
