"""``deepsava data``: generate or index a dataset, cache it, print its classes and counts."""

from typing import Optional

import typer

from deepsava.cli.common import console
from deepsava.data import DATASETS


def data_command(
    name: str = typer.Argument(..., help=f"The dataset: {', '.join(n for n in DATASETS if n != 'video')}."),
    split: str = typer.Option("train", help="Split drawn by --preview: train or test."),
    frames: Optional[int] = typer.Option(None, help="Frames per clip (default 40; 20 for moving-digits)."),
    size: int = typer.Option(64, help="Frame height and width in pixels."),
    seed: int = typer.Option(0, help="Generation seed (for ucf101/hmdb51: the seed of random sampling)."),
    root: Optional[str] = typer.Option(None, help="UCF101/HMDB51 video folder, or a mnist_test_seq.npy file."),
    fold: Optional[int] = typer.Option(None, help="UCF101/HMDB51 official split number, 1-3 (default 1)."),
    num_classes: Optional[int] = typer.Option(None, help="synth-actions: number of classes (default 12)."),
    videos_per_class: Optional[int] = typer.Option(None, help="synth-actions: videos per class (default 50)."),
    extra_test: Optional[int] = typer.Option(None, help="synth-actions: more test clips per class, never in the training"
                                             " split (a larger evaluation set for the same models)."),
    sequences: Optional[int] = typer.Option(None, help="moving-digits: sequences per split (default 1000)."),
    precache: bool = typer.Option(False, help="UCF101/HMDB51: decode every video into the cache now."),
    preview: Optional[str] = typer.Option(None, help="Write a PNG grid of a few frames of one video per class."),
) -> None:
    """Generate or index a dataset, cache it, and print its classes and counts."""
    import time

    from rich.table import Table

    from deepsava.data import load_dataset
    from deepsava.data.cache import cache_root
    from deepsava.data.preview import save_preview
    from deepsava.errors import InvalidArgumentError

    if precache and name not in ("ucf101", "hmdb51"):
        raise InvalidArgumentError("--precache is for ucf101 and hmdb51 (generated datasets are cached whole)")
    if split not in ("train", "test"):
        raise InvalidArgumentError(f"--split must be train or test, got {split!r}")
    given = {"fold": fold, "num_classes": num_classes, "videos_per_class": videos_per_class, "extra_test": extra_test,
             "sequences": sequences}
    options = {key: value for key, value in given.items() if value is not None}
    splits = ["test"] if name == "moving-digits" and root is not None else ["train", "test"]
    start = time.perf_counter()
    sets = {s: load_dataset(name, split=s, root=root, frames=frames, size=size, seed=seed, **options) for s in splits}
    decoded = sum(d.precache() for d in sets.values()) if precache else 0
    seconds = time.perf_counter() - start

    first = sets[splits[0]]
    table = Table(title=f"{name}: {len(first.classes)} classes")
    table.add_column("class")
    for s in splits:
        table.add_column(s, justify="right")
    for label, cls in enumerate(first.classes):
        table.add_row(cls, *(str(d.labels.count(label)) for d in sets.values()))
    table.add_row("[bold]total", *(f"[bold]{len(d)}" for d in sets.values()))
    shown = console()
    shown.print(table)
    clip = first[0][0]
    source = getattr(first, "source", None) or cache_root() / "clips" / name
    shown.print(f"clip shape {tuple(clip.shape)} (T, C, H, W), float32 in [0, 1]")
    shown.print(f"cache: {source}")
    shown.print(f"ready in {seconds:.1f} s (generation or decoding included when not cached)")
    if precache:
        shown.print(f"decoded {decoded} videos into the cache")
    if preview is not None:
        shown.print(f"preview: {save_preview(sets[split if split in sets else splits[0]], preview)}")


