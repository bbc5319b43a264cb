"""Run every cell of an experiment config, resumably; summarise the stored results.

``run_experiment("configs/table3.yaml", out="runs/table3")`` validates the config
(nothing runs if anything is wrong), loads the dataset split and the models,
and attacks, for every repeat and every cell, a fixed sample of videos in fixed
batches, storing each batch's per-video records in ``<out>/results.sqlite`` the
moment the batch finishes (:class:`~deepsava.experiment.store.ResultStore`).

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

Cells whose templates name a worst-case group (``worst_case: NAME``) are combined per video and model
(:mod:`deepsava.experiment.worst_case`): ``RunOutcome.worst_case`` and ``<out>/worst_case.json``.

Ctrl-C (SIGINT) stops after the batch being attacked and prints how to resume;
a second Ctrl-C stops at once (stored batches are still whole).
"""

import contextlib
import inspect
import json
import os
import signal
import sqlite3
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from rich.console import Console

from deepsava.data import OneVideo, load_dataset
from deepsava.data.cache import atomic_path
from deepsava.data.synthetic import CLASSES, synth_actions
from deepsava.distributed import from_main, session
from deepsava.errors import DeepSAVAError, InvalidArgumentError, InvalidConfigError
from deepsava.experiment.artifacts import save_example, save_video, video_stem
from deepsava.experiment.batches import load_batch, prefetched
from deepsava.experiment.config import CellSpec, ExperimentConfig, build_attack, load_config
from deepsava.experiment.models import load_entry, recorded_classes
from deepsava.experiment.plan import KEY_VERSION, cell_key, resume_command, video_order
from deepsava.experiment.sharding import merge_shards, my_batches, result_sink
from deepsava.experiment.store import ResultStore
from deepsava.experiment.summary import jsonable, planned_records, summarize_cells
from deepsava.experiment.worst_case import META_KEY, groups_of, summarize_worst_cases
from deepsava.progress import progress_bar
from deepsava.runtime import derived_seed, seed_everything
from deepsava.studies.compression import compression_predictions
from deepsava.studies.transfer import transfer_predictions

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, so nothing stops two processes sharing a folder
    fcntl = None

DB_NAME = "results.sqlite"
WORST_CASE_FILE = "worst_case.json"  # written beside summary.json when the config has worst-case groups


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
    worst_case: list[dict] = field(default_factory=list)  # per worst-case group and model (experiment.worst_case)
    interrupted: bool = False
    batches_run: int = 0
    videos_total: int = 0
    videos_done: int = 0
    resume_command: str = ""
    classes: list[str] = field(default_factory=list)  # the dataset's class names, by label

    def stopped(self) -> str:
        """What an interrupted run says: "interrupted: 12/40 videos stored in DIR/results.sqlite; resume with: ..."."""
        return (f"interrupted: {self.videos_done}/{self.videos_total} videos stored in {self.store_path};"
                f" resume with: {self.resume_command}")


# -- seeds and video order -------------------------------------------------------------------




# -- preparation (everything that can fail, before any attack) --------------------------------




def _known_classes(ds: dict) -> list[str] | None:
    """The classes of a generated dataset, known without generating it (None for the other datasets)."""
    if ds["name"] != "synth-actions":
        return None
    count = ds["options"].get("num_classes", inspect.signature(synth_actions).parameters["num_classes"].default)
    return list(CLASSES[:count])


def prepare(config: ExperimentConfig, device: torch.device):
    """Load dataset and models, check they fit, and key every cell -> (dataset, models, cells).

    A one-video dataset without a label takes the first cell's model's clean prediction as its label.
    """
    used = list(dict.fromkeys([cell.model for cell in config.cells] + config.transfer))
    ds = config.dataset
    known = _known_classes(ds)
    for label in used:  # checkpoints' metadata and weights' shapes, before the dataset is generated
        count, classes = recorded_classes(label, config.models[label])
        if known is not None and count is not None and (count != len(known) or (classes or known) != known):
            where = f"models.{label}" + (".checkpoint" if "checkpoint" in config.models[label] else "")
            raise InvalidConfigError(f"{where}: the model's classes ({classes or count}) do not match"
                                     f" {ds['name']}'s {known}")
    try:
        dataset = load_dataset(ds["name"], split=ds["split"], root=ds["root"], frames=ds["frames"], size=ds["size"],
                               seed=ds["seed"], **ds["options"])
    except DeepSAVAError as err:
        raise InvalidConfigError(f"dataset: {err}") from None
    if len(dataset) == 0:
        raise InvalidConfigError(f"dataset: the {ds['split']} split of {ds['name']} is empty")
    models, identity = {}, {}
    for label in used:
        model, identity[label], classes = load_entry(label, config.models[label], len(dataset.classes) or None,
                                                     device)
        if isinstance(dataset, OneVideo):
            _fit_video(dataset, model, classes, device, first=label == config.cells[0].model)
        if model.num_classes != len(dataset.classes) or (classes is not None and list(classes) != dataset.classes):
            raise InvalidConfigError(
                f"models.{label}: the model's classes ({classes or model.num_classes}) do not match"
                f" {ds['name']}'s {dataset.classes}")
        models[label] = model
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


