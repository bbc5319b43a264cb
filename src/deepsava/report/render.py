"""How is a report laid out? As Markdown (figures as files beside it) and as one self-contained HTML page, rendered
from ``templates/report.html.j2`` with the style sheet ``templates/report.css`` (images and videos as data URIs)."""

import base64
from pathlib import Path

from deepsava.report.elements import Example, Image, Table
from deepsava.report.examples import VIDEO_CRF, VIDEO_FPS
from deepsava.report.run import Run

TEMPLATES = Path(__file__).parent / "templates"
KINDS = {"experiment": "experiment", "analysis": "saliency / prediction analysis"}


def data_uri(data: bytes, kind: str = "image/png") -> str:
    """Bytes as a base64 ``data:`` URI, so a page needs no file beside it."""
    return f"data:{kind};base64," + base64.b64encode(data).decode("ascii")


def banner(run: Run) -> str:
    """"Partial run: ...; Resume with: ..." when some cell holds fewer results than planned, else ""."""
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


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(table: Table) -> str:
    """A pipe table; spanning headers are folded into the column names, bold cells marked ``**``."""
    columns = table.columns
    if table.groups:
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


def render_markdown(run: Run, tables: list[Table], plots: list[Image], examples: list[Example], notes: list[str],
                    generated: str) -> str:
    """The report as Markdown; images are linked by their ``path`` (written beside it by the caller)."""
    out = [f"# Report: {run.name}", ""]
    if run.description:
        out += [run.description, ""]
    out += [f"Run folder `{run.folder}` ({KINDS[run.kind]}):"
            f" {len(run.cells)} cells, {run.results} stored per-video results. Generated {generated}.", ""]
    head, _, rest = banner(run).partition(":")
    if rest:
        out += [f"> **{head}**:{rest}", ""]
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
                    f" (an H.264 re-encoding, CRF {VIDEO_CRF}, yuv420p: its pixels differ slightly from the attack's"
                    " output)", ""]
        out += [f"- {n}" for n in ex.notes] + ([""] if ex.notes else [])
    all_notes = run.notes + notes
    if all_notes:
        out += ["## Notes", ""] + [f"- {n}" for n in all_notes] + [""]
    if run.config_source:
        out += ["## Configuration", "", "```yaml", run.config_source.rstrip(), "```", ""]
    return "\n".join(out)


def render_html(run: Run, tables: list[Table], plots: list[Image], examples: list[Example], notes: list[str],
                generated: str) -> str:
    """The report as one HTML page (autoescaped template), every image and video embedded."""
    import jinja2

    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                     undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                                     keep_trailing_newline=True)
    environment.filters["data_uri"] = data_uri
    head, _, rest = banner(run).partition(":")
    return environment.get_template("report.html.j2").render(
        run=run, kind=KINDS[run.kind], generated=generated, banner=(head, rest) if rest else None, tables=tables,
        plots=plots, examples=examples, notes=notes, all_notes=run.notes + notes, fps=VIDEO_FPS, crf=VIDEO_CRF)
