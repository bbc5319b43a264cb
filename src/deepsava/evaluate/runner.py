"""Run every cell of an experiment config, resumably; summarise the stored results.

``run_experiment("configs/table3.yaml", out="runs/table3")`` validates the config
(nothing runs if anything is wrong), loads the dataset split and the models,
and attacks, for every repeat and every cell, a fixed sample of videos in fixed
batches, storing each batch's per-video records in ``<out>/results.sqlite`` the
moment the batch finishes (:class:`~deepsava.evaluate.store.ResultStore`).

Reproducible and resumable by construction:

- Cell key: a hash of the cell's full canonical configuration (dataset, the
  checkpoint's SHA-256, the attack's explicit and resolved parameters, the seed
  and the batch size). Changing any of them makes a new cell; labels, the
  number of videos and the number of repeats are not part of it.
- Videos: repeat ``r`` attacks a prefix of a class-interleaved random order of the
  split drawn with seed ``(seed, r)``, so every repeat has its own sample and
  ``--limit N`` (or a smaller ``videos``) takes the first N of the same order.
- Batches: consecutive slices of ``batch_size`` of that order; each batch runs with
  a seed derived from ``(seed, r, first position)`` (the attack's seed and the
  global RNGs), independent of what ran before it. A batch is skipped when all
  its videos are stored, so a run killed at any point and started again computes
  exactly the batches an uninterrupted run would, and writes no duplicates.
  (With ``--limit`` not a multiple of ``batch_size`` the last batch is shorter than
  in a full run, so its random choices may differ.)

Ctrl-C (SIGINT) stops after the batch being attacked and prints how to resume;
a second Ctrl-C stops at once (stored batches are still whole).
"""

import contextlib
import hashlib
import inspect
import json
import math
import os
import shlex
import signal
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from deepsava.data.cache import atomic_path
from deepsava.errors import DeepSAVAError, InvalidArgumentError, InvalidConfigError
from deepsava.evaluate.compression import compression_predictions
from deepsava.evaluate.config import CellSpec, ExperimentConfig, build_attack, load_config
from deepsava.evaluate.metrics import confidence_interval, rate_interval, summarize, wilson_interval
from deepsava.evaluate.store import ResultStore
from deepsava.evaluate.transfer import transfer_predictions
from deepsava.runtime import derived_seed

KEY_VERSION = 1
DB_NAME = "results.sqlite"


@dataclass
class PreparedCell:
    spec: CellSpec
    key: str
    canonical: dict


@dataclass
class RunOutcome:
    out: Path
    store_path: Path
    summary: list[dict]
    interrupted: bool = False
    batches_run: int = 0
    videos_total: int = 0
    videos_done: int = 0
    resume_command: str = ""
    messages: list[str] = field(default_factory=list)


# -- seeds and video order -------------------------------------------------------------------


def video_order(labels: list[int], seed: int) -> list[int]:
    """All dataset indices in a seeded class-interleaved random order (any prefix is near class-balanced)."""
    g = torch.Generator().manual_seed(seed)
    classes = sorted(set(labels))
    pools = []
    for c in (classes[i] for i in torch.randperm(len(classes), generator=g).tolist()):
        members = [i for i, y in enumerate(labels) if y == c]
        pools.append([members[j] for j in torch.randperm(len(members), generator=g).tolist()])
    order = []
    for rank in range(max(map(len, pools), default=0)):
        order.extend(pool[rank] for pool in pools if rank < len(pool))
    return order


# -- preparation (everything that can fail, before any attack) --------------------------------


def _checkpoint_stem(label: str, spec: str) -> Path:
    from deepsava.models import shipped_checkpoint

    where = f"models.{label}.checkpoint"
    if spec.startswith("shipped:"):
        try:
            return shipped_checkpoint(spec.split(":", 1)[1])
        except DeepSAVAError as err:
            raise InvalidConfigError(f"{where}: {err}") from None
    stem = Path(spec).expanduser()
    stem = stem.with_suffix("") if stem.suffix in (".safetensors", ".json") else stem
    for suffix in (".safetensors", ".json"):
        if not (stem.parent / (stem.name + suffix)).is_file():
            raise InvalidConfigError(f"{where}: no checkpoint file {stem}{suffix}")
    return stem


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cell_key(canonical: dict) -> str:
    """Hash of a cell's canonical configuration."""
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()[:20]