def _fit_video(dataset: OneVideo, model, classes: list[str] | None, device: torch.device, first: bool) -> None:
    """Give a one-video dataset the model's class names and, without a given label, the first model's prediction."""
    if (dataset.labels[0] == OneVideo.UNKNOWN and first) or model.num_classes is None:  # a user module learns its K here
        with torch.no_grad():
            prediction = int(model(dataset.clip[None].to(device)).argmax())
    names = list(classes) if classes else dataset.classes or [f"class {c}" for c in range(model.num_classes)]
    if dataset.labels[0] == OneVideo.UNKNOWN and first:
        dataset.set_prediction(prediction, names)
    elif not dataset.classes:
        dataset.classes = names
    if not 0 <= dataset.labels[0] < model.num_classes:
        raise InvalidConfigError(f"dataset.options.label: class {dataset.labels[0]} does not exist for a model of"
                                 f" {model.num_classes} classes")


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


def _run_batch(config: ExperimentConfig, dataset, model, cell: PreparedCell, repeat: int, positions: list[int],
               order: list[int], loaded: tuple[torch.Tensor, torch.Tensor], device: torch.device, out: Path,
               store: ResultStore, targets: dict, progress=None) -> None:
    """Attack one batch of one cell and repeat; store its records in one transaction.

    ``loaded``: the batch's clips (B, T, C, H, W) and labels (B,) on the CPU (:func:`load_batch`).
    ``targets``: the models of ``config.transfer`` by label, which classify the adversarial videos too.
    ``progress(fraction)``: told how far the attack's own run is, after each of its steps (the bar moves
    within a batch, so an estimate shows within seconds).
    """
    indices = [order[p] for p in positions]
    videos, labels = (x.to(device, non_blocking=True) for x in loaded)
    seed = derived_seed(config.seed, repeat, positions[0])
    seed_everything(seed)
    attack = build_attack(model, cell.spec.attack, seed=seed)
    attack.progress = progress
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16"):
        result = attack(videos, labels)
    records = result.to_records([dataset.video_ids[i] for i in indices])
    for p, i, record in zip(positions, indices, records):
        record.update(repeat=repeat, position=p, batch=positions[0], model=cell.spec.model, method=cell.spec.method,
                      device=str(device), **origin(config.dataset, dataset, i))
    if targets:
        for record, seen in zip(records, transfer_predictions(videos, result.adversarial, targets)):
            record["transfer"] = seen
    if config.compression:
        for record, seen in zip(records, compression_predictions(model, videos, result.adversarial, config.compression)):
            record["compression"] = seen
    if config.save_videos:
        for record, adv in zip(records, result.adversarial):
            save_video(out / "videos" / cell.key, video_stem(record["video_id"], isinstance(dataset, OneVideo)), adv)
    if repeat == 0:
        for j, (p, record) in enumerate(zip(positions, records)):
            if p < config.examples:
                save_example(out, cell.key, p, record, videos[j].cpu(), result.adversarial[j],
                              None if result.flow is None else result.flow[j])
    store.add_results(cell.key, repeat, records)


def origin(spec: dict, dataset, index: int) -> dict:
    """Where the clean original of ``dataset[index]`` comes from, and where its label does, for a record."""
    if isinstance(dataset, OneVideo):
        options = spec["options"]
        return {"source": {"video": str(dataset.path), "frames": spec["frames"], "size": spec["size"],
                           "sampling": options.get("sampling", "stride"), "short": options.get("short", "loop")},
                "label_source": dataset.label_source}
    return {"source": {"dataset": spec["name"], "split": spec["split"], "index": index}, "label_source": "dataset"}


def run_experiment(config: str | Path | ExperimentConfig, out: str | Path | None = None, limit: int | None = None,
                   device: str = "auto", force: bool = False, progress: bool = True, console=None,
                   resume: str | None = None, models: list[str] | None = None) -> RunOutcome:
    """Run (or resume) every cell of an experiment; return the per-cell summary.

    ``limit`` caps the videos per cell and repeat; ``force`` discards the stored
    results of this config's cells first. ``models`` (labels under the config's
    ``models:``) runs only those models' cells; the others wait for a later run.
    ``progress`` shows a rich progress bar.
    ``resume``: the command that resumes this run, stored and printed (default
    ``deepsava experiment CONFIG --out OUT ...``; the demo gives its own).
    Under ``torchrun`` the batches are shared out over the processes and merged
    into one store (:mod:`deepsava.experiment.sharding`).
    """
    console = console or Console()
    if not isinstance(config, ExperimentConfig):
        config = load_config(config)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidArgumentError(f"--limit must be a positive integer, got {limit!r}")
    out = Path(out) if out is not None else Path("runs") / config.name
    if models:
        unknown = [m for m in models if m not in config.models]
        if unknown:
            raise InvalidArgumentError(f"--model {unknown[0]}: not a model of {config.name} (its models:"
                                       f" {', '.join(config.models)})")
        resume = resume or resume_command(config, out, limit, device, models)
        config = replace(config, cells=[c for c in config.cells if c.model in models])
    with session(device) as ranks:
        return _run_sharded(config, out, limit, device, force, progress, console, ranks, resume)


