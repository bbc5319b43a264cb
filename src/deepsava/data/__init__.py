"""Datasets behind one entry point, :func:`load_dataset`.

Every dataset is a :class:`VideoDataset`: items ``(clip float32 (T, C, H, W) in [0, 1], label)``,
with ``classes``, ``video_ids`` and ``labels``. Generated data and decoded clips are cached
under ``$DEEPSAVA_CACHE`` (default ``~/.cache/deepsava``).
"""

import inspect

from deepsava.data.base import ArrayVideoDataset, VideoDataset
from deepsava.data.folder import VideoFileDataset
from deepsava.data.hmdb51 import hmdb51
from deepsava.data.moving_digits import load_moving_mnist, moving_digits, split_sequence
from deepsava.data.synthetic import synth_actions
from deepsava.data.ucf101 import ucf101
from deepsava.data.video_file import OneVideo, video_file
from deepsava.errors import InvalidArgumentError

DATASETS = {"synth-actions": synth_actions, "moving-digits": moving_digits, "ucf101": ucf101, "hmdb51": hmdb51,
            "video": video_file}
ON_DISK = ("ucf101", "hmdb51", "video")  # the datasets read from a root (folder or file); the others are generated

__all__ = [
    "DATASETS", "ON_DISK", "ArrayVideoDataset", "OneVideo", "VideoDataset", "VideoFileDataset", "hmdb51", "load_dataset",
    "load_moving_mnist", "moving_digits", "split_sequence", "synth_actions", "ucf101", "video_file",
]  # fmt: skip


def load_dataset(
    name: str, split: str = "train", root=None, frames: int | None = None, size: int = 64, seed: int = 0, **options
) -> VideoDataset:
    """The ``split`` (``"train"`` or ``"test"``) of dataset ``name``.

    - ``synth-actions``: generated (no ``root``); options ``num_classes``, ``videos_per_class``, ``extra_test``
      (more test clips, never trained on), ``progress``.
    - ``moving-digits``: generated (options ``sequences``, ``progress``), or with ``root`` the
      standard ``mnist_test_seq.npy``, which is a test set only and keeps its own frames.
    - ``ucf101`` / ``hmdb51``: ``root`` is the video folder; options ``fold`` (1–3),
      ``annotations`` (split-file folder), ``sampling``, ``short``, ``cache``.
    - ``video``: ``root`` is one video file (a dataset of one item); options ``label`` (None: a
      model's clean prediction), ``classes``, ``sampling``, ``short``.

    ``frames`` defaults to 40 (20 for moving-digits). ``seed`` fixes generation, or
    the offsets of ``sampling="random"``. Options a dataset does not take raise
    InvalidArgumentError, as does an unknown name.
    """
    if name not in DATASETS:
        raise InvalidArgumentError(f"unknown dataset {name!r}: known datasets are {', '.join(DATASETS)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise InvalidArgumentError(f"seed must be an integer in [0, 2**32 - 1], got {seed!r}")
    if name == "moving-digits" and root is not None:
        if split != "test" or frames is not None or size != 64 or options:
            raise InvalidArgumentError(
                "the standard Moving MNIST file is a test set of 20-frame 64x64 sequences:"
                " use split='test' and no frames, size or options (generate training data with root=None)"
            )
        return load_moving_mnist(root)
    loader = DATASETS[name]
    if frames is None:
        frames = 20 if name == "moving-digits" else 40
    arguments = {"split": split, "frames": frames, "size": size, "seed": seed}
    if name in ON_DISK:
        arguments["root"] = root
    elif root is not None:
        raise InvalidArgumentError(f"{name} is generated, it takes no root (got {root!r})")
    accepted = {n for n, p in inspect.signature(loader).parameters.items() if p.kind is not p.VAR_KEYWORD}
    if name in ("ucf101", "hmdb51"):
        accepted |= {"sampling", "short", "cache"}  # passed on to VideoFileDataset
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise InvalidArgumentError(
            f"{name} takes no option {', '.join(unknown)}: it takes {', '.join(sorted(accepted - set(arguments)))}"
        )
    return loader(**arguments, **options)
