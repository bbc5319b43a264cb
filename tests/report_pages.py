"""Reading a written report back: the HTML page's references and ids, the rows of a Markdown table."""

import base64
import html.parser
import re
from pathlib import Path


class Links(html.parser.HTMLParser):
    """Every src/href of a page, and every id."""

    def __init__(self):
        super().__init__()
        self.refs, self.ids, self.tags = [], set(), []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href"):
                self.refs.append((tag, value))
            if name == "id":
                self.ids.add(value)


def check_page(page: Path) -> Links:
    """The HTML parses and is self-contained: every image and video is a data: URI; every other src/href is an
    in-page anchor that exists or a relative file that exists (nothing external)."""
    parser = Links()
    parser.feed(page.read_text())
    parser.close()
    assert "html" in parser.tags and "table" in parser.tags
    for tag, ref in parser.refs:
        if tag in ("img", "video", "source"):
            kind = "image/png" if tag == "img" else "video/mp4"
            assert ref.startswith(f"data:{kind};base64,"), ref[:40]
            assert base64.b64decode(ref.split(",", 1)[1], validate=True)
        elif ref.startswith("#"):
            assert ref[1:] in parser.ids, ref
        else:
            assert "://" not in ref and not ref.startswith("/"), ref  # relative, nothing external
            assert (page.parent / ref).is_file(), ref
    return parser


def markdown_rows(text: str, title: str) -> list[dict]:
    """The rows of the Markdown table under the heading ``## title`` as dicts (bold markers removed)."""
    section = text.split(f"## {title}\n\n", 1)[1]
    lines = []
    for line in section.splitlines():
        if not line.startswith("|"):
            break
        lines.append(line)
    assert re.fullmatch(r"\|(-{3}:?\||-{2}:\|)+", lines[1])  # the separator row
    rows = [[c.strip().replace("**", "") for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]
    return [dict(zip(rows[0], row)) for row in rows[2:]]


def percent(text: str) -> float:
    return float(re.match(r"([\d.]+)%", text).group(1)) / 100
