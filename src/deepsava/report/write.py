"""``deepsava report RUN_DIR``: what does a report hold, and where is it written?

:func:`write_report` reads a run folder once (:func:`~deepsava.report.run.load_run`)
and writes into ``out`` (default ``RUN_DIR/report``):

- ``report.md``: the tables, and the figures as ``figures/*.png`` next to it;
- ``report.html``: the same, one self-contained file: every image and every video
  embedded as a base64 data URI (the mp4 files are kept beside it too);
- ``videos/*.mp4``: each shown adversarial video next to its original, an H.264
  re-encoding (CRF 12, yuv420p, which browsers play), linked from the Markdown.

It holds: the per-cell table and the paper's tables the cells allow
(:mod:`~deepsava.report.tables`), Fisher exact tests between cells
(:mod:`~deepsava.report.comparisons`), the worst case over attacks and a robustness card
(:mod:`~deepsava.report.robustness`), the defence tables
(:mod:`~deepsava.report.defence_tables`), the studies' sections
(:mod:`~deepsava.report.analyses`), the plots (:mod:`~deepsava.report.plots`) and a few
example videos (:mod:`~deepsava.report.examples`). An interrupted run still gets a
report: cells holding fewer results than their configuration planned are marked
partial, and the report says how to resume.
"""

import datetime
from dataclasses import dataclass
from pathlib import Path

from deepsava.errors import InvalidArgumentError
from deepsava.report.analyses import analysis_plots, analysis_tables
from deepsava.report.comparisons import comparisons_table
from deepsava.report.defence_tables import defence_tables
from deepsava.report.elements import Image, Table
from deepsava.report.examples import run_examples
from deepsava.report.plots import run_plots
from deepsava.report.render import render_html, render_markdown
from deepsava.report.robustness import robustness_tables
from deepsava.report.run import Run, load_run
from deepsava.report.tables import run_tables

REPORT_DIR = "report"


def build_tables(run: Run) -> list[Table]:
    """Every table of a report, in order: per cell, the paper's, the comparisons, the worst case and card, the
    defences', the studies'."""
    return run_tables(run) + comparisons_table(run) + robustness_tables(run) + defence_tables(run) + analysis_tables(run)


def build_plots(run: Run) -> list[Image]:
    """Every plot of a report, in order: the cells' (per cell, per model, sweeps), the studies'."""
    return run_plots(run) + analysis_plots(run)


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
    examples, notes = run_examples(run, out, videos, mp4) if videos and run.cells else ([], [])
    for image in plots + [ex.strip for ex in examples if ex.strip]:
        (out / image.path).write_bytes(image.png)
    generated = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    markdown = out / "report.md"
    page = out / "report.html"
    markdown.write_text(render_markdown(run, tables, plots, examples, notes, generated))
    page.write_text(render_html(run, tables, plots, examples, notes, generated))
    return ReportOutcome(markdown, page, run.partial, [t.title for t in tables], [p.title for p in plots],
                         len(examples), [out / ex.video for ex in examples if ex.video])
