"""The one progress bar of every long job: description, bar, done/total, elapsed and the estimate of what remains."""

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def progress_bar(unit: str = "", console=None, enabled: bool = True, transient: bool = False) -> Progress:
    """A rich Progress with the shared columns; ``unit`` follows the count ("12/40 videos")."""
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    if unit:
        columns.append(TextColumn(unit))
    columns += [TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn()]
    return Progress(*columns, console=console, disable=not enabled, transient=transient)
