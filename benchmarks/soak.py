"""Soak: attack 1,000 embedded-dataset videos in one process and record that memory does not grow.

    OMP_NUM_THREADS=1 python benchmarks/soak.py [--videos 1000] [--out /tmp/deepsava-soak]

One run of the experiment runner (what ``deepsava attack --out`` and ``deepsava experiment``
run) attacks ``--videos`` videos of synth-actions' train split (16 frames, 64x64, generated
with enough videos per class) with the shipped CNN+LSTM: DeepSAVA, one frame chosen by
``--selector`` (default "first"), ``--steps`` 10, batches of 8, every batch stored in
``results.sqlite`` and every adversarial video written (``save_videos``), as a real run does. A thread samples the resident memory every
``--every`` seconds together with the number of videos stored so far: all of it (VmRSS) and
its anonymous part (RssAnon: heap and tensors, where a leak would show; the rest is mostly
pages of the memory-mapped dataset file, which grow as more videos are read and which the
kernel can drop). Printed: both at every 100 videos, and their least-squares slopes over
videos after the first 200 (warm-up; a fifth of ``--videos`` when that is fewer).
"""

import argparse
import json
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import torch

from deepsava.experiment.config import parse_config
from deepsava.experiment.runner import run_experiment


def memory_mb() -> tuple[float, float]:
    """(resident, anonymous resident) memory of this process in MB, from /proc (Linux only)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["RssAnon"].split()[0]) / 1024


def stored(path: Path) -> int:
    """Videos stored so far in a run's results.sqlite (read-only, while the run writes it)."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.Error:
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=16, help="frames per video")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--selector", default="first")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--every", type=float, default=2.0, help="seconds between memory samples")
    parser.add_argument("--out", type=Path, default=Path("/tmp/deepsava-soak"))
    args = parser.parse_args()

    per_class = -(-args.videos * 10 // (12 * 7))  # the train split holds 70% of each class (12 classes)
    config = parse_config({
        "name": "soak", "videos": args.videos, "batch_size": args.batch_size, "examples": 0, "save_videos": True,
        "dataset": {"name": "synth-actions", "split": "train", "frames": args.frames, "size": 64,
                    "options": {"videos_per_class": per_class}},
        "models": {"cnn-lstm": {"checkpoint": "shipped:cnn-lstm"}},
        "cells": [{"label": "DeepSAVA", "attack": {"method": "deepsava", "frames": 1, "selector": args.selector,
                                                   "steps": args.steps}}]})
    shutil.rmtree(args.out, ignore_errors=True)
    samples, done = [], threading.Event()
    start = time.perf_counter()

    def sample() -> None:
        while not done.is_set():
            samples.append((time.perf_counter() - start, stored(args.out / "results.sqlite"), *memory_mb()))
            done.wait(args.every)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    outcome = run_experiment(config, out=args.out, device="cpu", progress=False)
    done.set()
    sampler.join()
    samples.append((time.perf_counter() - start, outcome.videos_done, *memory_mb()))
    records = range(outcome.videos_done)

    print(f"{len(records)} videos in {samples[-1][0]:.0f} s, torch threads {torch.get_num_threads()}")
    print("| videos stored | RSS (MB) | anonymous RSS (MB) | elapsed (s) |")
    print("|---|---|---|---|")
    for mark in range(0, args.videos + 1, 100):
        t, n, rss, anon = min(samples, key=lambda s: abs(s[1] - mark))
        print(f"| {n} | {rss:.0f} | {anon:.0f} | {t:.0f} |")
    warm = min(200, args.videos // 5)
    late = np.array([s[1:] for s in samples if s[1] >= warm])  # (videos, rss, anon)
    slopes = {}
    for column, name in ((1, "RSS"), (2, "anonymous RSS")):
        slopes[name] = np.polyfit(late[:, 0], late[:, column], 1)[0] * 100
        print(f"{name} after {warm} videos: min {late[:, column].min():.0f} MB, max {late[:, column].max():.0f} MB,"
              f" slope {slopes[name]:+.2f} MB per 100 videos; peak over the run"
              f" {max(s[column + 1] for s in samples):.0f} MB")
    (args.out / "soak_samples.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                       "samples": samples, "slopes_mb_per_100": slopes}))


if __name__ == "__main__":
    main()