@contextlib.contextmanager
def folder_lock(out: Path):
    """Hold an exclusive lock on the run folder ``out`` (released when the block ends or the process dies)."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as handle:
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise InvalidArgumentError(f"{out} is being written by another deepsava process: wait for it to"
                                           " finish or choose another --out") from None
        yield


def _run_sharded(config: ExperimentConfig, out, limit, device: str, force: bool, progress: bool, console,
                 ranks, resume: str | None = None) -> RunOutcome:
    """:func:`run_experiment` in one process of ``ranks.world_size`` (see :mod:`deepsava.experiment.sharding`)."""
    dev = ranks.device
    from_main(ranks, lambda: _check_folder(out, config.name, force))  # only the first process opens results.sqlite
    dataset, models, cells = prepare(config, dev)  # everything that can fail, before anything is written
    with folder_lock(out) if ranks.main else contextlib.nullcontext():
        return _run_cells(config, out, limit, device, force, progress, console, ranks, resume, dataset, models, cells)


def _run_cells(config: ExperimentConfig, out: Path, limit, device: str, force: bool, progress: bool, console, ranks,
               resume: str | None, dataset, models: dict, cells: list[PreparedCell]) -> RunOutcome:
    """Attack the batches not stored yet (this process's share of them) and summarise every cell."""
    dev = ranks.device
    count = min(config.videos, limit or config.videos, len(dataset))
    orders = [video_order(dataset.labels, derived_seed(config.seed, "order", r))[:count] for r in range(config.repeats)]
    store_path = out / DB_NAME
    outcome = RunOutcome(out, store_path, [], resume_command=resume or resume_command(config, out, limit, device),
                         classes=list(dataset.classes))
    groups = groups_of(cells)
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
            store.set_meta(META_KEY, json.dumps(groups))
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

        plan = my_batches(plan, ranks)
        loads = prefetched(plan, lambda item: load_batch(dataset, [orders[item[0]][p] for p in item[2]], dev),
                           background=dev.type == "cuda")
        with _StopFlag() as flag, result_sink(store, cells, out, ranks) as sink, contextlib.closing(loads) as batches, \
                progress_bar("videos", console, progress and ranks.main) as bar:
            task = bar.add_task(config.name, total=outcome.videos_total, completed=outcome.videos_done)
            try:
                for (r, cell, positions), loaded in batches:
                    if flag.stop:
                        break
                    bar.update(task, description=f"r{r + 1}/{config.repeats} {cell.spec.model} · {cell.spec.label}")
                    _run_batch(config, dataset, models[cell.spec.model], cell, r, positions, orders[r], loaded, dev,
                               out, sink,
                               {label: models[label] for label in config.transfer},
                               lambda part, done=outcome.videos_done, n=len(positions): bar.update(
                                   task, completed=done + part * n))
                    outcome.batches_run += 1
                    outcome.videos_done += len(positions)
                    bar.update(task, completed=outcome.videos_done)
            except KeyboardInterrupt:  # a second Ctrl-C: the batch in progress is dropped, stored ones are whole
                pass

        merge_shards(store, out, ranks)
        outcome.summary = from_main(ranks, lambda: summarize_cells(store, cells, dataset, orders))
        outcome.worst_case = from_main(ranks, lambda: summarize_worst_cases(
            groups, lambda key: [r for rs in planned_records(store, key, dataset, orders) for r in rs],
            {c.key: c.spec.label for c in cells}))
        outcome.videos_done = sum(row["videos"] for row in outcome.summary)
        outcome.interrupted = outcome.videos_done < outcome.videos_total
    if ranks.main:
        with atomic_path(out / "summary.json") as tmp:
            tmp.write_text(json.dumps(jsonable(outcome.summary), indent=2) + "\n")
        if outcome.worst_case:
            with atomic_path(out / WORST_CASE_FILE) as tmp:
                tmp.write_text(json.dumps(jsonable(outcome.worst_case), indent=2) + "\n")
        else:
            (out / WORST_CASE_FILE).unlink(missing_ok=True)  # an earlier configuration's
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

