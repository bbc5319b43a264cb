"""``deepsava report RUN_DIR``: a Markdown file and one self-contained HTML page for a run folder.

A run folder is what ``deepsava experiment`` writes (``results.sqlite``,
``config.yaml``, ``examples/<cell key>/*.npz``) or, more simply, what
``deepsava attack --out`` writes (``records.jsonl``, ``summary.json``,
``videos/*.mkv``). :func:`write_report` reads it and writes into ``out``
(default ``RUN_DIR/report``):

- ``report.md``: the tables, and the figures as ``figures/*.png`` next to it;
- ``report.html``: the same, one self-contained file: every image and every video
  embedded as a base64 data URI (the mp4 files are kept beside it too);
- ``videos/*.mp4``: each shown adversarial video next to its original, an H.264
  re-encoding (CRF 12, yuv420p, which browsers play), linked from the Markdown.

Content:

- a per-cell table always (FR ± 99% CI over repeats and the pooled 99% Wilson
  interval, ANI, AAP, ASP, SSIM, l2,1, seconds per attacked video, counts, and
  whether the cell has all the results its config planned);
- the paper's tables where the cells allow them: Table 3 (model × method,
  unconstrained cells that are not part of a sweep), Table 6 (the same under
  l2,1 ≤ 0.1 and SSIM ≥ 0.92, as the paper computes AAP), Table 7 (DeepSAVA's perturbation
  mode × number of frames, when modes vary), Table 9 (λ: FR, ASP, when λ is
  swept), Table 5 (fixed l2,1 / SSIM budgets: FR and time);
- line plots: FR against the number of attacked frames (Figure 6) when frames are
  swept, FR and ASP against λ when λ is swept;
- Figure-8-style strips for a few videos (``videos``): the clean perturbed frame,
  the adversarial frame, the amplified difference and, when the example holds
  it (an ``flow`` array in the ``.npz``), the flow field as a colour wheel; the
  predictions before and after. The runner's examples store the change of the
  perturbed frames only, so the clean frames come from the run's dataset (loaded
  again from the cell's configuration); when it cannot be loaded the strip shows
  the difference only and says why.

An interrupted run still gets a report: cells holding fewer results than their
configuration planned are marked partial, and the report says how to resume.
"""

import base64
import datetime
import html
import json
import math
import re
import shlex
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from deepsava.errors import DeepSAVAError, InvalidArgumentError
from deepsava.evaluate import figures
from deepsava.evaluate.metrics import AAP_L21_MAX, AAP_SSIM_MAX
from deepsava.evaluate.runner import DB_NAME, fr_text, summarize_repeats, summarize_store, wilson_text
from deepsava.evaluate.store import ResultStore

REPORT_DIR = "report"
MAX_FRAMES_SHOWN = 2  # perturbed frames drawn per example video
VIDEO_FPS = 10  # slower than the usual 25 so that a single perturbed frame can be seen
VIDEO_HEIGHT = 192  # side-by-side videos are enlarged (nearest neighbour) to about this height
VIDEO_CRF = 12  # H.264 quality of the side-by-side videos: near-lossless (0.5-1 MB for 40 frames at 192 px)
AXES = ("frames", "lam", "l21_budget", "ssim_budget", "mode")
KINDS = {"experiment": "experiment", "attack": "single attack", "analysis": "saliency / prediction analysis"}


# -- what a run holds ---------------------------------------------------------------------------


@dataclass
class CellView:
    """One cell of a run as the report shows it."""

    key: str
    label: str
    base: str  # the label without the sweep suffix "(frames=2, lam=1.0)"
    model: str
    method: str
    params: dict  # the attack's resolved parameters (and explicit ones), without method/seed
    stats: dict | None  # summarize_repeats output; None when no result is stored yet
    spec: dict = field(default_factory=dict)  # the parameters the configuration names explicitly (with method)
    planned: int | None = None  # results the configuration planned (videos x repeats); None when unknown
    dataset: dict | None = None  # the canonical dataset specification (experiment runs)
    checkpoint: str | None = None  # the model's checkpoint as the configuration names it (experiment runs)
    unfinished: str = ""  # why the cell is partial when the plan is unknown (attack runs)

    @property
    def stored(self) -> int:
        return self.stats["videos"] if self.stats else 0

    @property
    def partial(self) -> bool:
        return bool(self.unfinished) or (self.planned is not None and self.stored < self.planned)

    def status(self) -> str:
        if self.unfinished:
            return "partial"
        if self.planned is None:
            return "–"
        if self.stored == 0:
            return f"not started (0 of {self.planned})"
        if self.stored < self.planned:
            return f"partial ({self.stored} of {self.planned})"
        return "complete"


@dataclass
class Run:
    folder: Path
    kind: str  # "experiment" or "attack"
    name: str
    description: str = ""
    cells: list[CellView] = field(default_factory=list)
    config_source: str = ""
    resume: str = ""
    results: int = 0
    notes: list[str] = field(default_factory=list)
    records: dict = field(default_factory=dict)  # attack runs: video_id -> record

    @property
    def partial(self) -> bool:
        return any(c.partial for c in self.cells)


def load_run(run_dir: str | Path) -> Run:
    """Read a run folder (experiment or attack); raise InvalidArgumentError when it holds no results."""
    folder = Path(run_dir)
    if not folder.exists():
        raise InvalidArgumentError(f"run folder {folder} does not exist")
    if not folder.is_dir():
        raise InvalidArgumentError(
            f"{folder} is not a folder: give the run folder of deepsava experiment or deepsava attack --out")
    if (folder / DB_NAME).is_file():
        return _load_experiment(folder)
    if (folder / "records.jsonl").is_file():
        return _load_attack(folder)
    from deepsava.evaluate.analysis_report import has_analyses

    if has_analyses(folder):  # saliency maps or the prediction study only
        return Run(folder, "analysis", folder.name)
    raise InvalidArgumentError(
        f"{folder} holds no results: neither {DB_NAME} (deepsava experiment) nor records.jsonl (deepsava attack --out)")


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
    """(config, planned results per cell) from the stored config text and resume command; (None, None) if unreadable."""
    from deepsava.evaluate.config import read_config

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
    count = min(config.videos, limit) if limit else config.videos
    return config, count


