"""Matplotlib drawings for reports (Agg canvas, no pyplot state): line plots, Figure-8-style strips, flow colours.

Every function returns PNG bytes; callers decide where they go (a file for
Markdown, a base64 data URI for HTML).
"""

import io
import math
from dataclasses import dataclass, field

import numpy as np

DPI = 110


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
    """One axes of a line figure."""

    title: str
    xlabel: str
    ylabel: str
    series: list[Series] = field(default_factory=list)
    percent: bool = False  # y in [0, 1], shown as percentages
    log2_x: bool = False  # x on a base-2 log axis (numbers of frames 1, 2, 4, 8)


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def line_figure(panels: list[Panel], title: str = "") -> bytes:
    """Panels side by side, each a set of marked lines (with error bars where given) -> PNG."""
    fig = _figure(4.2 * len(panels), 3.4)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels):
        for series in panel.series:
            scale = 100.0 if panel.percent else 1.0
            y = np.asarray(series.y, dtype=float) * scale
            err = None
            if series.low is not None and series.high is not None:
                below = np.asarray(series.y, dtype=float) - np.asarray(series.low, dtype=float)
                above = np.asarray(series.high, dtype=float) - np.asarray(series.y, dtype=float)
                err = np.nan_to_num(np.stack([below, above]) * scale, nan=0.0).clip(min=0.0)
                err = err if err.any() else None
            ax.errorbar(series.x, y, yerr=err, marker="o", capsize=3, label=series.label)
        xs = sorted({v for s in panel.series for v in s.x})
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
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return _png(fig)


# -- flow fields -------------------------------------------------------------------------------


def flow_to_rgb(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """A flow field (2, H, W) in pixels (channel 0 horizontal) as colours (H, W, 3) in [0, 1].

    Hue gives the direction, saturation the length relative to ``max_magnitude``
    (default: the field's largest length), white is no motion (the usual colour wheel).
    """
    from matplotlib.colors import hsv_to_rgb

    u, v = np.asarray(flow[0], dtype=float), np.asarray(flow[1], dtype=float)
    magnitude = np.hypot(u, v)
    top = max_magnitude if max_magnitude else float(magnitude.max())
    hue = (np.arctan2(-v, -u) / (2 * math.pi) + 0.5) % 1.0
    saturation = np.clip(magnitude / top, 0, 1) if top > 0 else np.zeros_like(magnitude)
    return hsv_to_rgb(np.stack([hue, saturation, np.ones_like(hue)], axis=-1))


def colour_wheel(size: int = 64) -> np.ndarray:
    """The legend of :func:`flow_to_rgb`: (size, size, 4) RGBA, transparent outside the unit disc."""
    r = np.linspace(-1, 1, size)
    x, y = np.meshgrid(r, r)
    rgb = flow_to_rgb(np.stack([x, y]), max_magnitude=1.0)
    alpha = (np.hypot(x, y) <= 1).astype(float)[..., None]
    return np.concatenate([rgb, alpha], axis=-1)


# -- Figure-8-style strips ---------------------------------------------------------------------


@dataclass
class StripRow:
    """One perturbed frame of one video: images (H, W, 3) in [0, 1] (clean and adversarial None when unknown)."""

    frame: int
    clean: np.ndarray | None
    adversarial: np.ndarray | None
    delta: np.ndarray  # adversarial - clean, (H, W, 3)
    flow: np.ndarray | None = None  # (2, H, W) pixels, when the run saved it


def amplification(delta: np.ndarray) -> float:
    """The gain that maps the largest absolute change to half the grey range (at most 100x)."""
    peak = float(np.abs(delta).max())
    return min(100.0, 0.5 / peak) if peak > 0 else 1.0


def strip_figure(rows: list[StripRow], title: str, before: str, after: str, fooled: bool) -> bytes:
    """Clean frame, adversarial frame, amplified difference and (when known) the flow, one row per frame -> PNG.

    ``before``/``after`` are the predictions shown under the clean and adversarial
    frames; the adversarial label is red when the model was fooled (as in the paper's Figure 8).
    """
    with_flow = any(r.flow is not None for r in rows)
    with_clean = any(r.clean is not None for r in rows)
    with_adversarial = any(r.adversarial is not None for r in rows)
    columns = ["clean"] * with_clean + ["adversarial"] * with_adversarial + ["difference"] + ["flow"] * with_flow
    fig = _figure(2.3 * len(columns), 2.5 * len(rows) + 0.5)
    axes = fig.subplots(len(rows), len(columns), squeeze=False)
    for i, row in enumerate(rows):
        gain = amplification(row.delta)
        panels = []
        if with_clean:
            panels.append((row.clean, f"clean, frame {row.frame}", f"pred: {before}", "black"))
        if with_adversarial:
            panels.append((row.adversarial, f"adversarial, frame {row.frame}", f"pred: {after}",
                           "red" if fooled else "black"))
        foot = f"max |Δ| {np.abs(row.delta).max():.3f}"
        if not with_adversarial:  # the predictions still belong on the strip
            foot += f"; pred {before} → {after}"
        panels.append((np.clip(0.5 + row.delta * gain, 0, 1), f"difference ×{gain:.0f}", foot,
                       "red" if fooled and not with_adversarial else "black"))
        if with_flow:
            if row.flow is not None:
                length = float(np.hypot(row.flow[0], row.flow[1]).max())
                panels.append((flow_to_rgb(row.flow), "flow field", f"max {length:.2f} px", "black"))
            else:
                panels.append((None, "flow field", "not saved", "black"))
        for ax, (image, head, foot, colour) in zip(axes[i], panels):
            if image is not None:
                ax.imshow(np.clip(image, 0, 1), interpolation="nearest")
            ax.set_title(head, fontsize=8)
            ax.set_xlabel(foot, fontsize=8, color=colour)
            ax.set_xticks([])
            ax.set_yticks([])
        if with_flow and rows[i].flow is not None:
            inset = axes[i][-1].inset_axes([0.74, 0.74, 0.26, 0.26])
            inset.imshow(colour_wheel())
            inset.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _png(fig)
