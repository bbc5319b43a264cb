"""Soak: attack 1,000 embedded-dataset videos in one process and record that memory does not grow.

    OMP_NUM_THREADS=1 python benchmarks/soak.py [--videos 1000] [--out /tmp/deepsava-soak]

One ``attack_dataset`` call (the code behind ``deepsava attack --out``) attacks the train and
test splits of synth-actions generated with 84 videos per class (1,008 videos of 16 frames,
64x64) with the shipped CNN+LSTM: DeepSAVA, one frame chosen by ``--selector`` (default
"first"), ``--steps`` 10, batches of 8, every record appended and every adversarial video
written losslessly, as a real run does. A thread samples the resident memory every
``--every`` seconds together with the number of videos stored so far: all of it (VmRSS) and
its anonymous part (RssAnon: heap and tensors, where a leak would show; the rest is mostly
pages of the memory-mapped dataset file, which grow as more videos are read and which the
kernel can drop). Printed: both at every 100 videos, and their least-squares slopes over
videos after the first 200 (warm-up; a fifth of ``--videos`` when that is fewer).
"""

import argparse
import json
import threading
import time
from pathlib import Path

import numpy as np
import torch

from deepsava.attacks import DeepSAVA
from deepsava.data import ArrayVideoDataset, load_dataset
from deepsava.experiment.attack_job import attack_dataset, prepare_output
from deepsava.models import load_shipped


def memory_mb() -> tuple[float, float]:
    """(resident, anonymous resident) memory of this process in MB, from /proc (Linux only)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["RssAnon"].split()[0]) / 1024


def both_splits(frames: int, videos_per_class: int) -> ArrayVideoDataset:
    """The train and test splits of synth-actions as one dataset (they share one cached array)."""
    train, test = (load_dataset("synth-actions", split=s, frames=frames, videos_per_class=videos_per_class)
                   for s in ("train", "test"))
    return ArrayVideoDataset(train.videos, train.rows + test.rows, train.classes, train.video_ids + test.video_ids,
                             train.labels + test.labels, source=train.source)


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

    per_class = -(-args.videos // 12)  # 12 classes
    data = both_splits(args.frames, per_class)
    model, _ = load_shipped("cnn-lstm")
    attack = DeepSAVA(model, frames=1, selector=args.selector, steps=args.steps)
    out = prepare_output(args.out, force=True, identity={"soak": vars(args) | {"out": str(args.out)}})
    (out / "records.jsonl").unlink(missing_ok=True)
    samples, done = [], threading.Event()
    start = time.perf_counter()

    def sample() -> None:
        while not done.is_set():
            path = out / "records.jsonl"
            stored = path.read_text().count("\n") if path.exists() else 0
            samples.append((time.perf_counter() - start, stored, *memory_mb()))
            done.wait(args.every)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    records = attack_dataset(attack, data, list(range(args.videos)), args.batch_size, torch.device("cpu"), out,
                             save_videos=True, progress=False)
    done.set()
    sampler.join()
    samples.append((time.perf_counter() - start, len(records), *memory_mb()))

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
    (out / "soak_samples.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                       "samples": samples, "slopes_mb_per_100": slopes}))


if __name__ == "__main__":
    main()
