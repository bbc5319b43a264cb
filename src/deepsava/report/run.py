"""What does a run folder hold? :func:`load_run` reads it once into a :class:`Run` that every report part uses.

A run folder is what ``deepsava experiment`` (and ``deepsava attack --out``, a
one-cell experiment) writes: ``results.sqlite`` with each cell's canonical
configuration, its per-video records and the run's configuration text and resume
command, plus ``examples/<cell key>/*.npz``. A folder holding only the outputs of
``deepsava saliency`` or ``deepsava prediction-attack`` is a run too (no cells).
"""

import json
import re
import shlex
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from deepsava.errors import DeepSAVAError, InvalidArgumentError
from deepsava.experiment.runner import DB_NAME
from deepsava.experiment.store import ResultStore
from deepsava.experiment.summary import summarize_store
from deepsava.experiment.worst_case import META_KEY, summarize_worst_cases
from deepsava.report.sources import Datasets
from deepsava.report.text import MISSING
from deepsava.studies import prediction


@dataclass
class CellView:
    """One cell of a run as the report shows it."""

    key: str
    label: str
    base: str  # the label without the sweep suffix "(frames=2, lam=1.0)"
    model: str  # the model's label in the run (never empty)
    method: str
    params: dict  # the attack's resolved parameters (and explicit ones), without method/seed
    stats: dict | None  # summarize_repeats output; None when no result is stored yet
    spec: dict = field(default_factory=dict)  # the parameters the configuration names explicitly (with method)
    planned: int | None = None  # results the configuration planned (videos x repeats); None when unknown
    dataset: dict | None = None  # the canonical dataset specification
    checkpoint: str | None = None  # the model's checkpoint as the configuration names it
    identity: dict = field(default_factory=dict)  # the canonical model identity (a foreign model's ``classes``)

    @property
    def stored(self) -> int:
        return self.stats["videos"] if self.stats else 0

    @property
    def partial(self) -> bool:
        return self.planned is not None and self.stored < self.planned

    def status(self) -> str:
        if self.planned is None:
            return MISSING
        if self.stored == 0:
            return f"not started (0 of {self.planned})"
        if self.stored < self.planned:
            return f"partial ({self.stored} of {self.planned})"
        return "complete"


@dataclass
class Run:
    """A run folder as read once: its cells, their records (by cell key), configuration and notes."""

    folder: Path
    kind: str  # "experiment", or "analysis" for a folder of saliency / prediction outputs only
    name: str
    description: str = ""
    cells: list[CellView] = field(default_factory=list)
    config_source: str = ""
    resume: str = ""
    results: int = 0
    notes: list[str] = field(default_factory=list)
    records: dict[str, list[dict]] = field(default_factory=dict)  # cell key -> its stored records, all repeats
    worst_case: list[dict] = field(default_factory=list)  # per worst-case group and model (experiment.worst_case)

    @property
    def partial(self) -> bool:
        return any(c.partial for c in self.cells)


def has_analyses(folder: Path) -> bool:
    """Whether a folder holds saliency or prediction outputs (which need no result database)."""
    return any(folder.glob("saliency-*.npz")) or (folder / prediction.RESULT_FILE).is_file()


def load_run(run_dir: str | Path) -> Run:
    """Read a run folder; raise InvalidArgumentError when it holds no results."""
    folder = Path(run_dir)
    if not folder.exists():
        raise InvalidArgumentError(f"run folder {folder} does not exist")
    if not folder.is_dir():
        raise InvalidArgumentError(
            f"{folder} is not a folder: give the run folder of deepsava experiment or deepsava attack --out")
    if (folder / DB_NAME).is_file():
        return _load_store(folder)
    if has_analyses(folder):
        return Run(folder, "analysis", folder.name)
    raise InvalidArgumentError(
        f"{folder} holds no results: neither {DB_NAME} (deepsava experiment or deepsava attack --out) nor the"
        " outputs of deepsava saliency or prediction-attack")


_SWEEP = re.compile(r"^(.*) \(((?:[A-Za-z_0-9]+=[^,()]*)(?:, [A-Za-z_0-9]+=[^,()]*)*)\)$")


def base_label(label: str, spec: dict) -> str:
    """A cell label without the suffix the config expansion adds for swept values ("Sparse (frames=2)" -> "Sparse")."""
    match = _SWEEP.match(label)
    if not match:
        return label
    for part in match.group(2).split(", "):
        key, value = part.split("=", 1)
        if key not in spec or str(spec[key]) != value:
            return label
    return match.group(1)


