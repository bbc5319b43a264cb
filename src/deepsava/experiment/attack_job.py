"""``deepsava attack``: one attack on one model, over a dataset split or one video file, as a one-cell experiment.

The run is an :class:`ExperimentConfig` with one model, one cell and the dataset
(``video`` for a single file), run by :func:`deepsava.experiment.runner.run_experiment`
into the same folder layout (``results.sqlite``, ``config.yaml``, ``examples/``,
``videos/``). It inherits every guarantee of an experiment: a kill loses at most the
batch in flight, the same command resumes to identical results, a second process is
kept out. A folder holding a run with other settings is refused unless ``force``
(the message names the settings that differ), which replaces those results.
"""

import json
import re
import shutil
from pathlib import Path

import yaml

from deepsava.data import load_dataset
from deepsava.errors import InvalidArgumentError, InvalidConfigError
from deepsava.experiment.config import MAX_VIDEOS, ExperimentConfig, parse_config
from deepsava.experiment.runner import (
    DB_NAME,
    WORST_CASE_FILE,
    RunOutcome,
    run_experiment,
)
from deepsava.experiment.store import ResultStore
from deepsava.models.checkpoint import checkpoint_stem, inspect_checkpoint

NAME = "attack"  # the experiment name of every attack run


def attack_config(model: dict, dataset: dict, attack: dict, seed: int = 0, batch_size: int = 8,
                  save_videos: bool = False, examples: int = 2, precision: str = "fp32") -> ExperimentConfig:
    """The one-cell experiment of an attack on every video of ``dataset`` (``run_attack(limit=N)``: the first N).

    ``model`` is a ``models.<label>`` entry, ``dataset`` and ``attack`` as in configs; the model's label is
    its checkpoint or spec; the YAML of the whole configuration is kept as its source.
    """
    label = str(model.get("checkpoint") or model.get("model"))
    document = {"name": NAME, "dataset": dataset, "models": {label: model}, "videos": MAX_VIDEOS, "seed": seed,
                "batch_size": batch_size, "examples": examples, "save_videos": save_videos, "precision": precision,
                "cells": [{"label": attack["method"], "model": label, "attack": attack}]}
    try:
        config = parse_config(document)
    except InvalidConfigError as err:  # in the command's terms: "frames must ..." rather than "cells[0].attack.frames: ..."
        text = re.sub(r"^(cells\[0\]\.attack|models\.[^.:]+|dataset(\.options)?)\.?", "", str(err))
        text = text.replace("(dataset.frames)", "(--length)")
        text = re.sub(r"^(\w+): (must)", r"\1 \2", text).removeprefix(": ")  # "lr must be ...", as the constructors say
        raise InvalidArgumentError(text) from None
    config.source = yaml.safe_dump(document, sort_keys=False)
    return config


def check_inputs(config: ExperimentConfig) -> None:
    """Check the attack's input files before any work, with their own errors: the video (exit 4), the checkpoint (5)."""
    model = next(iter(config.models.values()))
    if "checkpoint" in model:
        inspect_checkpoint(checkpoint_stem(model["checkpoint"]))
    if config.dataset["name"] == "video":  # decoded (one clip) so that a corrupted file is a video error too
        spec = config.dataset
        load_dataset("video", root=spec["root"], frames=spec["frames"], size=spec["size"], seed=spec["seed"],
                     **spec["options"])


def run_attack(config: ExperimentConfig, out: str | Path, limit: int | None = None, force: bool = False,
               device: str = "auto", progress: bool = True, console=None, resume: str | None = None) -> RunOutcome:
    """Run (or resume) the attack ``config`` on the first ``limit`` videos (all: None) into ``out``.

    A folder holding an attack with other settings is refused unless ``force`` (``limit`` is not a setting:
    a run continued with a larger one attacks only the videos it lacks). Any one-model config is run so
    (the robustness card's is): "other settings" means another run of the same experiment name.
    """
    out = Path(out)
    check_inputs(config)
    _replace_other_run(out, yaml.safe_load(config.source), force)
    return run_experiment(config, out=out, limit=limit, device=device, progress=progress, console=console,
                          resume=resume)


def _replace_other_run(out: Path, document: dict, force: bool) -> None:
    """Refuse (or, with ``force``, delete) the results in ``out`` of a run of the same name with other settings."""
    if not (out / DB_NAME).is_file():
        return
    with ResultStore(out / DB_NAME) as store:
        meta = store.meta()
    if meta.get("config_name") != document["name"]:
        return  # another experiment's folder: the runner refuses it
    stored = yaml.safe_load(meta.get("config_source") or "{}") or {}
    differences = _differences(stored, document)
    if not differences:
        return
    if not force:
        what = "an attack" if document["name"] == NAME else f"a {document['name']} run"
        raise InvalidArgumentError(f"{out} holds {what} with other settings ({differences}): pass --force to"
                                   " replace its results or choose another --out")
    for name in (DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm", "config.yaml", "summary.json", WORST_CASE_FILE):
        (out / name).unlink(missing_ok=True)
    for folder in ("examples", "videos"):
        shutil.rmtree(out / folder, ignore_errors=True)


def _differences(before: dict, now: dict) -> str:
    """The settings that differ, by name: "model: shipped:i3d then, shipped:cnn-lstm now; attack.frames: 1 then, 2 now"."""
    old, new = _readable(before), _readable(now)
    keys = [k for k in dict.fromkeys([*old, *new]) if old.get(k) != new.get(k)]
    shown = "; ".join(f"{k}: {_short(old.get(k))} then, {_short(new.get(k))} now" for k in keys[:3])
    return shown + ("; ..." if len(keys) > 3 else "")


def _readable(document: dict) -> dict:
    """A config document as flat ``{setting: value}``, the model by what it is rather than by its label."""
    models = document.get("models") or {}
    cells = document.get("cells") or [{}]
    entry = next(iter(models.values()), {}) or {}
    flat = {"model" if k in ("checkpoint", "model") else f"model.{k}": v for k, v in entry.items()}
    flat.update({f"dataset.{k}": v for k, v in (document.get("dataset") or {}).items()})
    for i, cell in enumerate(cells):  # one attack: attack.frames; several: cells[1].attack.frames
        where = "attack" if len(cells) == 1 else f"cells[{i}].attack"
        flat.update({f"{where}.{k}": v for k, v in (cell.get("attack") or {}).items()})
    flat.update({k: v for k, v in document.items() if k not in ("models", "dataset", "cells", "name")})
    return flat


def _short(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def class_changes(outcome: RunOutcome, most: int = 10) -> list[str]:
    """Per attacked video, by class name: "clip.avi: abseiling (given) -> rock climbing (fooled)"; at most ``most``."""
    with ResultStore(outcome.store_path) as store:
        records = [r for row in outcome.summary for r in store.records(row["cell_key"])][:most]
    names = outcome.classes

    def name(index) -> str:
        return names[index] if 0 <= index < len(names) else f"class {index}"

    lines = []
    for r in records:
        truth = {"clean prediction": "the clean prediction, no label given", "given": "given"}.get(r["label_source"])
        verdict = ("fooled" if r["success"] else "not fooled") if r["clean_correct"] else "misclassified before, not attacked"
        lines.append(f"{Path(r['video_id']).name}: true class {name(r['label'])}" + (f" ({truth})" if truth else "")
                     + f"; {name(r['clean_pred'])} → {name(r['adv_pred'])} ({verdict})")
    return lines
