"""HMDB51 over its official layout and split files.

``root`` holds the videos as ``<class>/<video>.avi`` (or flat). The split folder
(``testTrainMulti_7030_splits``) holds ``<class>_test_split{1,2,3}.txt`` whose
lines are ``<video>.avi <tag>`` with tag 1 = train, 2 = test, 0 = unused; it is
looked for in ``annotations``, else in ``root/testTrainMulti_7030_splits``,
``root`` and ``root/../testTrainMulti_7030_splits``. Classes are sorted by name.
"""

from pathlib import Path

from deepsava.data.folder import VideoFileDataset, check_request, find_folder, read_lines, resolve_videos
from deepsava.errors import InvalidDatasetError

TAGS = {"train": "1", "test": "2"}


def hmdb51(root, split: str = "train", fold: int = 1, annotations=None, **decode) -> VideoFileDataset:
    """Split ``split`` (``"train"`` or ``"test"``) of official fold ``fold`` (1–3).

    ``decode`` goes to :class:`~deepsava.data.folder.VideoFileDataset`: ``frames``,
    ``size``, ``sampling``, ``short``, ``seed``, ``cache``.
    """
    root = check_request("hmdb51", root, split, fold)
    suffix = f"_test_split{fold}.txt"
    default = "testTrainMulti_7030_splits"
    candidates = [Path(annotations)] if annotations else [root / default, root, root.parent / default]
    folder = find_folder("hmdb51", candidates, f"*{suffix}", "annotations")
    listings = sorted(folder.glob(f"*{suffix}"))
    classes = [listing.name[: -len(suffix)] for listing in listings]
    listed, labels = [], []
    for label, (name, listing) in enumerate(zip(classes, listings)):
        for number, (video, tag, *_) in enumerate(read_lines("hmdb51", listing, 2), start=1):
            if tag not in ("0", "1", "2"):
                raise InvalidDatasetError(f"hmdb51: {listing.name} line {number}: tag must be 0, 1 or 2, got {tag!r}")
            if tag == TAGS[split]:
                listed.append(f"{name}/{video}")
                labels.append(label)
    if not listed:
        raise InvalidDatasetError(f"hmdb51: the *{suffix} files in {folder} tag no video for {split}")
    paths = resolve_videos("hmdb51", root, listed, f"the *{suffix} files")
    return VideoFileDataset("hmdb51", paths, listed, labels, classes, **decode)