def _plan(source: str, resume: str):
    """(config, planned videos per cell and repeat) from the stored config text and resume command; (None, None)."""
    from deepsava.experiment.config import read_config

    try:
        config = read_config(source)
    except DeepSAVAError:
        return None, None
    limit = None
    try:
        words = shlex.split(resume)
        if "--limit" in words:
            limit = int(words[words.index("--limit") + 1])
    except (ValueError, IndexError):
        pass
    return config, min(config.videos, limit) if limit else config.videos


def model_label(identity: dict, records: list[dict], labels: dict[str, str]) -> str:
    """A cell's model as the run names it: the records' label, the configuration's label of its checkpoint, or the
    checkpoint reference itself (``labels``: checkpoint -> configuration label)."""
    checkpoint = identity.get("checkpoint") or identity.get("spec")
    named = records[0].get("model") if records else None
    return str(named or labels.get(checkpoint) or checkpoint or identity.get("model") or "model")


def _load_store(folder: Path) -> Run:
    db = folder / DB_NAME
    try:
        with ResultStore(db) as store:
            stored_cells = store.cells()
            meta = store.meta()
            records = {key: store.records(key) for key in stored_cells}
    except sqlite3.DatabaseError as err:
        raise InvalidArgumentError(f"{db} is not a readable result database ({err})") from None
    total = sum(map(len, records.values()))
    if not total:
        raise InvalidArgumentError(
            f"{folder} holds no results yet ({db} has no stored video): run or resume the experiment first")
    summaries = {row["cell_key"]: row for row in summarize_store(db)}
    source = meta.get("config_source", "")
    config, count = _plan(source, meta.get("resume_command", ""))
    run = Run(folder, "experiment", config.name if config else folder.name,
              (config.description if config else "") or "", config_source=source,
              resume=meta.get("resume_command", ""), results=total, records=records)
    if config is None:
        run.notes.append("The run's configuration could not be read back: planned counts (partial cells) are unknown.")
    planned_labels = {(c.model, c.label) for c in config.cells} if config else set()
    labels = {spec["checkpoint"]: label for label, spec in config.models.items() if "checkpoint" in spec} if config else {}

    latest: dict[tuple, CellView] = {}
    superseded = 0
    for key, info in stored_cells.items():
        canonical = info["config"]
        attack = canonical.get("attack", {})
        spec = dict(attack.get("spec", {}))
        identity = canonical.get("model", {})
        model = model_label(identity, records[key], labels)
        summary = summaries.get(key)
        ident = (model, info["label"])
        if summary is None and ident not in planned_labels:
            continue  # an empty cell of an earlier configuration
        params = {**attack.get("resolved", {}), **{k: v for k, v in spec.items() if k != "method"}}
        params.pop("seed", None)
        skip = ("cell_key", "label", "model", "method", "attack", "config")
        stats = {k: v for k, v in summary.items() if k not in skip} if summary else None
        view = CellView(key, info["label"], base_label(info["label"], spec), model, spec.get("method", "?"), params,
                        stats, spec=spec, dataset=canonical.get("dataset"), checkpoint=identity.get("checkpoint"),
                        identity=identity)
        if config is not None and ident in planned_labels:
            view.planned = count * config.repeats
        if ident in latest and latest[ident].stats:
            superseded += 1
        latest[ident] = view  # cells() is in creation order: the latest configuration wins
    run.cells = list(latest.values())
    groups = _groups(meta.get(META_KEY), stored_cells)
    run.worst_case = summarize_worst_cases(groups, lambda key: records.get(key, []),
                                           {key: info["label"] for key, info in stored_cells.items()})
    short = [c for c in run.cells if c.planned is not None and c.stored < c.planned]
    if config is not None and short and count > 0:  # the split may hold fewer videos than the config asks for
        ds = Datasets().get(config.dataset)[0]
        if ds is not None and len(ds) < count:
            for c in run.cells:
                if c.planned is not None:
                    c.planned = len(ds) * config.repeats
    if superseded:
        run.notes.append(f"{superseded} older cell(s) with the same model and label (an earlier configuration in this"
                         " folder) are left out; the latest configuration's cells are shown.")
    return run


def _groups(text: str | None, stored_cells: dict) -> list[dict]:
    """The worst-case groups the store's meta records (JSON), keeping those whose cells are all stored; [] for none."""
    try:
        groups = json.loads(text) if text else []
    except ValueError:
        return []
    if not isinstance(groups, list):
        return []
    return [g for g in groups if isinstance(g, dict) and isinstance(g.get("cells"), list) and g["cells"]
            and all(key in stored_cells for key in g["cells"])]