def _known_classes(ds: dict) -> list[str] | None:
    """The classes of a generated dataset, known without generating it (None for the other datasets)."""
    if ds["name"] != "synth-actions":
        return None
    from deepsava.data.synthetic import CLASSES, synth_actions

    count = ds["options"].get("num_classes", inspect.signature(synth_actions).parameters["num_classes"].default)
    return list(CLASSES[:count])


def prepare(config: ExperimentConfig, device: torch.device):
    """Load dataset and models, check they fit, and key every cell -> (dataset, models, cells)."""
    from deepsava.data import load_dataset
    from deepsava.models import load_checkpoint
    from deepsava.models.checkpoint import inspect_checkpoint

    used = list(dict.fromkeys([cell.model for cell in config.cells] + config.transfer))
    stems = {label: _checkpoint_stem(label, config.models[label]["checkpoint"]) for label in used}
    ds = config.dataset
    known = _known_classes(ds)
    for label, stem in stems.items():  # metadata and weights' shapes, before the dataset is generated
        try:
            meta = inspect_checkpoint(stem)
        except DeepSAVAError as err:
            raise InvalidConfigError(f"models.{label}.checkpoint: {err}") from None
        if known is not None and (meta["num_classes"] != len(known) or meta.get("classes", known) != known):
            recorded = meta.get("classes") or meta["num_classes"]
            raise InvalidConfigError(f"models.{label}.checkpoint: the model's classes ({recorded}) do not match"
                                     f" {ds['name']}'s {known}")
    try:
        dataset = load_dataset(ds["name"], split=ds["split"], root=ds["root"], frames=ds["frames"], size=ds["size"],
                               seed=ds["seed"], **ds["options"])
    except DeepSAVAError as err:
        raise InvalidConfigError(f"dataset: {err}") from None
    if len(dataset) == 0:
        raise InvalidConfigError(f"dataset: the {ds['split']} split of {ds['name']} is empty")
    models, identity = {}, {}
    for label, stem in stems.items():
        try:
            model, meta = load_checkpoint(stem, device)
        except DeepSAVAError as err:
            raise InvalidConfigError(f"models.{label}.checkpoint: {err}") from None
        classes = meta.get("classes")
        if model.num_classes != len(dataset.classes) or (classes is not None and list(classes) != dataset.classes):
            raise InvalidConfigError(
                f"models.{label}.checkpoint: the model's classes ({classes or model.num_classes}) do not match"
                f" {ds['name']}'s {dataset.classes}")
        models[label] = model
        identity[label] = {"checkpoint": config.models[label]["checkpoint"], "model": meta["model"],
                           "preset": meta["preset"], "sha256": _sha256(stem.parent / (stem.name + ".safetensors"))}
    cells = []
    for cell in config.cells:
        params = build_attack(models[cell.model], cell.attack, seed=0).params()
        params.pop("seed", None)
        canonical = {"version": KEY_VERSION, "dataset": ds, "model": identity[cell.model],
                     "attack": {"spec": cell.attack, "resolved": params},
                     "seed": config.seed, "batch_size": config.batch_size}
        if config.transfer:  # absent otherwise, so the keys of runs without these analyses stay as they were
            canonical["transfer"] = {label: identity[label] for label in config.transfer}
        if config.compression:
            canonical["compression"] = config.compression
        cells.append(PreparedCell(cell, cell_key(canonical), canonical))
    return dataset, models, cells


# -- running ---------------------------------------------------------------------------------


