"""Tiny experiment configs over the ``workdir`` checkpoint (tests/conftest.py), shared by the experiment tests."""

from pathlib import Path

import yaml


def small_config(root: Path, **changes) -> dict:
    """6 test videos of 4 frames, 2 cells (Sparse; DeepSAVA on random frames) on 2 frames, 2 repeats, batches of 2."""
    config = {
        "name": "small",
        "dataset": {"name": "synth-actions", "frames": 4, "size": 64,
                    "options": {"num_classes": 2, "videos_per_class": 10, "progress": False}},
        "models": {"lstm": {"checkpoint": str(root / "lstm")}},
        "videos": 6, "repeats": 2, "batch_size": 2, "examples": 1,
        "cells": [
            {"label": "Sparse", "attack": {"method": "sparse", "frames": 2, "steps": 25, "lr": 0.1, "lam": 0.1}},
            {"label": "DeepSAVA (random)",
             "attack": {"method": "deepsava", "frames": 2, "selector": "random", "steps": 15, "lr": 0.1}},
        ],
    }
    config.update(changes)
    return config


def write(root: Path, name: str, config: dict) -> Path:
    path = root / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
