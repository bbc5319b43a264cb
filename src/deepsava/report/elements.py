"""What is a report made of? Tables, images and example videos, as both renderers (Markdown, HTML) lay them out."""

from dataclasses import dataclass, field


@dataclass
class Table:
    """A table of text cells; ``groups`` are optional spanning headers [(text, span)] over the columns."""

    anchor: str
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    caption: str = ""
    groups: list[tuple[str, int]] | None = None
    bold: set = field(default_factory=set)  # (row, column) cells shown in bold (the best of a group)
    text_columns: int = 2  # leading columns of text (left-aligned); the rest are numbers


@dataclass
class Image:
    """A PNG figure, written to ``path`` (relative to the report folder) and embedded in the HTML page."""

    anchor: str
    title: str
    png: bytes
    path: str
    caption: str = ""


@dataclass
class Example:
    """One attacked video: its strip and, when written, the side-by-side mp4 (``video`` relative, ``mp4`` its bytes)."""

    title: str
    strip: Image | None = None
    video: str | None = None
    mp4: bytes = b""
    notes: list[str] = field(default_factory=list)
