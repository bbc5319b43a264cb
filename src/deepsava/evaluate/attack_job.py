"""Attacking a dataset (or one video file) batch by batch, writing what a person can look at.

Output folder layout: ``run.json`` (the settings of the run), ``records.jsonl`` (one
line per video, appended as each batch finishes), ``summary.json`` (the paper's
metrics), ``videos/<id>.mkv`` (each adversarial video, lossless FFV1, 8-bit) when asked.

Resumable: a batch's videos are written first (each to a temporary name, then
renamed), then its records are appended in one write and synced: that append is
the batch's commit. Run again with the same settings, the job keeps the batches
whose records are all there, drops a batch cut short by a kill, and attacks the
rest; every batch reseeds the random generators from the attack's seed and its
position, so the result equals an uninterrupted run. A folder holding the results
of other settings is refused unless ``force``, and one process at a time may
write to a folder.
"""

import hashlib
import json
import os
import re
from contextlib import contextmanager, nullcontext
from pathlib import Path

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from deepsava.data.cache import atomic_path
from deepsava.errors import InvalidArgumentError
from deepsava.evaluate.metrics import summarize
from deepsava.io import quantize, write_video

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, so nothing stops two processes sharing a folder
    fcntl = None

RUN_FILE = "run.json"
RECORDS = "records.jsonl"


def prepare_output(out: str | Path, force: bool, identity: dict | None = None) -> Path:
    """Create or reopen an output folder for the run described by ``identity``; return its path.

    ``identity`` holds the settings that make two runs the same run (JSON-able). A
    folder with results of another run, or of a run that recorded no settings, is
    refused unless ``force``, which deletes them (records, summary, videos).
    """
    out = Path(out)
    identity = json.loads(json.dumps(identity or {}))
    out.mkdir(parents=True, exist_ok=True)
    with _lock(out):
        stored = _read_json(out / RUN_FILE)
        has_results = (out / RECORDS).exists() or (out / "summary.json").exists()
        if stored != identity and (has_results or stored is not None):
            if not force:
                raise InvalidArgumentError(f"{out} already holds results of {_difference(stored, identity)}:"
                                           " pass --force to replace them or choose a new --out")
            for name in (RECORDS, "summary.json"):
                (out / name).unlink(missing_ok=True)
            for video in (out / "videos").glob("*.mkv") if (out / "videos").is_dir() else ():
                video.unlink()
        write_atomic(out / RUN_FILE, json.dumps(identity, indent=2, sort_keys=True) + "\n")
    return out


def digest(*tensors: torch.Tensor) -> str:
    """SHA-256 of the bytes of some tensors (e.g. a model's weights), to tell two runs' inputs apart."""
    h = hashlib.sha256()
    for tensor in tensors:
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


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
    """Attack ``dataset[i]`` for i in indices; return the per-video records (and write them under ``out``).

    With ``out`` (made by :func:`prepare_output`), batches already stored there are
    not attacked again: their records are read back.
    """
    from deepsava.evaluate.runner import derived_seed
    from deepsava.runtime import seed_everything

    if not indices:
        raise InvalidArgumentError("no videos to attack")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidArgumentError(f"batch size must be a positive integer, got {batch_size!r}")
    batches = [indices[start : start + batch_size] for start in range(0, len(indices), batch_size)]
    records = []
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("FR {task.fields[fr]}"), TimeElapsedColumn(), TimeRemainingColumn())
    with _lock(out) if out is not None else nullcontext(), Progress(*columns, disable=not progress) as bar:
        stored = _resume(out, [[dataset.video_ids[i] for i in chunk] for chunk in batches]) if out else {}
        task = bar.add_task(f"attacking ({attack.name})", total=len(indices), fr="-")
        for chunk in batches:
            ids = [dataset.video_ids[i] for i in chunk]
            if all(vid in stored for vid in ids):
                batch = [stored[vid] for vid in ids]
            else:
                seed_everything(derived_seed(attack.seed, "batch", chunk[0]))
                items = [dataset[i] for i in chunk]
                videos = torch.stack([clip for clip, _ in items]).to(device)
                labels = torch.tensor([label for _, label in items], device=device)
                result = attack(videos, labels)
                batch = result.to_records(ids)
                if out is not None:
                    if save_videos:
                        for vid, adv in zip(ids, result.adversarial):
                            save_adversarial(out / "videos" / f"{file_name(vid)}.mkv", adv)
                    _append(out / RECORDS, batch)
            records.extend(batch)
            fr = summarize(records)["fooling_rate"]
            bar.update(task, advance=len(chunk), fr=f"{fr:.1%}" if fr == fr else "-")
        if out is not None:
            summary = {"summary": summarize(records), "attack": attack.params()}
            write_atomic(out / "summary.json", json.dumps(summary, indent=2))
    return records


def save_adversarial(path: Path, clip: torch.Tensor) -> None:
    """Write a clip (T, C, H, W) losslessly (FFV1) under a temporary name, then rename it onto ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.mkv")
    write_video(tmp, quantize(clip), codec="ffv1")
    os.replace(tmp, path)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` in one step: a reader or a kill never sees half a file."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


# -- internals -----------------------------------------------------------------------------


@contextmanager
def _lock(out: Path):
    """Hold an exclusive lock on ``out`` (released when the block ends or the process dies)."""
    with open(out / ".lock", "w") as handle:
        if fcntl is None:
            yield
            return
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InvalidArgumentError(f"{out} is being written by another deepsava process: wait for it to finish"
                                       " or choose another --out") from None
        yield


def _append(path: Path, records: list[dict]) -> None:
    """Append one batch's records in a single write and sync it to disk: the batch's commit."""
    with open(path, "a") as f:
        f.write("".join(json.dumps(r) + "\n" for r in records))
        f.flush()
        os.fsync(f.fileno())


def _resume(out: Path, batches: list[list[str]]) -> dict[str, dict]:
    """Records already stored for whole batches of ``batches`` (video ids), by video id.

    A kill can leave the last batch cut short (some of its lines, or half a line):
    records.jsonl is rewritten without them, so that batch runs again.
    """
    path = out / RECORDS
    if not path.exists():
        return {}
    text = path.read_text()
    found = {}
    for line in text.split("\n")[:-1]:  # the part after the last newline is never a whole record
        try:
            record = json.loads(line)
            found[record["video_id"]] = record
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    partial = {vid for ids in batches if not all(vid in found for vid in ids) for vid in ids}
    lines = "".join(json.dumps(r) + "\n" for vid, r in found.items() if vid not in partial)
    if lines != text:
        write_atomic(path, lines)
    return {vid: r for vid, r in found.items() if vid not in partial}


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _difference(stored, identity: dict) -> str:
    """Which settings differ between a stored run and this one, for the refusal message."""
    if not isinstance(stored, dict):
        return "an earlier run"
    before, now = _flatten(stored), _flatten(identity)
    keys = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
    shown = ", ".join(f"{k} {_short(before.get(k))} then, {_short(now.get(k))} now" for k in keys[:3])
    return f"a run with other settings ({shown}{', ...' if len(keys) > 3 else ''})"


def _flatten(settings: dict, prefix: str = "") -> dict:
    """Nested settings as one level of dotted keys: {"attack": {"seed": 3}} -> {"attack.seed": 3}."""
    flat = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
