"""How is a result printed in a terminal? Per-cell summaries in a rich table that fits the console's width, and
any report table as a rich table.

:func:`summary_table` takes the rows of ``run_experiment(...).summary`` (or
``summarize_store``). All columns are shown where they fit; in a narrower terminal
the table keeps model, attack, FR, ANI and the counts, and says that the full one is
in the report.
"""

from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from deepsava.report import elements
from deepsava.report.text import fr_text, is_missing, number, wilson_text

FULL_CAPTION = ("FR: successes over videos correctly classified before the attack, mean ± 99% Student-t CI over"
                " repeats (clipped to [0, 100%]: then its bounds); Wilson: 99% interval of the pooled successes /"
                " attacked videos; ANI, ASP, SSIM, l2,1 over successes; s/vid: seconds per attacked video;"
                " n: attacked/videos")
COMPACT_CAPTION = ("FR: successes over videos correctly classified before the attack (± 99% CI over repeats); ANI:"
                   " mean iterations of the successes; n: attacked/videos. All columns: deepsava report, or a wider"
                   " terminal.")
FULL = ("model", "attack", "FR", "Wilson 99%", "ANI", "AAP l2,1", "AAP SSIM", "ASP", "SSIM", "l2,1", "s/vid", "n")
COMPACT = ("model", "attack", "FR", "ANI", "n")
QUERIES_CAPTION = " queries: mean model queries per attacked video (black-box attacks)."


def _cells(row: dict) -> dict[str, str]:
    """A summary row as the text of each of :data:`FULL`'s columns."""
    expected = row.get("expected")
    count = f"{row['attacked']}/{row['videos']}" + (f" of {expected}" if expected and expected != row["videos"] else "")
    return {"model": str(row["model"]), "attack": row["label"], "FR": fr_text(row), "Wilson 99%": wilson_text(row),
            "ANI": number(row["ani"], "{:.1f}"), "AAP l2,1": number(row["aap_l21"]),
            "AAP SSIM": number(row["aap_ssim"]), "ASP": number(row["asp_ssim"], "{:.4f}"),
            "SSIM": number(row["ssim"], "{:.4f}"), "l2,1": number(row["l21"]),
            "s/vid": number(row["seconds_per_video"], "{:.2f}"), "queries": number(row.get("queries"), "{:.0f}"),
            "n": count}


def _with_queries(columns: tuple[str, ...]) -> tuple[str, ...]:
    """``columns`` with "queries" after "ANI"."""
    at = columns.index("ANI") + 1
    return (*columns[:at], "queries", *columns[at:])


class SummaryTable:
    """A rich renderable: the full table of per-cell summaries, or the compact one where the full one does not fit."""

    def __init__(self, rows: list[dict], title: str = "results"):
        self.rows = [_cells(row) for row in rows]
        self.title = title
        self.queries = any(not is_missing(row.get("queries")) for row in rows)  # a black-box cell: show its queries

    def table(self, columns: tuple[str, ...], caption: str) -> Table:
        table = Table(title=self.title, caption=caption)
        for name in columns:
            table.add_column(name, justify="left" if name in ("model", "attack") else "right",
                             no_wrap=name != "attack")
        for row in self.rows:
            table.add_row(*(row[name] for name in columns))
        return table

    def __rich_console__(self, console, options):
        more = _with_queries if self.queries else tuple
        note = QUERIES_CAPTION if self.queries else ""
        full = self.table(more(FULL), FULL_CAPTION + ("." if note else "") + note)
        fits = Measurement.get(console, options.update(max_width=10_000), full).maximum <= options.max_width
        yield full if fits else self.table(more(COMPACT), COMPACT_CAPTION + note)


def summary_table(rows: list[dict], title: str = "results") -> SummaryTable:
    """Per-cell summaries (FR with its two 99% intervals, ANI, AAP, ASP, SSIM, l2,1, time; queries where counted)
    for ``console.print``."""
    return SummaryTable(rows, title)


def rich_table(table: elements.Table) -> Table:
    """A report table for the terminal: spanning headers folded into the column names, bold cells bold."""
    columns, i = list(table.columns), 0
    for group, span in table.groups or []:
        columns[i : i + span] = [f"{group} {c}".strip() for c in columns[i : i + span]]
        i += span
    shown = Table(title=table.title, caption=table.caption or None)
    for j, name in enumerate(columns):
        shown.add_column(name, justify="left" if j < table.text_columns else "right")
    for r, row in enumerate(table.rows):
        shown.add_row(*(Text(value, style="bold" if (r, j) in table.bold else "") for j, value in enumerate(row)))
    return shown
