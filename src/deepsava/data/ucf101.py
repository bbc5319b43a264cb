"""UCF101 over its official layout and split files.

``root`` holds the videos, as ``<Class>/v_<Class>_gXX_cYY.avi`` or flat. The
annotation folder (``ucfTrainTestlist``) holds ``classInd.txt`` ("1 ApplyEyeMakeup"),
``trainlist0{1,2,3}.txt`` ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1") and
``testlist0{1,2,3}.txt`` (path only); it is looked for in ``annotations``, else in
``root/ucfTrainTestlist``, ``root`` and ``root/../ucfTrainTestlist``.
"""

from pathlib import Path

from deepsava.data.folder import VideoFileDataset, check_request, find_folder, read_lines, resolve_videos
from deepsava.errors import InvalidDatasetError


def ucf101(root, split: str = "train", fold: int = 1, annotations=None, **decode) -> VideoFileDataset:
    """Split ``split`` (``"train"`` or ``"test"``) of official fold ``fold`` (1–3).

    ``decode`` goes to :class:`~deepsava.data.folder.VideoFileDataset`: ``frames``,
    ``size``, ``sampling``, ``short``, ``seed``, ``cache``. Labels are 0-based
    (``classInd.txt`` index minus one).
    """
    root = check_request("ucf101", root, split, fold)
    default = "ucfTrainTestlist"
    candidates = [Path(annotations)] if annotations else [root / default, root, root.parent / default]
    folder = find_folder("ucf101", candidates, "classInd.txt", "annotations")
    classes = _read_classes(folder / "classInd.txt")
    by_name = {name.lower(): label for label, name in enumerate(classes)}
    listing = folder / f"{'trainlist' if split == 'train' else 'testlist'}{fold:02d}.txt"
    listed = [row[0].replace("\\", "/") for row in read_lines("ucf101", listing, 1)]
    labels = []
    for relative in listed:
        name = relative.split("/")[0] if "/" in relative else relative.split("_")[1]
        if name.lower() not in by_name:
            raise InvalidDatasetError(
                f"ucf101: {listing.name} lists {relative}, whose class {name!r} is not in classInd.txt"
            )
        labels.append(by_name[name.lower()])
    paths = resolve_videos("ucf101", root, listed, listing.name)
    return VideoFileDataset("ucf101", paths, listed, labels, classes, **decode)


def _read_classes(path: Path) -> list[str]:
    rows = read_lines("ucf101", path, 2)
    try:
        indexed = sorted((int(index), name) for index, name, *_ in rows)
    except ValueError:
        raise InvalidDatasetError(f"ucf101: {path} must hold lines '<index> <ClassName>'") from None
    if [index for index, _ in indexed] != list(range(1, len(indexed) + 1)):
        raise InvalidDatasetError(f"ucf101: {path} must number its classes 1..{len(indexed)}")
    return [name for _, name in indexed]

