"""How is a chart drawn? Line, step and point panels with interval bars, and bars with intervals, as PNG bytes.

Drawing uses matplotlib's object API on an Agg canvas (no pyplot state).
Every figure function returns PNG bytes; callers decide where they go (a file
for Markdown, a data URI for HTML).
"""

import io
from dataclasses import dataclass, field

import numpy as np

DPI = 110


def new_figure(width: float, height: float):
    """A matplotlib Figure of ``width`` × ``height`` inches on its own Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def to_png(fig) -> bytes:
    """The figure as PNG bytes (tight bounding box)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


@dataclass
class Series:
    """One line of a plot: y against x, optional error bars from the bounds ``low`` to ``high`` (nan for none)."""

    label: str
    x: list[float]
    y: list[float]
    low: list[float] | None = None
    high: list[float] | None = None


@dataclass
class Panel:
    """One axes of a figure: ``style`` "lines" (marked, a tick per x), "steps" (a step curve) or "points" (markers)."""

    title: str
    xlabel: str
    ylabel: str
    series: list[Series] = field(default_factory=list)
    percent: bool = False  # y in [0, 1], shown as percentages
    log2_x: bool = False  # x on a base-2 log axis (numbers of frames 1, 2, 4, 8; budgets 0.005 ... 0.1)
    style: str = "lines"


def _error_bars(y, low, high, scale: float):
    """(2, n) distances below and above each y, scaled, for ``errorbar``; None without bounds (or all zero)."""
    if low is None or high is None:
        return None
    y = np.asarray(y, dtype=float)
    below, above = y - np.asarray(low, dtype=float), np.asarray(high, dtype=float) - y
    err = np.nan_to_num(np.stack([below, above]) * scale, nan=0.0).clip(min=0.0)
    return err if err.any() else None


def _draw_panel(ax, panel: Panel) -> None:
    scale = 100.0 if panel.percent else 1.0
    for series in panel.series:
        y = np.asarray(series.y, dtype=float) * scale
        if panel.style == "steps":
            ax.step(series.x, y, where="post", label=series.label)
        else:
            ax.errorbar(series.x, y, yerr=_error_bars(series.y, series.low, series.high, scale), marker="o", capsize=3,
                        label=series.label, linestyle="none" if panel.style == "points" else "-")
    xs = sorted({v for s in panel.series for v in s.x})
    if panel.style == "lines":
        if panel.log2_x and xs and min(xs) > 0:
            ax.set_xscale("log", base=2)
        ax.set_xticks(xs)
        ax.set_xticklabels([f"{v:g}" for v in xs])
        ax.minorticks_off()
    if not any(np.isfinite(np.asarray(s.y, dtype=float)).any() for s in panel.series):
        ax.text(0.5, 0.5, "no value to draw\n(no successful attack)", ha="center", va="center",
                transform=ax.transAxes, color="#666")
        ax.set_yticks([])
    if panel.percent:
        ax.set_ylim(-3, 103)
    ax.set_title(panel.title, fontsize=10)
    ax.set_xlabel(panel.xlabel)
    ax.set_ylabel(panel.ylabel + (" (%)" if panel.percent else ""))
    ax.grid(alpha=0.3)
    if panel.series:
        ax.legend(fontsize=7)


def line_figure(panels: list[Panel], title: str = "", columns: int | None = None) -> bytes:
    """Panels in a grid of ``columns`` (default: one row), each a set of series in its style -> PNG."""
    columns = columns or len(panels)
    rows = -(-len(panels) // columns)
    fig = new_figure(4.2 * columns, 3.4 * rows)
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax, panel in zip(axes, panels):
        _draw_panel(ax, panel)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return to_png(fig)


@dataclass
class Bar:
    """One horizontal bar: a rate in [0, 1] with its interval; bars of one ``group`` share a colour."""

    label: str
    value: float
    low: float
    high: float
    group: str


def bar_figure(bars: list[Bar], xlabel: str) -> bytes:
    """Horizontal bars (top to bottom in the given order) with interval whiskers, in percent -> PNG (a NaN rate:
    no bar, "no attacked video")."""
    import matplotlib

    groups = list(dict.fromkeys(b.group for b in bars))
    colours = matplotlib.colormaps["tab10"]
    fig = new_figure(7.5, 0.9 + 0.32 * len(bars))
    ax = fig.subplots()
    y = np.arange(len(bars))[::-1]
    values = np.nan_to_num(np.array([b.value for b in bars], dtype=float)) * 100
    err = _error_bars([b.value for b in bars], [b.low for b in bars], [b.high for b in bars], 100.0)
    ax.barh(y, values, xerr=err, capsize=3, color=[colours(groups.index(b.group) % 10) for b in bars])
    for position, bar in zip(y, bars):
        text = "no attacked video" if np.isnan(bar.value) else f"{100 * bar.value:.1f}%"
        ax.text(1, position, text, va="center", fontsize=7, color="white" if bar.value > 0.1 else "black")
    ax.set_yticks(y, [b.label for b in bars], fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel(xlabel + " (%)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return to_png(fig)
