"""The report tests' workspace: an isolated cache, a random tiny CNN+LSTM over 2 synth-actions classes, and tiny
experiments over it."""


import pytest
import yaml


@pytest.fixture(scope="module")
def make_run(workdir):
    """``make_run(name, frames, cells, **top-level keys) -> (run folder, outcome)``: a finished experiment of model
    ``lstm``, by default on the test split of 2-class synth-actions clips of ``frames`` frames (64 × 64)."""
    from deepsava.experiment.runner import run_experiment

    def make(name: str, frames: int, cells: list[dict], **changes):
        config = {"name": name,
                  "dataset": {"name": "synth-actions", "frames": frames, "size": 64,
                              "options": {"num_classes": 2, "videos_per_class": 10, "progress": False}},
                  "models": {"lstm": {"checkpoint": str(workdir / "lstm")}}, "cells": cells}
        config.update(changes)
        path = workdir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        outcome = run_experiment(path, out=workdir / name, device="cpu", progress=False)
        assert outcome.videos_done == outcome.videos_total
        return workdir / name, outcome

    return make
