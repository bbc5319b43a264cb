"""Datasets of video files on disk: decoded with :func:`deepsava.io.load_video`, cached as uint8 .npy per clip."""

import hashlib
import zlib
from pathlib import Path

import numpy as np
import torch
from deepsava.progress import progress_bar

from deepsava.data.base import VideoDataset
from deepsava.data.cache import cache_root, save_array
from deepsava.errors import InvalidArgumentError, InvalidDatasetError
from deepsava.io import load_video


class VideoFileDataset(VideoDataset):
    """Video files with labels; items are ``(clip float32 (frames, 3, H, W), label)``.

    ``video_ids`` are the paths as the split files write them. Decoded clips are
    cached under ``<cache>/clips/<name>/`` keyed by the file (path, mtime, size)
    and the decoding options, so later epochs do not decode again. With
    ``sampling="random"`` the start offset of each video is fixed by ``seed``.
    """

    def __init__(
        self,
        name: str,
        paths,
        video_ids: list[str],
        labels: list[int],
        classes: list[str],
        frames: int = 40,
        size=64,
        sampling: str = "stride",
        short: str = "loop",
        seed: int = 0,
        cache: bool = True,
    ):
        super().__init__(classes, video_ids, labels)
        self.name = name
        self.paths = [Path(p) for p in paths]
        self.options = {"frames": frames, "size": size, "sampling": sampling, "short": short}
        self.seed = seed
        self.cache = cache

    def __getitem__(self, i: int):
        return torch.from_numpy(self._clip(i)).float().div_(255), self.labels[i]

    def precache(self, progress: bool = True) -> int:
        """Decode every video not cached yet (with a progress bar); return how many were decoded."""
        todo = [i for i in range(len(self)) if not (self.cache and self.cache_path(i).exists())]
        with progress_bar("videos", enabled=progress, transient=True) as bar:
            task = bar.add_task(f"decoding {self.name} ({len(todo)} videos)", total=len(todo))
            for i in todo:
                self._clip(i)
                bar.advance(task)
        return len(todo)

    def cache_path(self, i: int) -> Path:
        """Where the decoded clip of item ``i`` is cached."""
        path = self.paths[i]
        stat = path.stat()
        key = f"{path.resolve()}|{stat.st_mtime_ns}|{stat.st_size}|{sorted(self.options.items())}|{self.seed}"
        return cache_root() / "clips" / self.name / f"{hashlib.sha1(key.encode()).hexdigest()}.npy"

    def _clip(self, i: int) -> np.ndarray:
        """uint8 ``(frames, 3, H, W)`` of item ``i``, from the cache or decoded (and then cached)."""
        cached = self.cache_path(i) if self.cache and self.paths[i].exists() else None
        if cached is not None and cached.exists():
            try:
                return np.load(cached)
            except (ValueError, OSError, EOFError):  # a damaged cache entry: decode the video again
                pass
        seed = [self.seed, zlib.crc32(self.video_ids[i].encode())]
        clip = load_video(self.paths[i], seed=seed, dtype=torch.uint8, **self.options).numpy()
        if cached is not None:
            save_array(cached, clip)
        return clip


def check_request(dataset: str, root, split: str, fold: int) -> Path:
    """Validate the arguments common to on-disk datasets; return ``root`` as a Path."""
    if split not in ("train", "test"):
        raise InvalidArgumentError(f"unknown split {split!r}: use train or test")
    if fold not in (1, 2, 3):
        raise InvalidArgumentError(f"fold must be 1, 2 or 3 (the official splits), got {fold!r}")
    if root is None:
        raise InvalidArgumentError(f"{dataset} is read from disk: pass root= its video folder")
    root = Path(root)
    if not root.is_dir():
        raise InvalidDatasetError(f"{dataset}: root {root} is not a folder")
    return root


def find_folder(dataset: str, candidates: list[Path], pattern: str, option: str) -> Path:
    """The first candidate folder holding a file matching ``pattern``; InvalidDatasetError naming them all if none."""
    for folder in candidates:
        if folder.is_dir() and any(folder.glob(pattern)):
            return folder
    tried = ", ".join(str(c) for c in candidates)
    raise InvalidDatasetError(f"{dataset}: no {pattern} found in {tried} (pass {option}= the folder that holds it)")


def read_lines(dataset: str, path: Path, fields: int) -> list[list[str]]:
    """The non-blank lines of a split file, each cut into at least ``fields`` whitespace-separated fields."""
    if not path.is_file():
        raise InvalidDatasetError(f"{dataset}: split file {path} is missing")
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < fields:
            raise InvalidDatasetError(f"{dataset}: {path.name} line {number}: expected {fields} fields, got {line!r}")
        rows.append(parts)
    if not rows:
        raise InvalidDatasetError(f"{dataset}: split file {path} is empty")
    return rows


def resolve_videos(dataset: str, root: Path, listed: list[str], source: str) -> list[Path]:
    """Paths of the listed videos under ``root``, in ``<class>/<file>`` folders or flat; all must exist."""
    paths, missing = [], []
    for relative in listed:
        path = root / relative
        if not path.is_file():
            path = root / Path(relative).name
        if not path.is_file():
            missing.append(relative)
        paths.append(path)
    if missing:
        raise InvalidDatasetError(
            f"{dataset}: {len(missing)} of the {len(listed)} videos listed in {source} are missing under {root},"
            f" e.g. {missing[0]}"
        )
    return paths