class _StopFlag:
    """First SIGINT: finish the current batch, then stop. Second: stop now."""

    def __init__(self):
        self.stop = False
        self.previous = None

    def __enter__(self):
        try:
            self.previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: no handler, Ctrl-C behaves as usual
            self.previous = None
        return self

    def _handle(self, signum, frame):
        if self.stop:
            raise KeyboardInterrupt
        self.stop = True

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _save_example(out: Path, key: str, position: int, record: dict, clean: torch.Tensor, adv: torch.Tensor,
                  flow: torch.Tensor | None) -> None:
    """Perturbed frames' change (float16) of one video, for reports: <out>/examples/<cell key>/<position>.npz.

    ``flow`` (k, 2, H, W), in pixels, is saved too when the attack has one (the report draws it).
    """
    frames = record["frames"]
    delta = (adv[frames] - clean[frames]).numpy().astype(np.float16)
    extra = {} if flow is None else {"flow": flow.numpy().astype(np.float16)}
    folder = out / "examples" / key
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{position:04d}.npz"
    tmp = folder / f".{position:04d}.tmp.npz"
    np.savez_compressed(tmp, video_id=record["video_id"], frames=np.array(frames), delta=delta,
                        label=record["label"], clean_pred=record["clean_pred"], adv_pred=record["adv_pred"], **extra)
    os.replace(tmp, target)


def _run_batch(config: ExperimentConfig, dataset, model, cell: PreparedCell, repeat: int, positions: list[int],
               order: list[int], device: torch.device, out: Path, store: ResultStore, targets: dict) -> None:
    """Attack one batch of one cell and repeat; store its records in one transaction.

    ``targets``: the models of ``config.transfer`` by label, which classify the adversarial videos too.
    """
    from deepsava.runtime import seed_everything

    indices = [order[p] for p in positions]
    items = [dataset[i] for i in indices]
    videos = torch.stack([clip for clip, _ in items]).to(device)
    labels = torch.tensor([y for _, y in items], device=device)
    seed = derived_seed(config.seed, repeat, positions[0])
    seed_everything(seed)
    result = build_attack(model, cell.spec.attack, seed=seed)(videos, labels)
    records = result.to_records([dataset.video_ids[i] for i in indices])
    for p, record in zip(positions, records):
        record.update(repeat=repeat, position=p, batch=positions[0], model=cell.spec.model, method=cell.spec.method,
                      device=str(device))
    if targets:
        for record, seen in zip(records, transfer_predictions(videos, result.adversarial, targets)):
            record["transfer"] = seen
    if config.compression:
        for record, seen in zip(records, compression_predictions(model, videos, result.adversarial, config.compression)):
            record["compression"] = seen
    if repeat == 0:
        for j, (p, record) in enumerate(zip(positions, records)):
            if p < config.examples:
                _save_example(out, cell.key, p, record, videos[j].cpu(), result.adversarial[j],
                              None if result.flow is None else result.flow[j])
    store.add_results(cell.key, repeat, records)


def resume_command(config: ExperimentConfig, out: Path, limit: int | None, device: str) -> str:
    parts = ["deepsava", "experiment", config.path or "CONFIG.yaml", "--out", str(out)]
    if limit is not None:
        parts += ["--limit", str(limit)]
    if device != "auto":
        parts += ["--device", device]
    return shlex.join(parts)


def run_experiment(config: str | Path | ExperimentConfig, out: str | Path | None = None, limit: int | None = None,
                   device: str = "auto", force: bool = False, progress: bool = True, console=None,
                   resume: str | None = None) -> RunOutcome:
    """Run (or resume) every cell of an experiment; return the per-cell summary.

    ``limit`` caps the videos per cell and repeat; ``force`` discards the stored
    results of this config's cells first. ``progress`` shows a rich progress bar.
    ``resume``: the command that resumes this run, stored and printed (default
    ``deepsava experiment CONFIG --out OUT ...``; the demo gives its own).
    Under ``torchrun`` the batches are shared out over the processes and merged
    into one store (:mod:`deepsava.evaluate.sharding`).
    """
    from rich.console import Console

    from deepsava.distributed import session

    console = console or Console()
    if not isinstance(config, ExperimentConfig):
        config = load_config(config)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidArgumentError(f"--limit must be a positive integer, got {limit!r}")
    with session(device) as ranks:
        return _run_sharded(config, out, limit, device, force, progress, console, ranks, resume)


