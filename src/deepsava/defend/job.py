"""One ``deepsava defend`` job: resolve the starting weights, load the splits, train, write the checkpoint.

Runs the same alone or under ``torchrun`` (each process calls :func:`run_defend`;
only the first reads or writes the files at ``--out`` and prints; the others get
what it read over the process group, so ``--out`` need not be on a filesystem
the other nodes see).
"""

from pathlib import Path

from deepsava.errors import InvalidArgumentError
from deepsava.models.checkpoint import starting_weights


def prepare_out(out: str, force: bool) -> Path:
    """The checkpoint stem ``out``; refuses to overwrite a finished checkpoint unless ``force`` (which also
    discards an interrupted run's state and injected examples). Called on the first process only."""
    stem = Path(out)
    stem = stem.with_suffix("") if stem.suffix in (".safetensors", ".json") else stem
    final = stem.parent / (stem.name + ".safetensors")
    if final.is_file() and not force:
        raise InvalidArgumentError(f"{final} exists: pass --force to train again and overwrite it, or choose another"
                                   " --out")
    if force:
        for path in [final, stem.parent / (stem.name + ".json"), *stem.parent.glob(stem.name + ".state.*"),
                     *stem.parent.glob(stem.name + ".injected.*")]:
            path.unlink(missing_ok=True)
    return stem


def run_defend(method: str, params: dict, *, model: str, dataset: str, out: str, preset: str = "tiny",
               weights: str | None = None, freeze_cnn: bool = False, freeze_bn: bool = False, sync_bn: bool = False,
               epochs: int = 5, lr: float = 1e-4, batch_size: int = 8, seed: int = 0, frames: int | None = None,
               size: int = 64, root: str | None = None, device: str = "auto", force: bool = False,
               progress: bool = True, command: str = "") -> dict | None:
    """Train ``model`` on ``dataset`` with defence ``method``; return the checkpoint's metadata (first process only)."""
    from deepsava.data import load_dataset
    from deepsava.defend import adversarial_train, make_defence
    from deepsava.distributed import from_main, session
    from deepsava.models import create_model, needed_frames
    from deepsava.models.checkpoint import read_metadata
    from deepsava.runtime import seed_everything

    defence = make_defence(method, **params)
    if freeze_cnn and weights is None:
        raise InvalidArgumentError("--freeze-cnn keeps the CNN of --weights fixed: give --weights too")
    with session(device) as ranks:
        stem = from_main(ranks, lambda: prepare_out(out, force))  # every process waits for the clean-up
        path, start_meta = starting_weights(weights)
        frames = frames or needed_frames(model, preset=preset)  # e.g. 16 for MViT; None: the dataset's default
        train_set = load_dataset(dataset, split="train", root=root, frames=frames, size=size)
        test_set = load_dataset(dataset, split="test", root=root, frames=frames, size=size)
        if start_meta.get("classes") not in (None, list(train_set.classes)):
            raise InvalidArgumentError(f"--weights {weights} was trained on classes {start_meta['classes']}, not"
                                       f" {dataset}'s {train_set.classes}")
        seed_everything(seed)
        net = create_model(model, len(train_set.classes), preset, path, fine_tune=True)
        data = {"dataset": dataset, "frames": train_set[0][0].shape[0], "size": size, "root": root}
        metadata = {
            "classes": list(train_set.classes), **data,
            "train_videos": len(train_set), "test_videos": len(test_set),
            "start": {"weights": weights, "model": start_meta.get("model"), "defence": start_meta.get("defence"),
                      "test_top1": start_meta.get("test_top1")},
            "command": command,
        }
        adversarial_train(net, defence, train_set, test_set, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
                          freeze=("cnn",) if freeze_cnn else (), freeze_bn=freeze_bn, sync_bn=sync_bn, out=stem,
                          metadata=metadata, data=data, ranks=ranks, progress=progress)
        return read_metadata(stem) if ranks.main else None