def _load_experiment(folder: Path) -> Run:
    db = folder / DB_NAME
    try:
        with ResultStore(db) as store:
            stored_cells = store.cells()
            meta = store.meta()
            counts = dict(store.db.execute("SELECT cell_key, COUNT(*) FROM results GROUP BY cell_key"))
    except sqlite3.DatabaseError as err:
        raise InvalidArgumentError(f"{db} is not a readable result database ({err})") from None
    total = sum(counts.values())
    if not total:
        raise InvalidArgumentError(
            f"{folder} holds no results yet ({db} has no stored video): run or resume the experiment first")
    summaries = {row["cell_key"]: row for row in summarize_store(db)}
    source = meta.get("config_source", "")
    config, count = _plan(source, meta.get("resume_command", ""))
    run = Run(folder, "experiment", config.name if config else folder.name,
              (config.description if config else "") or "", config_source=source,
              resume=meta.get("resume_command", ""), results=total)
    if config is None:
        run.notes.append("The run's configuration could not be read back: planned counts (partial cells) are unknown.")
    planned_labels = {(c.model, c.label) for c in config.cells} if config else set()
    checkpoints = {spec["checkpoint"]: label for label, spec in config.models.items()} if config else {}

    latest: dict[tuple, CellView] = {}
    superseded = 0
    for key, info in stored_cells.items():
        canonical = info["config"]
        attack = canonical.get("attack", {})
        spec = dict(attack.get("spec", {}))
        summary = summaries.get(key)
        model = summary["model"] if summary else checkpoints.get(canonical.get("model", {}).get("checkpoint"), "?")
        ident = (model, info["label"])
        if summary is None and ident not in planned_labels:
            continue  # an empty cell of an earlier configuration
        params = {**attack.get("resolved", {}), **{k: v for k, v in spec.items() if k != "method"}}
        params.pop("seed", None)
        skip = ("cell_key", "label", "model", "method", "attack", "config")
        stats = {k: v for k, v in summary.items() if k not in skip} if summary else None
        view = CellView(key, info["label"], base_label(info["label"], spec), model, spec.get("method", "?"), params,
                        stats, spec=spec, dataset=canonical.get("dataset"),
                        checkpoint=canonical.get("model", {}).get("checkpoint"))
        if config is not None and ident in planned_labels:
            view.planned = count * config.repeats
        if ident in latest and latest[ident].stats:
            superseded += 1
        latest[ident] = view  # cells() is in creation order: the latest configuration wins
    run.cells = list(latest.values())
    short = [c for c in run.cells if c.planned is not None and c.stored < c.planned]
    if config is not None and short and count > 0:  # the split may hold fewer videos than the config asks for
        ds = _Datasets().get(config.dataset)[0]
        if ds is not None and len(ds) < count:
            for c in run.cells:
                if c.planned is not None:
                    c.planned = len(ds) * config.repeats
    if superseded:
        run.notes.append(f"{superseded} older cell(s) with the same model and label (an earlier configuration in this"
                         " folder) are left out; the latest configuration's cells are shown.")
    return run


RECORD_FIELDS = ("video_id", "clean_correct", "success", "iterations", "frames", "ssim", "l21", "seconds")


def _load_attack(folder: Path) -> Run:
    records, broken = [], 0
    for line in (folder / "records.jsonl").read_text().splitlines():
        if line.strip():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = None
            if isinstance(record, dict) and all(field in record for field in RECORD_FIELDS):
                records.append(record)
            else:
                broken += 1  # a line cut short by an interrupted write, or not an attack record
    if not records:
        raise InvalidArgumentError(f"{folder} holds no results yet (no readable record in records.jsonl)")
    summary_path = folder / "summary.json"
    params = {}
    if summary_path.is_file():
        try:
            params = dict(json.loads(summary_path.read_text()).get("attack") or {})
        except (json.JSONDecodeError, AttributeError):
            params = {}
    params.pop("seed", None)
    method = records[0].get("attack", "attack")
    shown = ", ".join(f"{k}={params[k]}" for k in ("mode", "selector", "frames") if params.get(k) is not None)
    label = f"{method} ({shown})" if shown else method
    view = CellView("attack", label, label, "–", method, params, summarize_repeats([records]))
    if not summary_path.is_file():
        view.unfinished = "summary.json is missing: the attack did not finish"
    run = Run(folder, "attack", folder.name, f"deepsava attack --out {folder}", [view], results=len(records),
              records={str(r["video_id"]): r for r in records})
    if broken:
        run.notes.append(f"{broken} line(s) of records.jsonl could not be read (cut short, or not attack records)"
                         " and are left out.")
    if view.unfinished:
        run.notes.append(view.unfinished + "; the numbers cover the videos recorded so far.")
    return run


# -- numbers as text ------------------------------------------------------------------------------