def _run_sharded(config: ExperimentConfig, out, limit, device: str, force: bool, progress: bool, console,
                 ranks, resume: str | None = None) -> RunOutcome:
    """:func:`run_experiment` in one process of ``ranks.world_size`` (see :mod:`deepsava.evaluate.sharding`)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from deepsava.distributed import from_main
    from deepsava.evaluate.sharding import merge_shards, my_batches, result_sink

    dev = ranks.device
    out = Path(out) if out is not None else Path("runs") / config.name
    from_main(ranks, lambda: _check_folder(out, config.name, force))  # only the first process opens results.sqlite
    dataset, models, cells = prepare(config, dev)

    count = min(config.videos, limit or config.videos, len(dataset))
    orders = [video_order(dataset.labels, derived_seed(config.seed, "order", r))[:count] for r in range(config.repeats)]
    store_path = out / DB_NAME
    outcome = RunOutcome(out, store_path, [], resume_command=resume or resume_command(config, out, limit, device))
    with (ResultStore(store_path) if ranks.main else contextlib.nullcontext()) as store:
        if ranks.main:
            for cell in cells:
                store.add_cell(cell.key, cell.spec.label, cell.canonical)
            if force:
                store.delete_cells(c.key for c in cells)
            store.set_meta("config_name", config.name)
            store.set_meta("config_path", config.path or "")
            store.set_meta("config_source", config.source)
            store.set_meta("resume_command", outcome.resume_command)
            if config.source:
                _write_config(out, config.source)
        merge_shards(store, out, ranks)  # what a killed sharded run left behind
        stored = from_main(ranks, lambda: {(c.key, r): store.done(c.key, r) for c in cells for r in range(config.repeats)})

        # The plan: (repeat, cell, batch positions) for batches not yet complete.
        plan, outcome.videos_total = [], count * config.repeats * len(cells)
        for r in range(config.repeats):
            for cell in cells:
                done = stored[(cell.key, r)]
                for start in range(0, count, config.batch_size):
                    positions = list(range(start, min(start + config.batch_size, count)))
                    ids = [dataset.video_ids[orders[r][p]] for p in positions]
                    finished = sum(vid in done for vid in ids)
                    outcome.videos_done += finished
                    if finished < len(ids):
                        plan.append((r, cell, positions))

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("videos"),
                   TimeElapsedColumn(), TimeRemainingColumn())
        plan = my_batches(plan, ranks)
        with _StopFlag() as flag, result_sink(store, cells, out, ranks) as sink, \
                Progress(*columns, console=console, disable=not (progress and ranks.main)) as bar:
            task = bar.add_task(config.name, total=outcome.videos_total, completed=outcome.videos_done)
            try:
                for r, cell, positions in plan:
                    if flag.stop:
                        break
                    bar.update(task, description=f"r{r + 1}/{config.repeats} {cell.spec.model} · {cell.spec.label}")
                    _run_batch(config, dataset, models[cell.spec.model], cell, r, positions, orders[r], dev, out, sink,
                               {label: models[label] for label in config.transfer})
                    outcome.batches_run += 1
                    outcome.videos_done += len(positions)
                    bar.update(task, completed=outcome.videos_done)
            except KeyboardInterrupt:  # a second Ctrl-C: the batch in progress is dropped, stored ones are whole
                pass

        merge_shards(store, out, ranks)
        outcome.summary = from_main(ranks, lambda: summarize_cells(store, cells, dataset, orders))
        outcome.videos_done = sum(row["videos"] for row in outcome.summary)
        outcome.interrupted = outcome.videos_done < outcome.videos_total
    if ranks.main:
        with atomic_path(out / "summary.json") as tmp:
            tmp.write_text(json.dumps(_jsonable(outcome.summary), indent=2) + "\n")
    return outcome


def _write_config(out: Path, source: str) -> None:
    """``out/config.yaml`` := ``source`` (atomically); an earlier, different one is kept as ``config.<n>.yaml``."""
    path = out / "config.yaml"
    if path.is_file() and path.read_bytes() != source.encode():
        n = 1
        while (out / f"config.{n}.yaml").exists():
            n += 1
        os.replace(path, out / f"config.{n}.yaml")
    with atomic_path(path) as tmp:
        tmp.write_text(source)


def _check_folder(out: Path, name: str, force: bool) -> None:
    """Refuse a run folder holding another experiment's results (unless ``force``): one experiment per folder."""
    if not (out / DB_NAME).is_file():
        return
    try:
        with ResultStore(out / DB_NAME) as store:
            stored = store.meta().get("config_name")
    except sqlite3.DatabaseError as err:
        raise InvalidArgumentError(f"{out / DB_NAME} is not a readable result database ({err}):"
                                   " choose another --out") from None
    if force:
        return
    if stored not in (None, name):
        raise InvalidConfigError(f"{out} holds the results of experiment {stored!r}, not {name!r}: choose another"
                                 " --out (or pass --force to store both there)")


