"""Attacking a dataset (or one video file) batch by batch, writing what a person can look at.

Output folder layout: ``records.jsonl`` (one line per video, appended as each batch
finishes), ``summary.json`` (the paper's metrics), ``videos/<id>.mkv`` (each
adversarial video, lossless FFV1, 8-bit) when asked.
"""

import json
import re
from pathlib import Path

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from deepsava.errors import InvalidArgumentError
from deepsava.evaluate.metrics import summarize
from deepsava.io import quantize, write_video


def prepare_output(out: str | Path, force: bool) -> Path:
    """Create the output folder; refuse to overwrite a previous run's results unless ``force``."""
    out = Path(out)
    if (out / "records.jsonl").exists() and not force:
        raise InvalidArgumentError(f"{out} already holds results of an earlier run: pass --force or choose a new --out")
    (out / "records.jsonl").unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    return out


def file_name(video_id: str) -> str:
    """A video id made safe as a file name (no folders, no odd characters)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", video_id).strip("._") or "video"


def choose_videos(num_videos: int, limit: int | None, seed: int) -> list[int]:
    """Indices of the videos to attack: all, or ``limit`` drawn at random (seeded) and kept in order."""
    if limit is None or limit >= num_videos:
        return list(range(num_videos))
    if limit <= 0:
        raise InvalidArgumentError(f"--limit must be positive, got {limit}")
    return sorted(torch.randperm(num_videos, generator=torch.Generator().manual_seed(seed))[:limit].tolist())


def attack_dataset(attack, dataset, indices: list[int], batch_size: int, device: torch.device,
                   out: Path | None = None, save_videos: bool = False, progress: bool = True) -> list[dict]:
    """Attack ``dataset[i]`` for i in indices; return the per-video records (and write them under ``out``)."""
    if not indices:
        raise InvalidArgumentError("no videos to attack")
    records = []
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("FR {task.fields[fr]}"), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=not progress) as bar:
        task = bar.add_task(f"attacking ({attack.name})", total=len(indices), fr="-")
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            items = [dataset[i] for i in chunk]
            videos = torch.stack([clip for clip, _ in items]).to(device)
            labels = torch.tensor([label for _, label in items], device=device)
            result = attack(videos, labels)
            ids = [dataset.video_ids[i] for i in chunk]
            batch = result.to_records(ids)
            records.extend(batch)
            if out is not None:
                with open(out / "records.jsonl", "a") as f:
                    f.writelines(json.dumps(r) + "\n" for r in batch)
                if save_videos:
                    (out / "videos").mkdir(exist_ok=True)
                    for vid, adv in zip(ids, result.adversarial):
                        write_video(out / "videos" / f"{file_name(vid)}.mkv", quantize(adv), codec="ffv1")
            fr = summarize(records)["fooling_rate"]
            bar.update(task, advance=len(chunk), fr=f"{fr:.1%}" if fr == fr else "-")
    if out is not None:
        (out / "summary.json").write_text(json.dumps({"summary": summarize(records), "attack": result.params}, indent=2))
    return records