def _nan(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _pct(value) -> str:
    return "–" if _nan(value) else f"{100 * value:.1f}%"


def _num(value, pattern="{:.3f}") -> str:
    return "–" if _nan(value) else pattern.format(value)


def _stat(cell: CellView, name: str):
    return cell.stats[name] if cell.stats else math.nan


def fr_both(stats: dict | None) -> str:
    """FR with both intervals in one cell, for tables with a cell per column: "49.2% ± 30.1% · W 20.4–78.0%"."""
    wilson = wilson_text(stats, counts=False)
    return fr_text(stats) + ("" if wilson == "–" else " · W " + wilson)


def aap_text(cell: CellView, distance: str) -> str:
    """AAP(l2,1) or AAP(SSIM), marked † when a success lies beyond D_max (then AAP is not bounded by D_max)."""
    beyond = cell.stats.get(f"beyond_{distance}_max", 0) if cell.stats else 0
    return _num(_stat(cell, f"aap_{distance}")) + ("†" if beyond else "")


FR_CAPTION = ("FR: successful attacks over videos classified correctly before the attack; ± the half-width of the"
              " 99% Student-t interval over repeats (the paper's form; where it would leave [0, 100%] its clipped"
              " bounds are written instead); Wilson: the 99% Wilson interval of the successes over the attacked"
              " videos pooled over repeats (successes/attacked).")
AAP_CAPTION = (" AAP: the paper's average absolute perturbation, mean D over successes × FR + D_max × (1 − FR),"
               " D_max = 0.1 (l2,1) and 1 − 0.92 (SSIM); it is defined for attacks constrained to D ≤ D_max"
               " (configs/table6.yaml); † marks a cell with successes beyond D_max, where the formula is applied"
               " unchanged and can exceed D_max.")


# -- tables ---------------------------------------------------------------------------------------


@dataclass
class Table:
    """A table for both renderers; ``groups`` are optional spanning headers [(text, span)] over the columns."""

    anchor: str
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    caption: str = ""
    groups: list[tuple[str, int]] | None = None
    bold: set = field(default_factory=set)  # (row, column) cells shown in bold (the best of a group)
    text_columns: int = 2  # leading columns of text (left-aligned); the rest are numbers


def cell_table(run: Run) -> Table:
    table = Table("cells", "Results per cell",
                  ["model", "cell", "FR", "Wilson 99%", "ANI", "AAP(l2,1)", "AAP(SSIM)", "ASP(SSIM)", "SSIM", "l2,1",
                   "s/attacked video", "n", "status"])
    for c in run.cells:
        n = f"{c.stats['attacked']}/{c.stats['videos']}" if c.stats else "0"
        table.rows.append([c.model, c.label, fr_text(c.stats), wilson_text(c.stats), _num(_stat(c, "ani"), "{:.1f}"),
                           aap_text(c, "l21"), aap_text(c, "ssim"), _num(_stat(c, "asp_ssim"), "{:.4f}"),
                           _num(_stat(c, "ssim"), "{:.4f}"), _num(_stat(c, "l21")),
                           _num(_stat(c, "seconds_per_video"), "{:.2f}"), n, c.status()])
    repeats = max((c.stats["repeats"] for c in run.cells if c.stats), default=1)
    table.caption = (FR_CAPTION + (f" {repeats} repeats." if repeats > 1 else "")
                     + " ANI: mean iterations of the successes." + AAP_CAPTION
                     + " ASP, SSIM, l2,1: means over successes (ASP = 1 − SSIM of the perturbed frames)."
                       " s/attacked video: a batch's wall time (clean forward, frame selection, generation) over"
                       " its attacked videos. n: attacked (correct before) / stored videos.")
    return table


def _signature(cell: CellView, drop: tuple = ()) -> tuple:
    return tuple(sorted((k, json.dumps(v)) for k, v in cell.params.items() if k not in drop))


def _sweep_lines(cells: list[CellView], axis: str) -> list[tuple[str, str, list[CellView]]]:
    """Cells that differ only in ``axis`` within the same model and method: [(model, line label, cells by axis)]."""
    groups: dict[tuple, list[CellView]] = {}
    for c in cells:
        if c.params.get(axis) is None or isinstance(c.params.get(axis), str) or not c.stats:
            continue
        groups.setdefault((c.model, c.base, _signature(c, (axis,))), []).append(c)
    lines = []
    for (model, base, sig), members in groups.items():
        values = {m.params[axis] for m in members}
        if len(values) < 2 or len(values) != len(members):
            continue
        lines.append((model, base, sig, sorted(members, key=lambda m: m.params[axis])))
    out = []
    for model, base, sig, members in lines:
        same = [s for m2, b2, s, _ in lines if (m2, b2) == (model, base)]
        label = base
        if len(same) > 1:  # several lines of one method and model: name what tells them apart
            differing = sorted({k for s in same for k, v in s if any(dict(o).get(k) != v for o in same)})
            params = dict(sig)
            label += " (" + ", ".join(f"{k}={json.loads(params[k])}" for k in differing if k in params) + ")"
        out.append((model, label, members))
    return out


def _budgets(c: CellView) -> tuple:
    return c.params.get("l21_budget"), c.params.get("ssim_budget")


def aap_constrained(c: CellView) -> bool:
    """Constrained as the paper's Table 6 computes AAP: l2,1 ≤ 0.1 and SSIM ≥ 0.92 together."""
    l21, ssim = _budgets(c)
    return l21 is not None and ssim is not None and math.isclose(l21, AAP_L21_MAX) \
        and math.isclose(1 - ssim, AAP_SSIM_MAX)


def _single(cells: list[CellView]) -> list[CellView]:
    """The cells alone in their (model, base label) group, i.e. not part of a sweep, with results."""
    groups: dict[tuple, list[CellView]] = {}
    for c in cells:
        groups.setdefault((c.model, c.base), []).append(c)
    single = [members[0] for members in groups.values() if len(members) == 1 and members[0].stats]
    order = list(dict.fromkeys(c.model for c in cells))
    return sorted(single, key=lambda c: order.index(c.model))


def _bold_best_fr(table: Table, cells: list[CellView], column: int) -> None:
    """Bold the highest FR of each model (none when all of a model's are equal)."""
    for model in {c.model for c in cells}:
        rows = [i for i, c in enumerate(cells) if c.model == model and not _nan(c.stats["fooling_rate"])]
        if len({cells[i].stats["fooling_rate"] for i in rows}) > 1:
            best = max(cells[i].stats["fooling_rate"] for i in rows)
            table.bold.update((i, column) for i in rows if cells[i].stats["fooling_rate"] == best)


def table3(run: Run, exclude: set = frozenset()) -> list[Table]:
    """Table 3 (FR with its intervals, ANI) over the unconstrained cells not part of a sweep (nor in ``exclude``)."""
    single = _single([c for c in run.cells if c.key not in exclude and _budgets(c) == (None, None)])
    if len(single) < 2:
        return []
    table = Table("table3", "Table 3: comparison of methods per model (FR ± 99% CI over repeats, ANI)",
                  ["model", "attack method", "FR", "Wilson 99%", "ANI", "n"],
                  caption="As the paper's Table 3; the best FR of each model in bold; '–': no successful attack. "
                          + FR_CAPTION)
    for c in single:
        table.rows.append([c.model, c.base, fr_text(c.stats), wilson_text(c.stats), _num(c.stats["ani"], "{:.1f}"),
                           f"{c.stats['attacked']}/{c.stats['videos']}"])
    _bold_best_fr(table, single, 2)
    return [table]


def table6(run: Run) -> list[Table]:
    """Table 6 (FR, ANI, AAP) over the cells constrained as the paper computes AAP (l2,1 ≤ 0.1 and SSIM ≥ 0.92)."""
    single = _single([c for c in run.cells if aap_constrained(c)])
    if not single:
        return []
    table = Table("table6", "Table 6: fooling rate, iterations and average absolute perturbation"
                            " (l2,1 ≤ 0.1 and SSIM ≥ 0.92)",
                  ["model", "attack method", "FR", "Wilson 99%", "ANI", "AAP(l2,1)", "AAP(SSIM)", "n"],
                  caption="As the paper's Table 6: every evaluated video is scaled back onto both budgets, so"
                          " D ≤ D_max and AAP ≤ D_max; lower AAP is less perturbation; the best FR of each model"
                          " in bold. " + FR_CAPTION + AAP_CAPTION)
    for c in single:
        table.rows.append([c.model, c.base, fr_text(c.stats), wilson_text(c.stats), _num(c.stats["ani"], "{:.1f}"),
                           aap_text(c, "l21"), aap_text(c, "ssim"), f"{c.stats['attacked']}/{c.stats['videos']}"])
    _bold_best_fr(table, single, 2)
    return [table]


def _explicit_name(cells: list[CellView], axes: tuple):
    """A row namer: the base label plus the explicit parameters (other than ``axes``) that differ within that base."""
    differing: dict[str, list[str]] = {}
    for base in {c.base for c in cells}:
        specs = [{k: v for k, v in c.spec.items() if k not in axes and k != "method"} for c in cells if c.base == base]
        keys = sorted({k for s in specs for k in s})
        differing[base] = [k for k in keys if len({json.dumps(s.get(k)) for s in specs}) > 1]

    def name(c: CellView) -> str:
        keys = differing.get(c.base, [])
        return c.base + (" (" + ", ".join(f"{k}={c.spec.get(k)}" for k in keys) + ")" if keys else "")

    return name


def table7(run: Run) -> list[Table]:
    """Table 7: D, S, D+S (and D+S with BO) × model and number of frames ("Mask N"), when modes vary."""
    cells = [c for c in run.cells if c.params.get("mode") and c.stats]
    if len({c.params["mode"] for c in cells}) < 2:
        return []
    names = {"additive": "D", "spatial": "S", "combined": "D+S"}
    models = list(dict.fromkeys(c.model for c in cells))
    columns = [(m, f) for m in models for f in sorted({c.params.get("frames") for c in cells if c.model == m},
                                                       key=lambda v: (isinstance(v, str), v))]
    for row_name in (lambda c: c.base, _explicit_name(cells, ("frames", "mode", "selector")), lambda c: c.label):
        rows: dict[tuple, dict] = {}
        clash = False
        for c in cells:
            row = (c.params.get("selector") != "first", c.params.get("selector"), row_name(c), c.params["mode"])
            entry = rows.setdefault(row, {})
            clash |= (c.model, c.params.get("frames")) in entry
            entry[(c.model, c.params.get("frames"))] = c
        if not clash:
            break
    else:
        return []
    table = Table("table7", "Table 7: perturbation mode (D noise, S spatial, D+S both) × frames attacked",
                  ["approach", "mode", "frames chosen by"] + [f"Mask{f}" for _, f in columns],
                  groups=[("", 3)] + [(m, sum(1 for mm, _ in columns if mm == m)) for m in models], text_columns=3,
                  caption="As the paper's Table 7: FR; Mask N: N frames perturbed; 'first N': the first frames,"
                          " otherwise the named selector (bo: Bayesian optimisation). W: Wilson interval. "
                          + FR_CAPTION)
    for (_, selector, name, mode), entry in sorted(rows.items(), key=lambda kv: kv[0][0]):
        chosen = "first N" if selector == "first" else str(selector)
        table.rows.append([name, names.get(mode, mode), chosen] + [fr_both(entry[k].stats) if k in entry else ""
                                                                   for k in columns])
    return [table]


def table9(run: Run) -> list[Table]:
    lines = _sweep_lines(run.cells, "lam")
    if not lines:
        return []
    table = Table("table9", "Table 9: the SSIM weight λ (FR, ASP(SSIM))",
                  ["model", "attack method", "λ", "FR", "Wilson 99%", "ASP(SSIM)", "n"],
                  caption="As the paper's Table 9: ASP(SSIM) is the mean 1 − SSIM of the perturbed frames over"
                          " successful attacks (lower: less visible). " + FR_CAPTION)
    for model, label, members in lines:
        for c in members:
            table.rows.append([model, label, str(float(c.params["lam"])), fr_text(c.stats), wilson_text(c.stats),
                               _num(c.stats["asp_ssim"], "{:.4f}"), f"{c.stats['attacked']}/{c.stats['videos']}"])
    return [table]


def _constraint(c: CellView) -> tuple | None:
    """(sort key, text) of a cell's budgets, or None without one."""
    l21, ssim = _budgets(c)
    if l21 is not None and ssim is not None:
        return (2, l21, -ssim), f"l2,1 ≤ {l21:g} and SSIM ≥ {ssim:g}"
    if l21 is not None:
        return (0, l21, 0), f"l2,1 ≤ {l21:g}"
    if ssim is not None:
        return (1, -ssim, 0), f"SSIM ≥ {ssim:g}"
    return None


def table5(run: Run) -> list[Table]:
    """Table 5 / B.14-B.16: FR and seconds per attacked video under fixed l2,1 or SSIM budgets, per model.

    Cells constrained as AAP's Table 6 (both budgets at D_max) are that table's, not this one's.
    """
    cells = [c for c in run.cells if _constraint(c) and c.stats and not aap_constrained(c)]
    if not cells:
        return []
    for name in (lambda c: c.base, lambda c: c.label):
        entries, clash = {}, False
        for c in cells:
            k = (c.model, _constraint(c), name(c))
            clash |= k in entries
            entries[k] = c
        if not clash:
            break
    else:
        return []
    methods = list(dict.fromkeys(k[2] for k in entries))
    columns = ["model", "constraint"] + ["FR", "Wilson 99%", "s/attacked video"] * len(methods)
    table = Table("table5", "Table 5: fixed l2,1 and SSIM budgets (FR and time)", columns,
                  groups=[("", 2)] + [(m, 3) for m in methods],
                  caption="As the paper's Table 5 and B.14–B.16: every evaluated video is scaled back onto the"
                          " budget; time is a batch's wall-clock seconds over its attacked videos (the paper gives"
                          " totals). " + FR_CAPTION)
    for model in dict.fromkeys(c.model for c in cells):
        for constraint in sorted({k[1] for k in entries if k[0] == model}):
            row = [model, constraint[1]]
            for m in methods:
                c = entries.get((model, constraint, m))
                row += [fr_text(c.stats), wilson_text(c.stats), _num(c.stats["seconds_per_video"], "{:.2f}")] \
                    if c else ["", "", ""]
            table.rows.append(row)
    return [table]


def frames_table(lines) -> Table:
    values = sorted({c.params["frames"] for _, _, members in lines for c in members})
    table = Table("figure6-data", "Figure 6 data: FR against the number of attacked frames",
                  ["model", "attack method"] + [f"{v} frame{'s' * (v != 1)}" for v in values],
                  caption="W: Wilson interval. " + FR_CAPTION)
    for model, label, members in lines:
        by = {c.params["frames"]: c for c in members}
        table.rows.append([model, label] + [fr_both(by[v].stats) if v in by else "" for v in values])
    return table


def build_tables(run: Run) -> list[Table]:
    from deepsava.evaluate.analysis_report import analysis_tables

    tables = [cell_table(run)] if run.cells else []
    if run.kind == "experiment":
        mode_table = table7(run)
        in_mode_table = {c.key for c in run.cells if c.params.get("mode")} if mode_table else set()
        tables += table3(run, in_mode_table) + table6(run) + table5(run) + mode_table + table9(run)
        lines = _sweep_lines(run.cells, "frames")
        if lines:
            tables.append(frames_table(lines))
        from deepsava.evaluate.defence_tables import defence_tables  # it builds on this module's Table

        tables += defence_tables(run)
    return tables + analysis_tables(run)


# -- plots ----------------------------------------------------------------------------------------


@dataclass
class Image:
    anchor: str
    title: str
    png: bytes
    path: str  # relative to the report folder
    caption: str = ""


def _wilson_bounds(cells: list[CellView]) -> tuple[list[float], list[float]]:
    return [c.stats["fr_wilson_low"] for c in cells], [c.stats["fr_wilson_high"] for c in cells]


def build_plots(run: Run) -> list[Image]:
    from deepsava.evaluate.analysis_report import analysis_plots

    images = []
    lines = _sweep_lines(run.cells, "frames")
    if lines:
        models = list(dict.fromkeys(model for model, _, _ in lines))
        panels = [figures.Panel(model, "frames attacked", "FR", percent=True, log2_x=True,
                                series=[figures.Series(label, [c.params["frames"] for c in members],
                                                       [c.stats["fooling_rate"] for c in members],
                                                       *_wilson_bounds(members))
                                        for m, label, members in lines if m == model])
                  for model in models]
        images.append(Image("figure6", "Figure 6: fooling rate against the number of attacked frames",
                            figures.line_figure(panels), "figures/figure6.png",
                            "FR (mean over repeats; error bars: the 99% Wilson interval of the pooled successes over"
                            " the attacked videos) of each method and model against the number of perturbed frames."))
    lines = _sweep_lines(run.cells, "lam")
    if lines:
        def series(metric):
            return [figures.Series(f"{model} · {label}", [c.params["lam"] for c in members],
                                   [c.stats[metric] for c in members],
                                   *(_wilson_bounds(members) if metric == "fooling_rate" else (None, None)))
                    for model, label, members in lines]

        panels = [figures.Panel("fooling rate", "λ", "FR", series("fooling_rate"), percent=True),
                  figures.Panel("average success perturbation", "λ", "ASP(SSIM)", series("asp_ssim"))]
        images.append(Image("lambda", "The SSIM weight λ: FR and ASP(SSIM)", figures.line_figure(panels),
                            "figures/lambda.png", "As the paper's Table 9, drawn: a larger λ should lower both"
                            " (FR error bars: 99% Wilson interval)."))
    return images + analysis_plots(run)


# -- example videos -------------------------------------------------------------------------------


@dataclass
class Example:
    title: str
    strip: Image | None = None
    video: str | None = None  # relative path of the side-by-side mp4
    mp4: bytes = b""  # its bytes, embedded in the HTML page
    notes: list[str] = field(default_factory=list)


class _Datasets:
    """Datasets loaded again from cell configurations (cached), to recover clean frames and class names."""

    def __init__(self):
        self.loaded: dict[str, tuple] = {}

    def get(self, spec: dict | None):
        if not spec:
            return None, "the run does not record its dataset"
        key = json.dumps(spec, sort_keys=True)
        if key not in self.loaded:
            from deepsava.data import load_dataset

            try:
                ds = load_dataset(spec["name"], split=spec.get("split", "test"), root=spec.get("root"),
                                  frames=spec.get("frames"), size=spec.get("size", 64), seed=spec.get("seed", 0),
                                  **(spec.get("options") or {}))
                self.loaded[key] = (ds, {vid: i for i, vid in enumerate(ds.video_ids)}, "")
            except (DeepSAVAError, OSError) as err:
                self.loaded[key] = (None, {}, f"its dataset could not be loaded again ({err})")
        return self.loaded[key]


def _checkpoint_classes(spec: str | None):
    """Class names recorded in a checkpoint's metadata ("shipped:<name>" or a path stem), or None."""
    from deepsava.models.checkpoint import read_metadata, shipped_checkpoint

    if not spec:
        return None
    try:
        stem = shipped_checkpoint(spec.split(":", 1)[1]) if spec.startswith("shipped:") else Path(spec).expanduser()
        classes = read_metadata(stem).get("classes")
    except (DeepSAVAError, OSError):
        return None
    return list(classes) if isinstance(classes, list) else None


def _class_name(classes, index) -> str:
    if index is None:
        return "?"
    index = int(index)
    return classes[index] if classes and 0 <= index < len(classes) else f"class {index}"


def _hwc(frame: torch.Tensor) -> np.ndarray:
    array = frame.detach().float().cpu().numpy()
    return np.repeat(array, 3, axis=0).transpose(1, 2, 0) if array.shape[0] == 1 else array.transpose(1, 2, 0)


def side_by_side(clean: torch.Tensor | None, adversarial: torch.Tensor, perturbed: list[int]) -> torch.Tensor:
    """A clip (T, 3, H', W') to watch: original | adversarial, a red bar under perturbed frames, enlarged, even size."""
    adv = adversarial.float().clamp(0, 1).expand(-1, 3, -1, -1)
    t, _, h, w = adv.shape
    parts = [] if clean is None else [clean.float().clamp(0, 1).expand(-1, 3, -1, -1), torch.ones(t, 3, h, 2)]
    frame = torch.cat(parts + [adv], dim=-1)
    bar = torch.full((t, 3, max(2, h // 16), frame.shape[-1]), 0.25)
    marked = [f for f in perturbed if 0 <= f < t]
    bar[marked, 0, :, -w:] = 1.0
    bar[marked, 1:, :, -w:] = 0.0
    frame = torch.cat([frame, bar], dim=-2)
    scale = max(1, VIDEO_HEIGHT // h)
    frame = frame.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1)
    pad_h, pad_w = frame.shape[-2] % 2, frame.shape[-1] % 2
    return torch.nn.functional.pad(frame, (0, pad_w, 0, pad_h), value=1.0)


def _file_stem(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:60] or "video"


def _render_example(index: int, out: Path, title: str, clean, adversarial, delta, frames, flow, classes,
                    label, before, after, success, write_mp4: bool, notes: list[str]) -> Example:
    """Strip PNG and side-by-side mp4 of one video.

    ``clean`` and ``adversarial`` are (T, C, H, W) or None when unknown; ``delta`` is (k, C, H, W).
    """
    example = Example(f"{title}: true class {_class_name(classes, label)}", notes=notes)
    rows = []
    for j, f in enumerate(frames[:MAX_FRAMES_SHOWN]):
        rows.append(figures.StripRow(int(f), _hwc(clean[f]) if clean is not None else None,
                                     _hwc(adversarial[f]) if adversarial is not None else None,
                                     _hwc(torch.as_tensor(delta[j])),
                                     None if flow is None else np.asarray(flow[j], dtype=float)))
    if len(frames) > MAX_FRAMES_SHOWN:
        example.notes.append(f"{len(frames)} frames perturbed ({', '.join(map(str, frames))}); the first"
                             f" {MAX_FRAMES_SHOWN} are drawn.")
    if flow is None:
        example.notes.append("No flow field is stored with this example (the attack has none, or the run"
                             " predates flow storage): the amplified difference shows the change.")
    if adversarial is None:
        example.notes.append("Without the clean video only the difference is known: the strip shows the difference,"
                             " and no video is written.")
    png = figures.strip_figure(rows, example.title, _class_name(classes, before), _class_name(classes, after), success)
    stem = f"example-{index}"
    example.strip = Image(stem, example.title, png, f"figures/{stem}.png",
                          f"before: {_class_name(classes, before)}, after: {_class_name(classes, after)}"
                          + (" (fooled)" if success else " (not fooled)"))
    if write_mp4 and adversarial is not None:
        from deepsava.io import write_video

        path = out / "videos" / f"{stem}-{_file_stem(title.split(' · ')[-1])}.mp4"
        try:
            write_video(path, side_by_side(clean, adversarial, [int(f) for f in frames]), fps=VIDEO_FPS, codec="h264",
                        crf=VIDEO_CRF)
            example.video, example.mp4 = path.relative_to(out).as_posix(), path.read_bytes()
            if clean is None:
                example.notes.append("The original video could not be found: the mp4 shows the adversarial video"
                                     " alone.")
        except DeepSAVAError as err:
            example.notes.append(f"No video written: {err}")
    return example


def pick_examples(candidates: list[tuple], count: int) -> list[tuple]:
    """``count`` of (sort key, cell, path, video id): successes first, each pass preferring unseen cells and videos."""
    ordered = sorted(candidates, key=lambda item: item[0])
    chosen, cells, videos = [], set(), set()
    for strict in (2, 1, 0):  # new cell and new video; new cell; anything
        for item in ordered:
            if len(chosen) == count:
                return chosen
            if item in chosen or (strict >= 1 and item[1].key in cells) or (strict == 2 and item[3] in videos):
                continue
            chosen.append(item)
            cells.add(item[1].key)
            videos.add(item[3])
    return chosen


def _experiment_examples(run: Run, out: Path, count: int, write_mp4: bool) -> tuple[list[Example], list[str]]:
    candidates = []
    for order, cell in enumerate(run.cells):
        folder = run.folder / "examples" / cell.key
        for rank, path in enumerate(sorted(folder.glob("[0-9]*.npz"))):
            try:
                with np.load(path) as data:
                    success = int(data["clean_pred"]) == int(data["label"]) != int(data["adv_pred"])
                    video_id = str(data["video_id"])
            except (OSError, ValueError, KeyError):
                continue
            candidates.append(((not success, rank, order), cell, path, video_id))
    if not candidates:
        return [], ["The run saved no example perturbations (examples: 0, or no finished batch yet): no strips."]
    datasets, examples = _Datasets(), []
    for index, (_, cell, path, _) in enumerate(pick_examples(candidates, count), start=1):
        with np.load(path) as data:
            item = {k: data[k] for k in data.files}
        frames = [int(f) for f in item["frames"]]
        delta = torch.from_numpy(item["delta"].astype(np.float32))
        video_id = str(item["video_id"])
        ds, ids, why = datasets.get(cell.dataset)
        clean = adversarial = None
        notes = []
        if ds is not None and video_id in ids:
            clean = ds[ids[video_id]][0].float()
            adversarial = clean.clone()
            adversarial[frames] = (clean[frames] + delta).clamp(0, 1)
        elif ds is not None:
            why = f"video {video_id} is not in the dataset as loaded again"
        if why:
            notes.append(f"Clean frames unavailable: {why}.")
        title = f"{cell.model} · {cell.label} · {video_id}"
        examples.append(_render_example(index, out, title, clean, adversarial, delta, frames, item.get("flow"),
                                        ds.classes if ds is not None else _checkpoint_classes(cell.checkpoint),
                                        item["label"], item["clean_pred"],
                                        item["adv_pred"], bool(int(item["clean_pred"]) == int(item["label"])
                                                               != int(item["adv_pred"])), write_mp4, notes))
    return examples, []


def _attack_clean(video_id: str, adversarial: torch.Tensor, frames: list[int]):
    """The original of an attacked video, when it can be found again and matches -> (clip or None, classes, why).

    Candidates: the video file named by the id (``deepsava attack --video``), or the item
    with that id in a synth-actions split already cached at this clip length and size
    (nothing is generated). A candidate is kept only if every frame the attack did not
    perturb equals the saved adversarial video to 8-bit precision.
    """
    from deepsava.data import load_dataset
    from deepsava.data.cache import cache_root
    from deepsava.data.synthetic import VERSION
    from deepsava.io import load_video

    t, _, h, _ = adversarial.shape
    candidates = []
    if Path(video_id).is_file():
        candidates.append(lambda: (load_video(video_id, frames=t, size=h), None))
    if video_id.startswith("synth-actions/"):
        pattern = re.compile(rf"synth-actions-v{VERSION}-c(\d+)-n(\d+)-t{t}-s{h}-seed(\d+)\.npy$")
        for path in sorted(cache_root().glob(f"synth-actions-v{VERSION}-*-t{t}-s{h}-seed*.npy")):
            match = pattern.search(path.name)
            if match:
                c, n, seed = map(int, match.groups())
                for split in ("test", "train"):
                    def item(split=split, c=c, n=n, seed=seed):
                        ds = load_dataset("synth-actions", split=split, frames=t, size=h, seed=seed, num_classes=c,
                                          videos_per_class=n, progress=False)
                        return (ds[ds.video_ids.index(video_id)][0], ds.classes) if video_id in ds.video_ids else None
                    candidates.append(item)
    kept = [f for f in range(t) if f not in set(frames)]
    for candidate in candidates:
        try:
            found = candidate()
        except (DeepSAVAError, OSError, ValueError):
            continue
        if found is None or found[0].shape != adversarial.shape:
            continue
        if (found[0][kept] - adversarial[kept]).abs().max() <= 1.01 / 255:
            return found[0], found[1], ""
    why = "no matching original was found (the attack folder does not record its dataset)"
    return None, None, why


def _attack_examples(run: Run, out: Path, count: int, write_mp4: bool) -> tuple[list[Example], list[str]]:
    from deepsava.evaluate.attack_job import file_name
    from deepsava.io import read_frames

    chosen = []
    for rank, (vid, record) in enumerate(run.records.items()):
        path = run.folder / "videos" / f"{file_name(vid)}.mkv"
        if path.is_file() and record.get("frames"):
            chosen.append(((not record.get("success"), rank), vid, record, path))
    if not chosen:
        return [], ["The run saved no adversarial videos (videos/*.mkv): no strips."]
    chosen.sort(key=lambda item: item[0])
    examples = []
    for index, (_, vid, record, path) in enumerate(chosen[:count], start=1):
        notes = []
        try:
            adversarial = read_frames(path)
        except DeepSAVAError as err:
            run.notes.append(f"{path.name}: {err}")
            continue
        frames = [int(f) for f in record["frames"]]
        clean, classes, why = _attack_clean(vid, adversarial, frames)
        if clean is None:
            notes.append(f"Original video unavailable: {why}.")
            delta = torch.zeros_like(adversarial[frames])
        else:
            delta = adversarial[frames] - clean[frames]
        examples.append(_render_example(index, out, f"{run.cells[0].label} · {vid}", clean, adversarial, delta, frames,
                                        None, classes, record["label"], record["clean_pred"], record["adv_pred"],
                                        bool(record.get("success")), write_mp4, notes))
    return examples, []


# -- rendering ------------------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(table: Table) -> str:
    columns = table.columns
    if table.groups:  # flatten spanning headers into the column names
        names, i = [], 0
        for group, span in table.groups:
            names += [f"{group} {c}".strip() for c in columns[i : i + span]]
            i += span
        columns = names
    lines = ["| " + " | ".join(map(_md_escape, columns)) + " |",
             "|" + "|".join("---" if j < table.text_columns else "--:" for j in range(len(columns))) + "|"]
    for r, row in enumerate(table.rows):
        cells = [f"**{_md_escape(v)}**" if (r, j) in table.bold and v else _md_escape(v) for j, v in enumerate(row)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _banner(run: Run) -> str:
    if not run.partial:
        return ""
    partial = [c for c in run.cells if c.partial]
    planned = sum(c.planned or 0 for c in run.cells)
    text = (f"Partial run: {len(partial)} of {len(run.cells)} cells hold fewer results than planned"
            + (f" ({sum(c.stored for c in run.cells)} of {planned} videos stored)" if planned else "")
            + "; the numbers cover the stored videos only.")
    if run.resume:
        text += f" Resume with: {run.resume}"
    return text


def render_markdown(run: Run, tables: list[Table], plots: list[Image], examples: list[Example], notes: list[str],
                    generated: str) -> str:
    out = [f"# Report: {run.name}", ""]
    if run.description:
        out += [run.description, ""]
    out += [f"Run folder `{run.folder}` ({KINDS[run.kind]}):"
            f" {len(run.cells)} cells, {run.results} stored per-video results. Generated {generated}.", ""]
    banner = _banner(run)
    if banner:
        out += [f"> **{banner.split(':', 1)[0]}**:{banner.split(':', 1)[1]}", ""]
    for table in tables:
        out += [f"## {table.title}", "", markdown_table(table), ""]
        if table.caption:
            out += [f"*{table.caption}*", ""]
    for image in plots:
        out += [f"## {image.title}", "", f"![{image.title}]({image.path})", ""]
        if image.caption:
            out += [f"*{image.caption}*", ""]
    if examples or notes:
        out += ["## Example videos (Figure 8 style)", ""]
    for ex in examples:
        out += [f"### {ex.title}", ""]
        if ex.strip:
            out += [f"![{ex.title}]({ex.strip.path})", "", f"*{ex.strip.caption}*", ""]
        if ex.video:
            out += [f"[Original | adversarial video (mp4, {VIDEO_FPS} fps, red bar: perturbed frames)]({ex.video})"
                    f" (an H.264 re-encoding, CRF {VIDEO_CRF}, yuv420p: its pixels differ slightly from the attack's output)",
                    ""]
        out += [f"- {n}" for n in ex.notes] + ([""] if ex.notes else [])
    all_notes = run.notes + notes
    if all_notes:
        out += ["## Notes", ""] + [f"- {n}" for n in all_notes] + [""]
    if run.config_source:
        out += ["## Configuration", "", "```yaml", run.config_source.rstrip(), "```", ""]
    return "\n".join(out)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right;white-space:nowrap}
th{background:#f2f2f2}td.t,th.t{text-align:left}td.best{background:#e4e4e4;font-weight:bold}
caption{caption-side:bottom;text-align:left;font-size:.85em;color:#555;padding-top:.4em;white-space:normal}
.banner{background:#fff4d6;border:1px solid #e0b000;padding:.6em 1em;margin:1em 0}
.meta{color:#555}figure{margin:1em 0}figcaption{font-size:.85em;color:#555}
img{max-width:100%}video{max-width:100%;display:block;margin:.4em 0}
pre{background:#f6f6f6;padding:.8em;overflow:auto;font-size:.85em}
.note{font-size:.9em;color:#444}
"""


def _data_uri(data: bytes, kind: str = "image/png") -> str:
    return f"data:{kind};base64," + base64.b64encode(data).decode("ascii")


def html_table(table: Table) -> str:
    e = html.escape
    text_columns = set(range(table.text_columns))
    parts = [f'<table id="{e(table.anchor)}">']
    if table.caption:
        parts.append(f"<caption>{e(table.caption)}</caption>")
    parts.append("<thead>")
    if table.groups:
        parts.append("<tr>" + "".join(f'<th colspan="{span}">{e(g)}</th>' for g, span in table.groups) + "</tr>")
    parts.append("<tr>" + "".join(f'<th class="{"t" if j in text_columns else ""}">{e(c)}</th>'
                                  for j, c in enumerate(table.columns)) + "</tr></thead><tbody>")
    for r, row in enumerate(table.rows):
        cells = []
        for j, value in enumerate(row):
            cls = " ".join(x for x in ("t" if j in text_columns else "", "best" if (r, j) in table.bold else "") if x)
            cells.append(f'<td class="{cls}">{e(value)}</td>' if cls else f"<td>{e(value)}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def render_html(run: Run, tables: list[Table], plots: list[Image], examples: list[Example], notes: list[str],
                generated: str) -> str:
    e = html.escape
    body = [f"<h1>Report: {e(run.name)}</h1>"]
    if run.description:
        body.append(f"<p>{e(run.description)}</p>")
    body.append(f'<p class="meta">Run folder <code>{e(str(run.folder))}</code>'
                f" ({KINDS[run.kind]}): {len(run.cells)} cells,"
                f" {run.results} stored per-video results. Generated {e(generated)}.</p>")
    banner = _banner(run)
    if banner:
        body.append(f'<div class="banner" id="partial"><strong>{e(banner.split(":", 1)[0])}</strong>:'
                    f"{e(banner.split(':', 1)[1])}</div>")
    contents = [(t.anchor, t.title) for t in tables] + [(p.anchor, p.title) for p in plots]
    if examples:
        contents.append(("examples", "Example videos (Figure 8 style)"))
    body.append("<nav><ul>" + "".join(f'<li><a href="#{e(a)}">{e(t)}</a></li>' for a, t in contents) + "</ul></nav>")
    for table in tables:
        body.append(f'<h2 id="{e(table.anchor)}-title">{e(table.title)}</h2>{html_table(table)}')
    for image in plots:
        body.append(f'<h2 id="{e(image.anchor)}">{e(image.title)}</h2><figure><img alt="{e(image.title)}"'
                    f' src="{_data_uri(image.png)}"><figcaption>{e(image.caption)}</figcaption></figure>')
    if examples or notes:
        body.append('<h2 id="examples">Example videos (Figure 8 style)</h2>')
    for ex in examples:
        body.append(f"<h3>{e(ex.title)}</h3>")
        if ex.strip:
            body.append(f'<figure><img alt="{e(ex.title)}" src="{_data_uri(ex.strip.png)}">'
                        f"<figcaption>{e(ex.strip.caption)}</figcaption></figure>")
        if ex.video:
            body.append(f'<video controls loop muted preload="metadata" src="{_data_uri(ex.mp4, "video/mp4")}"></video>'
                        f'<p class="note">Original | adversarial ({VIDEO_FPS} fps; red bar: perturbed frames). The video'
                        f" is an H.264 re-encoding (CRF {VIDEO_CRF}, yuv420p) of the frames, enlarged: its pixels differ"
                        " slightly from the attack's output, which the strip above and the run's results hold."
                        f' The same file: <a href="{e(ex.video)}">{e(ex.video)}</a>.</p>')
        if ex.notes:
            body.append("<ul class=\"note\">" + "".join(f"<li>{e(n)}</li>" for n in ex.notes) + "</ul>")
    all_notes = run.notes + notes
    if all_notes:
        body.append('<h2 id="notes">Notes</h2><ul>' + "".join(f"<li>{e(n)}</li>" for n in all_notes) + "</ul>")
    if run.config_source:
        body.append(f'<h2 id="config">Configuration</h2><pre>{e(run.config_source)}</pre>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>deepsava report: {e(run.name)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


# -- entry point ----------------------------------------------------------------------------------


@dataclass
class ReportOutcome:
    markdown: Path
    html: Path
    partial: bool
    tables: list[str]
    plots: list[str]
    examples: int
    videos: list[Path]


def write_report(run_dir: str | Path, out: str | Path | None = None, videos: int = 3,
                 mp4: bool = True) -> ReportOutcome:
    """Write ``report.md``, ``report.html`` (self-contained), ``figures/*.png`` and ``videos/*.mp4`` for a run folder.

    ``videos``: how many example videos get a strip (and, with ``mp4``, a side-by-side video).
    Raises InvalidArgumentError when the folder does not exist or holds no results.
    """
    if isinstance(videos, bool) or not isinstance(videos, int) or videos < 0:
        raise InvalidArgumentError(f"videos must be a non-negative integer, got {videos!r}")
    run = load_run(run_dir)
    out = Path(out) if out is not None else run.folder / REPORT_DIR
    if out.exists() and not out.is_dir():
        raise InvalidArgumentError(f"--out {out} exists and is not a folder")
    (out / "figures").mkdir(parents=True, exist_ok=True)
    for stale in [*(out / "figures").glob("example-*.png"), *(out / "videos").glob("example-*.mp4")]:
        stale.unlink()  # the examples of an earlier report of this folder
    tables = build_tables(run)
    plots = build_plots(run)
    if videos and run.cells:
        make = _experiment_examples if run.kind == "experiment" else _attack_examples
        examples, notes = make(run, out, videos, mp4)
    else:
        examples, notes = [], []
    for image in plots + [ex.strip for ex in examples if ex.strip]:
        (out / image.path).write_bytes(image.png)
    generated = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    markdown = out / "report.md"
    page = out / "report.html"
    markdown.write_text(render_markdown(run, tables, plots, examples, notes, generated))
    page.write_text(render_html(run, tables, plots, examples, notes, generated))
    return ReportOutcome(markdown, page, run.partial, [t.title for t in tables], [p.title for p in plots],
                         len(examples), [out / ex.video for ex in examples if ex.video])