# -- summaries -------------------------------------------------------------------------------

METRICS = ("fooling_rate", "ani", "aap_l21", "aap_ssim", "asp_ssim", "ssim", "l21", "seconds_per_video")
COUNTS = ("videos", "attacked", "successes", "skipped_misclassified", "beyond_l21_max", "beyond_ssim_max")


def _mean(values):
    values = [v for v in values if v is not None and not math.isnan(v)]
    return sum(values) / len(values) if values else math.nan


def summarize_repeats(per_repeat: list[list[dict]], level: float = 0.99) -> dict:
    """Metrics of one cell from its records grouped by repeat.

    FR is given per repeat and as their mean with two ``level`` intervals: the
    paper's Student-t interval over repeats (``fr_ci`` its half-width, nan with
    one repeat; ``fr_ci_low``/``fr_ci_high`` its bounds clipped to [0, 1]) and the
    Wilson interval of the pooled successes over the pooled attacked videos
    (``fr_wilson_low``/``fr_wilson_high``). Every other metric is the mean over
    repeats of the per-repeat value (repeats where it is nan, e.g. ANI without a
    success, left out); counts are summed.
    """
    filled = [records for records in per_repeat if records]
    per = [summarize(records) for records in filled]
    fr = [s["fooling_rate"] for s in per if not math.isnan(s["fooling_rate"])]
    fr_mean, fr_ci = confidence_interval(fr, level) if fr else (math.nan, math.nan)
    _, low, high = rate_interval(fr, level) if fr else (math.nan, math.nan, math.nan)
    out = {name: _mean([s[name] for s in per]) for name in METRICS}
    out.update({name: sum(s[name] for s in per) for name in COUNTS})
    out.update(fooling_rate=fr_mean, fr_ci=fr_ci, fr_ci_low=low, fr_ci_high=high, fr_per_repeat=fr,
               repeats=len(filled))
    out["fr_wilson_low"], out["fr_wilson_high"] = wilson_interval(out["successes"], out["attacked"], level)
    return out


def summarize_cells(store: ResultStore, cells: list[PreparedCell], dataset, orders: list[list[int]]) -> list[dict]:
    """Per-cell metrics over the videos each repeat selected (see :func:`summarize_repeats`)."""
    rows = []
    for cell in cells:
        per_repeat = []
        for r, order in enumerate(orders):
            wanted = {dataset.video_ids[i] for i in order}
            per_repeat.append([rec for rec in store.records(cell.key, r) if rec["video_id"] in wanted])
        expected = sum(len(o) for o in orders)
        rows.append({"cell_key": cell.key, "label": cell.spec.label, "model": cell.spec.model,
                     "method": cell.spec.method, "attack": cell.spec.attack, "swept": cell.spec.swept,
                     "expected": expected, **summarize_repeats(per_repeat)})
    return rows


_NUMBERS = ("iterations", "ssim", "l21", "seconds")


def _check_stored(path, key: str, config, records: list) -> None:
    """Raise InvalidArgumentError unless a stored cell has a config object and records the metrics can read."""
    attack = config.get("attack", {}) if isinstance(config, dict) else None
    if not (isinstance(attack, dict) and isinstance(attack.get("spec", {}), dict)):
        raise InvalidArgumentError(f"{path}: cell {key} has no configuration object: not a deepsava result store")
    for record in records:
        if not (isinstance(record, dict) and isinstance(record.get("video_id"), str)
                and all(isinstance(record.get(k), bool) for k in ("clean_correct", "success"))
                and all(isinstance(record.get(k), (int, float)) for k in _NUMBERS)):
            raise InvalidArgumentError(f"{path}: a record of cell {key} is not an attack result (it needs video_id,"
                                       f" clean_correct, success, {', '.join(_NUMBERS)}): {str(record)[:80]}")


def summarize_store(path: str | Path) -> list[dict]:
    """Per-cell metrics of every cell in a result store (all stored videos), e.g. for reports.

    Raises InvalidArgumentError when a stored cell or record is not what deepsava writes.
    """
    with ResultStore(path) as store:
        rows = []
        for key, info in store.cells().items():
            records = store.records(key)
            _check_stored(path, key, info["config"], records)
            if not records:
                continue
            repeats = sorted({rec.get("repeat", 0) for rec in records})
            per_repeat = [[rec for rec in records if rec.get("repeat", 0) == r] for r in repeats]
            attack = info["config"].get("attack", {}).get("spec", {})
            rows.append({"cell_key": key, "label": info["label"], "model": records[0].get("model"),
                         "method": attack.get("method"), "attack": attack, "config": info["config"],
                         **summarize_repeats(per_repeat)})
        return rows


def _jsonable(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _fmt(value, pattern="{:.3f}"):
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else pattern.format(value)


def fr_text(stats: dict | None) -> str:
    """FR as the paper writes it, "56.2% ± 1.7%" (99% Student-t interval over repeats, when there are several).

    Where mean ± half-width would leave [0, 100%] the clipped bounds are written instead: "4.2% (0.0–45.6%)".
    """
    if not stats:
        return "–"
    fr, half = stats["fooling_rate"], stats.get("fr_ci")
    text = _fmt(fr, "{:.1%}")
    if _fmt(fr) == "–" or _fmt(half) == "–":
        return text
    if fr - half < 0 or fr + half > 1:
        return text + f" ({100 * stats['fr_ci_low']:.1f}–{100 * stats['fr_ci_high']:.1f}%)"
    return text + f" ± {100 * half:.1f}%"


def wilson_text(stats: dict | None, counts: bool = True) -> str:
    """The 99% Wilson interval of the pooled successes / attacked videos: "41.2–80.1% (15/24)" (``counts``: the bracket)."""
    if not stats or _fmt(stats.get("fr_wilson_low")) == "–":
        return "–"
    return (f"{100 * stats['fr_wilson_low']:.1f}–{100 * stats['fr_wilson_high']:.1f}%"
            + (f" ({stats['successes']}/{stats['attacked']})" if counts else ""))


def summary_table(rows: list[dict], title: str = "results"):
    """A rich Table of per-cell summaries (FR with its two 99% intervals, ANI, AAP, ASP, SSIM, l2,1, time)."""
    from rich.table import Table

    table = Table(title=title)
    table.caption = ("FR: successes over videos correctly classified before the attack, mean ± 99% Student-t CI over"
                     " repeats (clipped to [0, 100%]: then its bounds); Wilson: 99% interval of the pooled successes /"
                     " attacked videos; ANI, ASP, SSIM, l2,1 over successes; s/vid: seconds per attacked video;"
                     " n: attacked/videos")
    for name, justify in (("model", "left"), ("attack", "left"), ("FR", "right"), ("Wilson 99%", "right"),
                          ("ANI", "right"), ("AAP l2,1", "right"), ("AAP SSIM", "right"), ("ASP", "right"),
                          ("SSIM", "right"), ("l2,1", "right"), ("s/vid", "right"), ("n", "right")):
        table.add_column(name, justify=justify, min_width=14 if name == "attack" else None)
    for row in rows:
        expected = row.get("expected")
        count = f"{row['attacked']}/{row['videos']}" + (f" of {expected}" if expected and expected != row["videos"] else "")
        table.add_row(str(row["model"]), row["label"], fr_text(row), wilson_text(row), _fmt(row["ani"], "{:.1f}"),
                      _fmt(row["aap_l21"]), _fmt(row["aap_ssim"]), _fmt(row["asp_ssim"], "{:.4f}"),
                      _fmt(row["ssim"], "{:.4f}"), _fmt(row["l21"]), _fmt(row["seconds_per_video"], "{:.2f}"), count)
    return table
